"""Tissue properties of one region (SI units, see :mod:`fe2.physics.darcy.units`).

The interstitial fluid obeys Darcy's law u = −K ∇p and exchanges fluid with the
microvessels (Starling) and the lymphatics:

    ∇·u = s(p) = L_p S/V (p_v − p − σ (π_v − π_i)) − L_pL S_L/V (p − p_L)
             = A − C p,   C = L_p S/V + L_pL S_L/V,   A = L_p S/V p_e + L_pL S_L/V p_L,

with the effective vascular pressure p_e = p_v − σ (π_v − π_i).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from fe2.errors import MaterialError
from fe2.physics.darcy import units


@dataclass(frozen=True)
class TissueProperties:
    """Perfusion parameters of one tissue region, SI.

    Attributes:
        K: hydraulic conductivity k/μ [m²/(Pa·s)]: a positive scalar (isotropic) or a
            symmetric positive-definite (gdim, gdim) tensor given as a nested tuple.
        L_p: vascular wall hydraulic conductivity [m/(Pa·s)] (≥ 0).
        S_V: vascular surface area per tissue volume [1/m] (≥ 0).
        p_v: vascular (capillary) pressure [Pa].
        pi_v, pi_i: plasma and interstitial oncotic pressures [Pa].
        sigma: osmotic reflection coefficient of the vessel wall, in [0, 1].
        L_pL_SV: lymphatic filtration coefficient L_pL S_L/V [1/(Pa·s)] (≥ 0; 0 = alymphatic).
        p_L: lymphatic pressure [Pa].
        storage: specific storage S [1/Pa] of the transient balance S ∂p/∂t + ∇·u = s(p)
            (tissue compliance per unit volume; 0: the steady problem, or an incompressible tissue).
    """

    K: float | tuple = 1.0
    L_p: float = 0.0
    S_V: float = 0.0
    p_v: float = 0.0
    pi_v: float = 0.0
    pi_i: float = 0.0
    sigma: float = 0.0
    L_pL_SV: float = 0.0
    p_L: float = 0.0
    storage: float = 0.0

    def __post_init__(self) -> None:
        K = np.asarray(self.K, dtype=float)
        if K.ndim == 0:
            if not (np.isfinite(K) and K > 0):
                raise MaterialError(f"hydraulic conductivity K must be positive and finite, got {self.K}")
        else:
            if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] not in (2, 3):
                raise MaterialError(f"conductivity tensor K must be (2, 2) or (3, 3), got shape {K.shape}")
            # symmetric to round-off relative to |K| (a homogenized K has solver round-off), then symmetrized
            if np.linalg.norm(K - K.T) > 1e-10 * np.linalg.norm(K) or np.linalg.eigvalsh(K).min() <= 0:
                raise MaterialError(f"conductivity tensor K must be SPD: {K.tolist()}")
            object.__setattr__(self, "K", tuple(map(tuple, (0.5 * (K + K.T)).tolist())))
        for name in ("L_p", "S_V", "L_pL_SV", "storage"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise MaterialError(f"{name} must be non-negative and finite, got {v}")
        if not (0.0 <= self.sigma <= 1.0):
            raise MaterialError(f"reflection coefficient sigma must lie in [0, 1], got {self.sigma}")
        for name in ("p_v", "pi_v", "pi_i", "p_L"):
            if not np.isfinite(getattr(self, name)):
                raise MaterialError(f"{name} must be finite, got {getattr(self, name)}")

    # ------------------------------------------------------------------ derived
    @property
    def p_e(self) -> float:
        """Effective vascular pressure p_v − σ(π_v − π_i) [Pa]."""
        return self.p_v - self.sigma * (self.pi_v - self.pi_i)

    @property
    def vascular_exchange(self) -> float:
        """L_p S/V [1/(Pa·s)]."""
        return self.L_p * self.S_V

    @property
    def exchange(self) -> float:
        """C = L_p S/V + L_pL S_L/V [1/(Pa·s)]: the source is s(p) = A − C p."""
        return self.vascular_exchange + self.L_pL_SV

    @property
    def source_constant(self) -> float:
        """A = L_p S/V p_e + L_pL S_L/V p_L [1/s]."""
        return self.vascular_exchange * self.p_e + self.L_pL_SV * self.p_L

    def K_tensor(self, gdim: int) -> np.ndarray:
        """K as a (gdim, gdim) array."""
        K = np.asarray(self.K, dtype=float)
        if K.ndim == 0:
            return float(K) * np.eye(gdim)
        if K.shape != (gdim, gdim):
            raise MaterialError(f"conductivity tensor of shape {K.shape} given for a {gdim}D mesh")
        return K

    def K_scalar(self) -> float:
        """K when isotropic (MaterialError for a tensor)."""
        K = np.asarray(self.K, dtype=float)
        if K.ndim != 0:
            raise MaterialError("this tissue has an anisotropic K; no scalar conductivity")
        return float(K)

    def alpha(self, radius: float) -> float:
        """Baxter–Jain α = R sqrt(L_p S/V / K) of a uniform tumour of ``radius`` [m] (isotropic K)."""
        return float(radius) * float(np.sqrt(self.vascular_exchange / self.K_scalar()))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["K"] = np.asarray(self.K, dtype=float).tolist()
        d.update(p_e=self.p_e, exchange=self.exchange, source_constant=self.source_constant)
        return d

    # ------------------------------------------------------------------ factories
    @classmethod
    def from_cgs(cls, K: float | ArrayLike, L_p: float = 0.0, S_V: float = 0.0, p_v: float = 0.0,
                 pi_v: float = 0.0, pi_i: float = 0.0, sigma: float = 0.0, L_pL_SV: float = 0.0,
                 p_L: float = 0.0) -> TissueProperties:
        """From the literature units of :mod:`~fe2.physics.darcy.units` (cm, mmHg, s)."""
        Ka = np.asarray(K, dtype=float)
        K_si = units.conductivity_cgs_to_si(1.0) * Ka
        return cls(
            K=float(K_si) if K_si.ndim == 0 else tuple(map(tuple, K_si.tolist())),
            L_p=units.filtration_cgs_to_si(L_p), S_V=units.surface_density_cgs_to_si(S_V),
            p_v=units.mmhg_to_pa(p_v), pi_v=units.mmhg_to_pa(pi_v), pi_i=units.mmhg_to_pa(pi_i),
            sigma=sigma, L_pL_SV=units.exchange_cgs_to_si(L_pL_SV), p_L=units.mmhg_to_pa(p_L),
        )

    @classmethod
    def baxter_jain(cls, tissue: Literal["tumour", "normal"] = "tumour", lymphatics: bool | None = None
                    ) -> TissueProperties:
        """Baxter & Jain (1989) tumour or normal tissue, SI (see ``units.BAXTER_JAIN_1989_CGS``).

        ``lymphatics`` = False drops the lymphatic term (the default keeps the table: none in
        the tumour, L_pL S_L/V = 1.33e-5 /(mmHg s) in normal tissue).
        """
        if tissue not in units.BAXTER_JAIN_1989_CGS:
            raise MaterialError(f"unknown Baxter-Jain tissue {tissue!r}; expected 'tumour' or 'normal'")
        p = dict(units.BAXTER_JAIN_1989_CGS[tissue])
        if lymphatics is False:
            p["L_pL_SV"] = 0.0
        return cls.from_cgs(**p)
