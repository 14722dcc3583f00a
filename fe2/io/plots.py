"""PNG pictures of RVE fields (rank 0 only, off-screen).

2D fields are drawn with matplotlib (tripcolor on the mesh triangles); 3D
fields with pyvista off-screen rendering of the outer surface.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_field_png(points: np.ndarray, cells: np.ndarray, values: np.ndarray, path: str | Path, title: str) -> Path:
    """Draw a nodal scalar field to ``path`` (PNG); 3D fields are shown on half the cell cut at mid-x2.

    Args:
        points: (N, 2 or 3) node coordinates.
        cells: (M, 3) triangles or (M, 4) tetrahedra, node indices into points.
        values: (N,) nodal values.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if points.shape[1] == 2:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.tri import Triangulation

        fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=120)
        tri = Triangulation(points[:, 0], points[:, 1], cells)
        pc = ax.tripcolor(tri, values, shading="gouraud", cmap="RdBu_r")
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        fig.colorbar(pc, ax=ax, shrink=0.85)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path

    import pyvista as pv

    pv.OFF_SCREEN = True
    cell_array = np.hstack([np.full((cells.shape[0], 1), 4), cells]).ravel()
    grid = pv.UnstructuredGrid(cell_array, np.full(cells.shape[0], pv.CellType.TETRA), points)
    grid.point_data["value"] = values
    # Half of the cell, cut through its centre normal to x2: shows the interior around inclusions.
    centre = 0.5 * (points.min(axis=0) + points.max(axis=0))
    surface = grid.clip(normal="y", origin=centre).extract_surface(algorithm="dataset_surface")
    # VTK first tries an X display and logs a warning before falling back to off-screen rendering.
    with pv.vtk_verbosity("off"):
        plotter = pv.Plotter(off_screen=True, window_size=[800, 700])
        vmax = float(np.max(np.abs(values))) or 1.0
        plotter.add_mesh(surface, scalars="value", cmap="RdBu_r", clim=(-vmax, vmax), lighting=False)
        plotter.add_text(title, font_size=10)
        plotter.view_isometric()  # type: ignore[call-arg]  # pyvista: functools.wraps keeps Renderer's self
        plotter.screenshot(str(path))
        plotter.close()
    return path
