"""Small-strain J2 (von Mises) plasticity, batched over points with numpy.

Model (associative, rate-independent; Simo & Hughes 1998, *Computational
Inelasticity*, Sect. 2.3.3 and 3.3; de Souza Neto, Perić & Owen 2008,
*Computational Methods for Plasticity*, Ch. 7):

* additive split ε = εᵉ + εᵖ, isotropic elasticity σ = λ tr(εᵉ) I + 2μ εᵉ;
* yield function f = ‖s − β‖ − √(2/3) K(α), with s = dev σ, β the (deviatoric)
  back stress and α the equivalent plastic strain, α̇ = √(2/3) ‖ε̇ᵖ‖;
* isotropic hardening K(α) = σ_y0 + H_iso α + Q (1 − exp(−b α))
  (linear, plus an optional Voce saturation term; Q = 0 gives linear);
* linear kinematic (Prager) hardening β̇ = (2/3) H_kin ε̇ᵖ;
* flow ε̇ᵖ = γ̇ n, n = (s − β)/‖s − β‖.

In uniaxial stress K and H_kin are the slopes of yield stress and back stress
vs. plastic strain: σ = σ_y0 + (H_iso + H_kin) εᵖ under monotonic loading with
Q = 0, i.e. tangent modulus E_t = E H / (E + H), H = H_iso + H_kin.

Integration: backward Euler, elastic predictor / radial return (Simo & Hughes,
Box 3.1). With ξ_tr = 2μ (dev ε − εᵖ_n) − β_n and f_tr = ‖ξ_tr‖ − √(2/3) K(α_n),
a point is plastic when f_tr > 0 and Δγ solves the scalar consistency equation

    g(Δγ) = f_tr − 2μ Δγ − (2/3) H_kin Δγ − √(2/3) [K(α_n + √(2/3) Δγ) − K(α_n)] = 0

(closed form Δγ = f_tr / (2μ + (2/3)(H_iso + H_kin)) for Q = 0; for Voce, a
vectorized Newton iteration that converges monotonically because g is convex
and decreasing for Q ≥ 0). Then n = ξ_tr/‖ξ_tr‖, εᵖ += Δγ n, α += √(2/3) Δγ,
β += (2/3) H_kin Δγ n, σ = σ_tr − 2μ Δγ n.

Consistent (algorithmic) tangent (Simo & Hughes, Box 3.2):

    C_alg = κ 1⊗1 + 2μ θ P_dev − 2μ θ̄ n⊗n,
    θ = 1 − 2μ Δγ / ‖ξ_tr‖,   θ̄ = 1 / (1 + (K'(α_{n+1}) + H_kin) / (3μ)) − (1 − θ),

with κ the bulk modulus and P_dev = I − (1/3) 1⊗1 the deviatoric projector
(the elastic C at elastic points: θ = 1, θ̄ = 0).

Notation: **Mandel** vectors (shear × √2), order ``11 22 33 23 13 12``; with
this orthonormal basis P_dev, n⊗n and C_alg are plain symmetric matrices and
‖·‖ is the Euclidean norm. Output to files uses Voigt (see :mod:`fe2.tensors`).

Plane strain (``dim = 2``): the state is always 3D (εᵖ has an out-of-plane
component, σ33 ≠ 0); the macro sees the driver ``(ε11, ε22, √2 ε12)`` (ε33 =
ε23 = ε13 = 0), the flux ``(σ11, σ22, √2 σ12)`` and the matching 3x3 block of
the 6x6 tangent (exact, since the suppressed strains are held at zero).
:meth:`J2Plasticity.stress_3d` gives the full stress including σ33.

Units: E, σ_y0, H_iso, H_kin, Q in one stress unit (e.g. MPa); b, ν, strains
dimensionless.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from fe2.errors import MaterialError
from fe2.materials.contract import BatchedState, InadmissibleDriverError, Kind, MicroModel, check_driver
from fe2.materials.energy import EnergyIncrement, quadratic_form

SQRT23 = float(np.sqrt(2.0 / 3.0))

#: Mandel components of the 3D state that a plane-strain (2D) driver maps to.
PLANE_STRAIN_INDEX = np.array([0, 1, 5])
#: Mandel "1" (the identity tensor) in 3D.
_ONE = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
#: Deviatoric projector P_dev = I - (1/3) 1⊗1 in Mandel form (6, 6).
_PDEV = np.eye(6) - np.outer(_ONE, _ONE) / 3.0


@dataclasses.dataclass
class J2State(BatchedState):
    """History of J2 plasticity at ``n`` points (always 3D, Mandel).

    Attributes:
        plastic_strain: εᵖ, ``(n, 6)`` Mandel (shear × √2), traceless.
        eq_plastic_strain: α = ∫ √(2/3) ‖ε̇ᵖ‖ dt, ``(n,)``.
        back_stress: β, ``(n, 6)`` Mandel, deviatoric, stress units.
    """

    plastic_strain: np.ndarray
    eq_plastic_strain: np.ndarray
    back_stress: np.ndarray


class J2Plasticity(MicroModel[J2State]):
    """J2 plasticity with isotropic (linear + Voce) and linear kinematic hardening.

    A :class:`fe2.materials.contract.MicroModel` (with history) of
    ``kind = "small_strain"``: driver ε and flux σ as Mandel vectors
    ``(n, 3)`` in 2D (plane strain, ``11 22 12``) or ``(n, 6)`` in 3D
    (``11 22 33 23 13 12``), tangent ``(n, m, m)`` the consistent tangent.

    Args:
        young: Young's modulus E > 0.
        poisson: Poisson's ratio, -1 < ν < 0.5.
        sigma_y0: initial (uniaxial) yield stress > 0.
        h_iso: linear isotropic hardening modulus H_iso ≥ 0.
        h_kin: linear kinematic (Prager) hardening modulus H_kin ≥ 0.
        voce_q: Voce saturation stress Q ≥ 0 (0: no Voce term).
        voce_b: Voce rate b > 0 (required when Q > 0).
        dim: 2 (plane strain) or 3.
    """

    kind: Kind = "small_strain"
    has_history = True

    #: f_tr > YIELD_RTOL * (yield radius) is plastic: a point exactly on the
    #: yield surface re-evaluated at the same strain stays elastic instead of
    #: taking a round-off-sized plastic step.
    YIELD_RTOL = 1e-12
    #: Voce local Newton: |g| <= NEWTON_RTOL * (yield radius), at most NEWTON_MAXIT iterations.
    NEWTON_RTOL = 1e-13
    NEWTON_MAXIT = 50

    def __init__(
        self,
        young: float,
        poisson: float,
        sigma_y0: float,
        h_iso: float = 0.0,
        h_kin: float = 0.0,
        voce_q: float = 0.0,
        voce_b: float = 0.0,
        dim: int = 3,
    ) -> None:
        if not (young > 0.0):
            raise MaterialError(f"Young's modulus must be > 0, got E = {young}")
        if not (-1.0 < poisson < 0.5):
            raise MaterialError(f"Poisson's ratio must satisfy -1 < nu < 0.5, got nu = {poisson}")
        if not (sigma_y0 > 0.0):
            raise MaterialError(f"initial yield stress must be > 0, got sigma_y0 = {sigma_y0}")
        if not (h_iso >= 0.0):
            raise MaterialError(f"isotropic hardening modulus must be >= 0, got H_iso = {h_iso}")
        if not (h_kin >= 0.0):
            raise MaterialError(f"kinematic hardening modulus must be >= 0, got H_kin = {h_kin}")
        if not (voce_q >= 0.0):
            raise MaterialError(f"Voce saturation stress must be >= 0, got Q = {voce_q}")
        if voce_q > 0.0 and not (voce_b > 0.0):
            raise MaterialError(f"Voce rate must be > 0 when Q > 0, got b = {voce_b}")
        if dim not in (2, 3):
            raise MaterialError(f"dimension must be 2 (plane strain) or 3, got {dim}")
        self.young = float(young)
        self.poisson = float(poisson)
        self.sigma_y0 = float(sigma_y0)
        self.h_iso = float(h_iso)
        self.h_kin = float(h_kin)
        self.voce_q = float(voce_q)
        self.voce_b = float(voce_b)
        self.dim = dim
        self.lam = self.young * self.poisson / ((1.0 + self.poisson) * (1.0 - 2.0 * self.poisson))
        self.mu = self.young / (2.0 * (1.0 + self.poisson))
        self.kappa = self.lam + 2.0 * self.mu / 3.0
        #: elastic stiffness, Mandel (6, 6)
        self.c_elastic_3d = self.lam * np.outer(_ONE, _ONE) + 2.0 * self.mu * np.eye(6)
        self._idx = PLANE_STRAIN_INDEX if dim == 2 else np.arange(6)

    # ------------------------------------------------------------------ hardening
    def yield_stress(self, alpha: np.ndarray) -> np.ndarray:
        """Uniaxial yield stress K(α) = σ_y0 + H_iso α + Q (1 − e^{−bα}), shape of ``alpha``."""
        k = self.sigma_y0 + self.h_iso * alpha
        if self.voce_q > 0.0:
            k = k + self.voce_q * (1.0 - np.exp(-self.voce_b * alpha))
        return k

    def _dyield(self, alpha: np.ndarray) -> np.ndarray:
        """K'(α)."""
        if self.voce_q > 0.0:
            return self.h_iso + self.voce_q * self.voce_b * np.exp(-self.voce_b * alpha)
        return np.full_like(alpha, self.h_iso)

    @property
    def elastic_tangent(self) -> np.ndarray:
        """The elastic stiffness seen by the macro, Mandel ``(m, m)`` (plane-strain block in 2D)."""
        return self.c_elastic_3d[np.ix_(self._idx, self._idx)].copy()

    # ------------------------------------------------------------------ contract
    def initial_state(self, n_points: int, point_data: Mapping[str, np.ndarray] | None = None) -> J2State:
        """Virgin material: zero plastic strain, equivalent plastic strain and back stress.

        J2 declares no point data: given some, :meth:`MicroModel.initial_state` raises.
        """
        if point_data:
            super().initial_state(n_points, point_data)
        return J2State(
            plastic_strain=np.zeros((n_points, 6)),
            eq_plastic_strain=np.zeros(n_points),
            back_stress=np.zeros((n_points, 6)),
        )

    def strain_3d(self, driver: np.ndarray) -> np.ndarray:
        """Driver ``(n, m)`` -> 3D Mandel strain ``(n, 6)`` (plane strain: ε33 = ε23 = ε13 = 0)."""
        eps = check_driver(self, driver)
        if self.dim == 3:
            return eps.copy()
        e3 = np.zeros((eps.shape[0], 6))
        e3[:, self._idx] = eps
        return e3

    def point_fields(self, state: J2State) -> dict[str, np.ndarray]:
        """Scalar history fields per point for output: the equivalent plastic strain, (n,)."""
        return {"eq_plastic_strain": np.asarray(state.eq_plastic_strain)}

    def stress_3d(self, driver: np.ndarray, state: J2State) -> np.ndarray:
        """Full 3D Mandel stress ``(n, 6)`` = C (ε − εᵖ) for a driver and the state it produced.

        Pass the *trial* state returned by :meth:`evaluate` for the same driver
        (or the committed state after commit). In plane strain this gives σ33.
        """
        ee = self.strain_3d(driver) - state.plastic_strain
        return self.lam * ee[:, :3].sum(axis=1)[:, None] * _ONE + 2.0 * self.mu * ee

    def evaluate(self, driver: np.ndarray, state: J2State, guess: BatchedState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, J2State]:
        """Radial return from the committed ``state`` to the total strain ``driver``.

        Args:
            driver: total strain ε_{n+1}, Mandel ``(n, m)``.
            state: committed state at t_n (not modified).
            guess: ignored (the return mapping is direct).

        Returns:
            σ ``(n, m)`` Mandel, consistent tangent ``(n, m, m)`` Mandel, trial state.

        Raises:
            InadmissibleDriverError: the Voce local Newton did not converge
                (not expected for Q ≥ 0; the macro step should be cut).
        """
        check_driver(self, driver, state)
        eps = self.strain_3d(driver)
        n_pts = eps.shape[0]
        mu = self.mu

        ep = np.array(state.plastic_strain, dtype=float, copy=True)
        alpha = np.array(state.eq_plastic_strain, dtype=float, copy=True)
        beta = np.array(state.back_stress, dtype=float, copy=True)

        # elastic predictor
        ee = eps - ep
        tr = ee[:, :3].sum(axis=1)
        sigma = self.lam * tr[:, None] * _ONE + 2.0 * mu * ee
        xi = 2.0 * mu * (ee - (tr / 3.0)[:, None] * _ONE) - beta  # s_tr - beta_n
        q = np.sqrt(np.einsum("ij,ij->i", xi, xi))
        radius = SQRT23 * self.yield_stress(alpha)
        f_tr = q - radius
        plastic = np.flatnonzero(f_tr > self.YIELD_RTOL * radius)

        tangent = np.broadcast_to(self.elastic_tangent, (n_pts, self.driver_size, self.driver_size)).copy()

        if plastic.size:
            fp, qp, ap = f_tr[plastic], q[plastic], alpha[plastic]
            dgamma = self._solve_consistency(fp, ap, radius[plastic], plastic)
            nrm = xi[plastic] / qp[:, None]
            ap_new = ap + SQRT23 * dgamma
            ep[plastic] += dgamma[:, None] * nrm
            alpha[plastic] = ap_new
            beta[plastic] += (2.0 / 3.0) * self.h_kin * dgamma[:, None] * nrm
            sigma[plastic] -= 2.0 * mu * dgamma[:, None] * nrm

            theta = 1.0 - 2.0 * mu * dgamma / qp
            theta_bar = 1.0 / (1.0 + (self._dyield(ap_new) + self.h_kin) / (3.0 * mu)) - (1.0 - theta)
            idx = self._idx
            nb = nrm[:, idx]
            pdev = _PDEV[np.ix_(idx, idx)]
            tangent[plastic] -= 2.0 * mu * (1.0 - theta)[:, None, None] * pdev
            tangent[plastic] -= 2.0 * mu * theta_bar[:, None, None] * (nb[:, :, None] * nb[:, None, :])

        trial = J2State(plastic_strain=ep, eq_plastic_strain=alpha, back_stress=beta)
        return sigma[:, self._idx], tangent, trial

    # ------------------------------------------------------------------ energy
    def hardening_energy(self, alpha: np.ndarray) -> np.ndarray:
        """ψ_iso(α) = ½ H_iso α² + Q (α + (e^{−bα} − 1)/b), so that ψ_iso'(α) = K(α) − σ_y0."""
        psi = 0.5 * self.h_iso * alpha**2
        if self.voce_q > 0.0:
            psi = psi + self.voce_q * (alpha + np.expm1(-self.voce_b * alpha) / self.voce_b)
        return psi

    def free_energy(self, driver: np.ndarray, state: J2State) -> np.ndarray:
        """ψ = ½ εᵉ·C·εᵉ + ψ_iso(α) + (3 / (4 H_kin)) ‖β‖² per point (the last term 0 without kinematic hardening)."""
        ee = self.strain_3d(driver) - state.plastic_strain
        psi = 0.5 * quadratic_form(ee, self.c_elastic_3d) + self.hardening_energy(state.eq_plastic_strain)
        if self.h_kin > 0.0:
            psi = psi + 0.75 / self.h_kin * np.einsum("pi,pi->p", state.back_stress, state.back_stress)
        return psi

    def energy_increment(self, driver_n: np.ndarray, driver: np.ndarray, state_n: J2State,
                         state: J2State) -> EnergyIncrement:
        """Work, stored energy and dissipation of the radial return from ``state_n``, by its discrete identity.

            σ_{n+1}·Δε = Δψ + σ_y0 Δα + [½ Δεᵉ·C·Δεᵉ + (3/(4H_kin)) ‖Δβ‖² + Δα ψ_iso'(α_{n+1}) − Δψ_iso]

        (σ_{n+1} = C εᵉ_{n+1}; s − β = √(2/3) K(α_{n+1}) n on the yield surface; β = (2/3) H_kin εᵖ). The
        physical dissipation σ_y0 Δα and the bracket (the numerical dissipation; ψ_iso convex) are ≥ 0.
        """
        e0, e1 = self.strain_3d(driver_n), self.strain_3d(driver)
        sigma = self.stress_3d(driver, state)
        d_alpha = state.eq_plastic_strain - state_n.eq_plastic_strain
        d_ee = (e1 - state.plastic_strain) - (e0 - state_n.plastic_strain)
        d_iso = self.hardening_energy(state.eq_plastic_strain) - self.hardening_energy(state_n.eq_plastic_strain)
        numerical = (0.5 * quadratic_form(d_ee, self.c_elastic_3d)
                     + d_alpha * (self.yield_stress(state.eq_plastic_strain) - self.sigma_y0) - d_iso)
        if self.h_kin > 0.0:
            d_beta = state.back_stress - state_n.back_stress
            numerical = numerical + 0.75 / self.h_kin * np.einsum("pi,pi->p", d_beta, d_beta)
        return EnergyIncrement.of_points(np.einsum("pi,pi->p", sigma, e1 - e0),
                                         self.free_energy(driver, state) - self.free_energy(driver_n, state_n),
                                         self.sigma_y0 * d_alpha, numerical)

    # ------------------------------------------------------------------ internals
    def _solve_consistency(
        self, f_tr: np.ndarray, alpha_n: np.ndarray, radius: np.ndarray, points: np.ndarray
    ) -> np.ndarray:
        """Δγ ≥ 0 with g(Δγ) = 0 at the plastic points (closed form for Q = 0)."""
        mu, hk = self.mu, self.h_kin
        if self.voce_q == 0.0:
            return f_tr / (2.0 * mu + (2.0 / 3.0) * (self.h_iso + hk))
        k_n = self.yield_stress(alpha_n)
        dg = np.zeros_like(f_tr)
        tol = self.NEWTON_RTOL * radius
        for _ in range(self.NEWTON_MAXIT):
            a = alpha_n + SQRT23 * dg
            g = f_tr - (2.0 * mu + (2.0 / 3.0) * hk) * dg - SQRT23 * (self.yield_stress(a) - k_n)
            if np.all(np.abs(g) <= tol):
                return dg
            dgp = -(2.0 * mu + (2.0 / 3.0) * (hk + self._dyield(a)))
            dg = dg - g / dgp
        bad = points[np.abs(g) > tol]
        raise InadmissibleDriverError(
            f"J2 return mapping (Voce) did not converge in {self.NEWTON_MAXIT} iterations "
            f"at {bad.size} point(s)",
            bad,
        )


def von_mises_stress(sigma_mandel: np.ndarray) -> np.ndarray:
    """Von Mises equivalent stress √(3/2) ‖dev σ‖ of 3D Mandel stresses ``(n, 6)`` -> ``(n,)``."""
    s = np.asarray(sigma_mandel, dtype=float)
    dev = s - (s[..., :3].sum(axis=-1) / 3.0)[..., None] * _ONE
    return np.sqrt(1.5) * np.linalg.norm(dev, axis=-1)


__all__ = ["PLANE_STRAIN_INDEX", "J2Plasticity", "J2State", "von_mises_stress"]
