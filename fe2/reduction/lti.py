"""Linear time-invariant systems of fe2's transport–reaction operators, and their simulation.

The semi-discrete P1 system of a linear (or linearized) reaction–diffusion problem with inputs
u(t) ∈ ℝᵐ and outputs y(t) ∈ ℝᵖ::

    M x' = A x + B u,     y = C x + D u

(:class:`LTISystem`; dense arrays: model reduction by balanced truncation is dense linear algebra,
O(n³), meant for up to a few thousand states — :data:`MAX_DENSE_STATES`). For S species with
diffusivities D_a and a constant reaction Jacobian J (S × S; a linear network, or a nonlinear one
linearized about a steady state, J = ∂R/∂c there) the state is x = (c_1, …, c_S) nodewise and

    M = I_S ⊗ M₁ (consistent mass),   A = −diag(D_a) ⊗ K − I_S ⊗ R_Γ + J ⊗ M_L,

with K the stiffness matrix, R_Γ = ∫_Γ α φ_i φ_j ds the Robin terms (−D∇c·n = α c on the
boundary parts given), M_L the lumped mass (reactions act node by node, as in
:mod:`fe2.physics.reactions.diffusion` with ``mass="lumped"``). Inputs: a boundary flux into a
species through a tagged boundary part, B[:, k] = ∫_Γ φ_i ds (influx density u_k), or a volume
source on a tagged region, ∫_Ω_r φ_i dx. Outputs: the average of a species over the domain or a
tagged region, C[k, :] = ∫_Ω_r φ_j dx / |Ω_r|, or its value at a mesh vertex (a sensor).
Units: those of the coefficients (c in concentration, t in the unit of D's time, u in
concentration·length/time for fluxes, concentration/time for sources).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from fe2.errors import ConfigError

#: the largest number of states the dense algorithms accept (O(n³) work, O(n²) memory)
MAX_DENSE_STATES = 4000


@dataclass
class LTISystem:
    """M x' = A x + B u, y = C x + D u with dense arrays (M symmetric positive definite)."""

    M: np.ndarray
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray | None = None
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.A.shape[0]
        if self.M.shape != (n, n) or self.A.shape != (n, n) or self.B.shape[0] != n or self.C.shape[1] != n:
            raise ConfigError(f"LTI system: inconsistent shapes M {self.M.shape}, A {self.A.shape}, "
                              f"B {self.B.shape}, C {self.C.shape}")
        if self.D is None:
            self.D = np.zeros((self.C.shape[0], self.B.shape[1]))
        if not self.input_names:
            self.input_names = [f"u{k}" for k in range(self.B.shape[1])]
        if not self.output_names:
            self.output_names = [f"y{k}" for k in range(self.C.shape[0])]

    @property
    def n(self) -> int:
        return self.A.shape[0]

    def transfer(self, omega: Sequence[float] | np.ndarray) -> np.ndarray:
        """G(iω) = C (iωM − A)⁻¹ B + D for each ω, shape (len(ω), p, m)."""
        D = self.D if self.D is not None else 0.0
        return np.array([self.C @ np.linalg.solve(1j * w * self.M - self.A, self.B) + D for w in omega])

    def simulate(self, u: Callable[[float], np.ndarray], t_end: float, dt: float,
                 x0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Crank–Nicolson with a fixed Δt (one LU): times ``(k+1,)`` and outputs ``(k+1, p)``."""
        steps = int(round(t_end / dt))
        if steps < 1 or not np.isclose(steps * dt, t_end, rtol=1e-12, atol=0.0):
            raise ConfigError(f"simulate: t_end = {t_end} must be a positive multiple of dt = {dt}")
        lu = sla.lu_factor(self.M - 0.5 * dt * self.A)
        rhs_op = self.M + 0.5 * dt * self.A
        x = np.zeros(self.n) if x0 is None else np.asarray(x0, dtype=float).copy()
        D = self.D if self.D is not None else 0.0
        t = np.linspace(0.0, steps * dt, steps + 1)
        ys = [self.C @ x + D @ u(0.0)]
        for k in range(steps):
            ub = 0.5 * (u(t[k]) + u(t[k + 1]))
            x = sla.lu_solve(lu, rhs_op @ x + dt * (self.B @ ub))
            ys.append(self.C @ x + D @ u(t[k + 1]))
        return t, np.array(ys)


def _check_size(n: int) -> None:
    if n > MAX_DENSE_STATES:
        raise ConfigError(f"model reduction: {n} states exceed the dense limit of {MAX_DENSE_STATES} "
                          "(balanced truncation here solves dense Lyapunov equations, O(n³)); use a coarser mesh")


@dataclass(frozen=True)
class FluxInput:
    """Influx density u into ``species`` through the boundary part with facet tag ``tag``."""

    name: str
    tag: int
    species: int = 0


@dataclass(frozen=True)
class SourceInput:
    """Volume source density u of ``species`` on the region with cell tag ``tag`` (None: everywhere)."""

    name: str
    tag: int | None = None
    species: int = 0


@dataclass(frozen=True)
class AverageOutput:
    """Average of ``species`` over the region with cell tag ``tag`` (None: the whole domain)."""

    name: str
    tag: int | None = None
    species: int = 0


@dataclass(frozen=True)
class SensorOutput:
    """Value of ``species`` at the mesh vertex ``point`` (must be a vertex, to 1e-10 relative)."""

    name: str
    point: tuple[float, ...]
    species: int = 0


def assemble_diffusion_reaction(
    mesh, diffusivity: Sequence[float], jacobian: np.ndarray | float,
    inputs: Sequence[FluxInput | SourceInput], outputs: Sequence[AverageOutput | SensorOutput], *,
    facet_tags=None, cell_tags=None, robin: dict[int, float] | None = None,
) -> LTISystem:
    """The P1 system of the module docstring on ``mesh`` (a serial mesh: ``MPI.COMM_SELF``).

    Args:
        diffusivity: D_a ≥ 0 per species.
        jacobian: the S × S reaction Jacobian J (a number for one species: −k is first-order decay).
        robin: facet tag → α > 0 (−D∇c·n = α c, every species); other boundaries are no-flux.
    """
    import ufl
    from dolfinx import fem

    if mesh.comm.size != 1:
        raise ConfigError("assemble_diffusion_reaction: the mesh must live on MPI.COMM_SELF (dense reduction)")
    dvals = np.atleast_1d(np.asarray(diffusivity, dtype=float))
    S = dvals.size
    J = np.atleast_2d(np.asarray(jacobian, dtype=float))
    if J.shape != (S, S):
        raise ConfigError(f"reaction jacobian must be {S} x {S} for {S} species, got shape {J.shape}")
    if np.any(dvals < 0):
        raise ConfigError(f"diffusivity must be >= 0 for every species, got {dvals.tolist()}")
    V = fem.functionspace(mesh, ("Lagrange", 1))
    n1 = V.dofmap.index_map.size_local
    _check_size(S * n1)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=facet_tags)
    dx = ufl.Measure("dx", domain=mesh, subdomain_data=cell_tags)

    def mat(form) -> np.ndarray:
        return fem.assemble_matrix(fem.form(form)).to_dense()[:n1, :n1]

    def vec(form) -> np.ndarray:
        return fem.assemble_vector(fem.form(form)).array[:n1].copy()

    if (facet_tags is None) and (robin or any(isinstance(i, FluxInput) for i in inputs)):
        raise ConfigError("flux inputs and Robin boundaries need facet_tags")
    M1 = mat(u * v * dx)
    K = mat(ufl.inner(ufl.grad(u), ufl.grad(v)) * dx)
    R = np.zeros_like(M1)
    for tag, alpha in (robin or {}).items():
        if not alpha > 0:
            raise ConfigError(f"robin coefficient of boundary {tag} must be > 0, got {alpha}")
        R += alpha * mat(u * v * ds(tag))
    ML = np.diag(M1.sum(axis=1))
    eye = np.eye(S)
    Mfull = np.kron(eye, M1)
    Afull = -np.kron(np.diag(dvals), K) - np.kron(eye, R) + np.kron(J, ML)

    def measure(tag, kind):
        if tag is None:
            return dx if kind == "dx" else ds
        if kind == "dx" and cell_tags is None:
            raise ConfigError(f"region {tag} needs cell_tags")
        return dx(tag) if kind == "dx" else ds(tag)

    def species_ok(a: int, what: str) -> None:
        if not 0 <= a < S:
            raise ConfigError(f"{what}: species index must be in 0..{S - 1}, got {a}")

    B = np.zeros((S * n1, len(inputs)))
    for k, inp in enumerate(inputs):
        species_ok(inp.species, f"input {inp.name!r}")
        kind = "ds" if isinstance(inp, FluxInput) else "dx"
        col = vec(v * measure(inp.tag, kind))
        if not np.any(col):
            raise ConfigError(f"input {inp.name!r}: tag {inp.tag} selects no {'facets' if kind == 'ds' else 'cells'}")
        B[inp.species * n1:(inp.species + 1) * n1, k] = col
    C = np.zeros((len(outputs), S * n1))
    x = V.tabulate_dof_coordinates()[:n1]
    size = float(np.max(np.ptp(x, axis=0))) or 1.0
    for k, out in enumerate(outputs):
        species_ok(out.species, f"output {out.name!r}")
        if isinstance(out, SensorOutput):
            p = np.zeros(3)
            p[: len(out.point)] = out.point
            dist = np.linalg.norm(x - p, axis=1)
            j = int(np.argmin(dist))
            if dist[j] > 1e-10 * size:
                raise ConfigError(f"sensor {out.name!r}: point {list(out.point)} is not a mesh vertex "
                                  f"(nearest at distance {dist[j]:.3g})")
            C[k, out.species * n1 + j] = 1.0
        else:
            row = vec(v * measure(out.tag, "dx"))
            vol = row.sum()
            if not vol > 0:
                raise ConfigError(f"output {out.name!r}: region {out.tag} has no cells")
            C[k, out.species * n1:(out.species + 1) * n1] = row / vol
    return LTISystem(Mfull, Afull, B, C, None, [i.name for i in inputs], [o.name for o in outputs])


__all__ = ["MAX_DENSE_STATES", "AverageOutput", "FluxInput", "LTISystem", "SensorOutput", "SourceInput",
           "assemble_diffusion_reaction"]
