"""Reading a run's outputs back from Python: :func:`open_results`.

A command's output folder holds ``result.json`` (written last: its presence means the run
finished), CSV tables with their units in the headers, and field files. Every field file of every
command is written twice: for ParaView (XDMF or VTX ``.bp``) and as a VTK XML collection
(``.pvd`` over ``.vtu``/``.pvtu`` pieces, :func:`fe2.io.fields.write_vtk`), which pyvista reads
natively — the XDMF reader of VTK 9.7 (pyvista 0.49) crashes on dolfinx's XDMF files and the venv
has no h5py/adios2, so the readers here use the VTK files only. The series, by command:

=====================  ==========================================================================
``fe2 run``            ``displacement``, ``stress`` (``stress_voigt`` or ``first_piola`` and the
                       material's scalar fields), ``micro_point<k>`` (RVE ``u``, ``fluctuation``, ...)
``fe2 phasefield``     ``concentration`` (and the other fields of the model)
``fe2 homogenize``     ``fields/<bc>_<case>`` (``u``, ``fluctuation``, cell data ``phase``)
``fe2 darcy``          ``fields`` (``p``, ``u``, ... interpolated into DG_k)
``fe2 reactions``      ``species`` (spatial mode: one field per species)
=====================  ==========================================================================

::

    from fe2.io import open_results
    res = open_results("out/fe2")
    res.result["energy"]["totals"]            # result.json
    res.tables["load_displacement"]["reaction_force"]
    res.times("stress")                       # [0.25, 0.5, ...]
    grid = res.field("stress")                # last frame: a pyvista UnstructuredGrid
    grid.cell_data["stress_voigt"]
    res.phase_names                           # {1: "matrix", 2: "fibre"} (result.json phase_tags)
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fe2.errors import OutputError


@dataclass
class Results:
    """The outputs of one run folder (see :func:`open_results`).

    Attributes:
        folder: the output folder.
        result: ``result.json`` as a dict (``{}`` while the run has not finished).
        tables: per CSV file (its stem): column header (with its unit) -> values (float where numeric).
        series: field series name -> its VTK collection (``<name>.pvd``; files in a subfolder
            are named with it, e.g. ``fields/periodic_E11``).
    """

    folder: Path
    result: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    series: dict[str, Path] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Whether ``result.json`` is there (it is written last)."""
        return bool(self.result)

    @property
    def phase_names(self) -> dict[int, str]:
        """Phase tag (the integer of the ``phase`` cell data) -> phase name of the config, from
        ``result.json``'s ``phase_tags`` (``{}`` for a command without phases).
        """
        return {int(tag): name for name, tag in self.result.get("phase_tags", {}).items()}

    def _reader(self, name: str):
        import pyvista as pv

        if name not in self.series:
            raise OutputError(f"{self.folder}: no field series {name!r} (there are {sorted(self.series)})")
        return pv.get_reader(str(self.series[name]))

    def times(self, name: str) -> list[float]:
        """The times (load factors for ``fe2 run``) of the frames of series ``name``."""
        return [float(t) for t in self._reader(name).time_values]

    def field(self, name: str, frame: int = -1):
        """Frame ``frame`` (index into :meth:`times`; the last by default) of series ``name`` as one
        pyvista ``UnstructuredGrid`` (the pieces of a parallel run merged; fields as point or cell data).
        """
        reader = self._reader(name)
        times = reader.time_values
        reader.set_active_time_value(times[frame])
        data = reader.read()
        while hasattr(data, "n_blocks"):  # MultiBlock (a collection) -> its dataset
            blocks = [b for b in data if b is not None]
            data = blocks[0] if len(blocks) == 1 else blocks[0].merge(blocks[1:])
        ghost = data.cell_data.get("vtkGhostType")
        if ghost is not None and np.any(ghost):  # a parallel run's pieces may overlap by ghost cells
            data = data.extract_cells(np.flatnonzero(ghost == 0))
        # the pieces of a parallel run repeat their shared nodes: merge coincident points (pyvista's
        # tolerance is absolute: 1e-12 of the bounding-box diagonal; a serial frame has none to merge;
        # coincident points carry equal values of the continuous fields fe2 writes, so averaging them
        # changes nothing)
        size = float(np.linalg.norm(np.ptp(data.points, axis=0))) if data.n_points else 1.0
        return data.clean(tolerance=1e-12 * (size or 1.0))


def _read_table(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    out: dict[str, np.ndarray] = {}
    for k, name in enumerate(header):
        col = [r[k] if k < len(r) else "" for r in body]
        try:
            out[name] = np.array([float(v) if v != "" else np.nan for v in col])
        except ValueError:
            out[name] = np.array(col, dtype=object)
    return out


def open_results(folder: str | Path) -> Results:
    """The outputs of the run in ``folder``: ``result.json``, every CSV table and every field series.

    Column names are the CSV headers; a column is also reachable by its bare name (the header
    without its ``[unit]``). Raises :class:`~fe2.errors.OutputError` when ``folder`` is not a directory.
    """
    out = Path(folder)
    if not out.is_dir():
        raise OutputError(f"{out}: no such output folder")
    res = Results(out)
    result = out / "result.json"
    if result.is_file():
        res.result = json.loads(result.read_text())
    for csv_path in sorted(out.glob("*.csv")):
        table = _read_table(csv_path)
        for name in list(table):
            bare = name.split(" [", 1)[0]
            table.setdefault(bare, table[name])
        res.tables[csv_path.stem] = table
    for pvd in sorted([*out.glob("*.pvd"), *out.glob("fields/*.pvd")]):
        res.series[pvd.relative_to(out).with_suffix("").as_posix()] = pvd
    return res


__all__ = ["Results", "open_results"]
