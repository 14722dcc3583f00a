"""Result objects of RVE homogenization (objects first, files second).

Notation of every exported tensor: Voigt with engineering shear strain,
component order 11 22 12 (2D) / 11 22 33 23 13 12 (3D); for conductivity the
effective tensor is the plain d x d matrix K_eff with <J> = K_eff <grad phi>.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fe2.micro.physics import make_physics, physics_class, physics_names

if TYPE_CHECKING:
    from fe2.micro.error_estimate import ErrorEstimate


class _NotationTable(Mapping):
    """physics name -> notation record of its results (read from the physics registry)."""

    def __getitem__(self, name: str) -> dict[str, str]:
        return dict(physics_class(name).notation)

    def __iter__(self) -> Iterator[str]:
        return iter(physics_names())

    def __len__(self) -> int:
        return len(physics_names())


#: Hill–Mandel residual every linear RVE solve with a direct solver must stay below: the identity holds for
#: the discrete problem, a direct solve leaves round-off (measured 1e-16 … 4e-14)
HILL_MANDEL_TOL = 1e-10
#: iterative solves: the TUBC residual follows the solver tolerance (measured 0.4 rtol for rtol 1e-10 … 1e-6)
HILL_MANDEL_PER_RTOL = 10.0


#: FE² micro solves (nonlinear RVEs converge their Newton to a residual tolerance): docs/verification.md
MICRO_HILL_MANDEL_TOL = 1e-8


def hill_mandel_tolerance(kind: str, rtol: float) -> float:
    """The declared Hill–Mandel bound of a linear RVE solve with solver ``kind`` ('direct'/'iterative')."""
    return HILL_MANDEL_TOL if kind == "direct" else max(HILL_MANDEL_TOL, HILL_MANDEL_PER_RTOL * rtol)


def hill_mandel_warning(what: str, residual: float, tolerance: float) -> str | None:
    """The one-line warning of a residual above its declared tolerance (None when within)."""
    if residual <= tolerance:
        return None
    return (f"WARNING: {what}: Hill-Mandel residual {residual:.2e} exceeds its tolerance {tolerance:.0e};"
            " the averages are not energy-consistent, do not trust this result")


#: physics name -> how its results are written (``notation``, ``order_2d`` …), for every registered physics
NOTATION: Mapping[str, dict[str, str]] = _NotationTable()


@dataclass
class LoadCase:
    """One solve of an RVE. Driver/averages are in fe2's *Mandel* (internal) form.

    Attributes:
        driver: the prescribed macro quantity (strain for KUBC/PBC, stress for TUBC), (n,).
        mean_strain: <eps> (boundary integral), (n,).
        mean_stress: <sigma> (volume average over Y, pores = 0), (n,).
        mean_energy: <sigma : eps> (twice the mean strain-energy density).
        hill_mandel: |<sigma:eps> - <sigma>:<eps>| / |<sigma>:<eps>|.
        iterations: linear-solver iterations (0 for a direct solver's solve phase); TUBC: the
            largest count of the condensation solves that all its load cases share.
    """

    driver: np.ndarray
    mean_strain: np.ndarray
    mean_stress: np.ndarray
    mean_energy: float
    hill_mandel: float
    iterations: int = 0


@dataclass
class BCResult:
    """Effective tensor of one boundary condition ('kubc', 'periodic' or 'tubc')."""

    bc: str
    effective_mandel: np.ndarray
    effective_voigt: np.ndarray
    load_cases: list[LoadCase]
    timings: dict[str, float] = field(default_factory=dict)
    checks: dict[str, float] = field(default_factory=dict)
    #: the estimated discretization error (:mod:`fe2.micro.error_estimate`), when asked for
    error_estimate: ErrorEstimate | None = None
    #: the declared bound of ``hill_mandel_max`` (see :func:`hill_mandel_tolerance`)
    hill_mandel_tol: float = HILL_MANDEL_TOL

    @property
    def hill_mandel_max(self) -> float:
        return max(lc.hill_mandel for lc in self.load_cases)

    @property
    def hill_mandel_ok(self) -> bool:
        return self.hill_mandel_max <= self.hill_mandel_tol

    def warning(self) -> str | None:
        """A one-line warning when the Hill–Mandel residual exceeds its tolerance, else None."""
        return hill_mandel_warning(self.bc, self.hill_mandel_max, self.hill_mandel_tol)

    def to_dict(self) -> dict:
        return {
            "effective": self.effective_voigt.tolist(),
            "hill_mandel_max": self.hill_mandel_max,
            "hill_mandel": [lc.hill_mandel for lc in self.load_cases],
            "hill_mandel_tolerance": self.hill_mandel_tol,
            "hill_mandel_ok": self.hill_mandel_ok,
            "timings_s": self.timings,
            "checks": self.checks,
            "iterations": [lc.iterations for lc in self.load_cases],
            **({} if self.error_estimate is None else {"error_estimate": self.error_estimate.to_dict()}),
        }


@dataclass
class HomogenizationResult:
    """Everything one RVE homogenization produced.

    Attributes:
        physics: the name of a registered physics ('elasticity', 'conductivity', …).
        dim: 2 or 3.
        bcs: BC name -> BCResult, in the order solved.
        volume_fractions: phase name -> fraction of the box volume |Y| (voids included).
        mesh: size information (cells, vertices, dofs, h_min, h_max, degree, ranks).
        voigt_bound, reuss_bound: Voigt / Reuss bounds (Voigt notation) from the
            phase tensors and measured fractions; voids count as zero stiffness.
        timings: setup stages in seconds.
    """

    physics: str
    dim: int
    bcs: dict[str, BCResult]
    volume_fractions: dict[str, float]
    mesh: dict
    voigt_bound: np.ndarray
    reuss_bound: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)

    def effective(self, bc: str) -> np.ndarray:
        """Effective tensor of one BC in Voigt notation (engineering shear)."""
        return self.bcs[bc].effective_voigt

    def warnings(self) -> list[str]:
        """One line per BC whose Hill–Mandel residual exceeds its tolerance."""
        return [w for w in (r.warning() for r in self.bcs.values()) if w is not None]

    def to_dict(self) -> dict:
        labels = make_physics(self.physics, self.dim).component_labels()
        return {
            "physics": self.physics,
            "dim": self.dim,
            **NOTATION[self.physics],
            "components": list(labels),
            "effective": {k: v.effective_voigt.tolist() for k, v in self.bcs.items()},
            "hill_mandel": {k: v.hill_mandel_max for k, v in self.bcs.items()},
            **self._error_estimates(),
            "hill_mandel_tolerance": {k: v.hill_mandel_tol for k, v in self.bcs.items()},
            "hill_mandel_ok": all(v.hill_mandel_ok for v in self.bcs.values()),
            "warnings": self.warnings(),
            "volume_fractions": self.volume_fractions,
            "mesh": self.mesh,
            "bounds": {
                "voigt": self.voigt_bound.tolist(),
                "reuss": None if self.reuss_bound is None else self.reuss_bound.tolist(),
            },
            "details": {k: v.to_dict() for k, v in self.bcs.items()},
            "timings_s": self.timings,
        }

    def _error_estimates(self) -> dict:
        """{"error_estimate": {bc: estimated C_h - C (Voigt)}} when every BC carries an estimate, else {}."""
        if not self.bcs or any(v.error_estimate is None for v in self.bcs.values()):
            return {}
        return {"error_estimate": {k: v.error_estimate.error_voigt.tolist()  # type: ignore[union-attr]
                                   for k, v in self.bcs.items()}}
