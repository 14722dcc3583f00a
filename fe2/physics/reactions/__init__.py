"""Reaction networks: definition, stiff batched integrators, stochastic simulation, QSSA reductions.

* :mod:`.network` — :class:`Species`, :class:`Reaction`, :class:`Network` (stoichiometry,
  conserved moieties, sympy -> numpy rates and analytic Jacobians), TOML loader;
* :mod:`.integrators` — batched backward Euler and ROS2 over many independent nodes,
  per-node step control, ``solve_ivp`` reference;
* :mod:`.stochastic` — Gillespie direct method, tau-leaping, CME generator;
* :mod:`.reductions` — Michaelis–Menten full model, sQSSA, tQSSA and their validity criteria;
* :mod:`.diffusion` — reaction–diffusion on a dolfinx mesh by Godunov / Strang splitting (imports
  dolfinx, so it is not imported here: ``from fe2.physics.reactions.diffusion import ReactionDiffusion``).
"""

from fe2.physics.reactions.integrators import IntegrationResult, integrate, solve_ivp_reference
from fe2.physics.reactions.network import (
    CompiledNetwork,
    Network,
    Reaction,
    Species,
    load_network,
    damkohler,
    network_from_dict,
    time_scales,
)
from fe2.physics.reactions.reductions import EnzymeKinetics, compare_qssa, full_model, sqssa, tqssa
from fe2.physics.reactions.stochastic import StochasticResult, cme_generator, gillespie, tau_leaping

__all__ = [
    "CompiledNetwork", "EnzymeKinetics", "IntegrationResult", "Network", "Reaction", "Species",
    "StochasticResult", "cme_generator", "compare_qssa", "damkohler", "full_model", "gillespie",
    "integrate", "load_network", "network_from_dict", "solve_ivp_reference", "sqssa", "tau_leaping",
    "time_scales", "tqssa",
]
