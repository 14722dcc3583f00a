"""Polynomial chaos surrogates: coefficients, moments and Sobol' indices, cross-validated error.

The basis is chaospy's orthonormal total-degree expansion of the (independent) expanded inputs,
E[φ_j φ_k] = δ_jk. Then, with y ≈ Σ c_k φ_k:

* mean = c_0, variance = Σ_{k>0} c_k² (exact for the surrogate);
* first-order index S_i = Σ c_k² / V over the terms that depend on x_i alone, total index
  ST_i = Σ c_k² / V over the terms that depend on x_i at all (Sudret 2008): each φ_k is a product
  of univariate polynomials, so "depends on" is read off its monomials' exponents.

Fit: ``regression`` (point collocation) solves the least-squares problem Φ c = y; its
leave-one-out residuals are exact without refitting, e_i / (1 - h_ii) with h the diagonal of the
hat matrix Φ (ΦᵀΦ)⁻¹ Φᵀ; the relative LOO error is mean(e_loo²) / var(y); with ``folds = k`` also
the k-fold error, the same ratio with each of k random groups predicted by the fit to the others
(k = n is the LOO error; smaller k refits on fewer points, so it reads a little higher). ``quadrature``
projects, c_k = Σ_j w_j φ_k(x_j) y_j. With ``validation`` runs the surrogate is also compared
with independent Monte Carlo runs (relative mean-square error, and its mean vs the Monte Carlo
mean with its Student-t interval).
"""

from __future__ import annotations

import numpy as np

from fe2.apps.uq.designs import Design, expanded
from fe2.apps.uq.distributions import chaospy_joint
from fe2.apps.uq.sensitivity import mean_ci, qoi_matrix
from fe2.config.uq import UQConfig
from fe2.errors import ConfigError, SolverError


def orthonormal_basis(inputs, degree: int):
    """(chaospy polynomial vector, active (terms, vars) bool) of the total-degree orthonormal expansion."""
    import chaospy

    basis = chaospy.generate_expansion(degree, chaospy_joint(inputs), normed=True)
    active = np.array([np.any(np.asarray(p.exponents) > 0, axis=0) for p in basis], bool)
    return basis, active


def _evaluate(basis, x: np.ndarray) -> np.ndarray:
    """Φ (n, terms): the basis at the rows of ``x`` (n, vars)."""
    return np.atleast_2d(np.asarray(basis(*x.T), float)).T.reshape(x.shape[0], -1)


def least_squares(phi: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """(coefficients, relative leave-one-out error) of the least-squares fit Φ c = y."""
    n, m = phi.shape
    if n <= m:
        raise SolverError(f"pce: {n} samples for {m} terms; regression needs more samples than terms")
    q, r = np.linalg.qr(phi)
    if np.min(np.abs(np.diag(r))) < 1e-12 * np.max(np.abs(np.diag(r))):
        raise SolverError("pce: the regression matrix is rank deficient (too few distinct samples for the degree)")
    c = np.linalg.solve(r, q.T @ y)
    h = np.sum(q * q, axis=1)
    loo = (y - phi @ c) / (1.0 - h)
    var = float(np.var(y))
    return c, float(np.mean(loo ** 2) / var) if var > 0 else 0.0


def kfold_error(phi: np.ndarray, y: np.ndarray, folds: int, seed: int) -> float:
    """Relative k-fold cross-validation error of the least-squares fit Φ c = y: the rows dealt into
    ``folds`` groups by a seeded random permutation, each group predicted by the fit to the others;
    mean(e_cv²) / var(y), the normalization of the leave-one-out error (k = n gives it exactly).
    """
    n, m = phi.shape
    if not 2 <= folds <= n:
        raise ConfigError(f"pce.folds: must be in 2..{n} (the training samples), got {folds}")
    if n - -(-n // folds) <= m:
        raise ConfigError(f"pce.folds: {folds} folds leave {n - -(-n // folds)} of {n} samples to fit {m} terms; "
                          "regression needs more samples than terms (fewer folds or more samples)")
    order = np.random.default_rng(seed).permutation(n)
    e = np.empty(n)
    for held in np.array_split(order, folds):
        keep = np.setdiff1d(order, held)
        c, _ = least_squares(phi[keep], y[keep])
        e[held] = y[held] - phi[held] @ c
    var = float(np.var(y))
    return float(np.mean(e ** 2) / var) if var > 0 else 0.0


def indices_from_coefficients(c: np.ndarray, active: np.ndarray, names: list[str]) -> dict:
    """Mean, variance, S1 and ST of every expanded input from orthonormal coefficients."""
    c2 = c ** 2
    var = float(c2[1:].sum())
    indices: dict[str, dict[str, float]] = {}
    out: dict = {"mean": float(c[0]), "variance": var, "indices": indices}
    alone = active.sum(axis=1) == 1
    for j, name in enumerate(names):
        s1 = float(c2[alone & active[:, j]].sum() / var) if var > 0 else 0.0
        st = float(c2[active[:, j]].sum() / var) if var > 0 else 0.0
        indices[name] = {"S1": s1, "ST": st}
    return out


def pce_analysis(cfg: UQConfig, design: Design, done: dict[int, dict]) -> dict:
    """Fit the surrogate of each QoI, its moments, indices and errors (see the module docstring)."""
    p = cfg.pce
    assert design.role is not None
    ex = expanded(cfg)
    inputs = [cfg.inputs[k] for k in ex]
    names = [i.key for i in inputs]
    ys = qoi_matrix(cfg, done, design.size)
    train = design.role == 0
    xt = design.x[train][:, ex]
    xv = design.x[~train][:, ex]
    degrees = list(range(1, p.degree + 1)) if p.adaptive else [p.degree]
    per_qoi = {}
    for name, y in ys.items():
        yt, yv = y[train], y[~train]
        best = None
        tried = {}
        for deg in degrees:
            basis, active = orthonormal_basis(inputs, deg)
            phi = _evaluate(basis, xt)
            if p.rule == "regression":
                c, loo = least_squares(phi, yt)
                tried[deg] = loo
            else:
                assert design.weights is not None
                c, loo = phi.T @ (design.weights * yt), None
            if best is None or (loo is not None and best[3] is not None and loo < best[3]):
                best = (deg, basis, c, loo, active)
        assert best is not None
        deg, basis, c, loo, active = best
        rec = indices_from_coefficients(c, active, names)
        rec.update({"degree": deg, "terms": int(c.size), "coefficients": c.tolist(),
                    "loo_relative_error": loo})
        if p.folds:
            rec["kfold_relative_error"] = kfold_error(_evaluate(basis, xt), yt, p.folds, cfg.seed)
        if p.adaptive:
            rec["loo_by_degree"] = {str(k): v for k, v in tried.items()}
        if yv.size >= 2:
            pred = _evaluate(basis, xv) @ c
            var_v = float(np.var(yv))
            rec["validation"] = {
                "runs": int(yv.size),
                "relative_mse": float(np.mean((pred - yv) ** 2) / var_v) if var_v > 0 else 0.0,
                "monte_carlo": mean_ci(yv, p.confidence),
            }
        per_qoi[name] = rec
    return {
        "qoi": per_qoi,
        "conventions": {
            "basis": "chaospy orthonormal total-degree expansion of the non-integer inputs "
                     f"({', '.join(names)}); integer inputs (seeds) are drawn at random and show as error",
            "fit": "least squares on Latin-hypercube points" if p.rule == "regression" else
                   ("Smolyak sparse" if p.sparse else "tensor") + " Gaussian quadrature projection",
            "indices": "Sobol' from the coefficients (Sudret 2008)",
            "loo_relative_error": "mean of the exact leave-one-out residuals squared / var(y) (regression only)",
            "kfold_relative_error": (f"{p.folds}-fold cross-validation: mean of the held-out residuals squared / "
                                     "var(y), folds a random partition seeded by the study's seed (regression only)"
                                     if p.folds else "off (pce.folds = 0)"),
            "training_runs": int(train.sum()), "validation_runs": int((~train).sum()),
            "confidence": p.confidence,
        },
    }


__all__ = ["indices_from_coefficients", "kfold_error", "least_squares", "orthonormal_basis", "pce_analysis"]
