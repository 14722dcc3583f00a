"""Argument checks shared by the analytic references (internal)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fe2.errors import ConfigError, MaterialError

#: Tolerance on ``sum(fractions) == 1``.
FRACTION_SUM_TOL = 1e-10


def check_fractions(fractions: ArrayLike, n_phases: int | None = None) -> np.ndarray:
    """Volume fractions as a float array ``(n_phases,)``: each in [0, 1], summing to 1."""
    f = np.atleast_1d(np.asarray(fractions, dtype=float))
    if f.ndim != 1 or f.size == 0:
        raise ConfigError(f"volume fractions must be a non-empty 1D sequence, got shape {f.shape}")
    if n_phases is not None and f.size != n_phases:
        raise ConfigError(f"{f.size} volume fractions given for {n_phases} phases")
    if not np.all(np.isfinite(f)) or np.any(f < 0.0) or np.any(f > 1.0):
        raise ConfigError(f"volume fractions must lie in [0, 1], got {f.tolist()}")
    if abs(f.sum() - 1.0) > FRACTION_SUM_TOL:
        raise ConfigError(f"volume fractions must sum to 1, got sum {f.sum():.15g}")
    return f


def check_volume_fraction(f: ArrayLike, f_max: float = 1.0, name: str = "volume fraction") -> np.ndarray:
    """A (possibly array-valued) volume fraction in [0, f_max]."""
    a = np.asarray(f, dtype=float)
    if not np.all(np.isfinite(a)) or np.any(a < 0.0) or np.any(a > f_max):
        raise ConfigError(f"{name} must lie in [0, {f_max:.6g}], got {a.tolist()}")
    return a


def check_moduli(values: ArrayLike, name: str, n: int | None = None, allow_inf: bool = False) -> np.ndarray:
    """Non-negative moduli/conductivities ``(n_phases,)``; zero allowed (voids), inf only if asked."""
    v = np.atleast_1d(np.asarray(values, dtype=float))
    if v.ndim != 1:
        raise MaterialError(f"{name} must be a 1D sequence (one value per phase), got shape {v.shape}")
    if n is not None and v.size != n:
        raise MaterialError(f"{v.size} values of {name} given for {n} phases")
    if np.any(np.isnan(v)) or np.any(v < 0.0) or (not allow_inf and np.any(np.isinf(v))):
        what = "non-negative" if allow_inf else "non-negative and finite"
        raise MaterialError(f"{name} must be {what}, got {v.tolist()}")
    return v


def check_dim(dim: int) -> int:
    if dim not in (2, 3):
        raise ConfigError(f"dimension must be 2 or 3, got {dim}")
    return int(dim)
