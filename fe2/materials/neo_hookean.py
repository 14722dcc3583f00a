"""Compressible neo-Hookean hyperelasticity (finite strain), batched with numpy.

Strain energy per unit reference volume, the common "ln J" variant (Bonet &
Wood 2008, *Nonlinear Continuum Mechanics for Finite Element Analysis*, Ch. 6,
compressible neo-Hookean; the same W as the FEniCS hyperelasticity demo)::

    W(F) = μ/2 (I₁ − 3 − 2 ln J) + λ/2 (ln J)²,   I₁ = tr(FᵀF), J = det F,

with the Lamé constants λ, μ of the small-strain limit (so the tangent at
F = I equals the linear elastic tensor). Its derivatives::

    P = ∂W/∂F = μ (F − F⁻ᵀ) + λ ln J F⁻ᵀ
    A_iJkL = ∂P_iJ/∂F_kL = μ δ_ik δ_JL + (μ − λ ln J) F⁻¹_Li F⁻¹_Jk + λ F⁻¹_Ji F⁻¹_Lk

(using ∂F⁻¹_Ji/∂F_kL = −F⁻¹_Jk F⁻¹_Li and ∂ ln J/∂F = F⁻ᵀ). A has the major
symmetry A_iJkL = A_kLiJ.

Plane strain (``dim = 2``): F = [[F11, F12, 0], [F21, F22, 0], [0, 0, 1]], so
I₁ = tr(F₂ᵀF₂) + 1, J = det F₂ and the in-plane block of P and A is the same
formula written with the 2x2 F₂ (the "−3" becomes "−2"); P33 = λ ln J
(:meth:`NeoHookean.stress_3d`).

Flattening (``kind = "finite_strain"``): F and P are ``(n, d*d)`` row-major
(``F.reshape(n, d*d)``, component ``iJ`` at ``d*i + J``); the tangent is
``(n, d*d, d*d)`` with ``A[n, d*i + J, d*k + L]``.

Inadmissible drivers: ``det F <= 0`` (or a non-finite F) cannot be evaluated
(ln J). :meth:`NeoHookean.evaluate` raises
:class:`fe2.materials.contract.InadmissibleDriverError` listing the offending
points, *before* computing anything; the macro solver catches it, reduces the
flag over ranks and cuts the load step. (Raising instead of flagging keeps a
NaN stress from ever reaching an assembled residual.)

Energy (:meth:`NeoHookean.energy_increment`, read by the macro energy audit): no dissipation; the
step's backward work P(F_{n+1}) : ΔF exceeds ΔW by the numerical part
∫₀¹ (P(F_{n+1}) − P(F_n + sΔF)) : ΔF ds ≈ ½ ΔF : A : ΔF, computed by Gauss–Legendre quadrature of
the stress along the straight path — independently of W, so that work − ΔW − numerical (the
audit's constitutive residual) checks that P is the derivative of W along every step. The
numerical part is ≥ 0 when A is positive on ΔF along the step (always for small steps near
F = I); W is polyconvex, not convex, so a large step far from I can make it negative: it is then
the backward rule's error in the work, not a dissipation (the physical dissipation is exactly 0).

Units: E (or λ, μ) in one stress unit; P and A in the same unit; F dimensionless; W and the
energies per unit reference volume in the stress unit.
"""

from __future__ import annotations

import numpy as np

from fe2.errors import MaterialError
from fe2.materials.contract import (
    BatchedState,
    EmptyState,
    InadmissibleDriverError,
    Kind,
    MicroModel,
    check_driver,
)
from fe2.materials.energy import EnergyIncrement, hyperelastic_increment


class NeoHookean(MicroModel[EmptyState]):
    """Compressible neo-Hookean law W = μ/2 (I₁ − 3 − 2 ln J) + λ/2 (ln J)².

    A :class:`fe2.materials.contract.MicroModel` (no history) of
    ``kind = "finite_strain"``: driver F and flux P row-major ``(n, d*d)``,
    tangent ∂P/∂F ``(n, d*d, d*d)``.

    Args:
        young: small-strain Young's modulus E > 0.
        poisson: small-strain Poisson's ratio, -1 < ν < 0.5.
        dim: 2 (plane strain) or 3.
    """

    kind: Kind = "finite_strain"

    def __init__(self, young: float, poisson: float, dim: int = 3) -> None:
        if not (young > 0.0):
            raise MaterialError(f"Young's modulus must be > 0, got E = {young}")
        if not (-1.0 < poisson < 0.5):
            raise MaterialError(f"Poisson's ratio must satisfy -1 < nu < 0.5, got nu = {poisson}")
        if dim not in (2, 3):
            raise MaterialError(f"dimension must be 2 (plane strain) or 3, got {dim}")
        self.young = float(young)
        self.poisson = float(poisson)
        self.dim = dim
        self.lam = self.young * self.poisson / ((1.0 + self.poisson) * (1.0 - 2.0 * self.poisson))
        self.mu = self.young / (2.0 * (1.0 + self.poisson))

    # ------------------------------------------------------------------ helpers
    def _tensors(self, driver: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validated F ``(n, d, d)``, ln J ``(n,)`` and F⁻ᵀ ``(n, d, d)``; raises on J <= 0."""
        d = self.dim
        f = check_driver(self, driver).reshape(-1, d, d)
        finite = np.all(np.isfinite(f.reshape(-1, d * d)), axis=1)
        jac = np.full(f.shape[0], np.nan)
        jac[finite] = np.linalg.det(f[finite])
        bad = np.flatnonzero(~(jac > 0.0))
        if bad.size:
            raise InadmissibleDriverError(
                f"deformation gradient with det F <= 0 (or non-finite) at {bad.size} of "
                f"{f.shape[0]} point(s), "
                f"first: point {bad[0]} with det F = {jac[bad[0]]:.3e}; cut the load step",
                bad,
            )
        finv_t = np.linalg.inv(f).transpose(0, 2, 1)
        return f, np.log(jac), finv_t

    def strain_energy(self, driver: np.ndarray) -> np.ndarray:
        """W(F) per unit reference volume, ``(n,)``; driver F ``(n, d*d)`` row-major."""
        f, lnj, _ = self._tensors(driver)
        i1 = np.einsum("nij,nij->n", f, f) + (1.0 if self.dim == 2 else 0.0)
        return 0.5 * self.mu * (i1 - 3.0 - 2.0 * lnj) + 0.5 * self.lam * lnj**2

    def stress_3d(self, driver: np.ndarray) -> np.ndarray:
        """Full 3D first Piola–Kirchhoff stress ``(n, 9)`` row-major (plane strain adds P33 = λ ln J)."""
        f, lnj, g = self._tensors(driver)
        p = self.mu * (f - g) + self.lam * lnj[:, None, None] * g
        if self.dim == 3:
            return p.reshape(-1, 9)
        p3 = np.zeros((p.shape[0], 3, 3))
        p3[:, :2, :2] = p
        p3[:, 2, 2] = self.lam * lnj
        return p3.reshape(-1, 9)

    # ------------------------------------------------------------------ contract
    def evaluate(self, driver: np.ndarray, state: EmptyState, guess: BatchedState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, EmptyState]:
        """F ``(n, d*d)`` -> P ``(n, d*d)``, A = ∂P/∂F ``(n, d*d, d*d)`` (row-major), empty state.

        Raises:
            InadmissibleDriverError: det F <= 0 or non-finite F at some points
                (``.points`` lists them).
        """
        d = self.dim
        f, lnj, g = self._tensors(driver)
        n = f.shape[0]
        mu, lam = self.mu, self.lam
        p = mu * (f - g) + lam * lnj[:, None, None] * g
        # A_iJkL with G = F^-T (G_iJ = Finv_Ji):
        #   mu d_ik d_JL + (mu - lam lnJ) G_iL G_kJ + lam G_iJ G_kL
        a = (mu - lam * lnj)[:, None, None, None, None] * np.einsum("nil,nkj->nijkl", g, g)
        a += lam * np.einsum("nij,nkl->nijkl", g, g)
        eye = np.eye(d)
        a += mu * np.einsum("ik,jl->ijkl", eye, eye)[None]
        return p.reshape(n, d * d), a.reshape(n, d * d, d * d), EmptyState()

    def _stress_flat(self, driver: np.ndarray) -> np.ndarray:
        f, lnj, g = self._tensors(driver)
        return (self.mu * (f - g) + self.lam * lnj[:, None, None] * g).reshape(f.shape[0], -1)

    def energy_increment(self, driver_n: np.ndarray, driver: np.ndarray, state_n: EmptyState,
                         state: EmptyState) -> EnergyIncrement:
        """Hyperelastic step F_n → F_{n+1} (:func:`fe2.materials.energy.hyperelastic_increment`): work
        P_{n+1} : ΔF, stored W_{n+1} − W_n, no dissipation, numerical part by Gauss–Legendre of P along
        the step (where the straight path leaves det F > 0 — a large rotation within one step — the
        numerical part is work − ΔW, unchecked there).
        """
        d = self.dim

        def admissible(path: np.ndarray) -> np.ndarray:
            return np.linalg.det(path.reshape(-1, d, d)).reshape(path.shape[:2]) > 0.0

        return hyperelastic_increment(lambda f, s, points: self._stress_flat(f), self.strain_energy(driver_n),
                                      self.strain_energy(driver), admissible, driver_n, driver)
