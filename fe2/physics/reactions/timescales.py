"""Time scales of a reaction network: eigenvalues of the linearized dynamics, stiffness ratio,
Damköhler number.
"""

from __future__ import annotations

import numpy as np

from fe2.errors import ConfigError
from fe2.physics.reactions.network import CompiledNetwork, Network


def time_scales(network: Network | CompiledNetwork, c, params: dict | None = None,
                tol: float = 1e-12) -> dict:
    """Time scales of the linearized dynamics at state ``c`` (one node, ``(n_species,)``).

    Eigenvalues of the Jacobian; the zero ones (one per conserved moiety, within ``tol`` times
    the largest) are left out. Returns the sorted time scales ``1/|Re lambda|``, the stiffness
    ratio ``max|Re lambda| / min|Re lambda|`` and the eigenvalues.
    """
    cn = network if isinstance(network, CompiledNetwork) else network.compile()
    J = cn.jacobian(np.asarray(c, dtype=float), params)
    lam = np.linalg.eigvals(J)
    re = np.abs(lam.real)
    big = re.max() if re.size else 0.0
    active = re > tol * max(big, 1e-300)
    scales = np.sort(1.0 / re[active])
    return {
        "eigenvalues": lam,
        "time_scales": scales,
        "stiffness_ratio": float(scales[-1] / scales[0]) if scales.size else 1.0,
        "n_zero_modes": int((~active).sum()),
    }


def damkohler(reaction_time: float, transport_time: float) -> float:
    """Damköhler number ``Da = t_transport / t_reaction`` (e.g. ``L^2/D`` over ``1/k``):
    ``Da >> 1`` reaction-limited local equilibrium, ``Da << 1`` transport-dominated.
    """
    if not (reaction_time > 0 and transport_time > 0):
        raise ConfigError("damkohler: both time scales must be > 0")
    return transport_time / reaction_time
