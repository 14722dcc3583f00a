"""The inputs' distributions: the map from the unit hypercube, and the same laws for chaospy.

Every design draws points ``u`` in [0, 1)^d (Sobol' sequence, Morris grid, Latin hypercube,
plain random) and maps each coordinate by its input's inverse CDF, so one seed gives one design
whatever the distribution. Correlations (``[[correlations]]``, mc and split only) are put on the
uniforms before this map, by a Gaussian copula (:mod:`fe2.apps.uq.designs`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from fe2.config.uq import UQInput


def _frozen(inp: UQInput):
    """The scipy.stats law of a continuous input."""
    if inp.distribution == "uniform":
        assert inp.low is not None and inp.high is not None
        return stats.uniform(loc=inp.low, scale=inp.high - inp.low)
    if inp.distribution == "normal":
        return stats.norm(loc=inp.mean, scale=inp.std)
    if inp.distribution == "lognormal":
        assert inp.mu is not None
        return stats.lognorm(s=inp.sigma, scale=float(np.exp(inp.mu)))
    assert inp.low is not None and inp.high is not None and inp.mean is not None and inp.std is not None
    a, b = (inp.low - inp.mean) / inp.std, (inp.high - inp.mean) / inp.std
    return stats.truncnorm(a, b, loc=inp.mean, scale=inp.std)


def from_unit(inputs: list[UQInput], u: np.ndarray) -> np.ndarray:
    """Points ``u`` (n, d) in [0, 1)^d -> input values (n, d) by each input's inverse CDF.

    Integer inputs: ``low + floor(u (high - low + 1))``, the integers low..high equally likely.
    """
    u = np.atleast_2d(np.asarray(u, float))
    x = np.empty_like(u)
    for j, inp in enumerate(inputs):
        if inp.integer:
            assert inp.low is not None and inp.high is not None
            count = inp.high - inp.low + 1
            x[:, j] = inp.low + np.minimum(np.floor(u[:, j] * count), count - 1)
        else:
            x[:, j] = _frozen(inp).ppf(u[:, j])
    return x


def chaospy_joint(inputs: list[UQInput]):
    """The joint chaospy distribution of the (continuous) ``inputs``, independent."""
    import chaospy

    laws = []
    for inp in inputs:
        if inp.distribution == "uniform":
            laws.append(chaospy.Uniform(inp.low, inp.high))
        elif inp.distribution == "normal":
            laws.append(chaospy.Normal(inp.mean, inp.std))
        elif inp.distribution == "lognormal":
            laws.append(chaospy.LogNormal(inp.mu, inp.sigma))
        else:
            laws.append(chaospy.TruncNormal(inp.low, inp.high, inp.mean, inp.std))
    return chaospy.J(*laws)


def input_value(inp: UQInput, x: float) -> float | int:
    """The value a run receives: an ``int`` for integer inputs, else the float."""
    return int(round(x)) if inp.integer else float(x)


__all__ = ["chaospy_joint", "from_unit", "input_value"]
