"""Practical identifiability: weighted least-squares fit and profile likelihood.

Noise model: each observation ``y_obs(t_i)_o = y_o(t_i; theta) + eps``, ``eps ~ N(0, sigma_o^2)``
independent, ``sigma_o`` known. Then ``-2 ln L(theta) = chi2(theta) + const`` with
``chi2 = sum ((y_obs - y(theta)) / sigma)^2``, and the profile likelihood of parameter ``j`` is

    PL_j(c) = min over theta with theta_j = c of chi2(theta),

with ``2 Delta NLL = PL_j(c) - chi2_min``. Its pointwise (1 - alpha) confidence interval is
``{c : PL_j(c) - chi2_min <= chi2_1(1 - alpha)}`` (3.84 at 95 %; Wilks' theorem, exact for
models linear in some reparametrization of theta, since the profile value does not depend on
the parametrization). The fit and the profiles work in **log coordinates** ``ln theta``
(positivity, scale-free steps) with scipy's ``least_squares`` (trust-region reflective,
bounds) and the Jacobian from the forward sensitivity equations (:mod:`.sensitivity`), never
finite differences.

A profile walks outwards from the optimum in both directions with adaptive steps (halved when
``Delta chi2`` grows by more than a third of the threshold in one step, doubled when it grows by
less than a twentieth), re-optimizing the other parameters from the previous point (warm start),
until the threshold is crossed (the crossing is then located by Brent's method) or the bound is
reached. Verdicts: ``finite`` (both sides cross), ``one-sided`` (one side reaches its bound below
the threshold), ``flat`` (neither side crosses: practically non-identifiable within the bounds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, least_squares
from scipy.stats import chi2 as chi2_dist

from fe2.physics.reactions.sensitivity import SensitivityModel


@dataclass(frozen=True)
class TimeCourse:
    """Observed (or simulated) values ``(n_times, n_obs)`` of the observables ``names`` at ``times``."""

    times: np.ndarray
    values: np.ndarray
    names: list[str]


def synthetic_data(model: SensitivityModel, theta, times, sigma, rng: np.random.Generator,
                   **integrator) -> TimeCourse:
    """The model's observables at ``theta`` plus independent Gaussian noise of std ``sigma``."""
    sim = model.simulate(theta, times, sensitivities=False, **integrator)
    noise = rng.standard_normal(sim.y.shape) * np.asarray(sigma, dtype=float)[None, :]
    return TimeCourse(np.asarray(times, dtype=float), sim.y + noise, list(model.observable_names))


class LeastSquares:
    """Weighted residuals ``(y(theta) - y_obs) / sigma`` as a function of ``ln theta``."""

    def __init__(self, model: SensitivityModel, data: TimeCourse, sigma, lower, upper, **integrator):
        self.model, self.data = model, data
        self.sigma = np.asarray(sigma, dtype=float)
        self.lb, self.ub = np.log(np.asarray(lower, dtype=float)), np.log(np.asarray(upper, dtype=float))
        self.integrator = integrator
        self._cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self.n_solves = 0

    @property
    def n_data(self) -> int:
        return int(self.data.values.size)

    def evaluate(self, log_theta) -> tuple[np.ndarray, np.ndarray]:
        """Residuals ``(n_data,)`` and their Jacobian w.r.t. ``ln theta`` ``(n_data, n_theta)``."""
        x = np.asarray(log_theta, dtype=float)
        key = x.tobytes()
        if key in self._cache:
            return self._cache[key]
        theta = np.exp(x)
        sim = self.model.simulate(theta, self.data.times, sensitivities=True, **self.integrator)
        self.n_solves += 1
        assert sim.dy is not None
        r = ((sim.y - self.data.values) / self.sigma[None, :]).ravel()
        J = (sim.dy * theta[None, None, :] / self.sigma[None, :, None]).reshape(r.size, -1)
        if len(self._cache) >= 8:  # the last few points (least_squares asks for r and J separately)
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (r, J)
        return r, J

    def chi2(self, log_theta) -> float:
        r, _ = self.evaluate(log_theta)
        return float(r @ r)

    def optimize(self, start, free: np.ndarray) -> np.ndarray:
        """Minimize chi2 over the coordinates ``free`` (bool mask), the others fixed at ``start``."""
        x = np.asarray(start, dtype=float).copy()
        if not free.any():
            return x
        lb, ub = self.lb[free], self.ub[free]
        span = ub - lb
        x0 = np.clip(x[free], lb + 1e-9 * np.maximum(span, 1), ub - 1e-9 * np.maximum(span, 1))

        def fun(v):
            x[free] = v
            return self.evaluate(x)[0]

        def jac(v):
            x[free] = v
            return self.evaluate(x)[1][:, free]

        sol = least_squares(fun, x0, jac=jac, bounds=(lb, ub), method="trf", x_scale="jac",
                            ftol=1e-10, xtol=1e-8, gtol=1e-10, max_nfev=200)
        x[free] = sol.x
        return x


@dataclass
class Fit:
    """The least-squares estimate (``log_theta``: ln of the parameters) and its statistics."""

    log_theta: np.ndarray
    chi2: float
    n_data: int
    starts: int
    wald_std_log: np.ndarray  # sqrt(diag((J^T J)^-1)) in ln theta (nan where singular)

    def to_dict(self, names) -> dict:
        dof = self.n_data - len(self.log_theta)
        wald = [float(v) if np.isfinite(v) else None for v in self.wald_std_log]
        return {"estimate": dict(zip(names, np.exp(self.log_theta).tolist(), strict=True)),
                "chi2": self.chi2, "n_data": self.n_data, "degrees_of_freedom": dof,
                "reduced_chi2": self.chi2 / dof if dof > 0 else None,
                "goodness_of_fit_p_value": float(chi2_dist.sf(self.chi2, dof)) if dof > 0 else None,
                "starts": self.starts,
                "wald_std_ln": dict(zip(names, wald, strict=True))}


def fit(problem: LeastSquares, starts: np.ndarray) -> Fit:
    """Best of the local fits from every row of ``starts`` (ln theta)."""
    free = np.ones(problem.model.n_theta, dtype=bool)
    best: np.ndarray | None = None
    best_c = np.inf
    for x0 in np.atleast_2d(starts):
        x = problem.optimize(x0, free)
        c = problem.chi2(x)
        if c < best_c:
            best, best_c = x, c
    assert best is not None
    _, J = problem.evaluate(best)
    fim = J.T @ J  # Fisher information in ln theta; Wald std undefined (nan) where it is singular
    s = np.linalg.svd(fim, compute_uv=False)
    std = np.full(J.shape[1], np.nan)
    if s.size and s[-1] > 1e-12 * s[0]:
        with np.errstate(invalid="ignore"):
            std = np.sqrt(np.diag(np.linalg.inv(fim)))
    return Fit(best, best_c, problem.n_data, len(np.atleast_2d(starts)), std)


@dataclass
class Profile:
    """The profile of one parameter: ``log_values`` (ln theta_j) and ``delta_chi2`` (2 Delta NLL)."""

    name: str
    log_values: list[float] = field(default_factory=list)
    delta_chi2: list[float] = field(default_factory=list)
    lower: float | None = None  # interval ends (linear values), None: not reached within the bounds
    upper: float | None = None
    better_optimum: float | None = None  # a lower chi2 met on the way (the fit was not global)
    #: other parameters at one of their bounds where the profile crosses the threshold: the end
    #: then comes from those bounds (e.g. a structurally non-identifiable family cut by positivity)
    limited_by: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        found = (self.lower is not None) + (self.upper is not None)
        return {2: "finite", 1: "one-sided", 0: "flat"}[found]

    def to_dict(self) -> dict:
        order = np.argsort(self.log_values)
        return {"verdict": self.verdict, "lower": self.lower, "upper": self.upper,
                "better_optimum_chi2": self.better_optimum, "end_limited_by_bounds_of": self.limited_by,
                "values": np.exp(np.asarray(self.log_values)[order]).tolist(),
                "delta_chi2": np.asarray(self.delta_chi2)[order].tolist()}


def threshold(level: float = 0.95) -> float:
    """``chi2_1(level)``: 3.841 at 95 %."""
    return float(chi2_dist.ppf(level, 1))


def _predict(problem: LeastSquares, x: np.ndarray, j: int, free: np.ndarray, s_new: float) -> np.ndarray:
    """Start for ``ln theta_j = s_new``: the other coordinates moved along the first-order path of
    optima, ``dx_free/ds = -(J_f^T J_f)^-1 J_f^T J_j`` (from the sensitivity Jacobian at ``x``).
    """
    st = x.copy()
    st[j] = s_new
    if free.any():
        _, J = problem.evaluate(x)
        slope = np.linalg.lstsq(J[:, free], -J[:, j], rcond=None)[0]
        st[free] = np.clip(x[free] + slope * (s_new - x[j]), problem.lb[free], problem.ub[free])
    return st


def profile(problem: LeastSquares, best: Fit, j: int, level: float = 0.95, step: float = 0.1,
            max_step: float = 1.0, max_points: int = 40, increment: float = 0.5) -> Profile:
    """Profile likelihood of parameter ``j`` (see the module docstring); ``step``: the first step in
    ln theta_j when the Wald standard deviation is unknown, ``max_step``: the largest one,
    ``max_points``: per side, ``increment``: the aimed rise of ``Delta chi2`` per step, as a
    fraction of the threshold (smaller: more points on the curve).

    Steps aim at ``Delta chi2`` increments of ``increment`` times the threshold (a quadratic model through the
    optimum and the last point), then the crossing itself; each new point starts from the
    first-order prediction of the other parameters (:func:`_predict`).
    """
    thr = threshold(level)
    names = problem.model.theta_names
    prof = Profile(names[j])
    free = np.ones(problem.model.n_theta, dtype=bool)
    free[j] = False
    c_min = best.chi2
    s0 = float(best.log_theta[j])
    prof.log_values.append(s0)
    prof.delta_chi2.append(0.0)
    h0 = step  # first step: half the Wald standard deviation when it is known (Delta chi2 ~ 1/4)
    if np.isfinite(best.wald_std_log[j]) and best.wald_std_log[j] > 0:
        h0 = float(np.clip(best.wald_std_log[j] / 2, 1e-3, max_step))
    for direction, bound in ((-1.0, problem.lb[j]), (1.0, problem.ub[j])):
        x, s, c_prev, h = best.log_theta.copy(), s0, 0.0, h0
        for _ in range(max_points):
            if abs(s - bound) < 1e-12:
                break
            s_new = s + direction * h
            s_new = max(s_new, bound) if direction < 0 else min(s_new, bound)
            x_new = problem.optimize(_predict(problem, x, j, free, s_new), free)
            c = problem.chi2(x_new) - c_min
            if c < -1e-6:
                prof.better_optimum = min(prof.better_optimum or np.inf, c + c_min)
            prof.log_values.append(s_new)
            prof.delta_chi2.append(c)
            if c >= thr:
                inner, last = x, {"x": x_new}

                def excess(sv, inner=inner, last=last):  # its evaluations are points of the profile too
                    last["x"] = problem.optimize(_predict(problem, inner, j, free, sv), free)
                    dc = problem.chi2(last["x"]) - c_min
                    prof.log_values.append(float(sv))
                    prof.delta_chi2.append(dc)
                    return dc - thr

                cross = brentq(excess, s, s_new, xtol=1e-4) if c_prev < thr else s
                xe = last["x"]
                at_bound = free & ((xe - problem.lb < 1e-6) | (problem.ub - xe < 1e-6))
                prof.limited_by += [names[k] for k in np.nonzero(at_bound)[0] if names[k] not in prof.limited_by]
                if direction < 0:
                    prof.lower = float(np.exp(cross))
                else:
                    prof.upper = float(np.exp(cross))
                break
            dist = abs(s_new - s0)
            if c > 1e-8 and dist > 0:  # quadratic model c = a (s - s0)^2: next target c + increment thr
                target = min(c + increment * thr, 1.05 * thr)
                h_next = np.sqrt(target / c) * dist - dist
                h = float(np.clip(h_next, h / 4, min(4 * h, max_step)))
            else:
                h = min(2 * h, max_step)
            x, s, c_prev = x_new, s_new, c
    return prof
