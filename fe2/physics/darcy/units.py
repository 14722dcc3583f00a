"""Unit conversions for tissue perfusion, and the Baxter & Jain (1989) parameter set.

Internal system: **SI** — pressure in Pa, length in m, time in s. Every solver in
:mod:`fe2.physics.darcy` works in SI; convert literature data (mmHg, cm) here and
nowhere else.

Symbols (Baxter & Jain 1989 notation):

=================  ==========================  ==========================
quantity           literature unit             SI unit
=================  ==========================  ==========================
p, p_v, π_v, π_i   mmHg                        Pa
K (= k/μ)          cm²/(mmHg·s)                m²/(Pa·s)
L_p                cm/(mmHg·s)                 m/(Pa·s)
S/V                cm⁻¹                        m⁻¹
L_pL·S_L/V         1/(mmHg·s)                  1/(Pa·s)
D                  cm²/s                       m²/s
P (solute perm.)   cm/s                        m/s
=================  ==========================  ==========================

``K`` is the *hydraulic conductivity* of the interstitium: intrinsic permeability
k [m²] divided by the fluid viscosity μ [Pa·s], so Darcy's law reads u = −K ∇p.
"""

from __future__ import annotations

#: 1 mmHg in Pa (101325 Pa / 760 mmHg, exact by definition).
MMHG: float = 101325.0 / 760.0
#: 1 cm in m.
CM: float = 1e-2


def mmhg_to_pa(p_mmhg: float) -> float:
    """Pressure mmHg → Pa."""
    return float(p_mmhg) * MMHG


def pa_to_mmhg(p_pa: float) -> float:
    """Pressure Pa → mmHg."""
    return float(p_pa) / MMHG


def conductivity_cgs_to_si(k_cm2_per_mmhg_s: float) -> float:
    """Interstitial hydraulic conductivity K: cm²/(mmHg·s) → m²/(Pa·s)."""
    return float(k_cm2_per_mmhg_s) * CM**2 / MMHG


def filtration_cgs_to_si(lp_cm_per_mmhg_s: float) -> float:
    """Vascular wall hydraulic conductivity L_p: cm/(mmHg·s) → m/(Pa·s)."""
    return float(lp_cm_per_mmhg_s) * CM / MMHG


def surface_density_cgs_to_si(sv_per_cm: float) -> float:
    """Vascular surface area per tissue volume S/V: cm⁻¹ → m⁻¹."""
    return float(sv_per_cm) / CM


def exchange_cgs_to_si(lpsv_per_mmhg_s: float) -> float:
    """Volumetric exchange coefficient (e.g. lymphatic L_pL·S_L/V): 1/(mmHg·s) → 1/(Pa·s)."""
    return float(lpsv_per_mmhg_s) / MMHG


def diffusivity_cgs_to_si(d_cm2_per_s: float) -> float:
    """Diffusivity cm²/s → m²/s."""
    return float(d_cm2_per_s) * CM**2


def permeability_to_conductivity(k_m2: float, mu_pa_s: float) -> float:
    """Hydraulic conductivity K = k/μ [m²/(Pa·s)] from permeability k [m²] and viscosity μ [Pa·s]."""
    return float(k_m2) / float(mu_pa_s)


#: Baxter & Jain (1989), Microvasc. Res. 37:77–104, Table 1 (tumour and normal tissue),
#: in the paper's units; lymphatics (normal tissue only) from Baxter & Jain (1990),
#: Microvasc. Res. 40:246–263, as tabulated by Soltani & Chen (2011), PLoS ONE 6:e20344.
#: Keys: K [cm²/(mmHg·s)], L_p [cm/(mmHg·s)], S_V [cm⁻¹], p_v, pi_v, pi_i [mmHg],
#: sigma [-], L_pL_SV [1/(mmHg·s)], p_L [mmHg].
BAXTER_JAIN_1989_CGS: dict[str, dict[str, float]] = {
    "tumour": {
        "K": 4.13e-8, "L_p": 2.80e-7, "S_V": 200.0, "p_v": 15.6, "pi_v": 20.0, "pi_i": 15.0,
        "sigma": 0.82, "L_pL_SV": 0.0, "p_L": 0.0,
    },
    "normal": {
        "K": 8.53e-9, "L_p": 0.36e-7, "S_V": 70.0, "p_v": 15.6, "pi_v": 20.0, "pi_i": 10.0,
        "sigma": 0.91, "L_pL_SV": 1.33e-5, "p_L": 0.0,
    },
}
