"""Test functions of uncertainty quantification with known answers, as ``fe2 uq`` Python bases.

Each takes the dict of inputs a study passes (``{key: value}``) and returns a dict of QoIs:

* :func:`ishigami`: f = sin x1 + a sin² x2 + b x3⁴ sin x1, x_i ~ U(-π, π) (Ishigami & Homma
  1990); exact variance and Sobol' indices in :func:`ishigami_indices` (Sobol' & Levitan 1999);
* :func:`polynomial`: a fixed polynomial of total degree 3 in three inputs, exactly representable
  by a polynomial chaos of degree ≥ 3;
* :func:`hierarchical_gaussian`: Y = θ + ε, whose variance split is Var θ + Var ε exactly.
"""

from __future__ import annotations

import math


def ishigami(inputs: dict, a: float = 7.0, b: float = 0.1) -> dict:
    """The Ishigami function of ``inputs["x1"], ["x2"], ["x3"]``, QoI ``y``."""
    x1, x2, x3 = inputs["x1"], inputs["x2"], inputs["x3"]
    return {"y": math.sin(x1) + a * math.sin(x2) ** 2 + b * x3 ** 4 * math.sin(x1)}


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict:
    """Exact variance, first-order and total Sobol' indices of :func:`ishigami` (x_i ~ U(-π, π)).

    V1 = (1 + b π⁴/5)²/2, V2 = a²/8, V3 = 0, V13 = b² π⁸ (1/18 - 1/50) = 8 b² π⁸/225,
    V = V1 + V2 + V13.
    """
    pi = math.pi
    v1 = 0.5 * (1.0 + b * pi ** 4 / 5.0) ** 2
    v2 = a ** 2 / 8.0
    v13 = 8.0 * b ** 2 * pi ** 8 / 225.0
    v = v1 + v2 + v13
    return {"variance": v, "mean": a / 2.0,
            "S1": [v1 / v, v2 / v, 0.0], "ST": [(v1 + v13) / v, v2 / v, v13 / v]}


def polynomial(inputs: dict) -> dict:
    """y = 1 + 2 x1 + x2² - 3 x1 x3 + 0.5 x1 x2 x3 (total degree 3), QoI ``y``."""
    x1, x2, x3 = inputs["x1"], inputs["x2"], inputs["x3"]
    return {"y": 1.0 + 2.0 * x1 + x2 ** 2 - 3.0 * x1 * x3 + 0.5 * x1 * x2 * x3}


def hierarchical_gaussian(inputs: dict) -> dict:
    """Y = θ + ε (``inputs["theta"]``, ``inputs["eps"]``), QoI ``y``."""
    return {"y": inputs["theta"] + inputs["eps"]}


__all__ = ["hierarchical_gaussian", "ishigami", "ishigami_indices", "polynomial"]
