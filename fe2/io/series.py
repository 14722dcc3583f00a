"""Crash-safe XDMF time series: one closed XDMF/HDF5 pair per frame, joined by an index file.

A long run that appends to one HDF5 file loses it when killed during a write, and
a restart cannot reopen a file a killed process left open. :class:`FieldSeries`
never appends: each frame is written by dolfinx's ``XDMFFile`` in ``"w"`` mode to
its own pair and closed::

    OUT/displacement.xdmf                 # the index: what ParaView opens (one time series)
    OUT/displacement.pvd                  # the same series as VTK XML: what pyvista (and ParaView) read
    OUT/series/displacement.000001.xdmf   # frame of step 1 (and its .h5)
    OUT/series/displacement_000001.pvd    # the same frame as VTK (.pvd + .vtu, .pvtu on several ranks)
    OUT/series/displacement.000002.xdmf

After a frame (and the caller's checkpoint) is on disk, :meth:`FieldSeries.commit`
rewrites the index atomically (temporary file, fsync, rename): the mesh grid of
the first frame, then per function name a temporal collection of every frame's
grid with its HDF5 paths prefixed by ``series/``. A run killed at any moment
leaves an index naming only complete frames; :meth:`FieldSeries.truncate`, called
by a restart, removes frames newer than the checkpoint and rewrites the index,
so the resumed run writes them again.

The frames of one series must share the mesh (the index takes its topology and
geometry from the first frame): true for the fixed meshes of ``fe2 run`` and
``fe2 phasefield``.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from fe2.errors import OutputError, abort_job
from fe2.faults import fault_point

XINCLUDE = "https://www.w3.org/2001/XInclude"
ET.register_namespace("xi", XINCLUDE)
FRAMES = "series"
_HEADER = '<?xml version="1.0"?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n'


class FieldSeries:
    """The time series ``OUT/<stem>.xdmf`` of frames written by one communicator.

    Args:
        out_dir: the output folder.
        stem: the series name, e.g. ``"displacement"``.
        comm: the communicator that writes the frames (the macro mesh's, or ``COMM_SELF``
            for an RVE written by one rank); its rank 0 writes the index.
    """

    def __init__(self, out_dir: str | Path, stem: str, comm) -> None:
        self.out = Path(out_dir)
        self.stem = stem
        self.comm = comm
        self.folder = self.out / FRAMES
        self.index = self.out / f"{stem}.xdmf"
        self._pattern = re.compile(rf"^{re.escape(stem)}\.(\d{{6,}})\.xdmf$")

    def frame_path(self, number: int) -> Path:
        """The XDMF file of frame ``number`` (its HDF5 file has the suffix ``.h5``)."""
        return self.folder / f"{self.stem}.{number:06d}.xdmf"

    def vtk_frame_path(self, number: int) -> Path:
        """The VTK collection (.pvd) of frame ``number``: its data are ``<stem>_<number>*.vtu`` / ``.pvtu``."""
        return self.folder / f"{self.stem}_{number:06d}.pvd"

    def frames(self) -> list[int]:
        """Numbers of the frames on disk, in order (an XDMF file whose HDF5 partner exists)."""
        found = []
        if self.folder.is_dir():
            for p in self.folder.iterdir():
                m = self._pattern.match(p.name)
                if m and p.with_suffix(".h5").is_file():
                    found.append(int(m.group(1)))
        return sorted(found)

    def write(self, number: int, mesh, functions: Sequence, t: float) -> None:
        """Write frame ``number``: the mesh and ``functions`` at time ``t`` (collective on ``comm``), closed."""
        from dolfinx import io

        from fe2.io.fields import write_vtk

        if self.comm.rank == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
        self.comm.Barrier()
        path = self.frame_path(number)
        xdmf = io.XDMFFile(self.comm, path, "w")
        try:
            xdmf.write_mesh(mesh)
            for f in functions:
                xdmf.write_function(f, t)
                fault_point("series.frame")  # inside a frame: part of its functions written
            xdmf.close()
            # the same frame as VTK XML (what pyvista reads; the XDMF reader of VTK 9.7 crashes on these files)
            write_vtk(self.vtk_frame_path(number), functions, t)
        except BaseException as err:
            if self.comm.size > 1:  # a peer may be inside a collective HDF5 write: closing would hang too
                abort_job(self.comm, f"fe2: error (rank {self.comm.rank}): writing {path} failed "
                                     f"({type(err).__name__}: {err}); the job is aborted", 3)
            raise

    def _on_root(self, work) -> None:
        """``work()`` on rank 0; its error is raised on every rank (no peer is left in a collective)."""
        failure = None
        if self.comm.rank == 0:
            try:
                work()
            except (OutputError, OSError) as err:
                failure = f"{err}" if isinstance(err, OutputError) else f"{type(err).__name__}: {err}"
        failure = self.comm.bcast(failure, root=0)
        if failure is not None:
            raise OutputError(failure)

    def commit(self, upto: int | None = None) -> None:
        """Rewrite the index atomically over the frames ``<= upto`` (all frames: ``None``). Collective."""
        self._on_root(lambda: self._write_index([n for n in self.frames() if upto is None or n <= upto]))

    def truncate(self, keep_upto: int) -> None:
        """Restart: remove the frames after ``keep_upto`` (a killed run's) and rewrite the index. Collective."""
        def work() -> None:
            for n in self.frames():
                if n > keep_upto:
                    self.frame_path(n).unlink(missing_ok=True)
                    self.frame_path(n).with_suffix(".h5").unlink(missing_ok=True)
                    for p in self.folder.glob(f"{self.stem}_{n:06d}*"):  # its VTK files
                        p.unlink(missing_ok=True)
            self._write_index(self.frames())

        self._on_root(work)

    # ------------------------------------------------------------------ index
    def _write_index(self, numbers: list[int]) -> None:
        self._write_vtk_index(numbers)
        if not numbers:
            self.index.unlink(missing_ok=True)
            return
        root = ET.Element("Xdmf", {"Version": "3.0"})
        domain = ET.SubElement(root, "Domain")
        collections: dict[str, ET.Element] = {}
        for k, n in enumerate(numbers):
            path = self.frame_path(n)
            try:
                frame = ET.parse(path).getroot().find("Domain")
            except (ET.ParseError, OSError) as err:
                raise OutputError(f"{path}: not a readable XDMF frame ({err})") from err
            if frame is None:
                raise OutputError(f"{path}: not an XDMF frame (no Domain)")
            for grid in frame.findall("Grid"):
                _prefix_hdf_paths(grid, FRAMES)
                if grid.get("GridType") == "Uniform":
                    if k == 0:
                        domain.append(grid)  # the mesh: first Uniform grid, target of the frames' xi:include
                    continue
                name = grid.get("Name", "")
                coll = collections.get(name)
                if coll is None:
                    coll = collections[name] = ET.SubElement(
                        domain, "Grid", {"Name": name, "GridType": "Collection", "CollectionType": "Temporal"})
                coll.extend(list(grid))
        # the mesh grid must come first (xpointer .../Grid[@GridType='Uniform'][1])
        meshes = [g for g in domain if g.get("GridType") == "Uniform"]
        for g in meshes:
            domain.remove(g)
        for g in reversed(meshes):
            domain.insert(0, g)
        ET.indent(root, space="  ")
        tmp = self.index.with_name(self.index.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(_HEADER + ET.tostring(root, encoding="unicode") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        fault_point("series.index")  # new index written, not yet renamed
        os.replace(tmp, self.index)


    def _write_vtk_index(self, numbers: list[int]) -> None:
        """``OUT/<stem>.pvd``: one VTK collection over the VTK frames of ``numbers`` (frames without one,
        e.g. an RVE's written by its material, are left out; none: no file).
        """
        index = self.out / f"{self.stem}.pvd"
        root = ET.Element("VTKFile", {"type": "Collection", "version": "1.0"})
        coll = ET.SubElement(root, "Collection")
        for n in numbers:
            path = self.vtk_frame_path(n)
            if not path.is_file():
                continue
            try:
                datasets = ET.parse(path).getroot().iter("DataSet")
            except (ET.ParseError, OSError) as err:
                raise OutputError(f"{path}: not a readable VTK collection ({err})") from err
            for ds in datasets:
                ds.set("file", f"{FRAMES}/{ds.get('file', '')}")
                coll.append(ds)
        if not len(coll):
            index.unlink(missing_ok=True)
            return
        ET.indent(root, space="  ")
        tmp = index.with_name(index.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, index)


def _prefix_hdf_paths(element: ET.Element, folder: str) -> None:
    """``a.h5:/Function/u/0`` → ``<folder>/a.h5:/Function/u/0`` in every HDF DataItem below ``element``."""
    for item in element.iter("DataItem"):
        if item.get("Format") == "HDF" and item.text and not item.text.strip().startswith(folder + "/"):
            item.text = f"{folder}/{item.text.strip()}"


def truncate_all(out_dir: str | Path, keep_upto: int, comm) -> None:
    """Restart: truncate every series found in ``out_dir/series`` (all stems) to ``keep_upto``. Collective."""
    folder = Path(out_dir) / FRAMES
    stems: list[str] = []
    if comm.rank == 0 and folder.is_dir():
        stems = sorted({m.group(1) for p in folder.iterdir() if (m := re.match(r"^(.+?)\.\d{6,}\.xdmf$", p.name))})
    stems = comm.bcast(stems, root=0)
    for stem in stems:
        FieldSeries(out_dir, stem, comm).truncate(keep_upto)
