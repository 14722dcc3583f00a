"""The micro–macro contract: one declared call shared by analytic laws, RVEs and micro cells.

A *micro model* subclasses :class:`MicroModel` and answers one batched, pure call::

    flux, tangent, trial_state = model.evaluate(driver, committed_state, guess=None)

* ``driver``  ``(n, m)`` — the macro driver at ``n`` quadrature points;
* ``flux``    ``(n, m)`` — the work-conjugate response;
* ``tangent`` ``(n, m, m)`` — ``d flux / d driver`` (the consistent, i.e.
  algorithmic, tangent for laws with history);
* ``trial_state`` — the state the model *would* have if the step were accepted;
* ``guess`` — optionally, the trial state of the previous macro iteration of the
  same step (a warm start: models that declare ``uses_guess`` read it, the
  others ignore it; the converged answer does not depend on it).

``evaluate`` never mutates its ``state`` argument. History is advanced only by
:meth:`StateStore.commit` once the macro step has converged, and discarded by
:meth:`StateStore.rollback` when the step is cut. Inside a macro Newton loop
every iteration evaluates from the *committed* state (the state at the start of
the step, t_n), never from the previous iteration's trial state: this is what
makes the return mapping a backward-Euler step of size t_{n+1} - t_n and the
tangent consistent with it.

What a model declares (class attributes / methods of :class:`MicroModel`, each
with its default, so a consumer never probes with ``getattr``):

| capability | meaning | default |
| --- | --- | --- |
| ``kind``, ``dim`` | driver/flux pair, dimension | (required) |
| ``driver_blocks`` | named ``(name, size)`` blocks | one block from ``kind`` and ``dim`` |
| ``flux_blocks`` | the conjugate blocks | one block from ``kind`` and ``dim`` |
| ``driver_size`` | ``m`` = sum of the block sizes | derived |
| ``is_linear`` | flux = tangent · driver, no history: evaluate once | ``False`` |
| ``constant_tangent()`` | the one tangent of every point (linear models only) | ``None`` |
| ``has_history`` | the state carries history | ``False`` |
| ``commit()``/``rollback()`` | hooks after a converged / cut macro step | no-ops |
| ``uses_guess`` | reads ``guess=`` (warm start) | ``False`` |
| ``point_data`` | names of per-point input arrays given to ``initial_state`` | ``()`` |
| ``point_fields(state)`` | scalar fields per point (output) | ``{}`` |
| ``writes_point_fields`` | ``write_point_fields`` writes one point's micro fields | ``False`` (then it raises) |
| ``statistics()`` | :class:`MicroStatistics` | all zero |
| ``energy_increment(...)`` | work, stored energy, dissipation (:mod:`fe2.materials.energy`) | ``None`` [1] |

[1] not declared: the energy audit says so.

State: one type, :class:`~fe2.materials.state.BatchedState` (``EmptyState``
without history); see :mod:`fe2.materials.state`.

Kinds and notation (internal — external output uses Voigt, see
:mod:`fe2.tensors`):

``"small_strain"``
    driver = strain ε, flux = Cauchy stress σ, both **Mandel** vectors (shear
    components scaled by √2, order ``11 22 12`` in 2D, ``11 22 33 23 13 12`` in
    3D), so ``m = 3`` (2D, plane strain) or ``6`` (3D) and the tangent is the
    symmetric Mandel matrix ``dσ/dε``. Laws whose physics is 3D even in plane
    strain (plasticity: σ33 ≠ 0, 3D plastic strain) keep a 3D state internally
    and expose only the in-plane driver and the in-plane block of the tangent.
``"finite_strain"``
    driver = deformation gradient F, flux = first Piola–Kirchhoff stress P,
    both ``d x d`` tensors flattened **row-major** (``F.reshape(n, d*d)``,
    index ``iJ -> d*i + J``), so ``m = 4`` or ``9``; the tangent is
    ``A[iJ, kL] = dP_iJ / dF_kL`` (major-symmetric for hyperelastic laws).
``"conductivity"``
    driver = gradient ∇φ, flux J = K ∇φ (``m = d``), tangent the conductivity
    K; J is *minus* the physical flux (:mod:`fe2.micro.physics`), so K is
    positive definite.
``"darcy"``
    driver = pressure gradient ∇p [Pa/m], flux ``q = K ∇p = −u`` (minus the
    Darcy velocity, the sign convention of ``"conductivity"``), tangent
    ``∂q/∂∇p = K = k/μ`` [m²/(Pa·s)], the hydraulic conductivity that
    :class:`~fe2.physics.darcy.problem.DarcyProblem` reads (``m = d``).

Units are the user's (consistent): if moduli are in MPa, stresses and tangents
are in MPa; strains and F are dimensionless.

Errors. Bad parameters raise :class:`fe2.errors.MaterialError` at construction.
A driver that the law cannot evaluate (``det F <= 0``, a local return mapping
that does not converge) raises :class:`InadmissibleDriverError`, which carries
the indices of the offending points. Only the rank that owns the point raises:
a parallel macro solver catches it, reduces a "failed" flag over all ranks and
cuts the step everywhere (never let one rank raise past a collective; see
:func:`fe2.quadrature.evaluate_into`).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from typing import Literal, NamedTuple

import numpy as np

from fe2.errors import MaterialError
from fe2.materials.energy import EnergyIncrement, linear_elastic_increment
from fe2.materials.state import BatchedState, EmptyState, StateStore

Kind = Literal["small_strain", "finite_strain", "conductivity", "darcy"]

__all__ = [
    "KINDS", "BatchedState", "Block", "EmptyState", "InadmissibleDriverError", "Kind", "LinearElasticLaw",
    "LinearTransportLaw", "MaterialModel", "MicroModel", "MicroStatistics", "StateStore", "check_driver",
    "dim_from_driver_size", "kind_blocks",
]


class InadmissibleDriverError(MaterialError):
    """A driver cannot be evaluated at some points (e.g. ``det F <= 0``).

    Attributes:
        points: indices (into the batch) of the points that failed, ``(k,)`` int.

    A macro solver treats it as "cut the load step" (after reducing the flag
    over all ranks), not as a fatal input error.
    """

    def __init__(self, message: str, points: np.ndarray) -> None:
        super().__init__(message)
        self.points = np.asarray(points, dtype=np.int64)


# --------------------------------------------------------------------------- kinds and blocks
class Block(NamedTuple):
    """One named block of a driver or flux vector: ``(name, size)``."""

    name: str
    size: int


def _n_sym(d: int) -> int:
    return d * (d + 1) // 2


#: kind -> (driver block name, flux block name, block size as a function of the dimension)
KINDS: dict[str, tuple[str, str, Callable[[int], int]]] = {
    "small_strain": ("strain", "stress", _n_sym),
    "finite_strain": ("deformation_gradient", "first_piola_kirchhoff_stress", lambda d: d * d),
    "conductivity": ("gradient", "flux", lambda d: d),
    "darcy": ("pressure_gradient", "negative_darcy_velocity", lambda d: d),
}


def kind_blocks(kind: str, dim: int) -> tuple[tuple[Block, ...], tuple[Block, ...]]:
    """The one driver block and the one flux block of ``kind`` in ``dim`` dimensions."""
    if kind not in KINDS:
        raise MaterialError(f"unknown micro model kind {kind!r}; expected one of {sorted(KINDS)}")
    if dim not in (2, 3):
        raise MaterialError(f"micro models are 2D or 3D, got dim = {dim}")
    driver, flux, size = KINDS[kind]
    m = size(dim)
    return (Block(driver, m),), (Block(flux, m),)


def dim_from_driver_size(kind: Kind, m: int) -> int:
    """Spatial dimension from the driver size: 3->2, 6->3 (small strain); 4->2, 9->3 (finite strain); d (transport)."""
    table = {d: d for d in (2, 3)}
    if kind in KINDS:
        table = {KINDS[kind][2](d): d for d in (2, 3)}
    if kind not in KINDS or m not in table:
        raise MaterialError(f"a {kind} driver has {sorted(table)} components, got {m}")
    return table[m]


# --------------------------------------------------------------------------- statistics
@dataclasses.dataclass
class MicroStatistics:
    """Counters of a micro model on one rank (all zero for a model that solves nothing per point).

    Attributes:
        solves: micro problems solved (per point, or once for a linear RVE).
        iterations: micro Newton iterations over all solves.
        time_s: seconds spent in micro solves.
        hill_mandel_max: largest per-point Hill–Mandel residual of the solves.
        factorizations, factorizations_reused: micro tangent factorizations done / reused.
        points_lent: points solved on another rank for this one (load balancing).
    """

    solves: int = 0
    iterations: int = 0
    time_s: float = 0.0
    hill_mandel_max: float = 0.0
    factorizations: int = 0
    factorizations_reused: int = 0
    points_lent: int = 0

    def reduce(self, comm) -> MicroStatistics:
        """Collective over ``comm``: counters summed, ``hill_mandel_max`` and ``time_s`` the largest rank's."""
        from mpi4py import MPI

        return MicroStatistics(
            solves=comm.allreduce(self.solves),
            iterations=comm.allreduce(self.iterations),
            time_s=comm.allreduce(float(self.time_s), op=MPI.MAX),
            hill_mandel_max=comm.allreduce(float(self.hill_mandel_max), op=MPI.MAX),
            factorizations=comm.allreduce(self.factorizations),
            factorizations_reused=comm.allreduce(self.factorizations_reused),
            points_lent=comm.allreduce(self.points_lent),
        )


# --------------------------------------------------------------------------- the base class
class MicroModel[S: BatchedState](abc.ABC):
    """Base class of every micro model: what a macro problem sees (see the module docstring).

    Required: ``kind`` and ``dim`` (class or instance attributes) and
    :meth:`evaluate`. Everything else is a declared capability with a default;
    override what the model has.

    Type parameter ``S``: the state type the model evaluates from and returns
    (e.g. ``MicroModel[J2State]``; a bare ``MicroModel`` takes any state).
    """

    kind: Kind = "small_strain"
    dim: int
    #: flux = tangent · driver with no history: a macro problem evaluates the model once
    is_linear: bool = False
    #: the state carries history (committed only after a converged macro step)
    has_history: bool = False
    #: :meth:`evaluate` reads ``guess=`` (the trial state of the previous macro iteration)
    uses_guess: bool = False
    #: :meth:`write_point_fields` writes the micro fields of one point
    writes_point_fields: bool = False
    #: names of the per-point input arrays :meth:`initial_state` takes (e.g. fibre fractions)
    point_data: tuple[str, ...] = ()

    # ------------------------------------------------------------------ blocks
    @property
    def driver_blocks(self) -> tuple[Block, ...]:
        """Named driver blocks ``(name, size)`` (one block, from ``kind`` and ``dim``, by default)."""
        return kind_blocks(self.kind, self.dim)[0]

    @property
    def flux_blocks(self) -> tuple[Block, ...]:
        """Named flux blocks, conjugate to :attr:`driver_blocks`."""
        return kind_blocks(self.kind, self.dim)[1]

    @property
    def driver_size(self) -> int:
        """``m``: the number of driver (= flux) components, the sum of the block sizes."""
        return sum(b.size for b in self.driver_blocks)

    # ------------------------------------------------------------------ the call
    def initial_state(self, n_points: int, point_data: Mapping[str, np.ndarray] | None = None) -> BatchedState:
        """The virgin state of ``n_points`` points (default: no history, :class:`EmptyState`).

        ``point_data``: name -> ``(n_points, ...)`` array for each name of
        :attr:`point_data` (a model that declares point data overrides this).
        """
        if self.point_data or point_data:
            raise MaterialError(f"{type(self).__name__} declares point data {list(self.point_data)} "
                                "but does not build a state from it")
        return EmptyState()

    @abc.abstractmethod
    def evaluate(self, driver: np.ndarray, state: S, guess: S | None = None
                 ) -> tuple[np.ndarray, np.ndarray, S]:
        """``driver (n, m)``, committed ``state`` -> ``flux (n, m)``, ``tangent (n, m, m)``, trial state.

        Pure: ``state`` is not modified; the returned trial state shares no
        memory with it.
        """

    # ------------------------------------------------------------------ optional capabilities
    def constant_tangent(self) -> np.ndarray | None:
        """The tangent ``(m, m)`` of every point of a linear model with one tangent, else ``None``."""
        return None

    def commit(self) -> None:  # noqa: B027 -- an optional hook: no-op by default
        """Called once the macro step converged (after its states were committed). Default: nothing."""

    def rollback(self) -> None:  # noqa: B027 -- an optional hook: no-op by default
        """Called when the macro step is cut. Default: nothing."""

    def point_fields(self, state: S) -> dict[str, np.ndarray]:
        """Scalar fields per point for output (e.g. the equivalent plastic strain), each ``(n,)``."""
        return {}

    def write_point_fields(self, path, driver: np.ndarray, state: S, point: int,
                           time_value: float, append: bool, vtk_path=None) -> None:
        """Write the micro fields of one point to XDMF ``path`` and, when given, to the VTK collection
        ``vtk_path`` (models with ``writes_point_fields`` only).
        """
        raise MaterialError(f"{type(self).__name__} has no micro fields to write")

    def statistics(self) -> MicroStatistics:
        """Counters of this rank's micro work (:meth:`MicroStatistics.reduce` sums them over ranks)."""
        return MicroStatistics()

    def energy_increment(self, driver_n: np.ndarray, driver: np.ndarray, state_n: S, state: S
                         ) -> EnergyIncrement | None:
        """Work, stored energy and dissipation of the step from ``(driver_n, state_n)`` (committed) to
        ``(driver, state)`` (its converged trial state), per point (:class:`~fe2.materials.energy.EnergyIncrement`);
        ``None``: the model declares no energy (default).
        """
        return None


#: the former name of :class:`MicroModel` (same class)
MaterialModel = MicroModel


def check_driver(model: MicroModel, driver: np.ndarray, state: BatchedState | None = None) -> np.ndarray:
    """Validate ``driver`` and return it as a float ``(n, m)`` array (one point is ``(1, m)``)."""
    d = np.asarray(driver, dtype=float)
    if d.ndim != 2 or d.shape[1] != model.driver_size:
        raise ValueError(f"driver must have shape (n, {model.driver_size}), got {d.shape}")
    if state is not None:
        n = state.n_points
        if n is not None and n != d.shape[0]:
            raise ValueError(f"driver has {d.shape[0]} points but the state has {n}")
    return d


# --------------------------------------------------------------------------- linear law
class LinearElasticLaw(MicroModel[EmptyState]):
    """Linear elasticity σ = C ε with a constant Mandel stiffness (any anisotropy).

    The same class carries an isotropic phase (:meth:`isotropic`) and an RVE's
    homogenized ``C_hom``, so the macro solver treats both identically.

    Args:
        c_mandel: ``(m, m)`` stiffness in Mandel notation, ``m = 3`` (2D plane
            strain, order ``11 22 12``) or ``6`` (3D, ``11 22 33 23 13 12``).
            Must be symmetric (relative asymmetry ≤ 1e-8, then symmetrized: a
            numerically homogenized tensor is symmetric to round-off of the
            solver) and positive definite.
    """

    kind: Kind = "small_strain"
    is_linear: bool = True

    #: relative asymmetry tolerated before symmetrizing (solver round-off of C_hom).
    SYMMETRY_RTOL = 1e-8

    def __init__(self, c_mandel: np.ndarray) -> None:
        c = np.array(c_mandel, dtype=float)
        if c.ndim != 2 or c.shape[0] != c.shape[1]:
            raise MaterialError(f"stiffness must be a square matrix, got shape {c.shape}")
        self.dim = dim_from_driver_size("small_strain", c.shape[0])
        if not np.all(np.isfinite(c)):
            raise MaterialError("stiffness has non-finite entries")
        scale = float(np.max(np.abs(c)))
        if scale == 0.0:
            raise MaterialError("stiffness is zero")
        asym = float(np.max(np.abs(c - c.T))) / scale
        if asym > self.SYMMETRY_RTOL:
            raise MaterialError(f"stiffness is not symmetric (max |C - C^T| / max |C| = {asym:.2e})")
        c = 0.5 * (c + c.T)
        if np.linalg.eigvalsh(c)[0] <= 0.0:
            raise MaterialError("stiffness is not positive definite")
        self.c_mandel = c
        self.c_mandel.setflags(write=False)

    @classmethod
    def isotropic(cls, young: float, poisson: float, dim: int) -> LinearElasticLaw:
        """Isotropic law from E and ν (validated as in :class:`IsotropicElastic`); 2D is plane strain."""
        from fe2.materials.linear import IsotropicElastic
        from fe2.tensors import isotropic_stiffness_mandel

        lam, mu = IsotropicElastic(young, poisson).lame
        return cls(isotropic_stiffness_mandel(lam, mu, dim))

    def constant_tangent(self) -> np.ndarray:
        """C (Mandel, symmetric), the tangent of every point."""
        return self.c_mandel

    def evaluate(self, driver: np.ndarray, state: BatchedState, guess: BatchedState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, EmptyState]:
        """ε ``(n, m)`` Mandel -> σ = C ε ``(n, m)`` Mandel, C broadcast to ``(n, m, m)``, empty state."""
        eps = check_driver(self, driver)
        n = eps.shape[0]
        sigma = eps @ self.c_mandel  # C symmetric: (C eps)_i = eps_j C_ji
        tangent = np.broadcast_to(self.c_mandel, (n, self.driver_size, self.driver_size)).copy()
        return sigma, tangent, EmptyState()

    def energy_increment(self, driver_n: np.ndarray, driver: np.ndarray, state_n: BatchedState,
                         state: BatchedState) -> EnergyIncrement:
        """ψ = ½ ε·C·ε, no dissipation (:func:`~fe2.materials.energy.linear_elastic_increment`)."""
        return linear_elastic_increment(self.c_mandel, check_driver(self, driver_n), check_driver(self, driver))


class LinearTransportLaw(MicroModel[EmptyState]):
    """A constant transport tensor: flux = K · driver (``kind`` ``"darcy"`` or ``"conductivity"``).

    A tissue region with a given hydraulic conductivity K = k/μ is this law in
    a Darcy problem (driver ∇p, flux K ∇p = −u; see the module docstring).

    Args:
        tensor: ``(d, d)`` finite K (symmetry and definiteness are the caller's:
            :class:`~fe2.physics.darcy.properties.TissueProperties` checks them).
        kind: ``"darcy"`` (default) or ``"conductivity"``.
    """

    is_linear = True

    def __init__(self, tensor: np.ndarray, kind: Kind = "darcy") -> None:
        k = np.array(tensor, dtype=float)
        if kind not in ("darcy", "conductivity"):
            raise MaterialError(f"a transport law is of kind 'darcy' or 'conductivity', got {kind!r}")
        if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] not in (2, 3) or not np.all(np.isfinite(k)):
            raise MaterialError(f"transport tensor must be a finite (2, 2) or (3, 3) matrix, got shape {k.shape}")
        self.kind = kind
        self.dim = k.shape[0]
        self.tensor = k
        self.tensor.setflags(write=False)

    def constant_tangent(self) -> np.ndarray:
        """K, the tangent of every point."""
        return self.tensor

    def evaluate(self, driver: np.ndarray, state: BatchedState, guess: BatchedState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, EmptyState]:
        """g ``(n, d)`` -> K g ``(n, d)``, K broadcast to ``(n, d, d)``, empty state."""
        g = check_driver(self, driver)
        tangent = np.broadcast_to(self.tensor, (g.shape[0], self.dim, self.dim)).copy()
        return g @ self.tensor.T, tangent, EmptyState()
