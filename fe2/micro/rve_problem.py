"""The linear RVE problem: one stiffness, three boundary conditions, all load cases.

Fluctuation formulation. For KUBC and periodic conditions the field is
``u = E·(x - x_c) + w`` and the macro driver E enters only the right-hand
side ``f_j = -G_j``; for TUBC ``u = Ē·(x - x_c) + w`` as well, with the mean
strain Ē unknown, the unit stress as its load and w of zero boundary-mean strain
and rotation (see :mod:`fe2.micro.traction`). Every load and every average is a dot product with
vectors assembled once per RVE:

    G_k = ∫_Ω flux(v) : S_k dx          (volume, S_k = k-th Mandel basis tensor)
    H_k = ∫_{∂Y∩Ω} sym(v ⊗ n) : S_k ds   (box faces)

so that, with |Y| the box volume (pores included, with zero stress):

    <σ>_k   = <C>_kl E_l + (G_k · w) / |Y|    (u = E·(x - x_c) + w, every BC)
    <ε>_k   = E_k + (H_k · w) / |Y|
    <σ:ε>   = E·<C>·E + (2 E·(G·w) + w · K w) / |Y|

with <C>_kl = ∫ S_k : flux(S_l) dx / |Y| of the exact affine fields (the affine
fields need not lie in V: P1 fields on curved cells).

These are the discrete integrals of the fields themselves, so the Hill–Mandel
residual |<σ:ε> - <σ>:<ε>| / |<σ>:<ε>| measures how well the discrete
equilibrium and the boundary condition hold (solver tolerance).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2._compat import create_petsc_vector
from fe2.errors import ConfigError, GeometryError, MaterialError
from fe2.geometry.base import RVEMesh
from fe2.micro import constraints
from fe2.micro.forms import RVEForms
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.micro.physics import Physics
from fe2.micro.results import BCResult, HomogenizationResult, LoadCase, hill_mandel_tolerance
from fe2.micro.traction import solve_tubc
from fe2.solvers import ConstrainedSystem, destroy_petsc_attributes, solve_checked

BOUNDARY_CONDITIONS = ("kubc", "periodic", "tubc")


class RVEProblem:
    """A linear RVE with phase-wise isotropic materials, or a cell-wise coefficient field.

    Args:
        rve: the meshed RVE (any communicator; the solve is distributed over it).
        physics: a registered :class:`~fe2.micro.physics.Physics` (elasticity, conductivity, …).
        materials: phase name -> material, for every non-void phase of the mesh;
            empty when ``coefficients`` is given.
        degree: Lagrange degree of the field (1, 2 or 3; 3 is used by the p+1 error estimate of P2 runs).
        solver: linear-solver settings (default 'auto': see LinearSolverOptions).
        forms: compiled forms shared by many RVEs of one kind (see
            :mod:`fe2.micro.forms`); compiled for this mesh when omitted.
        coefficients: instead of phase materials, the coefficient fields themselves
            (``physics.coefficient_names`` -> DG0 function on ``rve.mesh``, ghosts
            updated): a spatially varying isotropic material, one value per cell
            (e.g. interpolated from a phase field). The Reuss bound is then the
            cell-wise <C⁻¹>⁻¹.

    Forms are compiled and the stiffness K, the vectors G_k, H_k and the affine
    fields are assembled once here; :meth:`solve` builds each BC's reduced
    operator and factorization once and reuses it for every load case.
    """

    def __init__(
        self,
        rve: RVEMesh,
        physics: Physics,
        materials: Mapping[str, object],
        *,
        degree: int = 1,
        solver: LinearSolverOptions | None = None,
        forms: RVEForms | None = None,
        coefficients: Mapping[str, fem.Function] | None = None,
    ) -> None:
        t0 = time.perf_counter()
        self.rve = rve
        self.physics = physics
        self.solver = solver or LinearSolverOptions()
        self.comm: MPI.Intracomm = rve.mesh.comm
        if physics.dim != rve.dim:
            raise ConfigError(f"physics is {physics.dim}D but the RVE mesh is {rve.dim}D")
        if degree not in (1, 2, 3):
            raise ConfigError(f"element degree must be 1, 2 or 3, got {degree}")
        self.degree = degree
        self.field_coefficients = coefficients is not None
        if self.field_coefficients:
            if materials:
                raise ConfigError("give either phase materials or coefficient fields, not both")
        else:
            self._check_materials(materials)
        self.materials = dict(materials)

        msh = rve.mesh
        d = rve.dim
        self.box_min = np.asarray(rve.box_min, dtype=float)
        self.box_max = np.asarray(rve.box_max, dtype=float)
        self.volume = rve.volume
        self.center = 0.5 * (self.box_min + self.box_max)
        self.V = fem.functionspace(msh, ("Lagrange", degree, physics.value_shape))
        self.bs = self.V.dofmap.index_map_bs
        self.n_owned_nodes = self.V.dofmap.index_map.size_local
        self.node_x = self.V.tabulate_dof_coordinates()[: self.n_owned_nodes, :d]
        self.global_node = np.arange(self.n_owned_nodes, dtype=np.int64) + self.V.dofmap.index_map.local_range[0]

        self.solver = self.solver.resolved(d, self.V.dofmap.index_map.size_global * self.bs)
        self.coefficients = (
            self._field_coefficients(coefficients) if coefficients is not None else self._phase_coefficients()
        )
        self._build_forms(forms)
        t1 = time.perf_counter()
        self._assemble()
        t2 = time.perf_counter()
        self.timings = {"setup_forms_s": t1 - t0, "assemble_s": t2 - t1}

    # ------------------------------------------------------------------ setup
    def _check_materials(self, materials: Mapping[str, object]) -> None:
        present = set(self.rve.phases)
        given = set(materials)
        missing = sorted(present - given)
        if missing:
            raise ConfigError(f"no material given for phase(s) {missing} of the RVE mesh")
        unknown = sorted(given - present - set(self.rve.void_phases))
        if unknown:
            raise ConfigError(f"material(s) given for unknown phase(s) {unknown}; mesh phases: {sorted(present)}")
        for name in present:
            self.physics.coefficient_values(materials[name])  # type check

    def _phase_coefficients(self) -> dict[str, fem.Function]:
        msh = self.rve.mesh
        Q = fem.functionspace(msh, ("DG", 0))
        names = list(self.physics.coefficient_values(next(iter(self.materials.values()))).keys())
        coeffs = {n: fem.Function(Q, name=n) for n in names}
        tags = self.rve.cell_tags
        n_cells = msh.topology.index_map(msh.topology.dim).size_local + msh.topology.index_map(
            msh.topology.dim
        ).num_ghosts
        assigned = np.zeros(n_cells, dtype=bool)
        for phase, tag in self.rve.phases.items():
            cells = tags.find(tag)
            assigned[cells] = True
            for n, val in self.physics.coefficient_values(self.materials[phase]).items():
                coeffs[n].x.array[cells] = val
        n_unassigned = self.comm.allreduce(
            int(np.count_nonzero(~assigned[: msh.topology.index_map(msh.topology.dim).size_local]))
        )
        if n_unassigned:
            raise GeometryError(f"{n_unassigned} cells of the RVE mesh carry no phase tag")
        self.indicator = fem.Function(Q, name="phase_indicator")
        return coeffs

    def _field_coefficients(self, coefficients: Mapping[str, fem.Function]) -> dict[str, fem.Function]:
        """Check user coefficient fields (names, DG0 on this mesh, admissible values); use them as given."""
        msh = self.rve.mesh
        names = self.physics.coefficient_names
        if set(coefficients) != set(names):
            raise ConfigError(f"{self.physics.name} needs coefficient fields {list(names)}, got {sorted(coefficients)}")
        for n, f in coefficients.items():
            el = f.function_space.ufl_element()
            if f.function_space.mesh is not msh or el.basix_element.degree != 0 or f.function_space.value_size != 1:
                raise ConfigError(f"coefficient field {n!r} must be a scalar DG0 function on the RVE mesh")
        bad, what = self.physics.invalid_coefficients({n: coefficients[n].x.array for n in names})
        n_bad = self.comm.allreduce(int(np.count_nonzero(bad)))
        if n_bad:
            raise MaterialError(f"coefficient fields violate {what} in {n_bad} cell(s)")
        self.indicator = fem.Function(fem.functionspace(msh, ("DG", 0)), name="phase_indicator")
        return {n: coefficients[n] for n in names}

    def _build_forms(self, forms: RVEForms | None) -> None:
        msh = self.rve.mesh
        d = self.rve.dim
        fdim = d - 1
        msh.topology.create_connectivity(fdim, d)
        lo, hi = self.box_min, self.box_max
        tol = 1e-8 * (hi - lo)

        def on_box(x):
            m = np.zeros(x.shape[1], dtype=bool)
            for a in range(d):
                m |= np.abs(x[a] - lo[a]) <= tol[a]
                m |= np.abs(x[a] - hi[a]) <= tol[a]
            return m

        facets = dmesh.locate_entities_boundary(msh, fdim, on_box)
        self._selector = fem.Constant(msh, np.zeros(self.physics.selector_shape))
        self._selector2 = fem.Constant(msh, np.zeros(self.physics.selector_shape))
        self.forms = forms if forms is not None else RVEForms.for_mesh(self.physics, msh, self.degree)
        f = self.forms.attach(self.V, self.coefficients, self.indicator, self._selector, facets, self._selector2)
        self.a_form, self.g_form, self.h_form = f["a"], f["g"], f["h"]
        self.voigt_form, self.rot_form = f["voigt"], f.get("rot")
        self.box_area_form, self.indicator_form = f["box_area"], f["indicator"]

    def _new_vec(self) -> PETSc.Vec:
        return create_petsc_vector(self.V)

    def _assemble_vec(self, form) -> PETSc.Vec:
        b = self._new_vec()
        b.zeroEntries()
        fem_petsc.assemble_vector(b, form)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        return b

    def _assemble(self) -> None:
        ph = self.physics
        self.K = fem_petsc.assemble_matrix(self.a_form)
        self.K.assemble()
        basis = ph.driver_basis()
        self.G, self.H, self.A = [], [], []
        for Sk in basis:
            self._selector.value[...] = Sk
            self.G.append(self._assemble_vec(self.g_form))
            self.H.append(self._assemble_vec(self.h_form))
            a = fem.Function(self.V)
            xc = self.center
            d = self.rve.dim
            a.interpolate(lambda x, Sk=Sk: ph.affine(Sk, x[:d] - xc[:, None]))  # noqa: B023 -- called at once
            av = self._new_vec()
            a.x.petsc_vec.copy(av)
            self.A.append(av)
        self.R = []
        for Wm in ph.rotation_basis():
            self._selector.value[...] = Wm
            self.R.append(self._assemble_vec(self.rot_form))
        n = ph.n_driver
        # Voigt average <C> (Mandel) of the exact affine fields: ∫ S_k : C : S_j dx (not G_k · A_j: A_j is
        # only the interpolant of the affine field, inexact for P1 fields on curved cells)
        cv = np.zeros((n, n))
        for j in range(n):
            self._selector.value[...] = basis[j]
            for k in range(j, n):
                self._selector2.value[...] = basis[k]
                cv[k, j] = cv[j, k] = self.comm.allreduce(fem.assemble_scalar(self.voigt_form))
        self.c_voigt_mandel = cv / self.volume
        box_area_expected = 2.0 * sum(self.volume / L for L in self.rve.lengths)
        box_area = self.comm.allreduce(fem.assemble_scalar(self.box_area_form))
        self.boundary_coverage = box_area / box_area_expected
        self.volume_fractions = self._volume_fractions()

    def _volume_fractions(self) -> dict[str, float]:
        fr: dict[str, float] = {}
        for phase, tag in self.rve.phases.items():
            self.indicator.x.array[:] = 0.0
            self.indicator.x.array[self.rve.cell_tags.find(tag)] = 1.0
            vol = self.comm.allreduce(fem.assemble_scalar(self.indicator_form))
            fr[phase] = vol / self.volume
        for phase, f in self.rve.void_volume_fractions.items():
            fr[phase] = float(f)
        return fr

    # ------------------------------------------------------------------ solve
    def _node_map(self, bc: str) -> constraints.NodeMap:
        if bc == "kubc":
            return constraints.kubc_node_map(self.comm, self.node_x, self.box_min, self.box_max)
        if bc == "periodic":
            return constraints.periodic_node_map(self.comm, self.node_x, self.box_min, self.box_max)
        return constraints.identity_node_map(self.comm, self.n_owned_nodes)

    def _reduced_operator(self, bc: str):
        """(ConstrainedSystem or None, reduced matrix, pinned reduced dofs) for one BC."""
        if bc == "tubc":
            if self.boundary_coverage < 1.0 - 1e-9:
                raise GeometryError(
                    "TUBC needs material on the whole RVE boundary, but pores cover"
                    f" {100 * (1 - self.boundary_coverage):.3g}% of the box faces; use KUBC/periodic"
                    " or keep void inclusions away from the faces"
                )
            nodes = constraints.rigid_pin_nodes(
                self.comm, self.node_x, self.global_node, self.box_min, self.box_max, self.bs
            )
            pins = np.asarray([node * self.bs + c for owner, node, comps in nodes if owner == self.comm.rank
                               for c in comps], dtype=PETSc.IntType)
            self._bordered_dofs = [node * self.bs + c for _, node, comps in nodes[1:] for c in comps]
            A = self.K.duplicate(copy=True)
            A.zeroRowsColumns(pins, diag=1.0)
            return None, A, pins
        P = constraints.prolongation(self.comm, self._node_map(bc), self.n_owned_nodes, self.bs)
        system = ConstrainedSystem(self.K, P)
        return system, system.reduced, None

    def _near_null_space(self, P: PETSc.Mat | None, A: PETSc.Mat) -> PETSc.NullSpace:
        modes = self.physics.rigid_modes(self.node_x - self.center)
        vecs = []
        mult = None
        if P is not None:
            ones = self._new_vec()
            ones.set(1.0)
            mult = A.createVecRight()
            P.multTranspose(ones, mult)
            arr = mult.getArray()
            arr[arr == 0.0] = 1.0
        for m in modes:
            full = self._new_vec()
            full.getArray()[: m.size] = m.ravel()
            if P is None:
                vecs.append(full)
            else:
                r = A.createVecRight()
                P.multTranspose(full, r)
                r.pointwiseDivide(r, mult)
                vecs.append(r)
        for vec in vecs:
            vec.normalize()
        return PETSc.NullSpace().create(vectors=vecs, comm=self.comm)

    def destroy(self) -> None:
        """Release the stiffness matrix and load vectors now (collective; see :mod:`fe2.solvers.lifetime`)."""
        destroy_petsc_attributes(self, self.comm)

    def solve(self, bc: str) -> tuple[BCResult, list[PETSc.Vec]]:
        """Solve every unit load case of one BC.

        Returns:
            The BCResult and the total fields u of each load case (full vectors,
            ghosts updated), in load-case order.
        """
        if bc not in BOUNDARY_CONDITIONS:
            raise ConfigError(f"unknown boundary condition {bc!r}; expected one of {BOUNDARY_CONDITIONS}")
        t0 = time.perf_counter()
        system, A, pins = self._reduced_operator(bc)
        if self.solver.kind == "iterative":
            A.setNearNullSpace(self._near_null_space(None if system is None else system.P, A))
        t1 = time.perf_counter()
        ksp = self.solver.create_ksp(A, "fe2_rve_")
        ksp.setUp()
        t2 = time.perf_counter()

        n = self.physics.n_driver
        xr, br = A.createVecs()
        w = self._new_vec()
        Kw = self._new_vec()
        fields, cases = [], []
        if bc == "tubc":
            e_bar, fluct, tubc_its = solve_tubc(ksp, self.K, pins, self._bordered_dofs, self.G, self.H, self.R,
                                                self.c_voigt_mandel, self.volume, self._new_vec)
        for j in range(n):
            driver = np.zeros(n)
            driver[j] = 1.0
            if bc == "tubc":
                fluct[j].copy(w)
                w.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
                fluct[j].destroy()
                strain, its = e_bar[j], tubc_its
            else:
                system.restrict(self.G[j], br)
                br.scale(-1.0)
                its = solve_checked(ksp, br, xr, f"RVE {bc} load case {j + 1}")
                system.expand(xr, w)
                strain = driver
            self.K.mult(w, Kw)
            gw = np.array([self.G[k].dot(w) for k in range(n)])
            hw = np.array([self.H[k].dot(w) for k in range(n)])
            wKw = w.dot(Kw)
            cv = self.c_voigt_mandel
            sig = cv @ strain + gw / self.volume
            eps = strain + hw / self.volume
            energy = float(strain @ cv @ strain) + (2.0 * float(strain @ gw) + wKw) / self.volume
            u = w.copy()
            for k in range(n):
                if strain[k] != 0.0:
                    u.axpy(float(strain[k]), self.A[k])
            u.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
            work = float(sig @ eps)
            hm = abs(energy - work) / max(abs(work), 1e-300)
            cases.append(LoadCase(driver, eps, sig, energy, hm, its))
            fields.append(u)
        t3 = time.perf_counter()

        checks: dict[str, float] = {}
        if bc == "tubc":
            S = np.column_stack([lc.mean_strain for lc in cases])
            C = np.linalg.inv(S)
            stress_err = max(np.max(np.abs(lc.mean_stress - lc.driver)) for lc in cases)
            checks["mean_stress_error"] = float(stress_err)
        else:
            C = np.column_stack([lc.mean_stress for lc in cases])
            strain_err = max(np.max(np.abs(lc.mean_strain - lc.driver)) for lc in cases)
            checks["mean_strain_error"] = float(strain_err)
        scale = max(np.max(np.abs(C)), 1e-300)
        checks["symmetry_error"] = float(np.max(np.abs(C - C.T)) / scale)
        ksp.destroy()
        A.destroy()
        if system is not None:
            system.P.destroy()
        timings = {"operator_s": t1 - t0, "factorization_s": t2 - t1, "solves_s": t3 - t2, "total_s": t3 - t0}
        tol = hill_mandel_tolerance(self.solver.kind, self.solver.rtol)
        result = BCResult(bc, C, self.physics.to_voigt(C), cases, timings, checks, hill_mandel_tol=tol)
        return result, fields

    def homogenize(self, bcs: Iterable[str] = BOUNDARY_CONDITIONS, keep_fields: bool = False, progress=None):
        """Effective tensors for the given BCs; ``progress(msg)`` is called after each BC.

        Returns:
            result (HomogenizationResult | tuple): the result, or the pair (result, fields) when keep_fields,
                fields mapping each BC name to its list of fluctuation vectors u_j.
        """
        results: dict[str, BCResult] = {}
        fields: dict[str, list[PETSc.Vec]] = {}
        for bc in bcs:
            res, f = self.solve(bc)
            results[bc] = res
            if progress is not None:
                progress(progress_line(res))
            if keep_fields:
                fields[bc] = f
            else:
                for vec in f:
                    vec.destroy()
        out = self.collect(results)
        return (out, fields) if keep_fields else out

    def collect(self, results: Mapping[str, BCResult]) -> HomogenizationResult:
        """The HomogenizationResult of solved BCs (in the order given): bounds, fractions, mesh, timings."""
        return HomogenizationResult(
            physics=self.physics.name,
            dim=self.rve.dim,
            bcs=dict(results),
            volume_fractions=self.volume_fractions,
            mesh=self.mesh_info(),
            voigt_bound=self.physics.to_voigt(self.c_voigt_mandel),
            reuss_bound=self._reuss_bound(),
            timings=dict(self.timings),
        )

    def _reuss_bound(self) -> np.ndarray:
        """Reuss bound <C^-1>^-1 in Voigt notation; zero when a void phase has a positive fraction."""
        n = self.physics.n_driver
        if self.field_coefficients:
            return self._reuss_bound_field()
        comp = np.zeros((n, n))
        for phase, f in self.volume_fractions.items():
            if phase in self.rve.void_phases:
                if f > 0:
                    return self.physics.to_voigt(np.zeros((n, n)))
                continue
            comp += f * np.linalg.inv(self._phase_tensor(phase))
        return self.physics.to_voigt(np.linalg.inv(comp))

    def _reuss_bound_field(self) -> np.ndarray:
        """<C⁻¹>⁻¹ over the cells of a coefficient field (owned cells, exact cell volumes); voids count as zero."""
        Q = self.indicator.function_space
        vol_form = fem.form(ufl.TestFunction(Q) * ufl.dx)
        vol = fem.assemble_vector(vol_form)
        n_owned = Q.dofmap.index_map.size_local
        w = vol.array[:n_owned]
        n = self.physics.n_driver
        values = {name: f.x.array[:n_owned] for name, f in self.coefficients.items()}
        comp_local = self.physics.compliance_sum(values, w)
        comp = self.comm.allreduce(comp_local) / self.volume
        if any(f > 0 for p, f in self.volume_fractions.items() if p in self.rve.void_phases):
            return self.physics.to_voigt(np.zeros((n, n)))
        return self.physics.to_voigt(np.linalg.inv(comp))

    def _phase_tensor(self, phase: str) -> np.ndarray:
        return self.physics.phase_tensor(self.materials[phase])

    def mesh_info(self) -> dict:
        msh = self.rve.mesh
        tdim = msh.topology.dim
        n_cells_local = msh.topology.index_map(tdim).size_local
        h = msh.h(tdim, np.arange(n_cells_local, dtype=np.int32)) if n_cells_local else np.array([np.inf])
        h_min = self.comm.allreduce(float(np.min(h)) if h.size else np.inf, op=MPI.MIN)
        h_max = self.comm.allreduce(float(np.max(h)) if h.size else 0.0, op=MPI.MAX)
        return {
            "cells": msh.topology.index_map(tdim).size_global,
            "vertices": msh.topology.index_map(0).size_global,
            "dofs": self.V.dofmap.index_map.size_global * self.bs,
            "degree": self.degree,
            "h_min": h_min,
            "h_max": h_max,
            "ranks": self.comm.size,
            "box_min": self.box_min.tolist(),
            "box_max": self.box_max.tolist(),
        }


def progress_line(res: BCResult) -> str:
    """The one-line progress report of a solved BC (says so when the Hill–Mandel residual is above its tolerance)."""
    flag = "" if res.hill_mandel_ok else f"  EXCEEDS its tolerance {res.hill_mandel_tol:.0e}"
    return f"{res.bc:8s} Hill-Mandel {res.hill_mandel_max:.2e}{flag}  ({res.timings['total_s']:.2f} s)"
