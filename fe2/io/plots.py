"""PNG pictures of RVE fields (rank 0 only, off-screen).

2D fields are drawn with matplotlib (tripcolor on the mesh triangles); 3D fields with pyvista
off-screen rendering of the outer surface of half the cell (cut at mid-x2, said in the title).
The pictures say what they show: axes with their unit, a labelled colour bar whose diverging map
is centred on 0, and a field that is zero up to round-off drawn as one colour with the words
"uniform to ..." instead of its noise magnified to full scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: a field whose largest magnitude is below this fraction of ``scale`` is round-off (double precision
#: round-off of the assembled solution is ~1e-15 relative; 1e-12 leaves room for the solver's rtol)
ROUNDOFF = 1e-12


def is_roundoff(values: np.ndarray, scale: float) -> bool:
    """Whether ``values`` is zero up to round-off relative to ``scale`` (the size of the field it
    is part of, e.g. the total field's or the cell's size times the applied gradient).
    """
    vmax = float(np.max(np.abs(values))) if values.size else 0.0
    return vmax <= ROUNDOFF * max(abs(scale), 1e-300)


def field_figure_2d(points: np.ndarray, cells: np.ndarray, values: np.ndarray, title: str,
                    label: str = "value", length_unit: str = "length", scale: float = 1.0):
    """The matplotlib figure of a 2D nodal field (see :func:`plot_field_png`); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=120)
    tri = Triangulation(points[:, 0], points[:, 1], cells)
    vmax = float(np.max(np.abs(values))) if values.size else 0.0
    if is_roundoff(values, scale):
        pc = ax.tripcolor(tri, np.zeros_like(values), shading="gouraud", cmap="RdBu_r", vmin=-1.0, vmax=1.0)
        ax.text(0.5, 0.5, f"uniform: |value| <= {vmax:.0e}\n(round-off; nothing to draw)",
                transform=ax.transAxes, ha="center", va="center", fontsize=10,
                bbox={"facecolor": "white", "alpha": 0.8})
        colour_label = f"{label} (zero to round-off)"
    else:
        pc = ax.tripcolor(tri, values, shading="gouraud", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        colour_label = label
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(f"x1 [{length_unit}]")
    ax.set_ylabel(f"x2 [{length_unit}]")
    bar = fig.colorbar(pc, ax=ax, shrink=0.85)
    bar.set_label(colour_label)
    if colour_label != label:  # round-off: one colour, one tick (a -1..1 scale would be invented)
        bar.set_ticks([0.0])
    fig.tight_layout()
    return fig


def plot_field_png(points: np.ndarray, cells: np.ndarray, values: np.ndarray, path: str | Path, title: str,
                   label: str = "value", length_unit: str = "length", scale: float = 1.0) -> Path:
    """Draw a nodal scalar field to ``path`` (PNG); 3D fields are shown on half the cell cut at mid-x2.

    Args:
        points: (N, 2 or 3) node coordinates.
        cells: (M, 3) triangles or (M, 4) tetrahedra, node indices into points.
        values: (N,) nodal values.
        title: what the field is.
        label: the colour bar's label: the quantity and its unit.
        length_unit: the unit of the coordinates (axis labels).
        scale: the size of the field this one is part of: below ``ROUNDOFF * scale`` it is round-off.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if points.shape[1] == 2:
        import matplotlib.pyplot as plt

        fig = field_figure_2d(points, cells, values, title, label, length_unit, scale)
        fig.savefig(path)
        plt.close(fig)
        return path

    import pyvista as pv

    pv.OFF_SCREEN = True
    cell_array = np.hstack([np.full((cells.shape[0], 1), 4), cells]).ravel()
    grid = pv.UnstructuredGrid(cell_array, np.full(cells.shape[0], pv.CellType.TETRA), points)
    roundoff = is_roundoff(values, scale)
    grid.point_data[label] = np.zeros_like(values) if roundoff else values
    # Half of the cell, cut through its centre normal to x2: shows the interior around inclusions.
    centre = 0.5 * (points.min(axis=0) + points.max(axis=0))
    surface = grid.clip(normal="y", origin=centre).extract_surface(algorithm="dataset_surface")
    vmax = float(np.max(np.abs(values))) if values.size else 0.0
    note = f"\nuniform: |value| <= {vmax:.0e} (round-off)" if roundoff else ""
    # VTK first tries an X display and logs a warning before falling back to off-screen rendering.
    with pv.vtk_verbosity("off"):
        plotter = pv.Plotter(off_screen=True, window_size=[800, 700])
        clim = (-1.0, 1.0) if roundoff or vmax == 0.0 else (-vmax, vmax)
        plotter.add_mesh(surface, scalars=label, cmap="RdBu_r", clim=clim, lighting=False,
                         scalar_bar_args={"title": label})
        plotter.add_text(f"{title}\nhalf cell shown: cut open at mid-x2 (normal x2){note}", font_size=10)
        plotter.view_isometric()  # type: ignore[call-arg]  # pyvista: functools.wraps keeps Renderer's self
        plotter.screenshot(str(path))
        plotter.close()
    return path
