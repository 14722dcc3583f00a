#!/usr/bin/env python3
"""Peer run: fedoo's FE² (``fedoo.constitutivelaw.FE2``) on the fe2 plate-with-hole FE² benchmark.

The problem is the one of ``fe2 run demos/configs/run/fe2_plate_j2.toml``: a quarter plate
with a hole, plane strain, small strain, symmetry BCs (left u1 = 0, bottom u2 = 0), right
edge u1 = value x load factor, one quadrature point per P1 macro triangle, and at every
macro point a periodic unit-cell RVE with a J2 matrix (linear isotropic hardening) and
elastic fibres. Run inside the peer venv, on meshes written by fe2 (same nodes, same cells)::

    .venv/bin/python       bench/peers/export_meshes_for_fedoo.py demos/configs/run/fe2_plate_j2.toml --out M
    .venv-bench/bin/python bench/peers/fedoo_fe2.py --macro-mesh M/macro.msh --rve-mesh M/rve.msh \
        --config M/fe2_config.toml [--micro 2d|slab] [--fe2-class fixed|stock] > fedoo_fe2.json

Mesh files: gmsh 4.1 ASCII (read with meshio). Macro: 3-node triangles in physical surface
"plate", 2-node lines in physical curves "left", "bottom", "right" (others ignored). RVE:
3-node triangles in physical surfaces "matrix" and "fibre" on an axis-aligned box; the mesh
must be periodic (opposite boundary nodes coincide after a translation; fedoo pairs them
by coordinates, tolerance 1e-8).

What fedoo 1.1.0's FE2 does and what this script changes (details in bench/peers/README.md):

* ``FE2`` is a Mechanical3D law: the micro problem must be **3D** (it always builds
  ``PeriodicBC(dim=3)`` and a 6x6 tangent; a 2D RVE mesh fails with an IndexError). The
  macro problem may be "2Dplane" (plane strain). ``--micro slab`` (3D, fedoo's own
  layout) extrudes the 2D RVE into one layer of 6-node wedges, periodic in x, y and z,
  one Gauss point per wedge: with one z-periodic layer every fluctuation is z-independent
  and the strain is constant per wedge, so this is exactly the plane-strain P1 RVE.
  ``--micro 2d`` (default) solves the same RVE as a "2Dplane" problem with
  ``PeriodicBC(dim=2)`` and embeds the 3x3 (11, 22, 12) tangent in the 6x6 slot layout.
* fedoo 1.1.0's ``FE2`` cannot solve an elastoplastic FE² problem whose macro increments
  need more than one Newton iteration: every micro ``nlsolve`` commits the micro state
  (displacement and plastic history) at the end, and the next macro iteration re-applies
  the whole increment (``start_value`` = strain at the start of the macro increment) on top
  of that committed state, so the micro mean strain runs away from the macro strain
  (measured: macro eps11 = 0.015, micro 0.02, 0.025, ... and the macro Newton never
  converges). Its ``bc.remove("Strain")`` also misses the unnamed ListBC that
  ``bc.add(..., "MeanStrain", ...)`` creates, so one more BC piles up per micro solve.
  ``--fe2-class fixed`` (default) is a subclass, :class:`ConsistentFE2`, with the standard
  FE² algorithm: each macro iteration restarts every micro problem from the state committed
  at the start of the macro increment (``Problem.to_start``), solves one micro increment
  (``solve_time_increment``, no commit), takes the macro tangent at the converged micro
  state, and commits the micro states only when the macro increment converges
  (``set_start``); the strain BC is created once and updated with ``change_value``.
  ``--fe2-class stock`` runs fedoo's class unchanged (3D slab micro) for the record.
* Matrix: simcoon ``EPICP`` (J2, isotropic hardening sigma_y + k p^m) with m = 1, k = H,
  i.e. linear hardening; the algorithmic tangent (``tangent_mode=2``; fedoo's default is
  1, the continuum tangent). Checked against fe2's J2 on a non-proportional plane-strain
  strain path with unloading: same stress to 1e-13. Fibre: the same EPICP law with
  element-wise properties (E = 70, nu = 0.2) and sigma_y = 1e30, i.e. linear elastic.

Output: one JSON document on stdout (progress and fedoo's prints on stderr): per load step
the load factor, the reaction (sum of the x nodal forces on the right edge, per unit
thickness), the wall time of the step, the macro Newton iterations (linear solves; the
first is fedoo's prediction), micro solves / Newton iterations / time; set-up time (micro
problems and their initial homogenised stiffness), total time, number of macro
integration points, settings. Timing: thread variables are set to --threads (default 1)
before numpy loads; an untimed warm-up runs the same pipeline on a 2-triangle macro mesh
first (``--no-warmup`` skips it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import tomllib
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _rve_common as rc  # import-light: no numpy

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CONFIG = os.path.join(REPO, "demos", "configs", "run", "fe2_plate_j2.toml")
ELASTIC_YIELD = 1e30  # sigma_y of the fibre phase in EPICP: never yields


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--macro-mesh", required=True, help="macro plate mesh, gmsh 4.1 .msh (see docstring)")
    p.add_argument("--rve-mesh", required=True, help="RVE mesh, gmsh 4.1 .msh, phases 'matrix' and 'fibre'")
    p.add_argument("--config", default=DEFAULT_CONFIG,
                   help="fe2 run TOML giving materials, load factors and Dirichlet values "
                        "(default demos/configs/run/fe2_plate_j2.toml)")
    p.add_argument("--micro", choices=["2d", "slab"], default="2d",
                   help="RVE problem: '2d' plane strain (default) or 'slab' = one layer of wedges, 3D "
                        "periodic (the only micro layout fedoo's stock FE2 accepts)")
    p.add_argument("--fe2-class", choices=["fixed", "stock"], default="fixed",
                   help="'fixed' (default): ConsistentFE2 (rollback of micro states per macro iteration); "
                        "'stock': fedoo.constitutivelaw.FE2 unchanged (needs --micro slab)")
    p.add_argument("--macro-tol", type=float, default=1e-8,
                   help="macro Newton tolerance, fedoo 'Force' criterion |R_free| / |F_ext| (default 1e-8; "
                        "fedoo's default is 5e-3)")
    p.add_argument("--micro-tol", type=float, default=1e-8,
                   help="micro Newton tolerance, same criterion (default 1e-8; fedoo's FE2 hard-codes 0.05)")
    p.add_argument("--macro-max-subiter", type=int, default=16, help="macro Newton iterations per try (16)")
    p.add_argument("--micro-max-subiter", type=int, default=16, help="micro Newton iterations (16)")
    p.add_argument("--tangent-mode", type=int, choices=[1, 2], default=2,
                   help="simcoon EPICP tangent: 2 algorithmic (default), 1 continuum (fedoo's default)")
    p.add_argument("--slab-thickness", type=float, default=0.1,
                   help="thickness of the --micro slab layer, relative to the cell width "
                        "(no effect on the results)")
    p.add_argument("--solver", default="direct", help="fedoo linear solver for macro and micro problems")
    p.add_argument("--threads", type=int, default=1,
                   help="value of OMP/MKL/OPENBLAS_NUM_THREADS set before numpy loads (default 1); 0 = leave")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up run")
    p.add_argument("--no-mkl-rt-hint", action="store_true",
                   help="do not set PYPARDISO_MKL_RT (then pypardiso searches for MKL at every solver "
                        "instance, ~40 ms each, once per micro solve; see locate_mkl_rt)")
    p.add_argument("--indent", type=int, default=2, help="JSON indent (default 2)")
    return p.parse_args()


# ------------------------------------------------------------------------------------------
# problem description from the fe2 config
# ------------------------------------------------------------------------------------------
def load_problem(path: str) -> dict:
    """Materials, load factors and Dirichlet data of an fe2 run TOML (only what this peer supports)."""
    with open(path, "rb") as fh:
        cfg = tomllib.load(fh)
    dom = cfg["macro"]["domain"]
    if dom.get("kind") != "plate_with_hole":
        raise SystemExit(f"{path}: macro.domain.kind must be plate_with_hole, got {dom.get('kind')!r}")
    if cfg["macro"].get("degree", 1) != 1:
        raise SystemExit(f"{path}: only macro.degree = 1 (P1, one point per triangle) is wired up")
    if cfg["macro"].get("traction"):
        raise SystemExit(f"{path}: macro.traction is not wired up in this peer")
    if cfg["rve"].get("bc", "periodic") != "periodic":
        raise SystemExit(f"{path}: rve.bc must be periodic")
    mats = cfg["rve"]["materials"]
    if set(mats) != {"matrix", "fibre"}:
        raise SystemExit(f"{path}: expected RVE phases 'matrix' and 'fibre', got {sorted(mats)}")
    for name, m in mats.items():
        if m["model"] == "j2" and m.get("h_kin", 0.0) != 0.0:
            raise SystemExit(f"{path}: {name}: kinematic hardening is not mapped to EPICP")
        if m["model"] not in ("j2", "elastic"):
            raise SystemExit(f"{path}: {name}: model {m['model']!r} not supported here")
    dirichlet = cfg["macro"]["dirichlet"]
    for d in dirichlet:
        if d["boundary"] not in ("left", "bottom", "right") or d["component"] not in (0, 1):
            raise SystemExit(f"{path}: unsupported Dirichlet entry {d}")
    return {
        "config": os.path.abspath(path),
        "domain": dom,
        "dirichlet": dirichlet,
        "load_factors": [float(x) for x in cfg["loading"]["load_factors"]],
        "monitor": cfg["loading"].get("monitor", {"boundary": "right", "component": 0}),
        "materials": mats,
        "rve_geometry": cfg["rve"]["geometry"],
    }


def epicp_props(m: dict):
    """simcoon EPICP props [E, nu, alpha, sigmaY, k, m] of an fe2 law spec (elastic -> sigmaY = 1e30)."""
    if m["model"] == "j2":
        return [m["young"], m["poisson"], 0.0, m["sigma_y0"], m.get("h_iso", 0.0), 1.0]
    return [m["young"], m["poisson"], 0.0, ELASTIC_YIELD, 0.0, 1.0]


# ------------------------------------------------------------------------------------------
# meshes
# ------------------------------------------------------------------------------------------
def read_msh(path: str):
    """meshio read -> (points (n, 2), {phys_name: (cell_type, conn)}); unused nodes are kept."""
    import meshio
    import numpy as np

    with contextlib.redirect_stdout(sys.stderr):
        m = meshio.read(path)
    names = {(int(tag), int(dim)): name for name, (tag, dim) in m.field_data.items()}
    dims = {"line": 1, "triangle": 2}
    groups: dict[str, list] = {}
    phys = m.cell_data.get("gmsh:physical")
    if phys is None:
        raise SystemExit(f"{path}: no physical groups")
    for block, tags in zip(m.cells, phys, strict=False):
        if block.type not in dims:
            if block.type == "vertex":
                continue
            raise SystemExit(f"{path}: cell type {block.type!r} not supported "
                             "(3-node triangles, 2-node lines)")
        for t in np.unique(tags):
            name = names.get((int(t), dims[block.type]), f"{block.type}_{int(t)}")
            groups.setdefault(name, []).append((block.type, block.data[tags == t]))
    out = {}
    for name, parts in groups.items():
        types = {t for t, _ in parts}
        if len(types) != 1:
            raise SystemExit(f"{path}: physical group {name!r} mixes {types}")
        out[name] = (types.pop(), np.vstack([c for _, c in parts]))
    return m.points[:, :2].astype(float), out


def compact(points, conn_list):
    """Keep the nodes used by the given connectivities; renumber. Returns (points, [conn...], old->new)."""
    import numpy as np

    used = np.unique(np.concatenate([c.ravel() for c in conn_list]))
    new = -np.ones(len(points), dtype=int)
    new[used] = np.arange(len(used))
    return points[used], [new[c] for c in conn_list], new


def signed_area2(points, tri):
    """Twice the signed area of each triangle."""
    p = points[tri]
    return ((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
            - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0]))


def orient_ccw(points, tri):
    """Triangles counter-clockwise (positive Jacobian)."""
    tri = tri.copy()
    neg = signed_area2(points, tri) < 0
    tri[neg] = tri[neg][:, [0, 2, 1]]
    return tri


def macro_mesh(fd, path: str, name: str):
    import numpy as np

    pts, groups = read_msh(path)
    for need in ("plate", "left", "bottom", "right"):
        if need not in groups:
            raise SystemExit(f"{path}: physical group {need!r} missing (have {sorted(groups)})")
    tri = groups["plate"][1]
    pts, (tri,), new = compact(pts, [tri])
    mesh = fd.Mesh(pts, orient_ccw(pts, tri), "tri3", name=name)
    for b in ("left", "bottom", "right", "top", "hole"):
        if b in groups:
            nodes = np.unique(new[groups[b][1].ravel()])
            mesh.add_node_set(nodes[nodes >= 0], b)
    return mesh


def rve_mesh_2d(fd, path: str, name: str):
    """fedoo tri3 mesh of the RVE and the per-element phase ('matrix' / 'fibre') array."""
    import numpy as np

    pts, groups = read_msh(path)
    for need in ("matrix", "fibre"):
        if need not in groups or groups[need][0] != "triangle":
            raise SystemExit(f"{path}: physical surface {need!r} missing (have {sorted(groups)})")
    conn = [groups["matrix"][1], groups["fibre"][1]]
    pts, conn, _ = compact(pts, conn)
    tri = orient_ccw(pts, np.vstack(conn))
    phase = np.array(["matrix"] * len(conn[0]) + ["fibre"] * len(conn[1]))
    return fd.Mesh(pts, tri, "tri3", name=name), phase


# ------------------------------------------------------------------------------------------
# the FE2 law with the standard algorithm (see module docstring)
# ------------------------------------------------------------------------------------------
def make_consistent_fe2(fd):
    import numpy as np
    from fedoo.constraint.periodic_bc import PeriodicBC
    from fedoo.core.base import InvalidKinematicStateError
    from fedoo.homogen.tangent_stiffness import get_homogenized_stiffness, get_tangent_stiffness
    from fedoo.problem.non_linear import NonLinear
    from fedoo.util.voigt_tensors import StrainTensorList, StressTensorList

    class ConsistentFE2(fd.constitutivelaw.FE2):
        """fedoo's FE2 law with micro histories rolled back per macro iteration, committed per increment.

        Same ingredients as fedoo's FE2 (one NonLinear micro problem per macro point, PeriodicBC
        'small_strain' with the problem-level MeanStrain dofs, node nearest to the centre pinned,
        macro tangent = get_tangent_stiffness of the micro problem, stress = volume average), but:

        * each macro iteration restarts every micro problem from the state committed at the
          start of the macro increment (``to_start``) and solves one micro increment without
          committing it; the micro states are committed when the macro increment converges
          (``set_start``) and dropped when it is cut (``to_start``);
        * the MeanStrain Dirichlet BC is created once and updated with ``change_value``;
        * the macro tangent is the micro tangent assembled at the converged micro state;
        * the micro problem may be 2D ('2Dplane', PeriodicBC dim = 2, slots 11, 22, 12 of the
          6-slot macro strain) or 3D (all 6 slots, as fedoo's FE2).
        """

        def __init__(self, micro_assemblies, micro_dim, tol, max_subiter, solver="direct", name=""):
            super().__init__(list(micro_assemblies), name=name)
            self.solver = solver
            self._micro_assemblies = list(micro_assemblies)
            self.micro_dim = int(micro_dim)
            self._slots = [0, 1, 2, 3, 4, 5] if self.micro_dim == 3 else [0, 1, 3]
            self.micro_tol = float(tol)
            self.micro_max_subiter = int(max_subiter)
            self.stats = {"micro_solves": 0, "micro_newton_iterations": 0, "micro_time_s": 0.0, "sweeps": 0}

        def _embed(self, c_small):
            c = np.zeros((6, 6))
            c[np.ix_(self._slots, self._slots)] = c_small
            return c

        def initialize(self, assembly, pb):
            if self.list_problem is not None:
                return
            n = assembly.n_gauss_points
            if len(self._micro_assemblies) != n:
                raise ValueError(f"{len(self._micro_assemblies)} micro assemblies for {n} macro points")
            self.list_assembly = self._micro_assemblies
            self.list_mesh = [a.mesh for a in self.list_assembly]
            self.list_problem = []
            self._list_volume = np.empty(n)
            self._strain_bc = [None] * n
            self._pending = np.zeros(n, dtype=bool)  # micro solved since the last commit
            tangent = np.empty((6, 6, n))
            for i, a in enumerate(self.list_assembly):
                crd = a.mesh.nodes
                lo, hi = crd.min(axis=0), crd.max(axis=0)
                self._list_volume[i] = np.prod(hi - lo)
                centre = int(np.linalg.norm(crd - (lo + hi) / 2, axis=1).argmin())
                p = NonLinear(a, name=f"_fe2_cell_{i}")
                p.bc.add(PeriodicBC("small_strain", dim=self.micro_dim, name=f"_fe2_periodic_{i}"))
                p.bc.add("Dirichlet", [centre], "Disp", 0)
                p.set_nr_criterion("Force", tol=self.micro_tol, max_subiter=self.micro_max_subiter)
                p.set_solver(self.solver)
                p.print_info = 0
                # initial (elastic) homogenised stiffness; it builds a Linear problem on the
                # assembly, so the micro problem is initialised after it (as nlsolve does in
                # fedoo's FE2), which binds the assembly back to the micro problem
                tangent[:, :, i] = self._embed(get_homogenized_stiffness(a, solver=self.solver))
                p.initialize()
                p.set_start()  # committed initial state (what to_start restores)
                self.list_problem.append(p)
            pb.make_active()
            assembly.sv["TangentMatrix"] = tangent
            if self.use_elastic_lt:
                assembly.sv["ElasticMatrix"] = tangent.copy()
            assembly.sv["Strain"] = StrainTensorList(np.zeros((6, n)))
            assembly.sv["Stress"] = StressTensorList(np.zeros((6, n)))
            assembly.sv["Wm"] = np.zeros((4, n))

        def set_start(self, assembly, pb):
            # the macro increment converged (or a new one starts): commit the micro states
            for i in np.flatnonzero(self._pending):
                self.list_problem[i].set_start()
            self._pending[:] = False
            super().set_start(assembly, pb)  # elastic tangent for the next prediction (fedoo's default)

        def to_start(self, assembly, pb):
            # the macro increment is cut: drop the uncommitted micro solutions
            for i in np.flatnonzero(self._pending):
                self.list_problem[i].to_start()
            self._pending[:] = False
            if self.use_elastic_lt:
                assembly.sv["TangentMatrix"] = assembly.sv["ElasticMatrix"].copy()

        def update(self, assembly, pb):
            n = len(self.list_problem)
            self._new_stress = np.zeros((6, n))
            self._new_tangent = np.array(assembly.sv["TangentMatrix"], copy=True)
            t0 = time.perf_counter()
            for i in range(n):
                self._update_pb(i, assembly, pb)
            self.stats["micro_time_s"] += time.perf_counter() - t0
            self.stats["sweeps"] += 1
            assembly.sv["Stress"] = StressTensorList(self._new_stress)
            assembly.sv["TangentMatrix"] = self._new_tangent

        def _update_pb(self, i, assembly_macro, pb_macro):
            p = self.list_problem[i]
            a = self.list_assembly[i]
            if self._pending[i]:
                p.to_start()  # back to the start of the macro increment
                self._pending[i] = False
            strain = assembly_macro.sv["Strain"].asarray()[self._slots, i]
            start = assembly_macro.sv_start["Strain"].asarray()[self._slots, i]
            if self._strain_bc[i] is None:
                self._strain_bc[i] = p.bc.add("Dirichlet", "MeanStrain", strain, start_value=start,
                                              name="Strain")
            else:
                for bc, v, s in zip(self._strain_bc[i], strain, start, strict=False):
                    bc.change_value(float(v), start_value=float(s))
            p.t0, p.tmax, p.time, p.dtime = 0.0, 1.0, 0.0, 1.0  # one increment, t_fact = 1
            ok, nit, err = p.solve_time_increment(self.micro_max_subiter, self.micro_tol)
            self.stats["micro_solves"] += 1
            self.stats["micro_newton_iterations"] += int(nit)
            if not ok:
                p.to_start()
                raise InvalidKinematicStateError(
                    f"micro problem {i} did not converge (error {err:.3e} after {nit} iterations)")
            self._pending[i] = True
            # macro tangent at the converged micro state
            p.update(compute="matrix", updateWeakForm=False)
            p.set_A(a.current.get_global_matrix())
            self._new_tangent[:, :, i] = self._embed(get_tangent_stiffness(p, solver=self.solver))
            vol = self._list_volume[i]
            self._new_stress[:, i] = [a.integrate_field(c) / vol for c in a.sv["Stress"]]
            wm = a.sv.get("Wm")
            if wm is not None:
                assembly_macro.sv["Wm"][:, i] = a.integrate_field(wm) / vol

    return ConsistentFE2


# ------------------------------------------------------------------------------------------
# one FE2 run
# ------------------------------------------------------------------------------------------
def run_fe2(fd, args, prob, macro, rve2d, phase, tag: str, load_factors, log=True) -> dict:
    import numpy as np

    def say(msg):
        if log:
            print(f"[fedoo_fe2 {tag}] {msg}", file=sys.stderr, flush=True)

    t_all = time.perf_counter()
    space_macro = fd.ModelingSpace("2Dplane", f"macro_space_{tag}")
    micro_dim = 2 if args.micro == "2d" else 3
    space_micro = fd.ModelingSpace("2Dplane" if micro_dim == 2 else "3D", f"micro_space_{tag}")

    # RVE: 2D triangles, or one layer of wedges (fedoo's extrude), element order kept
    if micro_dim == 2:
        rve = rve2d
    else:
        width = float(np.ptp(rve2d.nodes[:, 0]))
        rve = fd.mesh.extrude(rve2d, args.slab_thickness * width, n_nodes=2, name=f"rve_slab_{tag}")
        if rve.elm_type != "wed6" or rve.n_elements != rve2d.n_elements:
            raise SystemExit(f"extrusion gave {rve.n_elements} {rve.elm_type}, expected "
                             f"{rve2d.n_elements} wed6")
    props = np.array([epicp_props(prob["materials"][ph]) for ph in phase]).T  # (6, n_elements)
    law = fd.constitutivelaw.Simcoon("EPICP", np.asfortranarray(props), tangent_mode=args.tangent_mode,
                                     name=f"epicp_{tag}")
    wf_micro = fd.weakform.StressEquilibrium(law, name=f"wf_micro_{tag}", space=space_micro)

    n_points = macro.n_elements  # one Gauss point per P1 triangle
    micro_asm = [fd.Assembly.create(wf_micro, rve, n_elm_gp=1, name=f"micro_{tag}_{i}")
                 for i in range(n_points)]
    if args.fe2_class == "fixed":
        cls = make_consistent_fe2(fd)
        fe2law = cls(micro_asm, micro_dim, args.micro_tol, args.micro_max_subiter, solver=args.solver,
                     name=f"fe2_{tag}")
    else:
        if micro_dim != 3:
            raise SystemExit("--fe2-class stock needs --micro slab (fedoo's FE2 builds 3D periodic cells)")
        fe2law = fd.constitutivelaw.FE2(micro_asm, name=f"fe2_{tag}")
        fe2law.stats = {"micro_time_s": 0.0, "sweeps": 0}
        orig_update = fe2law.update

        def timed_update(assembly, pb, _orig=orig_update, _law=fe2law):
            t0 = time.perf_counter()
            _orig(assembly, pb)
            _law.stats["micro_time_s"] += time.perf_counter() - t0
            _law.stats["sweeps"] += 1

        fe2law.update = timed_update
    wf_macro = fd.weakform.StressEquilibrium(fe2law, name=f"wf_macro_{tag}", space=space_macro)
    asm = fd.Assembly.create(wf_macro, macro, n_elm_gp=1, name=f"macro_{tag}")
    pb = fd.problem.NonLinear(asm, name=f"macro_pb_{tag}")
    pb.set_solver(args.solver)
    pb.set_nr_criterion("Force", tol=args.macro_tol, max_subiter=args.macro_max_subiter)

    # Newton bookkeeping: wrap the increment solver (one call per try of an increment)
    tries: list = []
    orig_sti = pb.solve_time_increment

    def counted(max_subiter=None, tol_nr=None, _orig=orig_sti):
        res = _orig(max_subiter, tol_nr)
        tries.append({"converged": bool(res[0]), "iterations": int(res[1]), "error": float(res[2])})
        return res

    pb.solve_time_increment = counted

    t0 = time.perf_counter()
    pb.initialize()
    setup_s = time.perf_counter() - t0
    say(f"{n_points} macro points, RVE {rve.n_elements} {rve.elm_type} / {rve.n_nodes} nodes; "
        f"set-up (micro problems + initial C) {setup_s:.2f} s")

    bc_value = {}
    for d in prob["dirichlet"]:
        var = "DispX" if d["component"] == 0 else "DispY"
        nodes = macro.node_sets[d["boundary"]]
        bc_value[(d["boundary"], var)] = (pb.bc.add("Dirichlet", nodes, var, 0.0), float(d["value"]))
    mon = prob["monitor"]
    mon_nodes = macro.node_sets[mon["boundary"]]
    mon_var = "DispX" if mon["component"] == 0 else "DispY"

    steps = []
    for k, lam in enumerate(load_factors, start=1):
        for bc, val in bc_value.values():
            bc.change_value(val * lam)
        n_try0 = len(tries)
        s0 = dict(fe2law.stats)
        t0 = time.perf_counter()
        error = None
        try:
            pb.nlsolve(dt=1.0, tmax=1.0, t0=0.0, update_dt=True, dt_max=1.0, dt_min=1.0 / 64,
                       tol_nr=args.macro_tol, max_subiter=args.macro_max_subiter, print_info=0)
        except RuntimeError as exc:
            error = str(exc)
        wall = time.perf_counter() - t0
        st = tries[n_try0:]
        rec = {
            "step": k,
            "load_factor": lam,
            "reaction": float(pb.get_ext_forces(mon_var)[mon_nodes].sum()),
            "wall_time_s": wall,
            "newton_iterations": sum(t["iterations"] for t in st if t["converged"]),
            "newton_iterations_all_tries": sum(t["iterations"] for t in st),
            "increments": sum(1 for t in st if t["converged"]),
            "cut_backs": sum(1 for t in st if not t["converged"]),
            "final_error": st[-1]["error"] if st else None,
            "micro_sweeps": fe2law.stats["sweeps"] - s0["sweeps"],
            "micro_time_s": fe2law.stats["micro_time_s"] - s0["micro_time_s"],
        }
        for key in ("micro_solves", "micro_newton_iterations"):
            if key in fe2law.stats:
                rec[key] = fe2law.stats[key] - s0[key]
        if error:
            rec["error"] = error
        steps.append(rec)
        say(f"step {k}: load {lam:g}  reaction {rec['reaction']:.7g}  {wall:.2f} s  "
            f"Newton {rec['newton_iterations']} (tries {len(st)})" + (f"  FAILED: {error}" if error else ""))
        if error:
            break
    return {
        "n_macro_points": n_points,
        "n_macro_nodes": int(macro.n_nodes),
        "rve": {"elm_type": rve.elm_type, "n_elements": int(rve.n_elements), "n_nodes": int(rve.n_nodes),
                "n_fibre_elements": int((phase == "fibre").sum())},
        "setup_time_s": setup_s,
        "steps": steps,
        "total_time_s": time.perf_counter() - t_all,
        "ok": all("error" not in s for s in steps) and len(steps) == len(load_factors),
    }


def clear_registries(fd):
    for reg in (fd.Assembly, fd.Mesh, fd.Problem, fd.WeakForm, fd.ConstitutiveLaw, fd.ModelingSpace):
        with contextlib.suppress(Exception):
            reg.get_all().clear()


def locate_mkl_rt() -> str | None:
    """Point pypardiso at MKL's runtime library once (PYPARDISO_MKL_RT).

    Without it every ``pypardiso.PyPardisoSolver()`` runs ``ctypes.util.find_library`` (gcc/ld
    subprocesses) and a recursive glob over the venv to find ``libmkl_rt``: about 40 ms per
    instance here (85 ms under cProfile, 83 % of the profiled run). fedoo's
    ``get_tangent_stiffness`` creates one instance per call (its factorization-reuse
    context), i.e. one per micro solve in FE2: without the hint a macro step of the coarse
    benchmark takes about 24 s instead of 6-9 s. The variable is pypardiso's documented way
    to give the path.
    """
    if os.environ.get("PYPARDISO_MKL_RT"):
        return os.environ["PYPARDISO_MKL_RT"]
    import glob

    for pattern in ("lib/libmkl_rt.so*", "lib/libmkl_rt*.dylib", "Library/bin/mkl_rt*.dll"):
        hits = sorted(glob.glob(os.path.join(sys.prefix, pattern)), key=len)
        if hits:
            os.environ["PYPARDISO_MKL_RT"] = hits[0]
            return hits[0]
    return None


def main():
    args = parse()
    thread_env = rc.set_threads(args.threads)
    prob = load_problem(args.config)
    mkl_rt = None if args.no_mkl_rt_hint else locate_mkl_rt()

    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import fedoo as fd
        import numpy as np
        from fedoo.core import base as fd_base
    from importlib.metadata import version as _v

    backend = ("pypardiso (MKL PARDISO)" if args.solver == "direct" and fd_base.USE_PYPARDISO
               else "scipy spsolve" if args.solver in ("direct", "direct_scipy") else args.solver)

    result = None
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not args.no_warmup:
            wm = fd.mesh.rectangle_mesh(2, 2, 0.0, 1.0, 0.0, 1.0, elm_type="tri3", name="warm_macro")
            for b, nodes in (("left", wm.find_nodes("X", 0)), ("bottom", wm.find_nodes("Y", 0)),
                             ("right", wm.find_nodes("X", 1))):
                wm.add_node_set(nodes, b)
            rve2d, phase = rve_mesh_2d(fd, args.rve_mesh, "warm_rve")
            try:
                run_fe2(fd, args, prob, wm, rve2d, phase, "warmup", prob["load_factors"][:1], log=False)
            except Exception as exc:  # noqa: BLE001 -- the timed run reports errors; the warm-up only loads libraries
                print(f"[fedoo_fe2] warm-up failed: {exc}", file=sys.stderr)
            clear_registries(fd)
        macro = macro_mesh(fd, args.macro_mesh, "macro")
        rve2d, phase = rve_mesh_2d(fd, args.rve_mesh, "rve")
        result = run_fe2(fd, args, prob, macro, rve2d, phase, "run", prob["load_factors"])

    area = np.abs(signed_area2(rve2d.nodes, rve2d.elements))
    vf = float(area[phase == "fibre"].sum() / area.sum())
    steps = result["steps"]
    times = [s["wall_time_s"] for s in steps]
    peer = {
        "peer": "fedoo_fe2",
        "package": "fedoo",
        "version": _v("fedoo"),
        "simcoon_version": _v("simcoon"),
        "method": ("fedoo.constitutivelaw.FE2 "
                   + ("subclass ConsistentFE2 (micro rollback per macro iteration, commit per increment)"
                      if args.fe2_class == "fixed" else "unchanged (stock)")
                   + ", micro " + ("2D plane strain" if args.micro == "2d"
                                   else "3D slab (1 wedge layer, z-periodic)")
                   + ", serial loop over macro points, periodic BC (PeriodicBC small_strain), simcoon EPICP"),
        "settings": {
            "fe2_class": args.fe2_class, "micro": args.micro,
            "macro_tol": args.macro_tol, "micro_tol": args.micro_tol,
            "nr_criterion": "Force: |R_free| / |F_ext| (fedoo default criterion)",
            "macro_max_subiter": args.macro_max_subiter, "micro_max_subiter": args.micro_max_subiter,
            "tangent_mode": args.tangent_mode, "macro_gauss_points_per_element": 1,
            "micro_gauss_points_per_element": 1,
            "slab_thickness": args.slab_thickness if args.micro == "slab" else None,
            "solver": args.solver, "solver_backend": backend, "warmup": not args.no_warmup,
            "PYPARDISO_MKL_RT": mkl_rt,
            "macro_mesh": os.path.abspath(args.macro_mesh), "rve_mesh": os.path.abspath(args.rve_mesh),
        },
        "problem": {
            "config": prob["config"], "domain": prob["domain"], "dirichlet": prob["dirichlet"],
            "load_factors": prob["load_factors"], "monitor": prob["monitor"],
            "materials": prob["materials"], "rve_geometry": prob["rve_geometry"],
            "rve_fibre_fraction_discrete": vf,
            "kinematics": "small strain; macro 2Dplane (plane strain)",
            "reaction": "sum of nodal forces (fedoo get_ext_forces) on the monitor boundary, "
                        "per unit thickness",
            "matrix_law": "simcoon EPICP [E, nu, alpha=0, sigmaY=sigma_y0, k=h_iso, m=1] "
                          "(linear isotropic hardening)",
            "fibre_law": f"simcoon EPICP [E, nu, 0, {ELASTIC_YIELD:g}, 0, 1] (never yields: linear elastic)",
        },
        "results": {
            **result,
            "time_per_step_s": {"mean": sum(times) / len(times) if times else None,
                                "min": min(times) if times else None, "max": max(times) if times else None},
        },
    }
    rc.emit({"script": "fedoo_fe2.py", "machine": rc.machine_info(thread_env), "peers": [peer]}, args.indent)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
