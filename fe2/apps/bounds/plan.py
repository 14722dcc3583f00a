"""Planning of a bound-convergence study: material cases, record specs and keys, seeds, tasks.

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

Pure Python/numpy, no MPI and no mesh: the same plan on every rank.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fe2 import config as cfgmod

__all__ = [
    "RECORD_VERSION",
    "Case",
    "Task",
    "build_cases",
    "build_tasks",
    "case_label",
    "effective_radius",
    "realization_seed",
    "record_key",
    "record_spec",
]

#: Version of the record format; part of every key (bump when the numbers a record holds change meaning).
RECORD_VERSION = 1


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


def case_label(spec: Mapping, cases: Sequence[Case]) -> str:
    """The name of the case whose materials a record spec holds (``"?"`` if none)."""
    for c in cases:
        if c.materials == spec["materials"]:
            return c.name
    return "?"
