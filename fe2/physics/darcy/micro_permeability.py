"""Tissue permeability from micro Stokes cells, cached (exact) or interpolated over the fibre fraction.

The microstructure of a region is a periodic array of fibres (2D) or spheres (3D)
of radius ``a`` [m] at solid fraction ``c`` (:class:`fe2.micro.stokes.FibreCell`).
Its permeability is ``k(c) = a² κ(c)`` with the dimensionless ``κ = K/a²`` of the
cell problem, and the Darcy solver takes the hydraulic conductivity ``k/μ``.

What is exact and what is interpolated:

* **Scaling in a is exact.** The Stokes cell problem is linear and has no length
  scale of its own, so one cell of unit size per ``c`` serves every fibre radius:
  ``k = a² · K_unit / a_unit²`` with no approximation beyond the cell solve.
* **Exact mode** (``mode="exact"``): one cell solve per *distinct* value of c
  (bitwise-equal floats are the same microstructure); repeated values — every
  quadrature point of a region with a uniform fraction, the next load case — are
  cache hits. Nothing is interpolated.
* **Interpolated mode** (``mode="interpolate"``): κ is solved at ``n_nodes``
  Chebyshev–Lobatto nodes of ``[c_min, c_max]`` and interpolated in ``log κ``
  (barycentric Lagrange; κ is smooth in c away from 0 and touching fibres, and
  log κ varies far less than κ). :meth:`MicroPermeability.interpolation_error`
  solves the cells at the midpoints between nodes and reports the largest
  relative error of the interpolant; fractions outside the range are an error.

Parallel: the distinct fractions requested on all ranks are gathered, the new
cells solved round-robin on ``MPI.COMM_SELF`` (each rank its share) and the
tensors all-gathered, so every rank holds the same cache and the answer does
not depend on the number of ranks.

Behind the micro–macro contract (:mod:`fe2.materials.contract`),
:class:`MicroPermeability` is a linear micro model of kind ``"darcy"``: driver
∇p (d), flux ``q = K ∇p = −u`` and tangent ``∂q/∂∇p = K = k(c)/μ``, the
hydraulic conductivity of the Darcy problem. Its per-point input is the fibre
fraction, declared as ``point_data = ("fibre_fraction",)`` and carried in its
state (:class:`FibreFractionState`); ``fe2 darcy`` evaluates it once, at
∇p = 0, and reads K from the tangent it wrote (:func:`fe2.quadrature.evaluate_into`).
``evaluate`` is collective over ``comm`` (the cache is shared).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from mpi4py import MPI

from fe2.errors import ConfigError, Fe2Error
from fe2.materials.contract import MicroModel, MicroStatistics
from fe2.materials.state import BatchedState
from fe2.micro.stokes import FibreCell, permeability


@dataclass
class FibreFractionState(BatchedState):
    """Point data of the micro permeability: the fibre (solid) fraction c of every point, (n,)."""

    fibre_fraction: np.ndarray


@dataclass
class PermeabilityStats:
    """Bookkeeping of the cache: cell solves done, lookups answered from the cache, time in cells."""

    cell_solves: int = 0
    cache_hits: int = 0
    cell_time_s: float = 0.0

    def to_dict(self) -> dict:
        return {"cell_solves": self.cell_solves, "cache_hits": self.cache_hits, "cell_time_s": self.cell_time_s}


@dataclass
class MicroPermeability(MicroModel):
    """κ(c) = K/a² of a fibre cell, exact per distinct c or interpolated over a range (collective calls).

    A linear micro model of kind ``"darcy"`` (see the module docstring) with the point data
    ``fibre_fraction``.

    Attributes:
        fibre_radius: a [m].
        viscosity: μ [Pa·s] of the interstitial fluid.
        comm: the communicator whose ranks share the cell solves.
        arrangement: 'square' (square array in 2D / simple cubic spheres in 3D) or 'hexagonal' (2D).
        dim: 2 (fibres) or 3 (spheres).
        mesh_size: element size of the unit cell (cell edge 1).
        mode: 'exact' (one solve per distinct c) or 'interpolate' (see the module docstring).
        c_range: (c_min, c_max) of the interpolant.
        n_nodes: Chebyshev–Lobatto nodes of the interpolant (≥ 2).
    """

    fibre_radius: float
    viscosity: float
    comm: MPI.Comm = field(repr=False)
    arrangement: Literal["square", "hexagonal"] = "square"
    dim: int = 2
    mesh_size: float = 0.05
    mode: Literal["exact", "interpolate"] = "exact"
    c_range: tuple[float, float] = (0.05, 0.5)
    n_nodes: int = 7
    stats: PermeabilityStats = field(default_factory=PermeabilityStats)

    kind = "darcy"
    is_linear = True
    point_data = ("fibre_fraction",)

    def __post_init__(self) -> None:
        if not (self.fibre_radius > 0 and self.viscosity > 0):
            raise ConfigError(f"fibre radius and viscosity must be > 0, got {self.fibre_radius}, {self.viscosity}")
        if self.mode not in ("exact", "interpolate"):
            raise ConfigError(f"permeability mode must be 'exact' or 'interpolate', got {self.mode!r}")
        lo, hi = map(float, self.c_range)
        if self.mode == "interpolate" and not (0 < lo < hi and self.n_nodes >= 2):
            raise ConfigError(
                f"interpolation needs 0 < c_min < c_max and n_nodes >= 2, got {self.c_range}, {self.n_nodes}"
            )
        self._cache: dict[float, np.ndarray] = {}
        self._nodes: np.ndarray | None = None
        self._log_kappa_nodes: np.ndarray | None = None
        self._offdiag_nodes: np.ndarray | None = None

    # ------------------------------------------------------------------ exact
    def _cell(self, c: float) -> FibreCell:
        return FibreCell(float(c), self.arrangement, self.dim, 1.0, self.mesh_size)

    def packing_limit(self) -> float:
        """Solid fraction at which the obstacles touch (square / simple cubic / hexagonal)."""
        if self.arrangement == "hexagonal":
            return np.pi / (2 * np.sqrt(3.0))
        return np.pi / 4 if self.dim == 2 else np.pi / 6

    def _raise_on_all_ranks(self, problem: str) -> None:
        """Collective: raise ConfigError on every rank when any rank found a problem."""
        problems = [p for p in self.comm.allgather(problem) if p]
        if problems:
            raise ConfigError(problems[0])

    def _check_fraction(self, c: np.ndarray, lo: float | None = None, hi: float | None = None) -> None:
        """Collective range check (fractions come from each rank's own points)."""
        limit = self.packing_limit()
        bad = c[~((c > 0) & (c < limit))]
        problem = (
            f"fibre fraction {bad[0]:.4g} outside (0, {limit:.4f}) for a {self.arrangement} array" if bad.size else ""
        )
        if not problem and lo is not None:
            outside = c[(c < lo) | (c > hi)]
            if outside.size:
                problem = f"fibre fraction {outside[0]:.4g} outside the interpolation range [{lo}, {hi}]"
        self._raise_on_all_ranks(problem)

    def kappa_exact(self, fractions: np.ndarray) -> np.ndarray:
        """κ = K/a² (n, d, d) for fractions (n,), solving each distinct new fraction once (collective)."""
        c = np.asarray(fractions, dtype=float).ravel()
        self._check_fraction(c)
        local_new = np.setdiff1d(np.unique(c), np.fromiter(self._cache, float, len(self._cache)))
        new = np.unique(np.concatenate(self.comm.allgather(local_new))) if self.comm.size > 1 else local_new
        mine: dict[float, np.ndarray] = {}
        t0 = time.perf_counter()
        problem = ""
        for k, value in enumerate(new):
            if k % self.comm.size == self.comm.rank and not problem:
                try:
                    cell = self._cell(value)
                    res = permeability(cell, MPI.COMM_SELF, mu=1.0)
                except Fe2Error as err:  # reported on every rank below, never left in a collective
                    problem = f"Stokes cell at fibre fraction {value:.4g}: {err}"
                    continue
                K = np.asarray(res.K) / cell.radius**2
                mine[float(value)] = 0.5 * (K + K.T)  # symmetric to solver round-off (reported by the cell)
        self.stats.cell_time_s += time.perf_counter() - t0
        self._raise_on_all_ranks(problem)
        for part in (self.comm.allgather(mine) if self.comm.size > 1 else [mine]):
            self._cache.update(part)
        self.stats.cell_solves += len(new)
        self.stats.cache_hits += int(c.size - np.isin(c, new).sum())
        return np.stack([self._cache[float(v)] for v in c]) if c.size else np.zeros((0, self.dim, self.dim))

    # ------------------------------------------------------------ interpolant
    def _build_interpolant(self) -> None:
        lo, hi = map(float, self.c_range)
        j = np.arange(self.n_nodes)
        self._nodes = 0.5 * (lo + hi) - 0.5 * (hi - lo) * np.cos(np.pi * j / (self.n_nodes - 1))
        self._nodes[[0, -1]] = lo, hi  # exactly the range ends (cos round-off)
        kap = self.kappa_exact(self._nodes)
        diag = np.einsum("nii->ni", kap)
        if np.any(diag <= 0):
            raise ConfigError("a cell returned a non-positive permeability: cannot interpolate log κ")
        self._log_kappa_nodes = np.log(diag)
        self._offdiag_nodes = kap - np.einsum("ni,ij->nij", diag, np.eye(self.dim))

    def _barycentric(self, x: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Barycentric Lagrange interpolation on the Chebyshev–Lobatto nodes (weights (−1)^j, halved at ends)."""
        nodes = self._nodes
        assert nodes is not None  # callers build the interpolant first
        w = (-1.0) ** np.arange(nodes.size)
        w[0] *= 0.5
        w[-1] *= 0.5
        diff = x[:, None] - nodes[None, :]
        exact = np.isclose(diff, 0.0, rtol=0.0, atol=1e-15)
        diff[exact] = 1.0
        coef = w[None, :] / diff
        flat = values.reshape(nodes.size, -1)
        out = (coef @ flat) / coef.sum(axis=1)[:, None]
        hit_rows, hit_nodes = np.nonzero(exact)
        out[hit_rows] = flat[hit_nodes]
        return out.reshape((x.size, *values.shape[1:]))

    def kappa_interpolated(self, fractions: np.ndarray) -> np.ndarray:
        """κ (n, d, d) from the interpolant (built on first use, collective then)."""
        c = np.asarray(fractions, dtype=float).ravel()
        if self._nodes is None:
            self._build_interpolant()
        assert self._log_kappa_nodes is not None and self._offdiag_nodes is not None  # set with _nodes
        lo, hi = map(float, self.c_range)
        self._check_fraction(c, lo, hi)
        diag = np.exp(self._barycentric(c, self._log_kappa_nodes))
        off = self._barycentric(c, self._offdiag_nodes)
        return off + np.einsum("ni,ij->nij", diag, np.eye(self.dim))

    def interpolation_error(self) -> float:
        """Largest relative error (Frobenius) of the interpolant at the midpoints between nodes,
        against exact cell solves there (collective; adds n_nodes − 1 cell solves).
        """
        if self.mode != "interpolate":
            return 0.0
        if self._nodes is None:
            self._build_interpolant()
        assert self._nodes is not None  # set by _build_interpolant
        mid = 0.5 * (self._nodes[1:] + self._nodes[:-1])
        exact = self.kappa_exact(mid)
        approx = self.kappa_interpolated(mid)
        return float(np.max(np.linalg.norm(approx - exact, axis=(1, 2)) / np.linalg.norm(exact, axis=(1, 2))))

    # ---------------------------------------------------------------- public
    def kappa(self, fractions: np.ndarray) -> np.ndarray:
        """κ = K/a² (n, d, d) by the configured mode (collective)."""
        return self.kappa_exact(fractions) if self.mode == "exact" else self.kappa_interpolated(fractions)

    def hydraulic_conductivity(self, fractions: np.ndarray) -> np.ndarray:
        """k/μ = a² κ(c)/μ [m²/(Pa·s)], shape (n, d, d), the K of the Darcy solver (collective)."""
        return self.fibre_radius**2 * self.kappa(fractions) / self.viscosity

    # ---------------------------------------------------------------- contract
    def initial_state(self, n_points: int, point_data=None) -> FibreFractionState:
        """The fibre fractions of ``n_points`` points: ``point_data = {"fibre_fraction": (n_points,)}``."""
        c = np.array(np.asarray((point_data or {})["fibre_fraction"], dtype=float).ravel())
        if c.size != n_points:
            raise ConfigError(f"fibre_fraction has {c.size} values for {n_points} points")
        return FibreFractionState(c)

    def evaluate(self, driver: np.ndarray, state: BatchedState, guess: BatchedState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, FibreFractionState]:
        """∇p (n, d) -> q = K ∇p (n, d), K = k(c)/μ (n, d, d) at the points' fibre fractions (collective)."""
        if not isinstance(state, FibreFractionState):  # always the state of initial_state (or a copy of it)
            raise TypeError(f"{type(self).__name__} needs a FibreFractionState, got {type(state).__name__}")
        K = self.hydraulic_conductivity(state.fibre_fraction)
        return np.einsum("nij,nj->ni", K, driver), K, state.copy()

    def statistics(self) -> MicroStatistics:
        """Cell solves and their time (cache hits cost nothing)."""
        return MicroStatistics(solves=self.stats.cell_solves, time_s=self.stats.cell_time_s)

    def summary(self) -> dict:
        """JSON-ready record: model, mode, the distinct κ solved (c → K/a², row-major), statistics."""
        table = [{"fibre_fraction": c, "K_over_a2": self._cache[c].tolist()} for c in sorted(self._cache)]
        return {
            "fibre_radius_m": self.fibre_radius, "viscosity_Pa_s": self.viscosity,
            "arrangement": self.arrangement, "dim": self.dim, "cell_mesh_size": self.mesh_size,
            "mode": self.mode, "c_range": list(self.c_range) if self.mode == "interpolate" else None,
            "n_nodes": self.n_nodes if self.mode == "interpolate" else None,
            "cells": table, **self.stats.to_dict(),
        }
