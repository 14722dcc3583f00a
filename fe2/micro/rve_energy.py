"""The energy increments of a nonlinear RVE's step: volume averages of its phase laws' increments.

For macro point i the micro strain of the committed state is ``E_n + ε(w_n)`` and that of the
trial state ``E_{n+1} + ε(w_{n+1})`` (the stored fluctuations; F̄ + ∇w at finite strain). Each
phase law gives its increments at its micro points (:meth:`~fe2.materials.contract.MicroModel.energy_increment`);
the RVE's are their volume averages (pores count zero), with the minima over the micro points.
The RVE's ``work`` is the micro one, ⟨σ_{n+1} : Δε⟩: by Hill–Mandel in increments it equals the
macro σ̄_{n+1} : ΔE to the micro Newton tolerance, which the macro energy audit checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fe2.materials.energy import EnergyIncrement

if TYPE_CHECKING:
    from fe2.micro.nonlinear_rve import NonlinearRVEMaterial, RVEState


def rve_energy_increment(rve: NonlinearRVEMaterial, driver_n: np.ndarray, driver: np.ndarray,
                         state_n: RVEState, state: RVEState) -> EnergyIncrement | None:
    """Per macro point, the RVE averages of the phase laws' energy increments (None when a law declares none)."""
    n = driver.shape[0]
    strains = []
    for E, st in ((driver_n, state_n), (driver, state)):
        per_point = []
        for i in range(n):
            rve.E.value[:] = E[i]
            rve.w.x.array[:] = st.fluctuation[i]
            per_point.append(rve.quad.evaluate(rve.strain_expr))
        strains.append(per_point)
    parts = []
    for ph, pts in rve.phase_points.items():
        # the phase states are macro-point-major (point i owns rows i*k ... (i+1)*k - 1): all n points in order
        e0 = np.concatenate([s[pts] for s in strains[0]]) if n else np.zeros((0, rve.m))
        e1 = np.concatenate([s[pts] for s in strains[1]]) if n else np.zeros((0, rve.m))
        inc = rve.laws[ph].energy_increment(e0, e1, state_n.phase_states[ph], state.phase_states[ph])
        if inc is None:
            return None
        parts.append((inc, rve.point_volume[pts]))
    return EnergyIncrement.averaged(parts, n, rve.volume)


__all__ = ["rve_energy_increment"]
