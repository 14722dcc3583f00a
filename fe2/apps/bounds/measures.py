"""Scalar measures of apparent tensors and the analytic references they are judged against.

Notation: effective tensors are Voigt with engineering shear, order ``11 22 12``
(2D) / ``11 22 33 23 13 12`` (3D); conductivity tensors are plain ``d x d``
matrices with ``<J> = K <grad φ>``. Orderings are checked in the internal
(Mandel) form, where quadratic-form orderings are true.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fe2.analytic import bounds as an
from fe2.analytic.moduli import bulk_shear_2d, bulk_shear_3d
from fe2.tensors import (
    isotropic_stiffness_mandel,
    lame_from_young_poisson,
    stiffness_mandel_to_voigt,
    stiffness_voigt_to_mandel,
)

__all__ = ["MEASURE_DEFINITIONS", "internal_form", "measure_values", "reference_bounds"]


def measure_values(physics: str, dim: int, effective_voigt: np.ndarray) -> dict[str, float]:
    """Scalar measures of one apparent tensor (Voigt notation in, numbers out).

    * elasticity: ``bulk`` = (I:C:I)/d² (2D plane strain: (C11 + C22 + 2 C12)/4 = λ + μ
      for an isotropic C; 3D: the Voigt-average bulk modulus), ``shear`` = the
      orientation-averaged shear modulus ``shear_iso`` (2D: (C66 + (C11 + C22 − 2 C12)/4)/2),
      ``C11`` (see :func:`fe2.analytic.bulk_shear_2d` / ``bulk_shear_3d``);
    * conductivity: ``k`` = tr(K)/d (the mean diagonal), ``K11``.
    """
    C = np.asarray(effective_voigt, dtype=float)
    if physics == "elasticity":
        cm = stiffness_voigt_to_mandel(C)
        bs = bulk_shear_2d(cm) if dim == 2 else bulk_shear_3d(cm)
        return {"bulk": bs.bulk, "shear": bs.shear_iso, "C11": float(C[0, 0])}
    return {"k": float(np.trace(C) / dim), "K11": float(C[0, 0])}


def internal_form(physics: str, C_voigt: np.ndarray) -> np.ndarray:
    """Voigt → the internal (Mandel) form in which quadratic-form orderings are true."""
    return stiffness_voigt_to_mandel(C_voigt) if physics == "elasticity" else np.asarray(C_voigt, float)


MEASURE_DEFINITIONS = {
    "elasticity": {
        "bulk": "(I:C:I)/d^2: 2D plane strain (C11+C22+2C12)/4 (= lambda+mu if isotropic); "
        "3D Voigt-average bulk",
        "shear": "orientation-averaged shear modulus (2D: (C66 + (C11+C22-2C12)/4)/2; "
        "3D: (2 C' + 3 mean(C44..C66))/5)",
        "C11": "Voigt C11",
    },
    "conductivity": {"k": "tr(K)/d, the mean diagonal conductivity", "K11": "K11"},
}


def _phase_moduli(physics: str, dim: int, spec: Mapping) -> dict[str, float]:
    if spec.get("void"):
        return {"kappa": 0.0, "mu": 0.0, "k": 0.0}
    if physics == "elasticity":
        lam, mu = lame_from_young_poisson(spec["young"], spec["poisson"])
        return {"kappa": lam + (mu if dim == 2 else 2.0 * mu / 3.0), "mu": mu, "lam": lam}
    return {"k": float(spec["conductivity"])}


def reference_bounds(
    physics: str, dim: int, materials: Mapping[str, Mapping], fraction: float, measure: str
) -> dict:
    """Hashin–Shtrikman, Voigt and Reuss values of one measure for an isotropic two-phase composite.

    ``fraction`` is the inclusion volume fraction. Voigt/Reuss are the measure
    of ``sum f_i C_i`` and ``(sum f_i C_i^-1)^-1`` (0 with pores). For ``C11``
    the HS values are ``κ + μ`` (2D) / ``κ + 4μ/3`` (3D) of the separate bulk and
    shear bounds: valid, not sharp. Returns ``{"hashin_shtrikman": [lo, hi], "voigt", "reuss"}``.
    """
    pm = _phase_moduli(physics, dim, materials["matrix"])
    pi = _phase_moduli(physics, dim, materials["inclusion"])
    fr = (1.0 - fraction, fraction)
    if physics == "conductivity":
        ks = (pm["k"], pi["k"])
        lo, hi = an.hashin_shtrikman_conductivity(ks, fr, dim)
        voigt = fr[0] * ks[0] + fr[1] * ks[1]
        reuss = 0.0 if min(ks) == 0.0 else 1.0 / (fr[0] / ks[0] + fr[1] / ks[1])
        return {
            "hashin_shtrikman": [lo + 0.0, hi],
            "voigt": voigt,
            "reuss": reuss,
        }  # + 0.0: no "-0.0" in the report
    kap, mus = (pm["kappa"], pi["kappa"]), (pm["mu"], pi["mu"])
    kb = an.hashin_shtrikman_bulk(kap, mus, fr, dim)
    sb = an.hashin_shtrikman_shear(kap, mus, fr, dim)
    tensors = []
    for p in (pm, pi):
        lam = p.get("lam", 0.0)
        tensors.append(isotropic_stiffness_mandel(lam, p["mu"], dim))
    cv = fr[0] * tensors[0] + fr[1] * tensors[1]
    if pi["mu"] == 0.0:
        cr = np.zeros_like(cv)
    else:
        cr = np.linalg.inv(fr[0] * np.linalg.inv(tensors[0]) + fr[1] * np.linalg.inv(tensors[1]))
    mv = measure_values(physics, dim, stiffness_mandel_to_voigt(cv))[measure]
    mr = measure_values(physics, dim, stiffness_mandel_to_voigt(cr))[measure]
    if measure == "bulk":
        hs = [kb[0] + 0.0, kb[1]]
    elif measure == "shear":
        hs = [sb[0] + 0.0, sb[1]]
    else:  # C11 = kappa + c mu for an isotropic tensor
        c = 1.0 if dim == 2 else 4.0 / 3.0
        hs = [kb[0] + c * sb[0], kb[1] + c * sb[1]]
    return {"hashin_shtrikman": hs, "voigt": mv, "reuss": mr}
