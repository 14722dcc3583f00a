#!/usr/bin/env python3
"""Write the macro plate mesh and the RVE mesh of an ``fe2 run`` config as gmsh files.

Run with fe2's own venv (it needs fe2, gmsh and dolfinx)::

    .venv/bin/python bench/peers/export_meshes_for_fedoo.py demos/configs/fe2_plate_j2.toml \
        --out bench/peers/_work/fe2_meshes [--macro-mesh-size 0.2] [--rve-mesh-size 0.15]

The meshes are the ones fe2 itself builds: the script calls fe2's own generators
(``build_macro_domain`` -> ``fe2.geometry.macro_domains.plate_with_hole`` and
``build_rve`` -> ``fe2.geometry.inclusions.square_array``) and, through a wrapper around
their gmsh builder, ``gmsh.write``s the model right after fe2 meshed it, before
dolfinx reads it. The files therefore hold the same nodes and cells that ``fe2 run``
uses (gmsh meshing is deterministic; the sidecar JSON records the cell counts of
both the file and fe2's dolfinx mesh as a check).

Outputs in ``--out``:

* ``macro.msh`` -- gmsh 4.1 ASCII, 3-node triangles in physical surface "plate",
  2-node lines in physical curves "left", "bottom", "right", "top", "hole".
* ``rve.msh`` -- gmsh 4.1 ASCII, 3-node triangles in physical surfaces "matrix"
  (tag 1) and "fibre" (tag 2) on the unit cell; the mesh is periodic (gmsh
  ``setPeriodic`` on opposite faces: paired boundary nodes coincide after a
  translation by the cell length, and the file has a ``$Periodic`` section).
* ``fe2_config.toml`` -- the config with the overrides applied, to run fe2 on the
  very same meshes: ``fe2 run OUT/fe2_config.toml --out ...``.
* ``meshes.json`` -- provenance and counts.

Only ``macro.domain.kind = "plate_with_hole"`` and 2D RVE generators are meant here
(the fedoo FE2 peer, ``fedoo_fe2.py``, is 2D plane strain); other kinds are written
too but not checked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mpi4py import MPI

import fe2.geometry._gmsh as _g
from fe2.config.run import load_run_config

_WRITE_OPTIONS = {"Mesh.MshFileVersion": 4.1, "Mesh.Binary": 0, "Mesh.SaveAll": 0}


def _patched_mesh_and_distribute(target: Path, orig):
    """mesh_and_distribute whose builder also writes the meshed gmsh model to ``target``."""

    def wrapper(comm, rank, dim, builder, **kwargs):
        def writing_builder(g):
            info = builder(g)
            saved = {k: g.option.getNumber(k) for k in _WRITE_OPTIONS}
            try:
                for k, v in _WRITE_OPTIONS.items():
                    g.option.setNumber(k, v)
                g.write(str(target))
            finally:
                for k, v in saved.items():
                    g.option.setNumber(k, v)
            return info

        return orig(comm, rank, dim, writing_builder, **kwargs)

    return wrapper


def _geometry_modules():
    """fe2.geometry modules that imported mesh_and_distribute by name (the generators)."""
    import importlib
    import pkgutil

    import fe2.geometry as pkg

    mods = []
    for m in pkgutil.iter_modules(pkg.__path__):
        mod = importlib.import_module(f"fe2.geometry.{m.name}")
        if getattr(mod, "mesh_and_distribute", None) is _g.mesh_and_distribute:
            mods.append(mod)
    return mods


def _write_with(target: Path, fn, *args):
    """Run an fe2 generator with every geometry module's mesh_and_distribute patched."""
    mods = _geometry_modules()
    orig = _g.mesh_and_distribute
    patched = _patched_mesh_and_distribute(target, orig)
    try:
        for m in mods:
            m.mesh_and_distribute = patched
        return fn(*args)
    finally:
        for m in mods:
            m.mesh_and_distribute = orig


# ---- minimal TOML writer (the config holds tables, numbers, strings, arrays of tables) ----
def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items() if x is not None) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml(d: dict, prefix: str = "") -> str:
    lines, subs = [], []
    for k, v in d.items():
        if v is None:
            continue
        # [rve.materials] holds one table per phase: write those as sections
        if isinstance(v, dict) and (not prefix or prefix.endswith("materials") or k == "materials"):
            subs.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    out = ""
    if prefix and lines:
        out += f"[{prefix}]\n"
    out += "".join(line + "\n" for line in lines)
    for k, v in subs:
        out += "\n" + _toml(v, f"{prefix}.{k}" if prefix else k)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", help="fe2 run TOML (e.g. demos/configs/fe2_plate_j2.toml)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--macro-mesh-size", type=float, help="override macro.domain.mesh_size")
    p.add_argument("--rve-mesh-size", type=float, help="override rve.geometry.mesh_size")
    args = p.parse_args()

    from fe2.apps.homogenize.runner import build_rve
    from fe2.apps.run.runner import build_macro_domain

    cfg = load_run_config(args.config)
    if args.macro_mesh_size is not None:
        dom = cfg.macro.domain.model_copy(update={"mesh_size": args.macro_mesh_size})
        cfg = cfg.model_copy(update={"macro": cfg.macro.model_copy(update={"domain": dom})})
    if args.rve_mesh_size is not None:
        geo = cfg.rve.geometry.model_copy(update={"mesh_size": args.rve_mesh_size})
        cfg = cfg.model_copy(update={"rve": cfg.rve.model_copy(update={"geometry": geo})})

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    comm = MPI.COMM_SELF
    macro_path, rve_path = out / "macro.msh", out / "rve.msh"

    domain = _write_with(macro_path, build_macro_domain, cfg, comm)
    rve = _write_with(rve_path, build_rve, cfg.rve.geometry, comm)

    cfg_path = out / "fe2_config.toml"
    header = (f"# written by bench/peers/export_meshes_for_fedoo.py from {args.config}\n"
              f"# (overrides: macro mesh_size={args.macro_mesh_size}, "
              f"rve mesh_size={args.rve_mesh_size})\n\n")
    cfg_path.write_text(header + _toml(cfg.model_dump()))
    load_run_config(cfg_path)  # the written config must validate

    tdim = 2
    info = {
        "script": "export_meshes_for_fedoo.py",
        "source_config": str(args.config),
        "fe2_config": str(cfg_path),
        "format": "gmsh 4.1 ASCII (Mesh.SaveAll = 0: only elements of physical groups)",
        "macro": {
            "path": str(macro_path),
            "domain": cfg.macro.domain.model_dump(),
            "physical_groups": {"surface": ["plate"], "curves": sorted(domain.boundaries)},
            "fe2_cells": int(domain.mesh.topology.index_map(tdim).size_global),
            "fe2_vertices": int(domain.mesh.topology.index_map(0).size_global),
            "description": domain.description,
        },
        "rve": {
            "path": str(rve_path),
            "geometry": cfg.rve.geometry.model_dump(),
            "phases": dict(rve.phases),
            "fe2_cells": int(rve.mesh.topology.index_map(rve.mesh.topology.dim).size_global),
            "fe2_vertices": int(rve.mesh.topology.index_map(0).size_global),
            "volume_fractions": rve.description.get("volume_fractions"),
        },
    }
    (out / "meshes.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    print(f"wrote {macro_path} ({info['macro']['fe2_cells']} triangles), {rve_path} "
          f"({info['rve']['fe2_cells']} triangles), {cfg_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
