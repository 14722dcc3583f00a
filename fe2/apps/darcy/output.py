"""Output of perfusion results: VTX and VTK fields, point sampling, radial pressure profile (CSV + PNG).

Fields are interpolated into discontinuous P_k (k = max(1, degree of the data)) so that
P_k, DG and Raviart–Thomas data all go into one VTX (``.bp``) file readable by ParaView, and into
one VTK collection (``.pvd``, :func:`fe2.io.fields.write_vtk`) that pyvista reads too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dolfinx import fem, geometry, io

from fe2.errors import OutputError
from fe2.io.fields import write_vtk
from fe2.io.results import write_csv_atomic


def write_fields(path: str | Path, functions: dict[str, fem.Function], degree: int = 1,
                 time: float = 0.0) -> list[Path]:
    """Write scalar/vector fields (any element) into one VTX file ``path`` (.bp) and one VTK
    collection (``path`` with suffix .pvd), collective; returns both paths.

    Each function is interpolated into DG_degree (scalar or vector) first.
    """
    path = Path(path).with_suffix(".bp")
    fs = list(functions.values())
    msh = fs[0].function_space.mesh
    if msh.comm.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
    msh.comm.Barrier()
    out = []
    for name, f in functions.items():
        shape = f.ufl_shape
        V = fem.functionspace(msh, ("DG", degree, shape) if shape else ("DG", degree))
        g = fem.Function(V, name=name)
        g.interpolate(f)
        out.append(g)
    with io.VTXWriter(msh.comm, path, out, engine="BP4") as vtx:
        vtx.write(time)
    return [path, write_vtk(path.with_suffix(".pvd"), out, time)]


class FieldFrames:
    """One time series of fields in the files a user opens: ``<path>.bp`` (VTX, ParaView) and
    ``<path>.pvd`` (VTK, pyvista and :func:`fe2.io.open_results`), one frame per :meth:`write`.

    Every frame holds every field named at construction, interpolated into DG_degree (scalar or
    vector): a field without a source in a frame (the solute before it is injected) is zero there.
    Collective on the mesh's communicator; :meth:`close` ends both files.

    Args:
        path: the series' path; its suffix is replaced by ``.bp`` and ``.pvd``.
        msh: the mesh of every field.
        shapes: field name -> value shape (``()`` scalar, ``(d,)`` vector), in file order.
    """

    def __init__(self, path: str | Path, msh, shapes: dict[str, tuple[int, ...]], degree: int = 1) -> None:
        self.path = Path(path).with_suffix(".bp")
        if msh.comm.rank == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        msh.comm.Barrier()
        self.targets = {}
        for name, shape in shapes.items():
            V = fem.functionspace(msh, ("DG", degree, shape) if shape else ("DG", degree))
            self.targets[name] = fem.Function(V, name=name)
        self.times: list[float] = []
        self._vtx = io.VTXWriter(msh.comm, self.path, list(self.targets.values()), engine="BP4")
        self._vtk = io.VTKFile(msh.comm, self.path.with_suffix(".pvd"), "w")

    def write(self, sources: dict[str, fem.Function], t: float) -> None:
        """One frame at time ``t``: each named field interpolated from its source (collective)."""
        for name, g in self.targets.items():
            if name in sources:
                g.interpolate(sources[name])
        self._vtx.write(t)
        self._vtk.write_function(list(self.targets.values()), t)
        self.times.append(float(t))

    def close(self) -> list[Path]:
        """End both files; returns their paths."""
        self._vtx.close()
        self._vtk.close()
        return [self.path, self.path.with_suffix(".pvd")]


def sample(f: fem.Function, points: np.ndarray) -> np.ndarray:
    """Values of ``f`` at ``points`` (N, 3) on every rank (collective); NaN where no cell holds a point."""
    msh = f.function_space.mesh
    pts = np.ascontiguousarray(points, dtype=np.float64)
    tree = geometry.bb_tree(msh, msh.topology.dim)
    cand = geometry.compute_collisions_points(tree, pts)
    cells = geometry.compute_colliding_cells(msh, cand, pts)
    vs = int(np.prod(f.ufl_shape)) if f.ufl_shape else 1
    local = np.full((pts.shape[0], vs), np.nan)
    idx, cl = [], []
    for i in range(pts.shape[0]):
        links = cells.links(i)
        if links.size:
            idx.append(i)
            cl.append(links[0])
    if idx:
        local[idx] = f.eval(pts[idx], np.asarray(cl, dtype=np.int32)).reshape(len(idx), vs)
    allv = msh.comm.allgather(local)
    out = np.full_like(local, np.nan)
    for a in allv:  # first rank that found the point wins
        m = np.isnan(out[:, 0]) & ~np.isnan(a[:, 0])
        out[m] = a[m]
    return out[:, 0] if vs == 1 else out


def radial_profile(p: fem.Function, radius: float, n: int = 101, direction=(1.0, 0.0, 0.0),
                   shrink: float = 1.0 - 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """(r, p(r)) along ``direction`` from the origin to ``radius·shrink`` (inside the polygonal boundary)."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    r = np.linspace(0.0, radius * shrink, n)
    return r, sample(p, r[:, None] * d[None, :])


def write_radial_profile(path_stem: str | Path, r: np.ndarray, p_num: np.ndarray, p_exact: np.ndarray | None,
                         comm, *, r_unit: float = 1e-3, p_unit: float = 101325.0 / 760.0,
                         labels=("r [mm]", "p [mmHg]"), title: str = "interstitial pressure") -> Path:
    """CSV (SI) and PNG (axes in ``r_unit``, ``p_unit``: mm, mmHg) of a radial profile; rank 0 writes."""
    stem = Path(path_stem)
    rows = [[ri, pi] + ([pe] if p_exact is not None else []) for ri, pi, pe in
            zip(r, p_num, p_exact if p_exact is not None else r, strict=False)]
    header = ["r_m", "p_Pa"] + (["p_exact_Pa"] if p_exact is not None else [])
    write_csv_atomic(stem.with_suffix(".csv"), header, rows, comm)
    png = stem.with_suffix(".png")
    problem = ""
    if comm.rank == 0:
        try:
            _plot_profile(png, r, p_num, p_exact, r_unit, p_unit, labels, title)
        except Exception as exc:  # noqa: BLE001 - reported on every rank below
            problem = f"cannot draw {png}: {exc}"
    problem = comm.bcast(problem, root=0)
    if problem:
        raise OutputError(problem)
    return png


def _plot_profile(png: Path, r, p_num, p_exact, r_unit, p_unit, labels, title) -> None:
    """Rank-0 part of :func:`write_radial_profile` (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=120)
    if p_exact is not None:
        ax.plot(r / r_unit, p_exact / p_unit, "k-", lw=1.5, label="Baxter & Jain (analytic)")
    ax.plot(r / r_unit, p_num / p_unit, "o", ms=3, mfc="none", label="finite elements")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
