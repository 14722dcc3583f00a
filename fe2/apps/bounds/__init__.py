"""``fe2 bounds``: how large must an RVE be? Apparent tensors of random RVEs versus size.

For each RVE size ``L/ℓ`` (ℓ = 2 r, the inclusion diameter) and each of N
random realizations (non-overlapping disks/spheres at a target volume fraction,
seeded), the apparent tensor is computed under KUBC, periodic and TUBC
conditions. The statistics over realizations show the kinematic (upper) and
traction (lower) apparent properties closing in on each other and on the
periodic value as the RVE grows; see ``docs/bounds.md``.

Work units and seeds
--------------------
A *record* is one realization of one material case, keyed by a hash of everything its
numbers depend on; a *task* is one mesh and the pending records that share it; seeds are
independent of the order of ``sizes`` and of the rank count. Defined in :mod:`fe2.apps.bounds.plan`.

Parallelism
-----------
Tasks are independent. Sizes ``>= parallel.whole_comm_min_size`` are solved one
after the other on the whole communicator (the mesh distributed); all others are
assigned to ranks by longest-processing-time-first on an estimated cost
``∝ size^d`` (deterministic, no communication) and solved on ``MPI.COMM_SELF``.
Compiled forms are cached per rank by :class:`~fe2.micro.forms.FormKey`: the
JIT runs once per kind of mesh, not once per realization.

Files (``OUT``)
---------------
``realizations.rank<r>.jsonl``
    one JSON line per finished record, appended by the rank that solved it
    (flushed and fsync'ed at once). A rerun reads every such file, skips
    finished keys, and appends; a killed run loses only the records in flight.
    A half-written last line (killed mid-write) is ignored.
``summary.json``, ``statistics.csv``, ``gaps.csv``, ``fits.csv``, ``realizations.csv``
    the report (written atomically on rank 0 when every record is done).
``bounds_<measure>.png``, ``variance_<measure>.png``, ``contrast_<measure>.png``
    the plots (rank 0).

Modules
-------
:mod:`.plan` cases, record specs and keys, seeds, tasks; :mod:`.solve` one
task (mesh + every pending case); :mod:`.record` the typed record
(:class:`BoundsRecord`); :mod:`.store` the JSON-lines record files;
:mod:`.schedule` ranks and progress; :mod:`.measures` scalar measures and
analytic references; :mod:`.statistics` sample statistics and power-law fits;
:mod:`.summary` the statistics of a study; :mod:`.report` and :mod:`.plots`
the files; :mod:`.runner` :func:`run_bounds_study`.

Notation: effective tensors in the records are Voigt with engineering shear,
order ``11 22 12`` (2D) / ``11 22 33 23 13 12`` (3D); conductivity tensors are
plain ``d x d`` matrices with ``<J> = K <grad φ>``.
"""

from fe2.apps.bounds.measures import MEASURE_DEFINITIONS, measure_values, reference_bounds
from fe2.apps.bounds.plan import (
    RECORD_VERSION,
    Case,
    Task,
    build_cases,
    build_tasks,
    effective_radius,
    realization_seed,
    record_key,
    record_spec,
)
from fe2.apps.bounds.record import BoundsRecord, MeshInfo, RecordTimings
from fe2.apps.bounds.report import write_report
from fe2.apps.bounds.runner import StudyInterrupted, run_bounds_study
from fe2.apps.bounds.solve import MAX_REDRAWS, packable_seed
from fe2.apps.bounds.store import RECORD_GLOB, read_records
from fe2.apps.bounds.summary import ORDERING_TOL, summarize

__all__ = [
    "MAX_REDRAWS",
    "MEASURE_DEFINITIONS",
    "ORDERING_TOL",
    "RECORD_GLOB",
    "RECORD_VERSION",
    "BoundsRecord",
    "Case",
    "MeshInfo",
    "RecordTimings",
    "StudyInterrupted",
    "Task",
    "build_cases",
    "build_tasks",
    "effective_radius",
    "measure_values",
    "packable_seed",
    "read_records",
    "realization_seed",
    "record_key",
    "record_spec",
    "reference_bounds",
    "run_bounds_study",
    "summarize",
    "write_report",
]
