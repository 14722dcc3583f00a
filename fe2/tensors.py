"""Tensor notations: the one module that converts between them.

Conventions (used in every file fe2 writes):

* **Voigt** (external): engineering shear strain, component order
  ``11 22 12`` in 2D and ``11 22 33 23 13 12`` in 3D. A stiffness in Voigt
  notation maps engineering strains to stresses: ``sigma_V = C_V @ eps_V``.
* **Mandel** (internal): the same order, shears scaled by ``sqrt(2)`` for both
  strain and stress, so tangents are symmetric and Euclidean norms are true
  tensor norms: ``sigma_M = C_M @ eps_M`` and ``a_M . b_M = a : b``.

For scalar (conductivity) problems the "strain" is a gradient vector of
length ``dim`` and no conversion is needed: Voigt == Mandel == vector.
"""

from __future__ import annotations

import numpy as np

SQRT2 = float(np.sqrt(2.0))

#: (i, j) index pairs of the symmetric-tensor components, in fe2's order.
VOIGT_PAIRS: dict[int, tuple[tuple[int, int], ...]] = {
    2: ((0, 0), (1, 1), (0, 1)),
    3: ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)),
}

#: Component labels in fe2's order (1-based, as in the literature).
VOIGT_LABELS: dict[int, tuple[str, ...]] = {
    2: ("11", "22", "12"),
    3: ("11", "22", "33", "23", "13", "12"),
}


def n_sym(dim: int) -> int:
    """Number of independent components of a symmetric dim x dim tensor."""
    if dim not in VOIGT_PAIRS:
        raise ValueError(f"dimension must be 2 or 3, got {dim}")
    return len(VOIGT_PAIRS[dim])


def mandel_scale(dim: int) -> np.ndarray:
    """Factors ``w`` with ``v_M = w * t[pairs]``: 1 on the diagonal, sqrt(2) on shears. Shape (n_sym,)."""
    return np.array([1.0 if i == j else SQRT2 for i, j in VOIGT_PAIRS[dim]])


def sym_to_mandel(t: np.ndarray) -> np.ndarray:
    """Symmetric tensor(s) ``(..., d, d)`` -> Mandel vector(s) ``(..., n_sym)``."""
    t = np.asarray(t, dtype=float)
    dim = t.shape[-1]
    pairs = VOIGT_PAIRS[dim]
    v = np.stack([t[..., i, j] for i, j in pairs], axis=-1)
    return v * mandel_scale(dim)


def mandel_to_sym(v: np.ndarray) -> np.ndarray:
    """Mandel vector(s) ``(..., n_sym)`` -> symmetric tensor(s) ``(..., d, d)``."""
    v = np.asarray(v, dtype=float)
    dim = {3: 2, 6: 3}[v.shape[-1]]
    comp = v / mandel_scale(dim)
    t = np.zeros((*v.shape[:-1], dim, dim))
    for k, (i, j) in enumerate(VOIGT_PAIRS[dim]):
        t[..., i, j] = comp[..., k]
        t[..., j, i] = comp[..., k]
    return t


def mandel_basis(dim: int) -> np.ndarray:
    """The orthonormal basis of symmetric tensors, ``(n_sym, d, d)``; ``basis[k]`` is Mandel unit vector k."""
    return mandel_to_sym(np.eye(n_sym(dim)))


def stiffness_mandel_to_voigt(c_m: np.ndarray) -> np.ndarray:
    """Stiffness (n_sym x n_sym) Mandel -> Voigt with engineering shear strain."""
    c_m = np.asarray(c_m, dtype=float)
    a = 1.0 / mandel_scale({3: 2, 6: 3}[c_m.shape[-1]])
    return a[:, None] * c_m * a[None, :]


def stiffness_voigt_to_mandel(c_v: np.ndarray) -> np.ndarray:
    """Stiffness (n_sym x n_sym) Voigt (engineering shear) -> Mandel."""
    c_v = np.asarray(c_v, dtype=float)
    w = mandel_scale({3: 2, 6: 3}[c_v.shape[-1]])
    return w[:, None] * c_v * w[None, :]


def strain_voigt_to_mandel(e_v: np.ndarray) -> np.ndarray:
    """Strain Voigt (engineering shear) -> Mandel, ``(..., n_sym)``."""
    e_v = np.asarray(e_v, dtype=float)
    w = mandel_scale({3: 2, 6: 3}[e_v.shape[-1]])
    return e_v / w


def stress_voigt_to_mandel(s_v: np.ndarray) -> np.ndarray:
    """Stress Voigt -> Mandel, ``(..., n_sym)``."""
    s_v = np.asarray(s_v, dtype=float)
    return s_v * mandel_scale({3: 2, 6: 3}[s_v.shape[-1]])


def isotropic_stiffness_mandel(lam: float, mu: float, dim: int) -> np.ndarray:
    """Isotropic stiffness ``lam I(x)I + 2 mu I_sym`` in Mandel form, (n_sym, n_sym).

    In 2D this is the plane-strain stiffness of the in-plane components.
    """
    n = n_sym(dim)
    c = 2.0 * mu * np.eye(n)
    c[:dim, :dim] += lam
    return c


def lame_from_young_poisson[T: (float, np.ndarray)](young: T, poisson: T) -> tuple[T, T]:
    """(lambda, mu) from Young's modulus E and Poisson's ratio nu (3D / plane strain); numbers or arrays."""
    lam = young * poisson / ((1.0 + poisson) * (1.0 - 2.0 * poisson))
    mu = young / (2.0 * (1.0 + poisson))
    return lam, mu


def psd_min_eigenvalue(a: np.ndarray) -> float:
    """Smallest eigenvalue of the symmetric part of ``a``, scaled by its largest |eigenvalue|.

    Used to test quadratic-form orderings ``A - B >= 0``; returns a number
    >= -tol when the difference is positive semi-definite.
    """
    s = 0.5 * (np.asarray(a) + np.asarray(a).T)
    ev = np.linalg.eigvalsh(s)
    scale = max(np.max(np.abs(ev)), 1e-300)
    return float(ev[0] / scale)
