"""The one state type of the micro–macro contract, and the committed/trial store of a macro problem.

Every micro model's per-point state is a :class:`BatchedState` (the batch of
quadrature points is the leading axis of every field): a law without history
uses :class:`EmptyState`, J2 plasticity its :class:`~fe2.materials.j2.J2State`,
an RVE its :class:`~fe2.micro.nonlinear_rve.RVEState` (a subclass that
overrides the generic methods), a model with per-point input data (fibre
fractions of a Darcy micro cell) a state holding those arrays. States travel
with their points (:meth:`BatchedState.take`/:meth:`BatchedState.put`: load
balancing), and are checkpointed through :meth:`BatchedState.to_arrays` /
:meth:`BatchedState.restored`.

:class:`StateStore` holds the committed and the trial state of the points of
one model; a macro problem evaluates through it and commits only when its step
converged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Self

import numpy as np

from fe2.errors import MaterialError

if TYPE_CHECKING:  # pragma: no cover
    from fe2.materials.contract import MicroModel


@dataclasses.dataclass
class BatchedState:
    """Base class of per-point state: a dataclass whose fields are numpy arrays.

    Every field has the batch as its leading axis, shape ``(n, ...)``.
    Subclasses only declare fields; copying, slicing and (de)serialization are
    generic (a subclass with nested states overrides them). A law without
    history uses :class:`EmptyState`.
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

    def put(self, points: np.ndarray, other: Self) -> None:
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

    def restored(self, arrays: Mapping[str, np.ndarray]) -> Self:
        """A state of the same type and structure as this one from :meth:`to_arrays` output.

        The instance is the template (a state with nested per-phase states needs
        one to know their types); the generic version is :meth:`from_arrays`.
        """
        return type(self).from_arrays(arrays)

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
    """State of a law without history (elastic, hyperelastic, linear RVE): no fields."""


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

    Args:
        model: the micro model.
        n_points: number of points.
        point_data: the per-point input arrays the model declares in
            ``model.point_data`` (name -> ``(n_points, ...)``), e.g. fibre
            fractions; required exactly when the model declares some.
    """

    def __init__(self, model: MicroModel, n_points: int,
                 point_data: Mapping[str, np.ndarray] | None = None) -> None:
        if n_points < 0:
            raise ValueError(f"n_points must be >= 0, got {n_points}")
        given = set(point_data or {})
        if given != set(model.point_data):
            raise MaterialError(f"{type(model).__name__} takes point data {sorted(model.point_data)}, "
                                f"got {sorted(given)}")
        self.model = model
        self.n_points = int(n_points)
        if model.point_data:
            self._committed = model.initial_state(self.n_points, point_data)
        else:
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

    def evaluate(self, driver: np.ndarray, guess: BatchedState | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``model.evaluate(driver, committed, guess)``; stores the trial state; returns ``(flux, tangent)``."""
        flux, tangent, trial = self.model.evaluate(driver, self._committed, guess=guess)
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
        state = self._committed.restored(arrays)
        if state.n_points not in (None, self.n_points):
            raise ValueError(f"checkpoint has {state.n_points} points, store has {self.n_points}")
        self._committed = state
        self._trial = state.copy()
