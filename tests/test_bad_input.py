"""The malformed-input campaign: every bad input is one error line naming the key, a non-zero exit, no result.

Each case runs ``fe2.cli.main`` in process on a config derived from a shipped example
(``demos/configs``) and checks: the exit code (2 for bad input unless stated), exactly one
line on stderr, starting ``fe2: error:`` and naming the key (or file), and no ``result.json``
left in ``--out`` (a stale one from an earlier run is put there first: it must be moved
aside to ``result.json.previous``).

The cases are generated over every command's example configs — an unknown key in every table,
``inf`` and ``nan`` for every number (TOML allows both; no fe2 key accepts them), a string
for every number — and written by hand for the checks beyond the schema (formulas on the
mesh, boundary names and components, box vs mesh, size limits, files, the command line).
Every third case also runs under ``mpirun -n 2`` (``make test``'s MPI run: the others are
marked serial), where every rank must end with the same code and only rank 0 prints.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from mpi4py import MPI

from fe2.cli import main
from fe2.config import load_homogenize_config
from fe2.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "demos" / "configs"

#: (command, example config): the bases of the generated cases
BASES = [
    ("homogenize", "fibre_elastic.toml"),
    ("homogenize", "random_2d_conductivity.toml"),
    ("homogenize", "msh_import_elastic.toml"),
    ("homogenize", "laminate_3d_elastic.toml"),
    ("bounds", "bounds/random_disks_elastic.toml"),
    ("run", "run/fe2_plate_j2.toml"),
    ("phasefield", "phasefield/pfhub_bm1b_small.toml"),
    ("phasefield", "phasefield/pfhub_bm1a_homogenize.toml"),
    ("reactions", "reactions/well_mixed_enzyme.toml"),
    ("reactions", "reactions/spatial_reversible_binding.toml"),
    ("darcy", "darcy/isolated_tumour.toml"),
    ("darcy", "darcy/tumour_micro_k.toml"),
    ("identify", "identify/two_compartment.toml"),
    ("uq", "uq/ishigami_sobol.toml"),
    ("reduce", "reduce/fibre_j2_rve.toml"),
    ("reduce", "reduce/reaction_diffusion_pod.toml"),
]
#: keys that name files, made absolute when a case is written elsewhere
PATH_KEYS = {("geometry", "path"), ("domain", "file"), ("network",), ("sbml",)}


# ------------------------------------------------------------------------------- TOML writing
def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def _dump(data: dict, prefix: tuple[str, ...] = ()) -> str:
    """TOML text of ``data``: scalars and lists inline, sub-tables as [a.b], lists of tables as [[a.b]]."""
    lines, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v, False))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            tables.append((k, v, True))
        else:
            lines.append(f"{json.dumps(k)} = {_value(v)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v, many in tables:
        name = ".".join(json.dumps(p) for p in (*prefix, k))
        for item in (v if many else [v]):
            out += f"\n[[{name}]]\n" if many else f"\n[{name}]\n"
            out += _dump(item, (*prefix, k))
    return out


def _base(rel: str) -> dict:
    data = tomllib.loads((CFG / rel).read_text())
    folder = (CFG / rel).parent
    for key in PATH_KEYS:
        cur = data
        for part in key[:-1]:
            cur = cur.get(part, {}) if isinstance(cur, dict) else {}
        if isinstance(cur, dict) and isinstance(cur.get(key[-1]), str):
            cur[key[-1]] = str((folder / cur[key[-1]]).resolve())
    return data


# ------------------------------------------------------------------------------- cases
@dataclass
class Case:
    id: str
    command: str
    config: Callable[[], str | bytes | None]  # the config text (None: no config file)
    expect: str  # a substring of the error line (the key, the file)
    code: int = 2
    args: tuple[str, ...] = ()
    lines: int = 1  # error lines: one per problem (an empty file misses every required key)


def _walk(data, path=()):
    """(path, value) of every leaf, list elements included (path parts: str keys, int indices)."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _walk(v, (*path, k))
    elif isinstance(data, list) and data and not all(isinstance(x, (dict, list)) for x in data):
        for i, v in enumerate(data):
            yield (*path, i), v
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _walk(v, (*path, i))
    else:
        yield path, data


def _tables(data, path=()):
    if isinstance(data, dict):
        yield path
        for k, v in data.items():
            yield from _tables(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            if isinstance(v, dict):
                yield from _tables(v, (*path, i))


def _set(data, path, value):
    cur = data
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value


def _mutated(rel: str, path, value) -> Callable[[], str]:
    def make() -> str:
        data = _base(rel)
        _set(data, path, value)
        return _dump(data)

    return make


def _dotted(path) -> str:
    """The key as the error line names it (an inline network is validated as its own table: ``network: ...``)."""
    text = ".".join(str(p) for p in path)
    return f"network: {text.removeprefix('network.')}" if text.startswith("network.") else text


def generated_cases() -> list[Case]:
    cases = []
    for command, rel in BASES:
        data = _base(rel)
        stem = rel.removesuffix(".toml").replace("/", "-")
        for path in _tables(data):
            if path[-1:] in (("species",), ("parameters",)) or (path[:1] == ("spatial",) and path[-1] in (
                    "diffusivity", "initial")):
                continue  # tables of names: a new key is a new species / parameter (hand cases: unknown species)
            key = (*path, "typo_key")
            cases.append(Case(f"{stem}:unknown:{_dotted(key)}", command, _mutated(rel, key, 1), _dotted(key)))
        for path, v in _walk(data):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or path[-1] in ("seed",):
                continue
            for bad, name in ((math.inf, "inf"), (math.nan, "nan"), ("12abc", "text")):
                cases.append(Case(f"{stem}:{name}:{_dotted(path)}", command, _mutated(rel, path, bad),
                                  _dotted(path)))
    return cases


DELETE = object()


def _with(rel: str, *changes) -> Callable[[], str]:
    """The example with ``(path, value)`` changes applied (``value`` DELETE removes the key)."""
    def make() -> str:
        data = _base(rel)
        for path, value in changes:
            if value is DELETE:
                cur = data
                for part in path[:-1]:
                    cur = cur[part]
                del cur[path[-1]]
            else:
                _set(data, path, value)
        return _dump(data)

    return make


def _append(rel: str, extra: str) -> Callable[[], str]:
    return lambda: _dump(_base(rel)) + extra


RUN = "run/fe2_plate_j2.toml"
PF = "phasefield/pfhub_bm1b_small.toml"
RX = "reactions/spatial_reversible_binding.toml"
WM = "reactions/well_mixed_enzyme.toml"
HOM = "fibre_elastic.toml"
RND = "random_2d_conductivity.toml"
MSH = "msh_import_elastic.toml"
BND = "bounds/random_disks_elastic.toml"
DARCY = "darcy/isolated_tumour.toml"
POD = "reduce/reaction_diffusion_pod.toml"
SCALES = ("--ell", "1", "--L", "10")

HAND: list[Case] = [
    # files and the command line
    Case("file:missing", "homogenize", lambda: None, "config file not found", args=("MISSING",)),
    Case("file:binary", "homogenize", lambda: b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a text (UTF-8) TOML file"),
    Case("file:empty", "homogenize", lambda: "", "physics", lines=3),  # physics, geometry, materials
    Case("file:bad-toml", "homogenize", lambda: "physics = [\n", "invalid TOML"),
    Case("file:duplicate-key", "homogenize", _append(HOM, '\n["geometry"]\n"mesh_size" = 0.1\n'), "invalid TOML"),
    # macro; loading missing ([rve] or [material] is checked once the tables parse)
    Case("file:table-is-a-number", "run", lambda: "macro = 3\n", "macro", lines=2),
    Case("cli:unknown-flag", "homogenize", _with(HOM), "--frobnicate", args=("--frobnicate",)),
    Case("cli:max-cells-negative", "phasefield", _with(PF), "--max-cells", args=("--max-cells", "-5")),
    Case("cli:max-cells-text", "phasefield", _with(PF), "--max-cells", args=("--max-cells", "lots")),
    Case("cli:unprefixed-petsc", "homogenize", _with(HOM), "-ksp_type", args=("-ksp_type", "cg")),
    Case("cli:petsc-typo", "homogenize", _with(HOM), "-fe2_rv_ksp_type", args=("-fe2_rv_ksp_type", "cg")),
    Case("cli:petsc-table-unprefixed", "homogenize", _append(HOM, '\n[petsc]\nksp_type = "cg"\n'),
         "petsc.ksp_type"),
    Case("scales:ell-inf", "scales", lambda: None, "--ell", args=("--ell", "inf", "--L", "inf")),
    Case("scales:ell-zero", "scales", lambda: None, "--ell", args=("--ell", "0", "--L", "1")),
    Case("scales:L-nan", "scales", lambda: None, "--L", args=("--ell", "1", "--L", "nan")),
    Case("scales:tau-alone", "scales", lambda: None, "tau and T", args=(*SCALES, "--tau", "1")),
    Case("scales:T-inf", "scales", lambda: None, "--T", args=(*SCALES, "--tau", "1", "--T", "inf")),
    Case("scales:tau-negative", "scales", lambda: None, "--tau", args=(*SCALES, "--tau", "-1", "--T", "1")),
    Case("scales:space-max", "scales", lambda: None, "space_max", args=(*SCALES, "--space-max", "2")),
    Case("scales:text", "scales", lambda: None, "--ell", args=("--ell", "x", "--L", "1")),
    # resource guards
    Case("limits:mesh_size-1e-6", "homogenize", _with(HOM, (("geometry", "mesh_size"), 1e-6)),
         "geometry.mesh_size: would make about"),
    Case("limits:pf-cells", "phasefield", _with(PF, (("domain", "cells"), [30000, 30000])),
         "domain.cells: would make about"),
    Case("limits:bounds-sizes", "bounds", _with(BND, (("sizes",), [2, 3000]), (("realizations",), 4),
                                                (("contrast", "sizes"), [2]),),
         "sizes / elements_per_radius: would make about"),
    Case("limits:bounds-epr", "bounds", _with(BND, (("elements_per_radius",), 100000)),
         "sizes / elements_per_radius: would make about"),
    Case("limits:rx-cells", "reactions", _with(RX, (("spatial", "mesh", "cells"), [5000, 5000])),
         "spatial.mesh.cells: would make about"),
    Case("limits:run-macro", "run", _with(RUN, (("macro", "domain", "mesh_size"), 5e-4)),
         "macro.domain.mesh_size: would make about"),
    Case("limits:run-rve", "run", _with(RUN, (("rve", "geometry", "mesh_size"), 5e-4)),
         "rve.geometry.mesh_size: would make about"),
    Case("limits:run-points-x-rve", "run", _with(RUN, (("macro", "domain", "mesh_size"), 0.002)),
         "points x RVE cells"),
    Case("limits:darcy", "darcy", _with(DARCY, (("domain", "mesh_size"), 1e-8)), "domain.mesh_size: would make about"),
    Case("limits:table-lowered", "phasefield", _append(PF, "\n[limits]\nmax_cells = 100\n"),
         "more than limits.max_cells = 100"),
    Case("limits:flag-lowered", "phasefield", _with(PF), "more than --max-cells = 100", args=("--max-cells", "100")),
    Case("limits:bad-table", "phasefield", _append(PF, "\n[limits]\nmax_cells = -1\n"), "limits.max_cells"),
    Case("limits:unknown-limit", "phasefield", _append(PF, "\n[limits]\nmax_dofs = 1\n"), "limits.max_dofs"),
    # fe2 run: the domain
    Case("run:component-2-in-2d", "run", _with(RUN, (("macro", "dirichlet", 2, "component"), 2)),
         "macro.dirichlet[2].component: 2 is not a component of the 2D domain"),
    Case("run:component-3", "run", _with(RUN, (("macro", "dirichlet", 0, "component"), 3)),
         "macro.dirichlet.0.component"),
    Case("run:boundary-typo", "run", _with(RUN, (("macro", "dirichlet", 0, "boundary"), "lft")),
         "macro.dirichlet[0].boundary: 'lft' is not a boundary"),
    Case("run:monitor-component", "run", _with(RUN, (("loading", "monitor", "component"), 2)),
         "loading.monitor.component"),
    Case("run:monitor-boundary", "run", _with(RUN, (("loading", "monitor", "boundary"), "hole2")),
         "loading.monitor.boundary"),
    Case("run:radius-too-big", "run", _with(RUN, (("macro", "domain", "radius"), 1.5)), "macro.domain.radius"),
    Case("run:micro-point-3d", "run", _with(RUN, (("output", "micro_points"), [[0.21, 0.02, 0.0]])),
         "output.micro_points[0]"),
    Case("run:micro-point-outside", "run", _with(RUN, (("output", "micro_points"), [[5.0, 5.0]])),
         "lie outside the macro domain"),
    Case("run:load-not-increasing", "run", _with(RUN, (("loading", "load_factors"), [0.5, 0.25])), "load_factors"),
    Case("run:load-empty", "run", _with(RUN, (("loading", "load_factors"), [])), "loading.load_factors"),
    Case("run:young-zero", "run", _with(RUN, (("rve", "materials", "fibre", "young"), 0.0)),
         "rve.materials.fibre.young"),
    Case("run:unknown-model", "run", _with(RUN, (("rve", "materials", "fibre", "model"), "hyperelastic")),
         "rve.materials.fibre"),
    Case("run:mixed-kinematics", "run", _with(RUN, (("rve", "materials", "fibre", "model"), "neo_hookean")),
         "neo_hookean"),
    Case("run:no-dirichlet", "run", _with(RUN, (("macro", "dirichlet"), DELETE)), "macro.dirichlet"),
    Case("run:restart-bad-config", "run", _with(RUN, (("rve", "materials", "matrix", "h_iso"), -0.3)),
         "h_iso", args=("--restart",)),
    # fe2 homogenize
    Case("hom:young-zero-points-to-void", "homogenize", _with(HOM, (("materials", "fibre", "young"), 0.0)),
         "materials.fibre.young: must be > 0, got 0 (a phase with none is a pore: give it `void = true`"),
    Case("hom:conductivity-for-elasticity", "homogenize",
         _with(HOM, (("materials", "fibre"), {"conductivity": 1.0})), "materials.fibre"),
    Case("hom:lengths-negative", "homogenize", _with(RND, (("geometry", "lengths"), [2.0, -1.0])),
         "geometry.lengths.1"),
    Case("hom:min-gap-negative", "homogenize", _with(RND, (("geometry", "min_gap"), -0.1)), "geometry.min_gap"),
    Case("hom:volume-fraction-1", "homogenize", _with(HOM, (("geometry", "volume_fraction"), 1.0)),
         "geometry.volume_fraction"),
    Case("hom:radius-and-fraction", "homogenize", _with(HOM, (("geometry", "radius"), 0.2)),
         "exactly one of volume_fraction and radius"),
    Case("hom:bc-twice", "homogenize", _with(HOM, (("boundary_conditions",), ["kubc", "kubc"])),
         "boundary_conditions"),
    Case("hom:bc-unknown", "homogenize", _with(HOM, (("boundary_conditions",), ["dirichlet"])),
         "boundary_conditions.0"),
    Case("hom:physics-typo", "homogenize", _with(HOM, (("physics",), "elastisity")), "physics"),
    Case("hom:msh-missing", "homogenize", _with(MSH, (("geometry", "path"), "/nonexistent/no_such_mesh.msh")),
         "geometry.path: mesh file not found"),
    Case("hom:msh-box-larger", "homogenize", _with(MSH, (("geometry", "box_max"), [2.0, 2.0])),
         "is larger than the mesh"),
    Case("hom:msh-box-only-min", "homogenize", _with(MSH, (("geometry", "box_max"), DELETE)),
         "box_min and box_max"),
    Case("hom:msh-box-smaller", "homogenize", _with(MSH, (("geometry", "box_max"), [0.5, 1.0])),
         "outside the given box"),
    Case("hom:all-void", "homogenize", _with(HOM, (("materials", "matrix"), {"void": True}),
                                             (("materials", "fibre"), {"void": True})), "every phase is a void"),
    Case("hom:phase-missing", "homogenize", _with(HOM, (("materials", "fibre"), DELETE)), "fibre"),
    # fe2 phasefield
    Case("pf:t_end-inf", "phasefield", _with(PF, (("time", "t_end"), math.inf)), "time.t_end"),
    Case("pf:c0-nan", "phasefield", _with(PF, (("initial", "c0"), math.nan)), "initial.c0"),
    Case("pf:dt-above-dt_max", "phasefield", _with(PF, (("time", "dt_max"), 0.1)), "dt_min <= dt <= dt_max"),
    Case("pf:cells-and-length", "phasefield", _with(PF, (("domain", "cells"), [50, 50, 50])), "domain"),
    Case("pf:kappa-zero", "phasefield", _with(PF, (("kappa",), 0.0)), "kappa"),
    Case("pf:model-typo", "phasefield", _with(PF, (("model",), "cahn-hilliard")), "model"),
    Case("pf:output-after-end", "phasefield", _with(PF, (("output", "times"), [500.0])), "output.times"),
    Case("pf:every-zero", "phasefield", _with(PF, (("output", "every"), 0)), "output.every"),
    # fe2 reactions
    Case("rx:ic-negative", "reactions", _with(RX, (("spatial", "initial", "A"), "-1 - x")),
         "spatial.initial.A: '-1 - x' gives the negative concentration -2 at (x, y) = (1, 0)"),
    Case("rx:ic-nan", "reactions", _with(RX, (("spatial", "initial", "A"), "log(x - 2)")),
         "spatial.initial.A: 'log(x - 2)' is not a finite number"),
    Case("rx:ic-unparsable", "reactions", _with(RX, (("spatial", "initial", "A"), "1 + (x")),
         "spatial.initial.A: cannot parse '1 + (x': TokenError"),
    Case("rx:ic-unknown-name", "reactions", _with(RX, (("spatial", "initial", "A"), "1 + z")),
         "spatial.initial.A: unknown name(s) z"),
    Case("rx:ic-negative-constant", "reactions", _with(RX, (("spatial", "initial", "A"), -0.5)),
         "spatial.initial.A"),
    Case("rx:ic-division-by-zero", "reactions", _with(RX, (("spatial", "initial", "A"), "1/x")),
         "spatial.initial.A: '1/x' is not a finite number at (x, y) = (0, 0)"),
    Case("rx:ic-unknown-species", "reactions", _with(RX, (("spatial", "initial", "Z"), "1")), "Z"),
    Case("rx:rate-unknown-name", "reactions", _with(RX, (("network", "reactions", 0, "k"), "k*q")), "k*q"),
    Case("rx:equation-garbled", "reactions", _with(RX, (("network", "reactions", 0, "equation"), "A + -> C")),
         "reactions.0"),
    Case("rx:diffusivity-unknown-species", "reactions", _with(RX, (("spatial", "diffusivity", "Q"), 1.0)),
         "spatial.diffusivity: unknown species 'Q'"),
    Case("rx:negative-rate-constant", "reactions", _with(RX, (("network", "parameters", "k"), -5.0)), "k"),
    Case("rx:negative-initial", "reactions", _with(RX, (("network", "species", "A"), -0.5)), "A"),
    Case("rx:dt-zero", "reactions", _with(RX, (("spatial", "dt"), 0.0)), "spatial.dt"),
    Case("rx:scheme-typo", "reactions", _with(RX, (("spatial", "scheme"), "strange")), "spatial.scheme"),
    Case("rx:mode-typo", "reactions", _with(RX, (("mode",), "spacial")), "mode"),
    Case("rx:diffusivity-negative", "reactions", _with(RX, (("spatial", "diffusivity", "A"), -1.0)),
         "spatial.diffusivity.A"),
    # fe2 darcy
    Case("darcy:boundary-twice", "darcy", _append(DARCY, '\n[[boundary]]\nname = "outer"\npressure = 1.0\n'),
         "boundary: 'outer' is given twice"),
    Case("darcy:host-inside-tumour", "darcy", _with(DARCY, (("domain", "host_radius"), 0.0005)), "host_radius"),
    Case("darcy:preset-typo", "darcy", _with(DARCY, (("tissue", "tumour", "preset"), "baxter_jain_tumor")), "preset"),
    Case("darcy:flux-in-mixed", "darcy", _with(DARCY, (("boundary", 0, "flux"), 1.0),
                                               (("boundary", 0, "pressure"), DELETE)), "needs formulation"),
    Case("darcy:formulation-typo", "darcy", _with(DARCY, (("formulation",), "hybrid")), "formulation"),
    # fe2 bounds
    Case("bounds:size-one", "bounds", _with(BND, (("sizes",), [1.0, 2.0]), (("realizations",), 4),
                                            (("contrast", "sizes"), [2])), "sizes"),
    Case("bounds:radius-inf", "bounds", _with(BND, (("radius",), math.inf)), "radius"),
    Case("bounds:one-realization", "bounds", _with(BND, (("realizations",), 1)), "realizations"),
    Case("bounds:realizations-count", "bounds", _with(BND, (("realizations",), [4, 4])), "realizations"),
    Case("bounds:size-twice", "bounds", _with(BND, (("sizes",), [2, 2]), (("realizations",), 4),
                                              (("contrast", "sizes"), [2])), "sizes"),
    Case("bounds:contrast-size-unknown", "bounds", _with(BND, (("contrast", "sizes"), [5])), "contrast.sizes"),
    # fe2 reduce, method = "pod"
    Case("pod:tol-zero", "reduce", _with(POD, (("reduction", "pod_tol"), 0.0)),
         "reduction.pod_tol: must be in [1e-12, 1)"),
    Case("pod:tol-one", "reduce", _with(POD, (("reduction", "pod_tol"), 1.0)), "reduction.pod_tol"),
    Case("pod:order-given", "reduce", _with(POD, (("reduction", "order"), 3)), "reduction.order"),
    Case("pod:km-zero", "reduce", _with(POD, (("reaction", "parameters", "km"), 0.0)),
         "reaction.parameters.km: must be > 0"),
    Case("pod:vmax-missing", "reduce", _with(POD, (("reaction", "parameters", "vmax"), DELETE)),
         "reaction.parameters.vmax: required"),
    Case("pod:law-typo", "reduce", _with(POD, (("reaction", "kind"), "hill")), "reaction.kind"),
    Case("pod:unsafe-formula", "reduce", _with(POD, (("reaction", "kind"), "expression"), (("reaction", "expression"),
                                                   "__import__('os').system('true')")), "reaction.expression"),
    Case("pod:formula-unknown-name", "reduce", _with(POD, (("reaction", "kind"), "expression"),
                                                      (("reaction", "expression"), "-vmax*c/(K + c)")),
         "unknown name 'K'"),
    Case("pod:no-reaction", "reduce", _with(POD, (("reaction",), DELETE)), "reaction: required"),
    Case("pod:two-species", "reduce", _with(POD, (("system", "diffusivity"), [0.05, 0.05]),
                                            (("system", "jacobian"), [[0.0, 0.0], [0.0, 0.0]])), "system.diffusivity"),
    Case("pod:dt-not-dividing", "reduce", _with(POD, (("time", "dt"), 0.3)), "time: t_end / dt must be an integer"),
    Case("pod:too-many-steps", "reduce", _with(POD, (("time", "dt"), 1e-3)), "time: t_end / dt must be an integer"),
    Case("pod:test-is-training", "reduce", _with(POD, (("test_input",), {"influx": {
        "offset": 1.0, "sines": [{"amplitude": 0.8, "frequency": 0.15}]}})), "test_input: must differ"),
    Case("pod:test-signal-missing", "reduce", _with(POD, (("test_input", "influx"), DELETE)), "test_input.influx"),
    Case("pod:training-unknown-input", "reduce", _with(POD, (("training_input", "source"), {"offset": 1.0})),
         "training_input.source"),
    Case("pod:frequency-zero", "reduce", _with(POD, (("test_input", "influx", "sines", 0, "frequency"), 0.0)),
         "test_input.influx.sines.0.frequency"),
    Case("pod:tables-in-bt", "reduce", _with(POD, (("reduction", "method"), "balanced_truncation"),
                                             (("reduction", "order"), 6)),
         "reaction: only for reduction.method = 'pod'"),
]


def _all_cases() -> list:
    cases = generated_cases() + HAND
    params = []
    for i, c in enumerate(cases):
        marks = () if i % 3 == 0 else (pytest.mark.serial,)
        params.append(pytest.param(c, id=c.id, marks=marks))
    return params


CASES = _all_cases()


def test_campaign_is_large_enough():
    """The issue asks for at least 150 malformed inputs over all commands; count them per command."""
    per: dict[str, int] = {}
    for p in CASES:
        per[p.values[0].command] = per.get(p.values[0].command, 0) + 1
    assert sum(per.values()) >= 150 and set(per) == {"homogenize", "bounds", "run", "phasefield", "reactions",
                                                     "darcy", "scales", "identify", "uq", "reduce"}, per


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_naming_the_key(case: Case, shared_tmp_path, capsys):
    comm = MPI.COMM_WORLD
    cfg_path = shared_tmp_path / "case.toml"
    out = shared_tmp_path / "out"
    text = case.config()
    if comm.rank == 0:
        out.mkdir()
        (out / "result.json").write_text('{"stale": true}')  # an earlier run's result
        if isinstance(text, bytes):
            cfg_path.write_bytes(text)
        elif text is not None:
            cfg_path.write_text(text)
    comm.Barrier()
    if case.command == "scales":
        argv = ["scales", *case.args, "--out", str(out)]
    elif case.args[:1] == ("MISSING",):
        argv = [case.command, str(shared_tmp_path / "missing.toml"), "--out", str(out)]
    else:
        argv = [case.command, str(cfg_path), "--out", str(out), *case.args]
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == case.code, (code, err)
    if comm.rank == 0:
        assert len(err) == case.lines, err
        assert all(line.startswith("fe2: error:") for line in err) and case.expect in err[0], err
    else:
        assert err == []
    if case.id.startswith("cli:") or case.id == "scales:text" or "--restart" in case.args:
        return  # argparse rejected the command line (no run started), or --restart keeps the run's result
    assert not (out / "result.json").exists()


def test_every_validation_error_is_listed_on_its_own_line(shared_tmp_path, capsys):
    """Three problems in one file: three lines, each naming its key (none hidden behind '(+N more)');
    the misspelt key with its suggestion first, the required key it stands for not reported missing."""
    cfg = shared_tmp_path / "three.toml"
    if MPI.COMM_WORLD.rank == 0:
        cfg.write_text('physics = "elasticity"\nboundary_conditions = ["kubc", "bogus"]\n'
                       '[geometry]\nkind = "square_array"\nvolume_fracton = 0.3\nmesh_size = -1\n'
                       '[materials.matrix]\nyoung = 1.0\npoisson = 0.3\n')
    MPI.COMM_WORLD.Barrier()
    if MPI.COMM_WORLD.rank == 0:
        with pytest.raises(ConfigError) as info:
            load_homogenize_config(cfg)
        lines = str(info.value).splitlines()
        assert [line.split(": ")[1] for line in lines] == [
            "geometry.volume_fracton", "boundary_conditions.1", "geometry.mesh_size"]
        assert "did you mean 'volume_fraction'?" in lines[0] and "more)" not in str(info.value)
    assert main(["homogenize", str(cfg), "--check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    if MPI.COMM_WORLD.rank == 0:
        assert len(err) == 3 and all(line.startswith("fe2: error: ") for line in err), err
