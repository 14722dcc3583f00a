"""The sample designs of each method: every run a study will make, fixed by its seed before any run.

A design is the same on every rank and in every rerun (the ids of the samples are its rows), so
``-n 1`` and ``-n 2`` run the same samples and a restarted study finds its finished ones by id.

* ``sobol``: SALib's Saltelli scheme on a scrambled Sobol' sequence, ``n (d + 2)`` rows
  (matrices A, B and the d matrices A_B^i, second-order indices off);
* ``morris``: SALib's trajectories on a ``levels`` grid in probability space, ``r (d + 1)`` rows;
* ``pce``: Latin-hypercube points (regression) or the Gaussian / Smolyak nodes of the expanded
  inputs (quadrature), then ``validation`` independent random rows;
* ``split``: ``outer`` epistemic draws, each with ``inner`` aleatory draws, repeated with the same
  draws for every scan value (common random numbers make the trend over the scan smoother);
* ``mc``: ``n`` independent random rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fe2.apps.uq.distributions import chaospy_joint, from_unit
from fe2.config.uq import UQConfig

#: unit-cube points are kept this far from 0 and 1 so an unbounded law's inverse CDF stays finite
_EDGE = 1e-12


@dataclass
class Design:
    """The rows to run: ``x`` (n, d) input values, ``scan`` (n,) index into the scan values or None."""

    x: np.ndarray
    scan: np.ndarray | None = None
    unit: np.ndarray | None = None  #: the unit-cube points behind ``x`` (sobol, morris)
    role: np.ndarray | None = None  #: pce: 0 training row, 1 validation row
    weights: np.ndarray | None = None  #: pce quadrature weights of the training rows
    notes: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.x.shape[0])


def _problem(cfg: UQConfig) -> dict:
    d = len(cfg.inputs)
    return {"num_vars": d, "names": [i.key for i in cfg.inputs], "bounds": [[0.0, 1.0]] * d}


def _map(cfg: UQConfig, u: np.ndarray) -> np.ndarray:
    u = np.clip(u, _EDGE, 1.0 - _EDGE)
    if cfg.correlations:
        u = _gaussian_copula(cfg, u)
    return from_unit(cfg.inputs, u)


def _gaussian_copula(cfg: UQConfig, u: np.ndarray) -> np.ndarray:
    """Independent uniforms -> uniforms whose normal scores have the configured correlations."""
    from scipy.stats import norm

    idx = {i.key: n for n, i in enumerate(cfg.inputs)}
    r = np.eye(len(cfg.inputs))
    for c in cfg.correlations:
        i, j = idx[c.inputs[0]], idx[c.inputs[1]]
        r[i, j] = r[j, i] = c.rho
    chol = np.linalg.cholesky(r)
    return np.clip(norm.cdf(norm.ppf(u) @ chol.T), _EDGE, 1.0 - _EDGE)


def expanded(cfg: UQConfig) -> list[int]:
    """Indices of the inputs a PCE expands in (the non-integer ones)."""
    return [k for k, i in enumerate(cfg.inputs) if not i.integer]


def pce_terms(n_vars: int, degree: int) -> int:
    """Number of terms of a total-degree-``degree`` expansion in ``n_vars`` variables."""
    from math import comb

    return comb(n_vars + degree, degree)


def make_design(cfg: UQConfig) -> Design:
    """The design of ``cfg.method`` (see the module docstring)."""
    rng = np.random.default_rng(cfg.seed)
    d = len(cfg.inputs)
    if cfg.method == "sobol":
        from SALib.sample import sobol

        u = sobol.sample(_problem(cfg), cfg.sobol.n, calc_second_order=False, scramble=True, seed=cfg.seed)
        return Design(_map(cfg, u), unit=u)
    if cfg.method == "morris":
        from SALib.sample import morris

        m = cfg.morris
        u = morris.sample(_problem(cfg), m.trajectories, num_levels=m.levels, seed=cfg.seed)
        # grid levels 0..1 -> the centres of `levels` equal-probability cells (finite for every law)
        centred = (u * (m.levels - 1) + 0.5) / m.levels
        return Design(_map(cfg, centred), unit=u)
    if cfg.method == "mc":
        return Design(_map(cfg, rng.random((cfg.mc.n, d))))
    if cfg.method == "split":
        return _split_design(cfg, rng)
    return _pce_design(cfg, rng)


def _split_design(cfg: UQConfig, rng: np.random.Generator) -> Design:
    s = cfg.split
    d = len(cfg.inputs)
    epistemic = [k for k, i in enumerate(cfg.inputs) if i.kind == "epistemic"]
    aleatory = [k for k, i in enumerate(cfg.inputs) if i.kind == "aleatory"]
    outer = rng.random((s.outer, len(epistemic)))
    inner = rng.random((s.outer, s.inner, len(aleatory)))
    u = np.empty((s.outer, s.inner, d))
    u[:, :, epistemic] = outer[:, None, :]
    u[:, :, aleatory] = inner
    one = _map(cfg, u.reshape(-1, d))
    n_scan = len(s.scan.values) if s.scan is not None else 1
    x = np.tile(one, (n_scan, 1))
    scan = np.repeat(np.arange(n_scan), one.shape[0]) if s.scan is not None else None
    return Design(x, scan=scan, notes={"outer": s.outer, "inner": s.inner, "scans": n_scan})


def _pce_design(cfg: UQConfig, rng: np.random.Generator) -> Design:
    from scipy.stats import qmc

    p = cfg.pce
    d = len(cfg.inputs)
    ex = expanded(cfg)
    weights = None
    if p.rule == "regression":
        n = p.samples if p.samples is not None else 2 * pce_terms(len(ex), p.degree)
        u = qmc.LatinHypercube(d=d, seed=rng).random(n)
        x = _map(cfg, u)
    else:
        import chaospy

        joint = chaospy_joint([cfg.inputs[k] for k in ex])
        nodes, weights = chaospy.generate_quadrature(p.degree, joint, rule="gaussian", sparse=p.sparse)
        n = nodes.shape[1]
        x = _map(cfg, rng.random((n, d)))  # the integer inputs (seeds) at random
        x[:, ex] = nodes.T
    v = _map(cfg, rng.random((p.validation, d)))
    role = np.r_[np.zeros(n, int), np.ones(p.validation, int)]
    return Design(np.vstack([x, v]), role=role, weights=weights)


__all__ = ["Design", "expanded", "make_design", "pce_terms"]
