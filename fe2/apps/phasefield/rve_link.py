"""From a phase-field microstructure to effective properties: c(x, t) → RVE → C_eff(t), K_eff(t).

A Cahn–Hilliard (or Allen–Cahn) field c on a box mesh is read as a two-phase
microstructure with a *smooth* interface: every cell gets the isotropic property

    p(c) = p_α + (p_β − p_α) h(φ),   φ = clip((c − c_α)/(c_β − c_α), 0, 1),
    h(φ) = φ³ (10 − 15 φ + 6 φ²)      (h(0) = 0, h(1) = 1, h'(0) = h'(1) = 0),

for p = conductivity k, or p = Young's modulus E and Poisson's ratio ν (both
interpolated; λ, μ follow, plane strain in 2D). The clip keeps p inside
[p_α, p_β] where c over- or undershoots the equilibrium compositions. The value is
taken at the cell midpoint: c is interpolated into DG0 (midpoint value of the P_k
field) and p(c) is evaluated per cell, so the coefficient is one number per cell
(a DG0 function), which is what :class:`~fe2.micro.rve_problem.RVEProblem` reads
through its ``coefficients=`` argument.

The RVE is the phase-field mesh itself (same communicator, same partition): a box
mesh from ``create_rectangle``/``create_box`` matches node for node across
opposite faces, so KUBC, periodic and TUBC all apply. The forms are compiled once
per :class:`PhaseFieldHomogenizer` and attached to each snapshot.

The effective tensors go through the micro–macro contract: each snapshot builds
one linear RVE micro model per boundary condition
(:class:`~fe2.micro.rve_material.LinearRVEMaterial`), and the apparent tensor
of that BC is the model's ``constant_tangent()`` — the same object an FE² macro
problem would use at its points.

Units and notation: lengths are those of the phase-field domain; effective tensors
carry the units of the phase properties. Elasticity: Voigt notation with engineering
shear strain, order 11 22 12 (2D) / 11 22 33 23 13 12 (3D). Conductivity: the d × d
matrix K_eff with <J> = K_eff <∇φ>.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.errors import ConfigError
from fe2.geometry.base import RVEMesh
from fe2.io.results import write_csv_atomic, write_json_atomic
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.micro.forms import RVEForms
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.micro.physics import make_physics, physics_for_material
from fe2.micro.results import NOTATION, HomogenizationResult
from fe2.micro.rve_material import LinearRVEMaterial
from fe2.micro.rve_problem import BOUNDARY_CONDITIONS, RVEProblem, progress_line
from fe2.tensors import lame_from_young_poisson

PHASE_NAME = "phasefield"


def smoothstep(phi: np.ndarray) -> np.ndarray:
    """h(φ) = φ³(10 − 15φ + 6φ²) of φ clipped to [0, 1]: 0 → 0, 1 → 1, flat at both ends."""
    p = np.clip(np.asarray(phi, dtype=float), 0.0, 1.0)
    return p**3 * (10.0 - 15.0 * p + 6.0 * p * p)


@dataclass(frozen=True)
class PhaseFieldMaterial:
    """Isotropic properties of the α (c = c_alpha) and β (c = c_beta) phases and the interpolation.

    Attributes:
        alpha, beta: both :class:`IsotropicConductor` or both :class:`IsotropicElastic`.
        c_alpha, c_beta: equilibrium compositions of the two phases (c_beta > c_alpha).
    """

    alpha: IsotropicConductor | IsotropicElastic
    beta: IsotropicConductor | IsotropicElastic
    c_alpha: float = 0.0
    c_beta: float = 1.0

    def __post_init__(self) -> None:
        if type(self.alpha) is not type(self.beta) or not isinstance(
            self.alpha, (IsotropicConductor, IsotropicElastic)
        ):
            raise ConfigError(
                "phase-field material: alpha and beta must both be IsotropicConductor or IsotropicElastic"
            )
        if not self.c_beta > self.c_alpha:
            raise ConfigError(f"phase-field material needs c_beta > c_alpha, got {self.c_alpha}, {self.c_beta}")

    @property
    def physics_name(self) -> str:
        """The registered physics of the phases ('conductivity' or 'elasticity')."""
        return physics_for_material(self.alpha).name

    def fraction(self, c: np.ndarray) -> np.ndarray:
        """h(φ(c)): the local β fraction seen by the interpolation, in [0, 1]."""
        return smoothstep((np.asarray(c, dtype=float) - self.c_alpha) / (self.c_beta - self.c_alpha))

    def coefficient_arrays(self, c: np.ndarray) -> dict[str, np.ndarray]:
        """Coefficient values at compositions c: {'k'} or {'lambda', 'mu'} (plane strain in 2D)."""
        h = self.fraction(c)
        if isinstance(self.alpha, IsotropicConductor):
            beta_k = cast(IsotropicConductor, self.beta)  # __post_init__: both phases are of one type
            return {"k": self.alpha.conductivity + (beta_k.conductivity - self.alpha.conductivity) * h}
        beta_e = cast(IsotropicElastic, self.beta)
        young = self.alpha.young + (beta_e.young - self.alpha.young) * h
        poisson = self.alpha.poisson + (beta_e.poisson - self.alpha.poisson) * h
        lam, mu = lame_from_young_poisson(young, poisson)
        return {"lambda": lam, "mu": mu}


def box_rve(msh: dmesh.Mesh) -> RVEMesh:
    """The box mesh as an RVE: one phase ``'phasefield'`` (tag 1) on every cell; box from the node extent."""
    d = msh.geometry.dim
    x = msh.geometry.x[:, :d]
    comm = msh.comm
    lo = np.array([comm.allreduce(float(x[:, a].min()) if x.size else np.inf, op=MPI.MIN) for a in range(d)])
    hi = np.array([comm.allreduce(float(x[:, a].max()) if x.size else -np.inf, op=MPI.MAX) for a in range(d)])
    tdim = msh.topology.dim
    im = msh.topology.index_map(tdim)
    cells = np.arange(im.size_local + im.num_ghosts, dtype=np.int32)
    tags = dmesh.meshtags(msh, tdim, cells, np.ones(cells.size, dtype=np.int32))
    return RVEMesh(msh, tags, {PHASE_NAME: 1}, lo, hi, description={"generator": "phase-field box mesh"})


@dataclass
class Snapshot:
    """Effective properties of the microstructure at one time.

    Attributes:
        t: time of the phase-field state.
        energy: free energy F[c] of the phase-field solver at t (None when not known).
        mean_c: cell-volume average of the cell-midpoint c (the composition the RVE sees).
        beta_fraction: cell-volume average of h(φ(c)) at the cell midpoints (what the RVE sees).
        result: the RVE homogenization (effective tensors per BC, bounds, Hill–Mandel).
        image: on rank 0, (points (N, d), values (N,)) of c for plotting; None elsewhere.
    """

    t: float
    energy: float | None
    mean_c: float
    beta_fraction: float
    result: HomogenizationResult
    image: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        r = self.result
        return {
            "t": self.t,
            "energy": self.energy,
            "mean_c": self.mean_c,
            "beta_fraction": self.beta_fraction,
            "effective": {bc: res.effective_voigt.tolist() for bc, res in r.bcs.items()},
            "hill_mandel": {bc: res.hill_mandel_max for bc, res in r.bcs.items()},
            "hill_mandel_tolerance": {bc: res.hill_mandel_tol for bc, res in r.bcs.items()},
            "hill_mandel_ok": all(res.hill_mandel_ok for res in r.bcs.values()),
            "warnings": r.warnings(),
            "voigt_bound": r.voigt_bound.tolist(),
            "reuss_bound": None if r.reuss_bound is None else r.reuss_bound.tolist(),
        }


class PhaseFieldHomogenizer:
    """Homogenize phase-field states on one mesh: forms compiled once, one RVEProblem per snapshot.

    Args:
        msh: the phase-field mesh (a box; its communicator distributes the RVE solves).
        material: the two phases and the interpolation.
        bcs: boundary conditions to solve, a subset of ('kubc', 'periodic', 'tubc').
        solver: RVE linear-solver settings.
    """

    def __init__(
        self,
        msh: dmesh.Mesh,
        material: PhaseFieldMaterial,
        bcs: Sequence[str] = BOUNDARY_CONDITIONS,
        solver: LinearSolverOptions | None = None,
    ) -> None:
        bad = [b for b in bcs if b not in BOUNDARY_CONDITIONS]
        if bad or not bcs:
            raise ConfigError(
                f"homogenization BCs must be a non-empty subset of {BOUNDARY_CONDITIONS}, got {list(bcs)}"
            )
        self.msh = msh
        self.comm: MPI.Comm = msh.comm
        self.material = material
        self.bcs = tuple(bcs)
        self.solver = solver
        self.rve = box_rve(msh)
        self.physics = make_physics(material.physics_name, msh.geometry.dim)
        self.forms = RVEForms.for_mesh(self.physics, msh, 1)
        self.Q = fem.functionspace(msh, ("DG", 0))
        self._c_cell = fem.Function(self.Q, name="c_cell")
        self.coefficients = {n: fem.Function(self.Q, name=n) for n in self.physics.coefficient_names}
        self._h = fem.Function(self.Q, name="beta_fraction")
        self._h_form = fem.form(self._h * ufl.dx)
        self._c_form = fem.form(self._c_cell * ufl.dx)

    def set_concentration(self, c: fem.Function | Callable[[np.ndarray], np.ndarray]) -> None:
        """Cell-midpoint c (a P_k function on the mesh, or a callable of x (d, n)) → coefficient fields."""
        self._c_cell.interpolate(c)
        self._c_cell.x.scatter_forward()
        vals = self.material.coefficient_arrays(self._c_cell.x.array)
        for n, f in self.coefficients.items():
            f.x.array[:] = vals[n]
        self._h.x.array[:] = self.material.fraction(self._c_cell.x.array)

    def rve_problem(self) -> RVEProblem:
        """The RVE problem of the current coefficient fields (compiled forms attached, K assembled)."""
        return RVEProblem(
            self.rve, self.physics, {}, degree=1, solver=self.solver, forms=self.forms, coefficients=self.coefficients
        )

    def micro_models(self, progress: Callable[[str], None] | None = None,
                     problem: RVEProblem | None = None) -> dict[str, LinearRVEMaterial]:
        """One linear RVE micro model per BC of the current coefficient fields (one RVE solve each)."""
        problem = problem or self.rve_problem()
        models = {}
        for bc in self.bcs:
            models[bc] = LinearRVEMaterial(problem, bc)
            if progress is not None:
                progress(progress_line(models[bc].result))
        return models

    def homogenize(self, progress: Callable[[str], None] | None = None) -> HomogenizationResult:
        """Effective tensors of the current coefficient fields under every BC: each BC's is the
        constant tangent of its linear RVE micro model.
        """
        problem = self.rve_problem()
        return self.collect(problem, self.micro_models(progress, problem))

    def collect(self, problem: RVEProblem, models: dict[str, LinearRVEMaterial]) -> HomogenizationResult:
        """The HomogenizationResult whose apparent tensor of each BC is that model's ``constant_tangent()``."""
        results = {}
        for bc, model in models.items():
            tangent = model.constant_tangent()
            results[bc] = dataclasses.replace(model.result, effective_mandel=tangent,
                                              effective_voigt=self.physics.to_voigt(tangent))
        return problem.collect(results)

    def _average(self, form) -> float:
        return self.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM) / self.rve.volume

    def snapshot(
        self,
        c: fem.Function,
        t: float,
        energy: float | None = None,
        keep_image: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> Snapshot:
        """Homogenize the state c at time t (collective)."""
        self.set_concentration(c)
        result = self.homogenize(progress)
        image = _gather_nodal(c) if keep_image else None
        return Snapshot(float(t), energy, self._average(self._c_form), self._average(self._h_form), result, image)


def _gather_nodal(c: fem.Function) -> tuple[np.ndarray, np.ndarray] | None:
    """Owned node coordinates and values of a scalar nodal field, gathered on rank 0."""
    V = c.function_space
    n = V.dofmap.index_map.size_local
    d = V.mesh.geometry.dim
    parts = V.mesh.comm.gather((V.tabulate_dof_coordinates()[:n, :d], c.x.array[:n].copy()), root=0)
    if V.mesh.comm.rank != 0:
        return None
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def run_with_snapshots(
    solver,
    t_end: float,
    stepping,
    times: Iterable[float],
    on_snapshot: Callable[[object], None],
    callback: Callable | None = None,
    t_stops: Iterable[float] = (),
) -> None:
    """Integrate a phase-field solver to ``t_end`` and call ``on_snapshot(solver)`` exactly at ``times``.

    The snapshot times (and any extra output ``t_stops``) are stops of the solver's own step
    control, which clips the step before each to land on it. ``callback(solver, record)`` sees
    every record first. A time equal to the initial state (t = 0) is homogenized before the
    first step; times before the current solver time are skipped (restart); a time after
    ``t_end`` is a ConfigError.
    """
    times = sorted({float(t) for t in times})
    if times and times[-1] > t_end * (1 + 1e-12):
        raise ConfigError(f"homogenization time {times[-1]:g} is after t_end = {t_end:g}")
    tol = 1e-9 * max(1.0, abs(t_end))
    pending = [t for t in times if t >= solver.t - tol]

    def on_record(s, rec) -> None:
        if callback is not None:
            callback(s, rec)
        if pending and abs(rec.t - pending[0]) <= tol:
            pending.pop(0)
            on_snapshot(s)

    if solver.step_count > 0 and pending and abs(pending[0] - solver.t) <= tol:  # restart exactly at a time
        pending.pop(0)
        on_snapshot(solver)
    solver.run(t_end, stepping, callback=on_record, t_stops=sorted(set(times) | {float(t) for t in t_stops}))


# ----------------------------------------------------------------------------- output


def _labels(physics: str, dim: int) -> list[str]:
    return make_physics(physics, dim).tensor_labels()


def _upper(a: np.ndarray) -> list[float]:
    n = a.shape[0]
    return [float(a[i, j]) for i in range(n) for j in range(i, n)]


def write_snapshots(
    snapshots: Sequence[Snapshot],
    material: PhaseFieldMaterial,
    out: str | Path,
    comm: MPI.Comm,
    stem: str = "homogenization",
) -> dict:
    """Write ``{stem}.json``, ``{stem}.csv`` (one row per time and BC) and ``{stem}.png``; return the JSON dict.

    CSV columns: t, energy, mean_c, beta_fraction, bc ('kubc' | 'periodic' | 'tubc' |
    'voigt_bound' | 'reuss_bound'), then the upper triangle of the effective tensor
    (Voigt, engineering shear, 11 22 12 — e.g. C1111, C1122, C1112, ... — or K11, K12, K22).
    """
    out = Path(out)
    physics = material.physics_name
    dim = snapshots[0].result.dim if snapshots else 2
    labels = _labels(physics, dim)
    rows = []
    for s in snapshots:
        tensors = {bc: r.effective_voigt for bc, r in s.result.bcs.items()}
        tensors["voigt_bound"] = s.result.voigt_bound
        if s.result.reuss_bound is not None:
            tensors["reuss_bound"] = s.result.reuss_bound
        for bc, a in tensors.items():
            rows.append([s.t, s.energy, s.mean_c, s.beta_fraction, bc, *_upper(np.asarray(a))])
    write_csv_atomic(out / f"{stem}.csv", ["t", "energy", "mean_c", "beta_fraction", "bc", *labels], rows, comm=comm)

    def props(m):
        if isinstance(m, IsotropicConductor):
            return {"k": m.conductivity}
        return {"young": m.young, "poisson": m.poisson}

    record = {
        "physics": physics,
        **NOTATION[physics],
        "components": labels,
        "interpolation": "p(c) = p_alpha + (p_beta - p_alpha) h(phi), phi = clip((c - c_alpha)/(c_beta - "
        "c_alpha), 0, 1),"
        " h = phi^3 (10 - 15 phi + 6 phi^2); E and nu interpolated (elasticity, plane strain in 2D);"
        " one value per cell, at the cell midpoint",
        "phases": {"alpha": props(material.alpha), "beta": props(material.beta)},
        "c_alpha": material.c_alpha,
        "c_beta": material.c_beta,
        "units": "lengths: phase-field domain units; tensors: units of the phase properties",
        "snapshots": [s.to_dict() for s in snapshots],
    }
    write_json_atomic(out / f"{stem}.json", record, comm=comm)
    if comm.rank == 0 and snapshots:
        _plot(snapshots, physics, out / f"{stem}.png")
    return record


def _plot(snapshots: Sequence[Snapshot], physics: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(snapshots)
    fig = plt.figure(figsize=(max(6.0, 2.2 * n), 6.2))
    gs = fig.add_gridspec(2, n, height_ratios=[1.6, 1.0])
    ax = fig.add_subplot(gs[0, :])
    t = [s.t for s in snapshots]
    colors = {"kubc": "tab:red", "periodic": "tab:green", "tubc": "tab:blue"}
    comps = [(0, 0, "11", "-"), (1, 1, "22", "--")]
    ph = make_physics(physics, snapshots[0].result.dim)
    name = ph.tensor_symbol
    for bc in snapshots[0].result.bcs:
        for i, j, lab, ls in comps:
            ax.plot(t, [s.result.effective(bc)[i, j] for s in snapshots], ls, marker="o", ms=3,
                    color=colors.get(bc, "k"), label=f"{bc} {name}{lab}")
    ax.plot(t, [s.result.voigt_bound[0, 0] for s in snapshots], ":", color="0.4", label=f"Voigt {name}11")
    if snapshots[0].result.reuss_bound is not None:
        # RVEProblem.collect always sets the Reuss bound: every snapshot has one
        ax.plot(t, [cast(np.ndarray, s.result.reuss_bound)[0, 0] for s in snapshots], "-.", color="0.4",
                label=f"Reuss {name}11")
    ax.set_xlabel("time t [time of the phase-field mobility]")
    ax.set_ylabel(f"{ph.tensor_description}\n[units of the phase properties]", fontsize=8)
    ax.legend(fontsize=7, ncol=3)
    ax.grid(alpha=0.3)
    for k, s in enumerate(snapshots):
        axk = fig.add_subplot(gs[1, k])
        if s.image is not None and s.image[0].shape[1] == 2:
            pts, vals = s.image
            axk.tripcolor(pts[:, 0], pts[:, 1], vals, shading="gouraud", cmap="viridis")
            axk.set_xlim(pts[:, 0].min(), pts[:, 0].max())
            axk.set_ylim(pts[:, 1].min(), pts[:, 1].max())
        axk.set_aspect("equal")
        axk.set_xticks([])
        axk.set_yticks([])
        axk.set_title(f"c, t = {s.t:g}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- fe2 phasefield


def material_from_spec(spec, energy) -> PhaseFieldMaterial:
    """PhaseFieldMaterial from a ``[homogenize]`` spec; c_alpha/c_beta default to the double well's (else 0, 1)."""
    if spec.c_alpha is not None:
        ca, cb = spec.c_alpha, spec.c_beta
    else:
        from fe2.physics.phasefield import DoubleWell

        ca, cb = (energy.c_alpha, energy.c_beta) if isinstance(energy, DoubleWell) else (0.0, 1.0)
    a: IsotropicConductor | IsotropicElastic
    b: IsotropicConductor | IsotropicElastic
    if spec.property == "conductivity":
        a, b = IsotropicConductor(spec.alpha), IsotropicConductor(spec.alpha * spec.contrast)
    else:
        a, b = IsotropicElastic(spec.alpha, spec.poisson), IsotropicElastic(spec.alpha * spec.contrast, spec.poisson)
    return PhaseFieldMaterial(a, b, ca, cb)


def run_and_homogenize(
    solver,
    spec,
    t_end: float,
    stepping,
    callback: Callable | None,
    out: str | Path,
    progress: Callable[[str], None] | None = None,
    t_stops: Iterable[float] = (),
) -> dict:
    """``fe2 phasefield`` with a ``[homogenize]`` table: run to t_end, homogenize at ``spec.times``
    (``t_stops``: further times to land on, e.g. output frames).

    Writes ``homogenization.json``, ``homogenization.csv`` and ``homogenization.png`` into ``out``
    and returns the JSON record.
    """
    say = progress or (lambda msg: None)
    material = material_from_spec(spec, solver.energy)
    homogenizer = PhaseFieldHomogenizer(solver.mesh, material, spec.bcs)
    snaps: list[Snapshot] = []

    def on_snapshot(s) -> None:
        snap = homogenizer.snapshot(s.concentration(), s.t, s.free_energy())
        snaps.append(snap)
        sym = "C (Voigt)" if material.physics_name == "elasticity" else "K"
        cols = "; ".join(f"{bc} " + " ".join(f"{v:.5g}" for v in np.diag(r.effective_voigt))
                         for bc, r in snap.result.bcs.items())
        say(f"homogenized t = {s.t:g}: beta fraction {snap.beta_fraction:.4f}, diagonal of {sym}: {cols}")
        for line in snap.result.warnings():
            say(f"t = {s.t:g}: {line}")

    run_with_snapshots(solver, t_end, stepping, spec.times, on_snapshot, callback, t_stops)
    return write_snapshots(snaps, material, out, solver.comm)
