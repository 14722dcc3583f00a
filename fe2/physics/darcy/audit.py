"""Fluid-volume conservation audit of a Darcy solve.

Balance of the whole domain (all terms in m³/s in 3D, m²/s per unit depth in 2D):

    starling_inflow − lymphatic_drainage − boundary_outflow − storage_rate = residual,

    starling_inflow    = ∫ L_p S/V (p_e − p_h) dx,
    lymphatic_drainage = ∫ L_pL S_L/V (p_h − p_L) dx,
    boundary_outflow   = ∮ u_h·n ds,
    storage_rate       = ∫ S (p_h − p_h^prev)/Δt dx   (transient steps; 0 when steady).

``relative_residual`` = |residual| / max(|starling_inflow|, |lymphatic_drainage|,
|boundary_outflow|, |storage_rate|).

* Mixed (RT_k × DG_{k−1}): ∇·u_h = Π(s(p_h)) cell by cell, so the balance holds to
  round-off globally *and on every cell*; ``cell_residual_max`` is
  max_K |∫_K ∇·u_h − s(p_h) dx| / max_K ∫_K (|J_v| + |J_L|) dx.
* Primal (P_k): the recovered flux u_h = −K∇p_h is not conservative;
  ``boundary_outflow`` uses it (an O(h^k) imbalance, reported as is).
  ``boundary_outflow_consistent`` is the variationally consistent flux
  (Hughes et al. 2000): the residual R(v) = ∫ s(p_h) v − K∇p_h·∇v dx summed over the
  Dirichlet dofs, plus the Neumann load summed over the others. Because R(1) =
  ∫ s(p_h), it closes the global balance to the linear-solver residual
  (``relative_residual_consistent``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ConservationAudit:
    """Global (and, for the mixed method, per-cell) fluid balance of one solve; SI."""

    formulation: str
    starling_inflow: float
    lymphatic_drainage: float
    boundary_outflow: float
    residual: float
    relative_residual: float
    cell_residual_max: float | None = None
    boundary_outflow_consistent: float | None = None
    relative_residual_consistent: float | None = None
    storage_rate: float = 0.0

    @classmethod
    def build(cls, formulation: str, inflow: float, drainage: float, outflow: float,
              cell_residual_max: float | None = None, outflow_consistent: float | None = None,
              storage_rate: float = 0.0) -> ConservationAudit:
        scale = max(abs(inflow), abs(drainage), abs(outflow), abs(storage_rate), np.finfo(float).tiny)
        res = inflow - drainage - outflow - storage_rate
        rel_c = None
        if outflow_consistent is not None:
            rel_c = abs(inflow - drainage - outflow_consistent - storage_rate) / scale
        return cls(formulation, float(inflow), float(drainage), float(outflow), float(res),
                   float(abs(res) / scale),
                   None if cell_residual_max is None else float(cell_residual_max),
                   None if outflow_consistent is None else float(outflow_consistent),
                   None if rel_c is None else float(rel_c), float(storage_rate))

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line for progress output."""
        s = (f"[{self.formulation}] inflow {self.starling_inflow:.6e}, lymph {self.lymphatic_drainage:.6e}, "
             f"outflow {self.boundary_outflow:.6e}"
             + (f", storage {self.storage_rate:.6e}" if self.storage_rate else "")
             + f", rel. residual {self.relative_residual:.2e}")
        if self.cell_residual_max is not None:
            s += f", max cell residual {self.cell_residual_max:.2e}"
        if self.relative_residual_consistent is not None:
            s += f", consistent-flux rel. residual {self.relative_residual_consistent:.2e}"
        return s
