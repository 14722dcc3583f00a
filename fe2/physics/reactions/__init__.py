"""Reaction networks: definition, stiff batched integrators, stochastic simulation, QSSA reductions.

* :mod:`.network` — :class:`Species`, :class:`Reaction`, :class:`Network` (stoichiometry,
  conserved moieties, sympy -> numpy rates and analytic Jacobians);
* :mod:`.network_file` — the TOML/dict network schema and loader (:func:`load_network`,
  :func:`network_from_dict`); :mod:`.timescales` — :func:`time_scales`, :func:`damkohler`;
* :mod:`.integrators` — batched backward Euler and ROS2 over many independent nodes,
  per-node step control, ``solve_ivp`` reference;
* :mod:`.stochastic` — Gillespie direct method, tau-leaping, CME generator, network in counts
  for a system size (``counts_network``);
* :mod:`.hybrid` — hybrid SSA/ODE (exact events for low-copy species, reaction-rate equations for
  abundant ones), partition by a copy-number threshold;
* :mod:`.examples` — standard test networks (Robertson);
* :mod:`.reductions` — Michaelis–Menten full model, sQSSA, tQSSA and their validity criteria;
* :mod:`.sbml` — SBML import (python-libsbml): :func:`load_sbml` -> :class:`Network`
  (concentrations; unsupported constructs raise a ConfigError naming them); :mod:`.sbml_events`
  — models with events: :func:`load_sbml_model` -> :class:`SbmlModel` (``.simulate(t_eval)``);
* :mod:`.sensitivity` — forward sensitivity equations of observables (``SensitivityModel``);
  :mod:`.identifiability` — structural identifiability (SVD rank at random points, Hermann–Krener
  observability rank); :mod:`.profile_likelihood` — least-squares fit and profile likelihood
  (``fe2 identify``, docs/identifiability.md);
* :mod:`.diffusion` — reaction–diffusion on a dolfinx mesh by Godunov / Strang splitting or a
  monolithic implicit scheme, Dirichlet/flux/Robin boundaries (:mod:`.rd_boundary`), Newton on the
  coupled system (:mod:`.rd_monolithic`); imports dolfinx, so it is not imported here:
  ``from fe2.physics.reactions.diffusion import ReactionDiffusion``).
"""

from fe2.physics.reactions.hybrid import HybridPartition, HybridResult, hybrid, partition
from fe2.physics.reactions.integrators import IntegrationResult, integrate, solve_ivp_reference
from fe2.physics.reactions.network import CompiledNetwork, Network, Reaction, Species
from fe2.physics.reactions.network_file import load_network, network_from_dict
from fe2.physics.reactions.reductions import EnzymeKinetics, compare_qssa, full_model, sqssa, tqssa
from fe2.physics.reactions.sbml import load_sbml, network_from_sbml_string
from fe2.physics.reactions.sbml_events import SbmlModel, load_sbml_model, sbml_model_from_string
from fe2.physics.reactions.stochastic import (
    StochasticResult,
    cme_generator,
    counts_network,
    gillespie,
    tau_leaping,
)
from fe2.physics.reactions.timescales import damkohler, time_scales

__all__ = [
    "CompiledNetwork",
    "EnzymeKinetics",
    "HybridPartition",
    "HybridResult",
    "IntegrationResult",
    "Network",
    "Reaction",
    "SbmlModel",
    "Species",
    "StochasticResult",
    "cme_generator",
    "compare_qssa",
    "counts_network",
    "damkohler",
    "full_model",
    "gillespie",
    "hybrid",
    "integrate",
    "load_network",
    "load_sbml",
    "load_sbml_model",
    "network_from_dict",
    "network_from_sbml_string",
    "partition",
    "sbml_model_from_string",
    "solve_ivp_reference",
    "sqssa",
    "tau_leaping",
    "time_scales",
    "tqssa",
]
