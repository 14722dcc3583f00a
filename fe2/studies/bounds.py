"""``fe2 bounds``: how large must an RVE be? Apparent tensors of random RVEs versus size.

For each RVE size ``L/ℓ`` (ℓ = 2 r, the inclusion diameter) and each of N
random realizations (non-overlapping disks/spheres at a target volume fraction,
seeded), the apparent tensor is computed under KUBC, periodic and TUBC
conditions. The statistics over realizations show the kinematic (upper) and
traction (lower) apparent properties closing in on each other and on the
periodic value as the RVE grows; see ``docs/bounds.md``.

Work units
----------
* A **record** is one realization of one material *case* (the configured
  materials, a contrast of the sweep, or pores): the apparent tensors under every
  BC. Its key is a hash of everything its numbers depend on (geometry, seed,
  mesh, materials, BCs, solver), so a rerun recognizes finished work even after
  the config gained sizes, realizations or contrasts.
* A **task** is one mesh: one (size, realization, geometry family), and the
  pending records that share it (the contrasts of the sweep are solved on the
  same mesh: common random numbers make the gap-vs-contrast curve smooth).

Seeds: realization ``i`` of size ``s`` uses
``numpy.random.SeedSequence(seed, spawn_key=(round(1000 s), i))``, independent of
the order of ``sizes`` and of the number of MPI ranks.

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

Notation: effective tensors in the records are Voigt with engineering shear,
order ``11 22 12`` (2D) / ``11 22 33 23 13 12`` (3D); conductivity tensors are
plain ``d x d`` matrices with ``<J> = K <grad φ>``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mpi4py import MPI
from scipy import stats as sps

from fe2 import config as cfgmod
from fe2.analytic import bounds as an
from fe2.analytic.moduli import bulk_shear_2d, bulk_shear_3d
from fe2.errors import Fe2Error
from fe2.io.results import write_csv_atomic, write_json_atomic
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.micro.forms import FormKey, RVEForms, form_key
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.micro.physics import make_physics
from fe2.micro.results import NOTATION
from fe2.micro.rve_problem import RVEProblem
from fe2.studies import statistics as st
from fe2.tensors import (
    isotropic_stiffness_mandel,
    lame_from_young_poisson,
    stiffness_mandel_to_voigt,
    stiffness_voigt_to_mandel,
)

__all__ = [
    "Case",
    "Task",
    "StudyInterrupted",
    "build_cases",
    "build_tasks",
    "measure_values",
    "read_records",
    "run_bounds_study",
    "summarize",
    "RECORD_GLOB",
]

RECORD_GLOB = "realizations.rank*.jsonl"
#: Version of the record format; part of every key (bump when the numbers a record holds change meaning).
RECORD_VERSION = 1
#: Relative tolerance of the ordering check KUBC ⪰ periodic ⪰ TUBC (smallest eigenvalue of the
#: difference over the largest of the tensor): a direct solve leaves round-off only.
ORDERING_TOL = 1e-10
_PROGRESS_TAG = 7301


class StudyInterrupted(Fe2Error):
    """The study stopped on purpose before finishing (``stop_after``); rerun to resume."""

    exit_code = 4


# ---------------------------------------------------------------------------------------- cases and tasks
@dataclass(frozen=True)
class Case:
    """One material case of the study.

    Attributes:
        name: ``"main"`` (the configured materials), ``"ratio_<ρ>"`` (contrast sweep) or ``"pores"``.
        ratio: inclusion/matrix property ratio (Young's modulus or conductivity); 0 for pores.
            Sweep cases give the inclusion the matrix's Poisson ratio, so that only the
            stiffness contrast changes (ratio 1 is a homogeneous body, with no gap).
        materials: JSON spec per phase: ``{"young", "poisson"}``, ``{"conductivity"}`` or ``{"void": True}``.
        sizes: the sizes L/ℓ this case is solved at, ascending.
        realizations: realizations per size (same order as ``sizes``).
        wrap: whether inclusions cross the box faces (periodic wrapping). Pores under
            TUBC are kept off the faces (``wrap = False``): TUBC needs material on the whole boundary.
    """

    name: str
    ratio: float
    materials: Mapping[str, Mapping[str, float | bool]]
    sizes: tuple[float, ...]
    realizations: tuple[int, ...]
    wrap: bool

    @property
    def void(self) -> bool:
        return bool(self.materials["inclusion"].get("void", False))


@dataclass
class Task:
    """One mesh (size, realization, family) and the records still to be solved on it."""

    size: float
    realization: int
    seed: int
    geometry: dict
    geometry_key: str
    items: list[tuple[str, dict]] = field(default_factory=list)  # (record key, record spec)
    cost: float = 0.0


def _material_spec(m) -> dict:
    if isinstance(m, cfgmod.VoidMaterial):
        return {"void": True}
    if isinstance(m, cfgmod.ElasticMaterial):
        return {"young": float(m.young), "poisson": float(m.poisson)}
    return {"conductivity": float(m.conductivity)}


def _property(spec: Mapping) -> float:
    if spec.get("void"):
        return 0.0
    return float(spec["young"] if "young" in spec else spec["conductivity"])


def build_cases(cfg: cfgmod.BoundsConfig) -> list[Case]:
    """The main case, then the contrast sweep (ascending ratios), then pores."""
    mats = {name: _material_spec(cfg.materials[name]) for name in ("matrix", "inclusion")}
    has_tubc = "tubc" in cfg.boundary_conditions
    sizes = tuple(sorted(cfg.sizes))
    main = Case(
        "main",
        _property(mats["inclusion"]) / _property(mats["matrix"]),
        mats,
        sizes,
        tuple(cfg.realizations_for(s) for s in sizes),
        wrap=not (mats["inclusion"].get("void") and has_tubc),
    )
    cases = [main]
    sw = cfg.contrast
    sw_sizes = tuple(sorted(sw.sizes)) if sw.sizes is not None else sizes
    sw_real = tuple(
        sw.realizations if sw.realizations is not None else cfg.realizations_for(s) for s in sw_sizes
    )
    matrix = mats["matrix"]
    for ratio in sorted(sw.ratios):
        if "young" in matrix:  # only the stiffness changes: ratio 1 is a homogeneous body
            inc = {"young": ratio * matrix["young"], "poisson": matrix["poisson"]}
        else:
            inc = {"conductivity": ratio * matrix["conductivity"]}
        cases.append(
            Case(
                f"ratio_{ratio:g}",
                float(ratio),
                {"matrix": matrix, "inclusion": inc},
                sw_sizes,
                sw_real,
                wrap=True,
            )
        )
    if sw.pores:
        cases.append(
            Case(
                "pores",
                0.0,
                {"matrix": matrix, "inclusion": {"void": True}},
                sw_sizes,
                sw_real,
                wrap=not has_tubc,
            )
        )
    return cases


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:20]


def realization_seed(base_seed: int, size: float, realization: int) -> int:
    """Seed of one realization: ``SeedSequence(base, spawn_key=(round(1000 size), i))`` → uint32."""
    ss = np.random.SeedSequence(int(base_seed), spawn_key=(int(round(1000 * size)), int(realization)))
    return int(ss.generate_state(1, np.uint32)[0])


def effective_radius(cfg: cfgmod.BoundsConfig, size: float) -> tuple[float, int]:
    """(radius, count) of the inclusions of a box of edge ``L = 2 r size``.

    The count is ``n = max(1, round(f |Y| / v(r)))``. With ``exact_fraction`` the
    radius is rescaled so that the n inclusions give exactly the target fraction
    (``r_L = r (f |Y| / (n v(r)))^(1/d)``, within a few % of r for L/ℓ ≥ 3): the
    fraction is then the same at every size and only the RVE size changes.
    """
    d, r, f = cfg.dim, cfg.radius, cfg.volume_fraction
    L = 2.0 * r * size
    unit = math.pi if d == 2 else 4.0 * math.pi / 3.0
    n = max(1, int(round(f * L**d / (unit * r**d))))
    if not cfg.exact_fraction:
        return r, n
    return float((f * L**d / (n * unit)) ** (1.0 / d)), n


def record_spec(
    cfg: cfgmod.BoundsConfig, case: Case, size: float, realization: int
) -> tuple[dict, str, dict, str]:
    """(geometry, geometry key, record spec, record key) of one realization of one case.

    The keys hash everything the numbers depend on: a rerun with an edited config
    reuses exactly the records whose inputs did not change.
    """
    r_eff, n_inc = effective_radius(cfg, size)
    geom = {
        "dim": cfg.dim,
        "size": float(size),
        "L": 2.0 * cfg.radius * size,
        "radius": r_eff,
        "n_inclusions": n_inc,
        "volume_fraction": cfg.volume_fraction,
        "min_gap": cfg.gap_min,
        "mesh_size": cfg.radius / cfg.elements_per_radius,
        "element_order": cfg.element_order,
        "seed": realization_seed(cfg.seed, size, realization),
        "wrap": case.wrap,
    }
    spec = {
        "v": RECORD_VERSION,
        "geometry": geom,
        "physics": cfg.physics,
        "materials": case.materials,
        "bcs": list(cfg.boundary_conditions),
        "solver": {"kind": cfg.solver.kind, "rtol": cfg.solver.rtol, "degree": cfg.solver.degree},
    }
    return geom, _hash(geom), spec, _hash(spec)


def record_key(cfg: cfgmod.BoundsConfig, case: Case, size: float, realization: int) -> str:
    """The key of the record of ``case`` at (size, realization)."""
    return record_spec(cfg, case, size, realization)[3]


def build_tasks(cfg: cfgmod.BoundsConfig, cases: Sequence[Case] | None = None) -> list[Task]:
    """Every (size, realization, family) mesh with its distinct record keys, in a deterministic order."""
    cases = build_cases(cfg) if cases is None else cases
    tasks: dict[str, Task] = {}
    for case in cases:
        for size, n_real in zip(case.sizes, case.realizations, strict=True):
            for i in range(n_real):
                geom, gkey, spec, rkey = record_spec(cfg, case, size, i)
                task = tasks.setdefault(gkey, Task(size, i, geom["seed"], geom, gkey))
                if all(k != rkey for k, _ in task.items):
                    task.items.append((rkey, spec))
    out = list(tasks.values())
    for t in out:
        t.cost = t.size**cfg.dim * (1.0 + len(t.items))
    return out


# ---------------------------------------------------------------------------------------- measures
def measure_values(physics: str, dim: int, effective_voigt: np.ndarray) -> dict[str, float]:
    """Scalar measures of one apparent tensor (Voigt notation in, numbers out).

    * elasticity: ``bulk`` = (I:C:I)/d² (2D plane strain: (C11 + C22 + 2 C12)/4 = λ + μ
      for an isotropic C; 3D: the Voigt-average bulk modulus), ``shear`` = the
      orientation-averaged shear modulus ``shear_iso`` (2D: (C66 + (C11 + C22 − 2 C12)/4)/2),
      ``C11`` (see :func:`fe2.analytic.bulk_shear_2d` / ``bulk_shear_3d``);
    * conductivity: ``k`` = tr(K)/d (the mean diagonal), ``K11``.
    """
    C = np.asarray(effective_voigt, dtype=float)
    if physics == "elasticity":
        cm = stiffness_voigt_to_mandel(C)
        bs = bulk_shear_2d(cm) if dim == 2 else bulk_shear_3d(cm)
        return {"bulk": bs.bulk, "shear": bs.shear_iso, "C11": float(C[0, 0])}
    return {"k": float(np.trace(C) / dim), "K11": float(C[0, 0])}


def _internal(physics: str, C_voigt: np.ndarray) -> np.ndarray:
    """Voigt → the internal (Mandel) form in which quadratic-form orderings are true."""
    return stiffness_voigt_to_mandel(C_voigt) if physics == "elasticity" else np.asarray(C_voigt, float)


# ---------------------------------------------------------------------------------------- solving
def _materials(spec: Mapping[str, Mapping]) -> dict:
    out = {}
    for phase, m in spec.items():
        if m.get("void"):
            continue
        out[phase] = (
            IsotropicElastic(m["young"], m["poisson"])
            if "young" in m
            else IsotropicConductor(m["conductivity"])
        )
    return out


#: How many times a jammed packing is redrawn (with derived seeds) before the realization fails.
MAX_REDRAWS = 20


def packable_seed(geometry: Mapping) -> tuple[int, int]:
    """(seed, redraws): the realization's seed, or the first derived seed whose RSA packing succeeds.

    Random sequential addition can jam for a given seed, most often for pores
    kept off the faces of a small box. The packing is then redrawn with the
    seeds ``SeedSequence(seed, spawn_key=(k,))``, k = 1, 2, ...: deterministic,
    the same on every rank and in every rerun. (Conditioning on packable
    configurations is inherent to RSA; ``packing_redraws`` in the record says
    how often it happened.) Pure numpy: no mesh is built here.
    """
    from fe2.errors import GeometryError
    from fe2.geometry import random_inclusions

    g = geometry
    base = int(g["seed"])
    last: GeometryError | None = None
    for k in range(MAX_REDRAWS + 1):
        seed = (
            base
            if k == 0
            else int(np.random.SeedSequence(base, spawn_key=(k,)).generate_state(1, np.uint32)[0])
        )
        try:
            random_inclusions(
                [g["L"]] * g["dim"],
                g["radius"],
                g["volume_fraction"],
                seed,
                g["min_gap"],
                face_gap=g["min_gap"],
                wrap=g["wrap"],
            )
            return seed, k
        except GeometryError as exc:
            last = exc
    raise GeometryError(f"{last} (and {MAX_REDRAWS} redraws with derived seeds)")


def _solve_task(
    task: Task, comm: MPI.Comm, cfg: cfgmod.BoundsConfig, forms_cache: dict[FormKey, RVEForms], rank: int
) -> Iterator[dict]:
    """Mesh one realization on ``comm`` and yield one record per pending material case."""
    from fe2.geometry import random_rve
    from fe2.geometry.voids import remove_phases

    g = task.geometry
    t0 = time.perf_counter()
    seed, redraws = packable_seed(g)
    rve = random_rve(
        comm,
        [g["L"]] * g["dim"],
        g["radius"],
        g["volume_fraction"],
        g["mesh_size"],
        seed=seed,
        min_gap=g["min_gap"],
        face_gap=g["min_gap"],
        wrap=g["wrap"],
        element_order=g["element_order"],
    )
    t_mesh = time.perf_counter() - t0
    physics = make_physics(cfg.physics, g["dim"])
    solver = LinearSolverOptions(kind=cfg.solver.kind, rtol=cfg.solver.rtol)
    for rkey, spec in task.items:
        t1 = time.perf_counter()
        mats = spec["materials"]
        this = remove_phases(rve, ["inclusion"]) if mats["inclusion"].get("void") else rve
        key = form_key(physics, this.mesh, cfg.solver.degree)
        forms = forms_cache.get(key)
        if forms is None:
            forms = forms_cache[key] = RVEForms(comm, physics, key)
        problem = RVEProblem(
            this, physics, _materials(mats), degree=cfg.solver.degree, solver=solver, forms=forms
        )
        res = problem.homogenize(spec["bcs"])
        t2 = time.perf_counter()
        eff = {bc: res.effective(bc) for bc in spec["bcs"]}
        internal = {bc: _internal(cfg.physics, C) for bc, C in eff.items()}
        ordering = {}
        for hi, lo in (("kubc", "periodic"), ("periodic", "tubc"), ("kubc", "tubc")):
            if hi in internal and lo in internal:
                scale = max(float(np.max(np.abs(internal[hi]))), 1e-300)
                ev = np.linalg.eigvalsh(0.5 * (internal[hi] - internal[lo] + (internal[hi] - internal[lo]).T))
                ordering[f"{hi}-{lo}"] = float(ev[0] / scale)
        info = problem.mesh_info()
        yield {
            "key": rkey,
            "geometry_key": task.geometry_key,
            "size": task.size,
            "realization": task.realization,
            "seed": task.seed,
            "packing_seed": seed,
            "packing_redraws": redraws,
            "spec": spec,
            "effective": {bc: C.tolist() for bc, C in eff.items()},
            "hill_mandel": {bc: r.hill_mandel_max for bc, r in res.bcs.items()},
            "ordering": ordering,
            "volume_fractions": res.volume_fractions,
            "mesh": {
                "cells": info["cells"],
                "dofs": info["dofs"],
                "h_min": info["h_min"],
                "h_max": info["h_max"],
            },
            "timings_s": {"mesh": t_mesh, "solve": t2 - t1},
            "rank": rank,
            "ranks": comm.size,
        }
        del problem, res, this
        t_mesh = 0.0  # the mesh is charged to the first record of the task


class _RecordWriter:
    """Appends records to one JSON-lines file, durably (flush + fsync per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._checked = False

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True, default=_json_default) + "\n"
        with self.path.open("a+b") as fh:
            if not self._checked:
                # a run killed mid-write leaves a partial last line: end it so it stays one bad line
                fh.seek(0, os.SEEK_END)
                if fh.tell() > 0:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
                self._checked = True
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def read_records(out_dir: str | Path) -> dict[str, dict]:
    """Every finished record in ``out_dir`` (all rank files), by key; unreadable lines are skipped."""
    records: dict[str, dict] = {}
    for path in sorted(Path(out_dir).glob(RECORD_GLOB)):
        with path.open("rb") as fh:
            for raw in fh:
                try:
                    rec = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue  # a line cut short by a kill
                if isinstance(rec, dict) and "key" in rec and "effective" in rec:
                    records.setdefault(rec["key"], rec)
    return records


def _assign(tasks: Sequence[Task], n_ranks: int) -> list[list[Task]]:
    """Longest-processing-time-first: biggest task to the least loaded rank (ties: lowest rank)."""
    order = sorted(tasks, key=lambda t: (-t.cost, t.size, t.realization, t.geometry_key))
    load = [0.0] * n_ranks
    out: list[list[Task]] = [[] for _ in range(n_ranks)]
    for t in order:
        r = min(range(n_ranks), key=lambda k: (load[k], k))
        out[r].append(t)
        load[r] += t.cost
    return out


class _Progress:
    """Rank-0 progress lines for records finished on any rank (point-to-point, no collectives).

    Other ranks send a small message per record and one at the end; rank 0 drains
    them between its own tasks and, once done, until every rank has ended.
    """

    def __init__(self, comm: MPI.Comm, total: int, say: Callable[[str], None]) -> None:
        self.comm = comm
        self.total = total
        self.say = say
        self.done = 0
        self._ended = 0
        self._reqs: list[MPI.Request] = []

    def _show(self, msg: tuple) -> None:
        self.done += 1
        size, real, case, rank, secs = msg
        self.say(
            f"{self.done}/{self.total} records: L/ℓ = {size:g}, realization {real}, {case} "
            f"(rank {rank}, {secs:.2f} s)"
        )

    def _drain(self) -> None:
        status = MPI.Status()
        while self.comm.iprobe(source=MPI.ANY_SOURCE, tag=_PROGRESS_TAG, status=status):
            kind, msg = self.comm.recv(source=status.Get_source(), tag=_PROGRESS_TAG)
            if kind == "end":
                self._ended += 1
            else:
                self._show(msg)

    def record(self, msg: tuple, collective: bool = False) -> None:
        if collective or self.comm.rank == 0:
            if self.comm.rank == 0:
                self._show(msg)
                self._drain()
            return
        self._reqs.append(self.comm.isend(("rec", msg), dest=0, tag=_PROGRESS_TAG))

    def finish(self) -> None:
        if self.comm.rank != 0:
            self._reqs.append(self.comm.isend(("end", None), dest=0, tag=_PROGRESS_TAG))
            MPI.Request.waitall(self._reqs)
            return
        while self._ended < self.comm.size - 1:
            self._drain()
            if self._ended < self.comm.size - 1:
                time.sleep(0.02)  # sleep instead of a busy MPI wait: other ranks may share this core


def _idle_wait(comm: MPI.Comm, poll_s: float = 0.005) -> None:
    """Barrier that sleeps instead of spinning (MPI busy-polls inside blocking collectives)."""
    if comm.size == 1:
        return
    req = comm.Ibarrier()
    while not req.Test():
        time.sleep(poll_s)


def _case_label(spec: Mapping, cases: Sequence[Case]) -> str:
    for c in cases:
        if c.materials == spec["materials"]:
            return c.name
    return "?"


def run_bounds_study(
    cfg: cfgmod.BoundsConfig,
    comm: MPI.Comm,
    out_dir: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    stop_after: int | None = None,
    fresh: bool = False,
) -> dict:
    """Run (or resume) a bound-convergence study and write its report (collective over ``comm``).

    Args:
        cfg: the validated study configuration.
        comm: the communicator whose ranks share the work.
        out_dir: output folder; finished records found there are reused.
        progress: called with one-line messages (rank 0 calls it; pass a no-op elsewhere).
        stop_after: stop every rank after it has solved this many records in this
            run and raise :class:`StudyInterrupted` (simulates a killed run; for tests).
        fresh: delete the records of earlier runs first.

    Returns:
        The summary dict (the content of ``summary.json``), on every rank.

    Raises:
        StudyInterrupted: ``stop_after`` was reached (the records solved so far are on disk).
        Fe2Error: a realization failed (e.g. the packing jammed); raised on every rank
            after the other ranks finished their tasks, so their records are kept.
    """
    say = progress or (lambda msg: None)
    t_start = time.perf_counter()
    out = Path(out_dir)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if fresh:
            for p in out.glob(RECORD_GLOB):
                p.unlink()
        (out / "summary.json").unlink(missing_ok=True)
    cases = build_cases(cfg)
    tasks = build_tasks(cfg, cases)
    done_keys = set(read_records(out)) if comm.rank == 0 else None
    done_keys = comm.bcast(done_keys, root=0)
    n_records = sum(len(t.items) for t in tasks)
    pending: list[Task] = []
    for t in tasks:
        items = [(k, s) for k, s in t.items if k not in done_keys]
        if items:
            pending.append(Task(t.size, t.realization, t.seed, t.geometry, t.geometry_key, items, t.cost))
    n_pending = sum(len(t.items) for t in pending)
    say(
        f"bounds study: {cfg.physics} {cfg.dim}D, {len(cases)} case(s), sizes L/ℓ {list(cases[0].sizes)}, "
        f"{n_records} records ({n_records - n_pending} already done), {comm.size} rank(s)"
    )

    whole_min = cfg.parallel.whole_comm_min_size
    whole = [t for t in pending if whole_min is not None and t.size >= whole_min]
    local = [t for t in pending if not (whole_min is not None and t.size >= whole_min)]
    whole.sort(key=lambda t: (t.size, t.realization, t.geometry_key))
    mine = _assign(local, comm.size)[comm.rank]

    writer = _RecordWriter(out / f"realizations.rank{comm.rank}.jsonl")
    forms_cache: dict[FormKey, RVEForms] = {}
    n_whole = sum(len(t.items) for t in whole)
    n_mine = sum(len(t.items) for t in mine)
    solved = 0
    busy = 0.0
    error: tuple[type, str] | None = None

    def limit_reached() -> bool:
        return stop_after is not None and solved >= stop_after

    pcomm = comm.Dup()  # progress messages travel on their own communicator
    try:
        prog = _Progress(pcomm, n_pending, say)
        # 1. large RVEs: one after the other, each distributed over the whole communicator
        for t in whole:
            if limit_reached():
                break
            for rec in _solve_task(t, comm, cfg, forms_cache, comm.rank):
                if comm.rank == 0:
                    writer.append(rec)
                solved += 1
                secs = rec["timings_s"]["mesh"] + rec["timings_s"]["solve"]
                busy += secs
                prog.record(
                    (t.size, t.realization, _case_label(rec["spec"], cases), "all", secs), collective=True
                )
            gc.collect()
        solved_whole = solved
        # 2. everything else: independent tasks on COMM_SELF; only progress messages are sent
        try:
            for t in mine:
                if limit_reached():
                    break
                for rec in _solve_task(t, MPI.COMM_SELF, cfg, forms_cache, comm.rank):
                    writer.append(rec)
                    solved += 1
                    secs = rec["timings_s"]["mesh"] + rec["timings_s"]["solve"]
                    busy += secs
                    prog.record((t.size, t.realization, _case_label(rec["spec"], cases), comm.rank, secs))
                    if limit_reached():
                        break
        except Exception as exc:  # reported on every rank below, once the others have finished
            error = (
                type(exc) if isinstance(exc, Fe2Error) else RuntimeError,
                f"rank {comm.rank}, L/ℓ = {t.size:g}, realization {t.realization}: {exc}",
            )
        prog.finish()
    finally:
        pcomm.Free()
    failed = [e for e in comm.allgather(error) if e is not None]
    if failed:
        raise failed[0][0](failed[0][1])
    unfinished = (n_whole - solved_whole) + (n_mine - (solved - solved_whole))
    if comm.allreduce(unfinished, op=MPI.SUM):
        raise StudyInterrupted(f"stopped after {stop_after} record(s) per rank; rerun to resume")
    busy_all = comm.gather(busy, root=0)
    solved_all = comm.allreduce(solved)
    summary = None
    if comm.rank == 0:
        records = read_records(out)
        summary = summarize(cfg, records, cases)
        summary["run"] = {
            "wall_s": time.perf_counter() - t_start,  # setup + solves; the report adds report_s
            "ranks": comm.size,
            "records_solved": solved_all,
            "records_total": n_records,
            "busy_s_per_rank": busy_all,
            "whole_comm_tasks": len(whole),
        }
        write_report(summary, records, cfg, cases, out)
    _idle_wait(comm)  # the other ranks sleep while rank 0 writes the report (no busy MPI wait)
    summary = comm.bcast(summary, root=0)
    say(
        f"bounds study done: {solved_all} record(s) solved in {time.perf_counter() - t_start:.1f} s; "
        f"report in {out}"
    )
    return summary


# ---------------------------------------------------------------------------------------- statistics
def _phase_moduli(physics: str, dim: int, spec: Mapping) -> dict[str, float]:
    if spec.get("void"):
        return {"kappa": 0.0, "mu": 0.0, "k": 0.0}
    if physics == "elasticity":
        lam, mu = lame_from_young_poisson(spec["young"], spec["poisson"])
        return {"kappa": lam + (mu if dim == 2 else 2.0 * mu / 3.0), "mu": mu, "lam": lam}
    return {"k": float(spec["conductivity"])}


def reference_bounds(
    physics: str, dim: int, materials: Mapping[str, Mapping], fraction: float, measure: str
) -> dict:
    """Hashin–Shtrikman, Voigt and Reuss values of one measure for an isotropic two-phase composite.

    ``fraction`` is the inclusion volume fraction. Voigt/Reuss are the measure
    of ``sum f_i C_i`` and ``(sum f_i C_i^-1)^-1`` (0 with pores). For ``C11``
    the HS values are ``κ + μ`` (2D) / ``κ + 4μ/3`` (3D) of the separate bulk and
    shear bounds: valid, not sharp. Returns ``{"hashin_shtrikman": [lo, hi], "voigt", "reuss"}``.
    """
    pm = _phase_moduli(physics, dim, materials["matrix"])
    pi = _phase_moduli(physics, dim, materials["inclusion"])
    fr = (1.0 - fraction, fraction)
    if physics == "conductivity":
        ks = (pm["k"], pi["k"])
        lo, hi = an.hashin_shtrikman_conductivity(ks, fr, dim)
        voigt = fr[0] * ks[0] + fr[1] * ks[1]
        reuss = 0.0 if min(ks) == 0.0 else 1.0 / (fr[0] / ks[0] + fr[1] / ks[1])
        return {
            "hashin_shtrikman": [lo + 0.0, hi],
            "voigt": voigt,
            "reuss": reuss,
        }  # + 0.0: no "-0.0" in the report
    kap, mus = (pm["kappa"], pi["kappa"]), (pm["mu"], pi["mu"])
    kb = an.hashin_shtrikman_bulk(kap, mus, fr, dim)
    sb = an.hashin_shtrikman_shear(kap, mus, fr, dim)
    tensors = []
    for p in (pm, pi):
        lam = p.get("lam", 0.0)
        tensors.append(isotropic_stiffness_mandel(lam, p["mu"], dim))
    cv = fr[0] * tensors[0] + fr[1] * tensors[1]
    if pi["mu"] == 0.0:
        cr = np.zeros_like(cv)
    else:
        cr = np.linalg.inv(fr[0] * np.linalg.inv(tensors[0]) + fr[1] * np.linalg.inv(tensors[1]))
    mv = measure_values(physics, dim, stiffness_mandel_to_voigt(cv))[measure]
    mr = measure_values(physics, dim, stiffness_mandel_to_voigt(cr))[measure]
    if measure == "bulk":
        hs = [kb[0] + 0.0, kb[1]]
    elif measure == "shear":
        hs = [sb[0] + 0.0, sb[1]]
    else:  # C11 = kappa + c mu for an isotropic tensor
        c = 1.0 if dim == 2 else 4.0 / 3.0
        hs = [kb[0] + c * sb[0], kb[1] + c * sb[1]]
    return {"hashin_shtrikman": hs, "voigt": mv, "reuss": mr}


def _extrapolate(
    values: Sequence[float], tol: float, fit: dict | None, power: float, target: float
) -> float | None:
    """Size at which a fitted power law reaches ``target``, only when no computed size met ``tol``
    and the fitted decay is significant (exponent > 2 standard errors); None otherwise."""
    if fit is None or any(v <= tol for v in values[-1:]):
        return None
    if not (fit["exponent"] > 2.0 * fit["stderr"]):
        return None
    return st.size_for_tolerance(st.PowerLawFit(**fit), target, power=power)


def _fit_or_none(fn, *args) -> dict | None:
    try:
        return fn(*args).to_dict()
    except (ValueError, np.linalg.LinAlgError):
        return None


def summarize(
    cfg: cfgmod.BoundsConfig, records: Mapping[str, dict], cases: Sequence[Case] | None = None
) -> dict:
    """Statistics, fits, tolerance answers and reference bounds from the finished records.

    Pure function of (cfg, records): the same records give the same summary
    whatever order they finished in (values are sorted by realization index).
    """
    cases = build_cases(cfg) if cases is None else cases
    conf = cfg.tolerances.confidence
    measures = cfg.measure_names
    bcs = list(cfg.boundary_conditions)
    ref = cfg.reference
    d = cfg.dim
    out_cases: dict[str, dict] = {}
    complete = True
    for case in cases:
        rows = []
        per_size_values: dict[float, dict[str, dict[str, np.ndarray]]] = {}
        ordering_min: dict[str, float] = {}
        violations = 0
        hm_max = 0.0
        fractions_largest: list[float] = []
        for size, n_exp in zip(case.sizes, case.realizations, strict=True):
            recs = []
            for i in range(n_exp):
                rec = records.get(record_key(cfg, case, size, i))
                if rec is not None:
                    recs.append(rec)
            recs.sort(key=lambda r: r["realization"])
            if len(recs) < n_exp:
                complete = False
            r_eff, n_inc = effective_radius(cfg, size)
            entry: dict = {
                "size": size,
                "L": 2.0 * cfg.radius * size,
                "radius": r_eff,
                "n_inclusions": n_inc,
                "expected": n_exp,
                "n": len(recs),
                "complete": len(recs) == n_exp,
            }
            if not recs:
                rows.append(entry)
                continue
            vals = {
                bc: {
                    m: np.array(
                        [measure_values(cfg.physics, d, np.asarray(r["effective"][bc]))[m] for r in recs]
                    )
                    for m in measures
                }
                for bc in bcs
            }
            per_size_values[size] = vals
            for r in recs:
                for k, v in r["ordering"].items():
                    ordering_min[k] = min(ordering_min.get(k, math.inf), v)
                violations += any(v < -ORDERING_TOL for v in r["ordering"].values())
                hm_max = max(hm_max, max(r["hill_mandel"].values()))
            fr = [r["volume_fractions"]["inclusion"] for r in recs]
            entry["inclusion_fraction_measured"] = float(np.mean(fr))
            if size == case.sizes[-1]:
                fractions_largest = fr
            if len(recs) >= 2:
                entry["stats"] = {
                    bc: {m: st.sample_stats(vals[bc][m], conf).to_dict() for m in measures} for bc in bcs
                }
                if "kubc" in bcs and "tubc" in bcs:
                    gaps = {}
                    for m in measures:
                        k_, t_ = vals["kubc"][m], vals["tubc"][m]
                        base = vals["periodic"][m] if "periodic" in bcs else 0.5 * (k_ + t_)
                        g = {
                            "absolute": st.sample_stats(k_ - t_, conf).to_dict(),
                            "relative": st.sample_stats((k_ - t_) / base, conf).to_dict(),
                        }
                        if "periodic" in bcs:
                            p_ = vals["periodic"][m]
                            g["kubc_excess"] = st.sample_stats((k_ - p_) / p_, conf).to_dict()
                            g["tubc_deficit"] = st.sample_stats((p_ - t_) / p_, conf).to_dict()
                        gaps[m] = g
                    entry["gap"] = gaps
                s_ref = entry["stats"][ref]
                entry["realizations_needed"] = {
                    m: st.realizations_needed(s_ref[m]["std"], s_ref[m]["mean"], cfg.tolerances.ci, conf)
                    for m in measures
                }
            rows.append(entry)
        full = [e for e in rows if "stats" in e]
        fits: dict = {"variance": {bc: {} for bc in bcs}, "relative_gap": {}}
        for bc in bcs:
            for m in measures:
                pts = [e for e in full if e["stats"][bc][m]["std"] > 1e-9 * abs(e["stats"][bc][m]["mean"])]
                fit = None
                if len(pts) >= 2 and len(pts) == len(full):
                    fit = _fit_or_none(
                        st.variance_power_law,
                        [e["size"] for e in pts],
                        [e["stats"][bc][m]["std"] ** 2 for e in pts],
                        [e["n"] for e in pts],
                    )
                fits["variance"][bc][m] = fit
        for m in measures:
            fit = None
            if full and all("gap" in e for e in full):
                rel = [e["gap"][m]["relative"] for e in full]
                if len(full) >= 2 and all(g["mean"] > 0 and g["sem"] > 0 for g in rel):
                    fit = _fit_or_none(
                        st.power_law_fit,
                        [e["size"] for e in full],
                        [g["mean"] for g in rel],
                        [g["sem"] / g["mean"] for g in rel],
                    )
            fits["relative_gap"][m] = fit
        tol = {}
        for m in measures:
            sizes_ = [e["size"] for e in full]
            t_entry: dict = {}
            if full and all("gap" in e for e in full):
                gmean = [e["gap"][m]["relative"]["mean"] for e in full]
                gfit = fits["relative_gap"][m]
                t_entry["gap"] = {
                    "tolerance": cfg.tolerances.gap,
                    "smallest_size": st.smallest_meeting(sizes_, gmean, cfg.tolerances.gap),
                    "extrapolated_size": _extrapolate(
                        gmean, cfg.tolerances.gap, gfit, 1.0, cfg.tolerances.gap
                    ),
                }
            if full:
                cis = [e["stats"][ref][m]["ci_rel"] for e in full]
                pis = [e["stats"][ref][m]["pi_rel"] for e in full]
                t_entry["ci"] = {
                    "tolerance": cfg.tolerances.ci,
                    "bc": ref,
                    "smallest_size": st.smallest_meeting(sizes_, cis, cfg.tolerances.ci),
                }
                vfit = fits["variance"][ref][m]
                mean_last = full[-1]["stats"][ref][m]["mean"]
                z = float(sps.norm.ppf(0.5 * (1.0 + conf)))
                t_entry["single_realization"] = {
                    "tolerance": cfg.tolerances.ci,
                    "bc": ref,
                    "smallest_size": st.smallest_meeting(sizes_, pis, cfg.tolerances.ci),
                    "extrapolated_size": _extrapolate(
                        pis, cfg.tolerances.ci, vfit, 0.5, cfg.tolerances.ci * abs(mean_last) / z
                    ),
                }
                # bias of the mean: a small box can be precise (little scatter: e.g. one inclusion per
                # periodic box is a crystal) yet biased. Judged against the largest size, which
                # therefore cannot be judged itself: the answer is among the smaller sizes, or None.
                means = [e["stats"][ref][m]["mean"] for e in full]
                drift = [abs(mu - means[-1]) / abs(means[-1]) for mu in means[:-1]]
                t_entry["mean_converged"] = {
                    "tolerance": cfg.tolerances.ci,
                    "bc": ref,
                    "relative_to_size": full[-1]["size"],
                    "drift": drift,
                    "smallest_size": st.smallest_meeting(sizes_[:-1], drift, cfg.tolerances.ci)
                    if drift
                    else None,
                }
            g_s = t_entry.get("gap", {}).get("smallest_size")
            c_s = t_entry.get("ci", {}).get("smallest_size")
            t_entry["gap_and_ci"] = max(g_s, c_s) if (g_s is not None and c_s is not None) else None
            tol[m] = t_entry
        refb: dict = {}
        if fractions_largest:
            f_meas = float(np.mean(fractions_largest))
            for m in measures:
                b = reference_bounds(cfg.physics, d, case.materials, f_meas, m)
                b["fraction"] = f_meas
                last = full[-1] if full and full[-1]["size"] == case.sizes[-1] else None
                if last is not None and ref in last["stats"]:
                    pm = last["stats"][ref][m]["mean"]
                    lo, hi = b["hashin_shtrikman"]
                    b["reference_mean_at_largest"] = pm
                    b["inside_hashin_shtrikman"] = bool(lo <= pm <= hi)
                refb[m] = b
        out_cases[case.name] = {
            "ratio": case.ratio,
            "materials": case.materials,
            "wrap": case.wrap,
            "sizes": rows,
            "fits": fits,
            "tolerance": tol,
            "reference_bounds": refb,
            "ordering": {
                "min_relative_eigenvalue": ordering_min,
                "tolerance": ORDERING_TOL,
                "violations": violations,
            },
            "hill_mandel_max": hm_max,
        }
    contrast: dict = {}
    sweep = [c for c in cases if c.name != "main"]
    if sweep and "kubc" in bcs and "tubc" in bcs:
        for m in measures:
            contrast[m] = [
                {
                    "case": c.name,
                    "ratio": c.ratio,
                    "relative_gap": {
                        str(e["size"]): {
                            "mean": e["gap"][m]["relative"]["mean"],
                            "ci": e["gap"][m]["relative"]["ci"],
                        }
                        for e in out_cases[c.name]["sizes"]
                        if "gap" in e
                    },
                }
                for c in sorted(cases, key=lambda c: c.ratio if c.ratio > 0 else math.inf)
            ]
    return {
        "study": "bounds",
        "physics": cfg.physics,
        "dim": d,
        **NOTATION[cfg.physics],
        "length_scale": "ℓ = 2 r (inclusion diameter); size = L/ℓ, box edge L",
        "radius": cfg.radius,
        "volume_fraction": cfg.volume_fraction,
        "exact_fraction": cfg.exact_fraction,
        "boundary_conditions": bcs,
        "reference_bc": ref,
        "measures": measures,
        "measure_definitions": MEASURE_DEFINITIONS[cfg.physics],
        "confidence": conf,
        "tolerances": cfg.tolerances.model_dump(),
        "complete": complete,
        "cases": out_cases,
        "contrast": contrast,
        "config": cfg.model_dump(),
    }


MEASURE_DEFINITIONS = {
    "elasticity": {
        "bulk": "(I:C:I)/d^2: 2D plane strain (C11+C22+2C12)/4 (= lambda+mu if isotropic); "
        "3D Voigt-average bulk",
        "shear": "orientation-averaged shear modulus (2D: (C66 + (C11+C22-2C12)/4)/2; "
        "3D: (2 C' + 3 mean(C44..C66))/5)",
        "C11": "Voigt C11",
    },
    "conductivity": {"k": "tr(K)/d, the mean diagonal conductivity", "K11": "K11"},
}


# ---------------------------------------------------------------------------------------- report files
def _fmt(v) -> str | float | int:
    return "" if v is None else v


def write_report(
    summary: dict, records: Mapping[str, dict], cfg: cfgmod.BoundsConfig, cases: Sequence[Case], out: Path
) -> None:
    """summary.json, the CSV tables and the PNGs (call on one rank)."""
    from fe2.io import bounds_plots

    t0 = time.perf_counter()
    stats_rows, gap_rows, fit_rows, real_rows = [], [], [], []
    measures = summary["measures"]
    for name, c in summary["cases"].items():
        for e in c["sizes"]:
            for bc, per in e.get("stats", {}).items():
                for m, s in per.items():
                    stats_rows.append(
                        [
                            name,
                            c["ratio"],
                            e["size"],
                            e["L"],
                            bc,
                            m,
                            s["n"],
                            s["mean"],
                            s["std"],
                            s["sem"],
                            s["ci"],
                            s["ci_rel"],
                            s["pi_rel"],
                            s["min"],
                            s["max"],
                        ]
                    )
            for m, g in e.get("gap", {}).items():
                gap_rows.append(
                    [
                        name,
                        c["ratio"],
                        e["size"],
                        m,
                        g["absolute"]["n"],
                        g["absolute"]["mean"],
                        g["absolute"]["ci"],
                        g["relative"]["mean"],
                        g["relative"]["ci"],
                        _fmt(g.get("kubc_excess", {}).get("mean")),
                        _fmt(g.get("tubc_deficit", {}).get("mean")),
                    ]
                )
        for bc, per in c["fits"]["variance"].items():
            for m, f in per.items():
                if f:
                    fit_rows.append(
                        [
                            name,
                            "variance",
                            bc,
                            m,
                            f["exponent"],
                            f["stderr"],
                            f["prefactor"],
                            f["n_points"],
                            f["chi2_dof"],
                        ]
                    )
        for m, f in c["fits"]["relative_gap"].items():
            if f:
                fit_rows.append(
                    [
                        name,
                        "relative_gap",
                        "kubc-tubc",
                        m,
                        f["exponent"],
                        f["stderr"],
                        f["prefactor"],
                        f["n_points"],
                        f["chi2_dof"],
                    ]
                )
    for case in cases:
        for size, n_exp in zip(case.sizes, case.realizations, strict=True):
            for i in range(n_exp):
                rec = records.get(record_key(cfg, case, size, i))
                if rec is None:
                    continue
                for bc, C in rec["effective"].items():
                    vals = measure_values(cfg.physics, cfg.dim, np.asarray(C))
                    real_rows.append(
                        [case.name, case.ratio, size, i, rec["seed"], bc, *[vals[m] for m in measures]]
                    )
    conf = int(round(100 * summary["confidence"]))
    write_csv_atomic(
        out / "statistics.csv",
        [
            "case",
            "ratio",
            "size",
            "L",
            "bc",
            "measure",
            "n",
            "mean",
            "std",
            "sem",
            f"ci{conf}",
            f"ci{conf}_rel",
            f"pi{conf}_rel",
            "min",
            "max",
        ],
        stats_rows,
    )
    write_csv_atomic(
        out / "gaps.csv",
        [
            "case",
            "ratio",
            "size",
            "measure",
            "n",
            "gap_mean",
            f"gap_ci{conf}",
            "rel_gap_mean",
            f"rel_gap_ci{conf}",
            "kubc_excess_mean",
            "tubc_deficit_mean",
        ],
        gap_rows,
    )
    write_csv_atomic(
        out / "fits.csv",
        ["case", "quantity", "bc", "measure", "exponent", "stderr", "prefactor", "n_points", "chi2_dof"],
        fit_rows,
    )
    write_csv_atomic(
        out / "realizations.csv", ["case", "ratio", "size", "realization", "seed", "bc", *measures], real_rows
    )
    figures = bounds_plots.draw_all(summary, out)
    if "run" in summary:
        summary["run"]["report_s"] = time.perf_counter() - t0
    summary["files"] = {
        "records": RECORD_GLOB,
        "statistics": "statistics.csv",
        "gaps": "gaps.csv",
        "fits": "fits.csv",
        "realizations": "realizations.csv",
        "figures": figures,
    }
    write_json_atomic(out / "summary.json", summary)
