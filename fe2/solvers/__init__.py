"""The one solver layer: PETSc options under stable prefixes, constrained systems, Newton, checkpoints.

* :mod:`fe2.solvers.options` — every KSP/SNES of fe2 is configured here, under a
  stable, documented prefix (:data:`~fe2.solvers.options.PREFIXES`); defaults
  never overwrite what the user put in the options database (command line
  ``-fe2_rve_ksp_type cg`` or a TOML ``[petsc]`` table).
* :mod:`fe2.solvers.constrained` — a system ``A x = b`` under ``x = P x̂``
  (periodic, KUBC, no-slip constraints): ``PᵀAP``, restrict, expand.
* :mod:`fe2.solvers.newton` — the Newton loop shared by the macro problem, the
  nonlinear RVE and the periodic phase field, with a collective failure flag.
* :mod:`fe2.solvers.checkpoint` — crash-consistent per-rank checkpoints.
* :mod:`fe2.solvers.lifetime` — explicit release of a problem's PETSc objects (``destroy()``).
"""

from fe2.solvers.checkpoint import RankCheckpoint
from fe2.solvers.constrained import ConstrainedSystem
from fe2.solvers.lifetime import destroy_petsc_attributes
from fe2.solvers.newton import NewtonReport, newton_loop
from fe2.solvers.options import (
    PREFIXES,
    configure_from_defaults,
    create_ksp,
    missing_defaults,
    set_user_options,
    solve_checked,
    split_petsc_args,
    user_options,
)

__all__ = [
    "PREFIXES",
    "ConstrainedSystem",
    "NewtonReport",
    "RankCheckpoint",
    "configure_from_defaults",
    "create_ksp",
    "destroy_petsc_attributes",
    "missing_defaults",
    "newton_loop",
    "set_user_options",
    "solve_checked",
    "split_petsc_args",
    "user_options",
]
