"""Statistics of a bound-convergence study: sample moments, confidence intervals, power-law fits.

Pure numpy/scipy, no MPI. Used by :mod:`fe2.apps.bounds.summary` on rank 0.

* :func:`sample_stats` — mean, standard deviation (``ddof = 1``), standard error
  and the Student-t confidence interval of the mean of ``n`` realizations; also
  the prediction half-width for *one* new realization.
* :func:`power_law_fit` — ``y = A x^(-p)`` by (weighted) least squares on
  ``log y = log A - p log x``, with the standard error of ``p``.
* :func:`variance_power_law` — the same for sample variances, with the exact
  bias and variance of ``log s²`` for normal samples (chi-square with ``n - 1``
  degrees of freedom), so sizes with different numbers of realizations are
  weighted correctly.
* :func:`realizations_needed` — how many realizations bring the relative
  confidence-interval half-width below a tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

__all__ = [
    "PowerLawFit",
    "SampleStats",
    "log_sample_variance_moments",
    "power_law_fit",
    "realizations_needed",
    "sample_stats",
    "size_for_tolerance",
    "smallest_meeting",
    "t_quantile",
    "variance_power_law",
]


def t_quantile(n: int, confidence: float = 0.95) -> float:
    """Two-sided Student-t quantile ``t_{(1+c)/2, n-1}`` for a sample of ``n`` (nan for n < 2)."""
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 * (1.0 + confidence), n - 1))


@dataclass(frozen=True)
class SampleStats:
    """Statistics of ``n`` independent realizations of one scalar.

    Attributes:
        n: number of realizations.
        mean: sample mean.
        std: sample standard deviation (``ddof = 1``; 0 for ``n = 1``).
        sem: standard error of the mean, ``std / sqrt(n)``.
        ci: half-width of the two-sided confidence interval of the mean,
            ``t_{(1+c)/2, n-1} * sem`` (nan for ``n < 2``).
        ci_rel: ``ci / |mean|``.
        pi: half-width of the prediction interval of ONE new realization,
            ``t * std * sqrt(1 + 1/n)``: how far a single RVE of this size may
            fall from the mean.
        pi_rel: ``pi / |mean|``.
        min, max: extreme realizations.
        confidence: the confidence level ``c`` (e.g. 0.95).
    """

    n: int
    mean: float
    std: float
    sem: float
    ci: float
    ci_rel: float
    pi: float
    pi_rel: float
    min: float
    max: float
    confidence: float

    @property
    def variance(self) -> float:
        return self.std**2

    def to_dict(self) -> dict:
        return asdict(self)


def _rel(a: float, b: float) -> float:
    return float(a / abs(b)) if b != 0.0 else float("inf")


def sample_stats(values: ArrayLike, confidence: float = 0.95) -> SampleStats:
    """Mean, std, standard error and Student-t intervals of a 1D sample.

    The values are summed in the order given: sort them first for results that
    do not depend on the order in which realizations finished.
    """
    x = np.asarray(values, dtype=float).ravel()
    n = int(x.size)
    if n == 0:
        raise ValueError("sample_stats: empty sample")
    mean = float(np.mean(x))
    std = float(np.std(x, ddof=1)) if n > 1 else 0.0
    sem = std / math.sqrt(n)
    t = t_quantile(n, confidence)
    ci = t * sem
    pi = t * std * math.sqrt(1.0 + 1.0 / n)
    return SampleStats(
        n=n,
        mean=mean,
        std=std,
        sem=sem,
        ci=ci,
        ci_rel=_rel(ci, mean),
        pi=pi,
        pi_rel=_rel(pi, mean),
        min=float(np.min(x)),
        max=float(np.max(x)),
        confidence=float(confidence),
    )


@dataclass(frozen=True)
class PowerLawFit:
    """``y ≈ prefactor * x^(-exponent)`` fitted on log-log axes.

    Attributes:
        exponent: decay exponent ``p`` (positive when ``y`` decreases with ``x``).
        stderr: standard error of ``p``. Weighted fits (known variances of
            ``log y``): ``sqrt([(X^T W X)^-1]_pp)`` from the weights, multiplied by
            ``sqrt(chi2_dof)`` when that exceeds 1 (scatter larger than the error
            model allows, e.g. a pre-asymptotic small size: the error is widened,
            never narrowed by a lucky fit); unweighted: the ordinary least-squares
            error from the residuals (needs >= 3 points).
        prefactor: ``A``.
        prefactor_log_stderr: standard error of ``log A``.
        n_points: number of (x, y) points.
        chi2_dof: weighted fits: sum of squared normalized residuals per degree
            of freedom (about 1 when the power law and the error model hold);
            nan for unweighted fits or with 2 points.
        weighted: whether per-point standard errors of ``log y`` were used.
    """

    exponent: float
    stderr: float
    prefactor: float
    prefactor_log_stderr: float
    n_points: int
    chi2_dof: float
    weighted: bool

    def predict(self, x: ArrayLike) -> np.ndarray:
        return self.prefactor * np.asarray(x, dtype=float) ** (-self.exponent)

    def to_dict(self) -> dict:
        return asdict(self)


def power_law_fit(x: ArrayLike, y: ArrayLike, sigma_log: ArrayLike | None = None) -> PowerLawFit:
    """Fit ``y = A x^(-p)`` by least squares on ``(log x, log y)``.

    Args:
        x: ``(m,)`` positive abscissae (e.g. RVE sizes L/ℓ), at least 2 distinct.
        y: ``(m,)`` positive values.
        sigma_log: ``(m,)`` standard errors of ``log y`` (weights ``1/sigma²``);
            None for an unweighted fit.

    Raises:
        ValueError: fewer than 2 points, non-positive data, or all x equal.
    """
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.size != ys.size or xs.size < 2:
        raise ValueError(f"power_law_fit needs >= 2 matching points, got {xs.size} and {ys.size}")
    if np.any(xs <= 0) or np.any(ys <= 0) or not np.all(np.isfinite(ys)):
        raise ValueError("power_law_fit needs positive, finite x and y")
    lx, ly = np.log(xs), np.log(ys)
    X = np.column_stack([np.ones_like(lx), -lx])
    m = xs.size
    if np.ptp(lx) == 0.0:
        raise ValueError("power_law_fit: all x are equal")
    if sigma_log is not None:
        s = np.asarray(sigma_log, dtype=float).ravel()
        if s.size != m or np.any(~np.isfinite(s)) or np.any(s <= 0):
            raise ValueError("power_law_fit: sigma_log must be positive and finite, one per point")
        w = 1.0 / s**2
        A = X.T @ (w[:, None] * X)
        cov = np.linalg.inv(A)
        beta = cov @ (X.T @ (w * ly))
        res = ly - X @ beta
        chi2 = float(np.sum(w * res**2))
        chi2_dof = chi2 / (m - 2) if m > 2 else float("nan")
        if m > 2 and chi2_dof > 1.0:
            cov = cov * chi2_dof
    else:
        beta, *_ = np.linalg.lstsq(X, ly, rcond=None)
        res = ly - X @ beta
        if m > 2:
            s2 = float(np.sum(res**2)) / (m - 2)
            cov = s2 * np.linalg.inv(X.T @ X)
        else:
            cov = np.full((2, 2), np.nan)
        chi2_dof = float("nan")
    return PowerLawFit(
        exponent=float(beta[1]),
        stderr=float(math.sqrt(cov[1, 1])) if np.isfinite(cov[1, 1]) else float("nan"),
        prefactor=float(math.exp(beta[0])),
        prefactor_log_stderr=float(math.sqrt(cov[0, 0])) if np.isfinite(cov[0, 0]) else float("nan"),
        n_points=int(m),
        chi2_dof=float(chi2_dof),
        weighted=sigma_log is not None,
    )


def log_sample_variance_moments(n: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bias and variance of ``log s²`` for a normal sample of size ``n`` (``nu = n - 1``).

    ``nu s²/σ² ~ χ²_nu``, so ``E[log s²] = log σ² + ψ(nu/2) - log(nu/2)`` and
    ``Var[log s²] = ψ'(nu/2)`` (ψ digamma, ψ' trigamma). Returns (bias, variance).
    """
    nu = np.asarray(n, dtype=float) - 1.0
    bias = special.digamma(nu / 2.0) - np.log(nu / 2.0)
    var = special.polygamma(1, nu / 2.0)
    return bias, var


def variance_power_law(sizes: ArrayLike, variances: ArrayLike, counts: ArrayLike) -> PowerLawFit:
    """Fit ``Var(L) = A L^(-γ)`` to sample variances from ``counts`` realizations per size.

    ``log s²`` is corrected for its bias and weighted by the inverse of its
    variance (:func:`log_sample_variance_moments`), exact for normally
    distributed realizations and a good approximation otherwise. Every count
    must be >= 2 (>= 3 recommended).
    """
    n = np.asarray(counts, dtype=float).ravel()
    if np.any(n < 2):
        raise ValueError("variance_power_law: every size needs >= 2 realizations")
    v = np.asarray(variances, dtype=float).ravel()
    bias, var = log_sample_variance_moments(n)
    corrected = v * np.exp(-bias)
    return power_law_fit(sizes, corrected, sigma_log=np.sqrt(var))


def realizations_needed(
    std: float, mean: float, tol: float, confidence: float = 0.95, n_max: int = 1_000_000
) -> int:
    """Smallest ``n`` with ``t_{n-1} std / (sqrt(n) |mean|) <= tol`` (at least 2).

    Kanit et al. (2003), Int. J. Solids Struct. 40, 3647: the number of
    realizations of a given RVE size needed for a relative precision ``tol`` of
    the mean. Returns ``n_max`` when even that is not enough (``mean == 0``).
    """
    if std == 0.0:
        return 2
    if mean == 0.0 or tol <= 0.0:
        return n_max
    z = stats.norm.ppf(0.5 * (1.0 + confidence))
    n = max(2, int(math.ceil((z * std / (tol * abs(mean))) ** 2)))
    while n < n_max and t_quantile(n, confidence) * std / (math.sqrt(n) * abs(mean)) > tol:
        n += 1
    return min(n, n_max)


def size_for_tolerance(fit: PowerLawFit, tol: float, power: float = 1.0) -> float:
    """Size ``L`` at which the fitted ``(A L^-p)^power`` equals ``tol`` (inf if it never decays).

    ``power = 0.5`` turns a variance fit into a standard-deviation one.
    """
    p = fit.exponent * power
    if p <= 0.0 or tol <= 0.0:
        return float("inf")
    return float((fit.prefactor**power / tol) ** (1.0 / p))


def smallest_meeting(sizes: Sequence[float], values: Sequence[float], tol: float) -> float | None:
    """Smallest size from which every larger size has ``value <= tol`` (None if the largest fails).

    Requiring every larger size too guards against a lucky small-sample dip.
    """
    best = None
    for L, v in sorted(zip(sizes, values, strict=True), key=lambda t: -t[0]):
        if not (v <= tol):
            break
        best = float(L)
    return best
