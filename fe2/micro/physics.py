"""Micro physics of an RVE: what the field is, its "strain" and "stress".

Two linear problems share one shape, written here once:

* elasticity (small strain; 2D = plane strain): field u (vector), driver
  ε = sym ∇u, flux σ = λ tr(ε) I + 2 μ ε;
* conductivity / diffusion: field φ (scalar), driver g = ∇φ, flux J = k ∇φ
  (sign convention: J is *minus* the physical heat/mass flux, so that the
  effective tensor is positive, ⟨J⟩ = K_eff ⟨∇φ⟩).

Macro drivers and fluxes are stored in Mandel form (see :mod:`fe2.tensors`)
for elasticity and as plain vectors for conductivity. ``driver_basis`` gives
the tensors S_k of an orthonormal basis, so that a Mandel component is
``v_k = S_k : t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import ufl
from dolfinx import fem

from fe2.errors import ConfigError
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.tensors import mandel_basis, n_sym, stiffness_mandel_to_voigt


@dataclass(frozen=True)
class Elasticity:
    """Small-strain linear elasticity (plane strain in 2D)."""

    dim: int
    name: str = "elasticity"

    @property
    def value_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    @property
    def n_driver(self) -> int:
        """Number of independent driver components: 3 (2D) or 6 (3D)."""
        return n_sym(self.dim)

    def driver_basis(self) -> np.ndarray:
        """Orthonormal (Mandel) basis of symmetric tensors, shape (n_driver, d, d)."""
        return mandel_basis(self.dim)

    def strain(self, u):
        return ufl.sym(ufl.grad(u))

    def flux(self, strain, coeffs: Mapping[str, fem.Function]):
        lam, mu = coeffs["lambda"], coeffs["mu"]
        return lam * ufl.tr(strain) * ufl.Identity(self.dim) + 2.0 * mu * strain

    def boundary_strain(self, u, n):
        """Integrand of the boundary average of the driver: sym(u ⊗ n)."""
        return ufl.sym(ufl.outer(u, n))

    def affine(self, driver: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Affine field E·x for E (d, d) at points x (d, n) -> (d, n)."""
        return driver @ x

    def rigid_modes(self, x: np.ndarray) -> list[np.ndarray]:
        """Rigid-body modes at nodes x (n, d): list of arrays (n, d)."""
        n = x.shape[0]
        modes = []
        for i in range(self.dim):
            m = np.zeros((n, self.dim))
            m[:, i] = 1.0
            modes.append(m)
        pairs = [(0, 1)] if self.dim == 2 else [(0, 1), (1, 2), (0, 2)]
        for i, j in pairs:
            m = np.zeros((n, self.dim))
            m[:, i] = -x[:, j]
            m[:, j] = x[:, i]
            modes.append(m)
        return modes

    def to_voigt(self, c_mandel: np.ndarray) -> np.ndarray:
        """Effective stiffness Mandel -> Voigt (engineering shear strain)."""
        return stiffness_mandel_to_voigt(c_mandel)

    @property
    def coefficient_names(self) -> tuple[str, ...]:
        """Names of the (DG0) coefficient fields the flux reads: Lamé λ, μ."""
        return ("lambda", "mu")

    def coefficient_values(self, material) -> dict[str, float]:
        if not isinstance(material, IsotropicElastic):
            raise ConfigError(f"elasticity needs IsotropicElastic phases, got {type(material).__name__}")
        lam, mu = material.lame
        return {"lambda": lam, "mu": mu}


@dataclass(frozen=True)
class Conductivity:
    """Steady scalar conductivity / diffusion."""

    dim: int
    name: str = "conductivity"

    @property
    def value_shape(self) -> tuple[int, ...]:
        return ()

    @property
    def n_driver(self) -> int:
        return self.dim

    def driver_basis(self) -> np.ndarray:
        """Unit vectors, shape (d, d)."""
        return np.eye(self.dim)

    def strain(self, u):
        return ufl.grad(u)

    def flux(self, strain, coeffs: Mapping[str, fem.Function]):
        return coeffs["k"] * strain

    def boundary_strain(self, u, n):
        return u * n

    def affine(self, driver: np.ndarray, x: np.ndarray) -> np.ndarray:
        return driver @ x

    def rigid_modes(self, x: np.ndarray) -> list[np.ndarray]:
        return [np.ones((x.shape[0], 1))]

    def to_voigt(self, c_mandel: np.ndarray) -> np.ndarray:
        return np.array(c_mandel, dtype=float)

    @property
    def coefficient_names(self) -> tuple[str, ...]:
        """Names of the (DG0) coefficient fields the flux reads: conductivity k."""
        return ("k",)

    def coefficient_values(self, material) -> dict[str, float]:
        if not isinstance(material, IsotropicConductor):
            raise ConfigError(f"conductivity needs IsotropicConductor phases, got {type(material).__name__}")
        return {"k": material.conductivity}


Physics = Elasticity | Conductivity


def make_physics(name: str, dim: int) -> Physics:
    """Physics by name: 'elasticity' or 'conductivity'."""
    if name == "elasticity":
        return Elasticity(dim)
    if name == "conductivity":
        return Conductivity(dim)
    raise ConfigError(f"unknown physics {name!r}; expected 'elasticity' or 'conductivity'")
