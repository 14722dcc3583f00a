"""The material contract: one call shared by analytic constitutive laws and RVEs.

A *micro model* (an analytic law here, an RVE in :mod:`fe2.micro`) answers one
batched, pure call::

    flux, tangent, trial_state = model.evaluate(driver, committed_state)

* ``driver``  ``(n, m)`` — the macro driver at ``n`` quadrature points;
* ``flux``    ``(n, m)`` — the work-conjugate response;
* ``tangent`` ``(n, m, m)`` — ``d flux / d driver`` (the consistent, i.e.
  algorithmic, tangent for laws with history);
* ``trial_state`` — the state the law *would* have if the step were accepted.

``evaluate`` never mutates its ``state`` argument. History is advanced only by
:meth:`StateStore.commit` once the macro step has converged, and discarded by
:meth:`StateStore.rollback` when the step is cut. Inside a macro Newton loop
every iteration evaluates from the *committed* state (the state at the start of
the step, t_n), never from the previous iteration's trial state: this is what
makes the return mapping a backward-Euler step of size t_{n+1} - t_n and the
tangent consistent with it.

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

Units are the user's (consistent): if moduli are in MPa, stresses and tangents
are in MPa; strains and F are dimensionless.

Errors. Bad parameters raise :class:`fe2.errors.MaterialError` at construction.
A driver that the law cannot evaluate (``det F <= 0``, a local return mapping
that does not converge) raises :class:`InadmissibleDriverError`, which carries
the indices of the offending points. Only the rank that owns the point raises:
a parallel macro solver catches it, reduces a "failed" flag over all ranks and
cuts the step everywhere (never let one rank raise past a collective).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal, Protocol, Self, runtime_checkable

import numpy as np

from fe2.errors import MaterialError

Kind = Literal["small_strain", "finite_strain"]


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


# --------------------------------------------------------------------------- state
@dataclasses.dataclass
class BatchedState:
    """Base class of per-point state: a dataclass whose fields are numpy arrays.

    Every field has the batch as its leading axis, shape ``(n, ...)``.
    Subclasses only declare fields; copying, slicing and (de)serialization are
    generic. A law without history uses :class:`EmptyState`.
    """

    @property
    def n_points(self) -> int | None:
        """Batch size, or ``None`` for a state with no fields."""
        for f in dataclasses.fields(self):
            return int(getattr(self, f.name).shape[0])
        return None

    def copy(self) -> Self:
        """Deep copy (new arrays)."""
        return type(self)(
            **{f.name: np.array(getattr(self, f.name), copy=True) for f in dataclasses.fields(self)}
        )

    def take(self, points: np.ndarray) -> Self:
        """The state of a subset of points (copied): ``points`` is an index or mask array."""
        return type(self)(
            **{f.name: np.array(getattr(self, f.name)[points]) for f in dataclasses.fields(self)}
        )

    def put(self, points: np.ndarray, other: BatchedState) -> None:
        """Overwrite the state of ``points`` (index or mask array) with ``other`` in place."""
        for f in dataclasses.fields(self):
            getattr(self, f.name)[points] = getattr(other, f.name)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{field name: array}`` (copies), for checkpoints (e.g. ``np.savez``)."""
        return {f.name: np.array(getattr(self, f.name), copy=True) for f in dataclasses.fields(self)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Self:
        """Inverse of :meth:`to_arrays`; missing or extra fields are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        if set(arrays) != names:
            raise MaterialError(f"{cls.__name__} expects fields {sorted(names)}, got {sorted(arrays)}")
        return cls(**{k: np.array(arrays[k], dtype=float, copy=True) for k in names})

    def allclose(self, other: BatchedState, rtol: float = 0.0, atol: float = 0.0) -> bool:
        """Field-wise ``np.allclose`` (exact equality with the default tolerances)."""
        if type(self) is not type(other):
            return False
        return all(
            np.allclose(getattr(self, f.name), getattr(other, f.name), rtol=rtol, atol=atol)
            for f in dataclasses.fields(self)
        )


@dataclasses.dataclass
class EmptyState(BatchedState):
    """State of a law without history (elastic, hyperelastic): no fields."""


# --------------------------------------------------------------------------- protocol
@runtime_checkable
class MaterialModel(Protocol):
    """What the macro solver sees of a micro model (analytic law or RVE).

    Attributes:
        kind: ``"small_strain"`` (Mandel ε -> Mandel σ) or ``"finite_strain"``
            (row-major F -> row-major P).
        dim: spatial dimension of the macro problem, 2 or 3.
        driver_size: ``m``, the number of driver (= flux) components:
            3/6 for small strain in 2D/3D, 4/9 for finite strain.
        is_linear: ``True`` when flux = tangent @ driver with a constant
            tangent and no state; the macro solver then evaluates once.
    """

    kind: Kind
    dim: int
    driver_size: int
    is_linear: bool

    def initial_state(self, n_points: int) -> BatchedState:
        """The virgin state of ``n_points`` points."""
        ...

    def evaluate(
        self, driver: np.ndarray, state: BatchedState
    ) -> tuple[np.ndarray, np.ndarray, BatchedState]:
        """``driver (n, m)``, committed ``state`` -> ``flux (n, m)``, ``tangent (n, m, m)``, trial state.

        Pure: ``state`` is not modified; the returned trial state shares no
        memory with it.
        """
        ...


def check_driver(model: MaterialModel, driver: np.ndarray, state: BatchedState | None = None) -> np.ndarray:
    """Validate ``driver`` and return it as a float ``(n, m)`` array (one point is ``(1, m)``)."""
    d = np.asarray(driver, dtype=float)
    if d.ndim != 2 or d.shape[1] != model.driver_size:
        raise ValueError(f"driver must have shape (n, {model.driver_size}), got {d.shape}")
    if state is not None:
        n = state.n_points
        if n is not None and n != d.shape[0]:
            raise ValueError(f"driver has {d.shape[0]} points but the state has {n}")
    return d


def dim_from_driver_size(kind: Kind, m: int) -> int:
    """Spatial dimension from the driver size: 3->2, 6->3 (small strain); 4->2, 9->3 (finite strain)."""
    table = {"small_strain": {3: 2, 6: 3}, "finite_strain": {4: 2, 9: 3}}[kind]
    if m not in table:
        raise MaterialError(f"a {kind} driver has {sorted(table)} components, got {m}")
    return table[m]


# --------------------------------------------------------------------------- state store
class StateStore:
    """Committed and trial state of ``n_points`` points of one model.

    Typical use in a macro load step::

        store = StateStore(model, n_points)
        for step in steps:
            for it in newton:
                flux, tangent = store.evaluate(eps)   # from committed, sets trial
                ...
            if converged:
                store.commit()                         # trial -> committed
            else:
                store.rollback()                       # trial <- committed; cut step

    ``to_arrays()``/``from_arrays()`` checkpoint the committed state only (the
    trial state is meaningless between steps).
    """

    def __init__(self, model: MaterialModel, n_points: int) -> None:
        if n_points < 0:
            raise ValueError(f"n_points must be >= 0, got {n_points}")
        self.model = model
        self.n_points = int(n_points)
        self._committed = model.initial_state(self.n_points)
        self._trial = self._committed.copy()

    @property
    def committed(self) -> BatchedState:
        """The committed state (do not modify in place; use :meth:`commit`/:meth:`from_arrays`)."""
        return self._committed

    @property
    def trial(self) -> BatchedState:
        """The latest trial state (== committed after commit/rollback)."""
        return self._trial

    def evaluate(self, driver: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``model.evaluate(driver, committed)``; stores the trial state; returns ``(flux, tangent)``."""
        flux, tangent, trial = self.model.evaluate(driver, self._committed)
        self._trial = trial
        return flux, tangent

    def update_trial(self, trial: BatchedState, points: np.ndarray | None = None) -> None:
        """Set the trial state of all points, or of ``points`` (indices/mask) only.

        Used when a caller evaluates subsets (e.g. only points that changed, or
        an RVE solved point by point). The argument is copied.
        """
        if type(trial) is not type(self._committed):
            raise TypeError(f"expected {type(self._committed).__name__}, got {type(trial).__name__}")
        if points is None:
            if trial.n_points not in (None, self.n_points):
                raise ValueError(f"trial state has {trial.n_points} points, store has {self.n_points}")
            self._trial = trial.copy()
        else:
            self._trial.put(points, trial)

    def commit(self) -> None:
        """Accept the trial state (call once the macro step has converged)."""
        self._committed = self._trial.copy()

    def rollback(self) -> None:
        """Discard the trial state (call when the macro step is cut)."""
        self._trial = self._committed.copy()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Committed state as ``{field: array}`` for a checkpoint."""
        return self._committed.to_arrays()

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Restore the committed state from :meth:`to_arrays` output; trial := committed."""
        state = type(self._committed).from_arrays(arrays)
        if state.n_points not in (None, self.n_points):
            raise ValueError(f"checkpoint has {state.n_points} points, store has {self.n_points}")
        self._committed = state
        self._trial = state.copy()


# --------------------------------------------------------------------------- linear law
class LinearElasticLaw:
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
        self.driver_size = c.shape[0]
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

    def initial_state(self, n_points: int) -> EmptyState:
        """No history."""
        return EmptyState()

    def evaluate(self, driver: np.ndarray, state: BatchedState) -> tuple[np.ndarray, np.ndarray, EmptyState]:
        """ε ``(n, m)`` Mandel -> σ = C ε ``(n, m)`` Mandel, C broadcast to ``(n, m, m)``, empty state."""
        eps = check_driver(self, driver)
        n = eps.shape[0]
        sigma = eps @ self.c_mandel  # C symmetric: (C eps)_i = eps_j C_ji
        tangent = np.broadcast_to(self.c_mandel, (n, self.driver_size, self.driver_size)).copy()
        return sigma, tangent, EmptyState()
