"""Resource guards: the size of every mesh a config asks for, estimated before any work starts.

A mesh size of 1e-6, ``cells = [30000, 30000]`` or ``elements_per_radius = 1e5`` would
otherwise grow a run to gigabytes or end it in ``std::bad_alloc`` (and, on two ranks, in a
hang). :func:`check_limits` estimates the cells of each mesh from the config alone and
refuses, with one line naming the key, the estimate and the limit, a config above
``[limits]``:

* ``max_cells`` (default 2,000,000): cells of any one mesh (macro mesh, RVE, phase-field or
  reaction–diffusion grid, Darcy domain, Stokes cell). 2·10⁶ P1 triangles or tetrahedra take
  about 1–4 GB in dolfinx with a direct solver: the size of a workstation run.
* ``max_micro_cells`` (default 50,000,000): for ``fe2 run`` with history-dependent RVEs,
  macro quadrature points × RVE cells — every one of them stores its state.

Both can be raised in the config (``[limits] max_cells = 1e8``) or on the command line
(``--max-cells N``, which wins) for a bigger machine.

Estimates (within a factor of about two of what gmsh makes): an unstructured mesh of
element size h has about 4/√3 ≈ 2.31 triangles per h² of area and 6√2 ≈ 8.49 tetrahedra per
h³ of volume; structured grids are counted exactly (2 triangles per square, 6 tetrahedra per
cube). Imported ``.msh`` meshes are not estimated: they are as large as the file says.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from fe2.config.base import LimitsConfig
from fe2.errors import ConfigError

#: cells per unit measure of an unstructured mesh of element size h: (2D, 3D) x h^-dim
CELLS_PER_H = {2: 4.0 / math.sqrt(3.0), 3: 6.0 * math.sqrt(2.0)}


__all__ = ["CELLS_PER_H", "LimitsConfig", "check_limits", "grid_cells", "rve_cells", "unstructured_cells"]


def unstructured_cells(measure: float, h: float, dim: int) -> float:
    """Cells of an unstructured simplex mesh of element size ``h`` on a region of ``measure``."""
    return CELLS_PER_H[dim] * measure / h**dim


def grid_cells(cells: Iterable[int]) -> float:
    """Simplices of a structured grid with ``cells`` squares/cubes per direction."""
    n = list(cells)
    return math.prod(float(c) for c in n) * (2.0 if len(n) == 2 else 6.0)


def rve_cells(geometry) -> float | None:
    """Estimated cells of an RVE geometry table of ``fe2/config/rve.py`` (None: an imported mesh)."""
    kind = geometry.kind
    if kind == "msh":
        return None
    if kind in ("square_array", "hexagonal_array"):
        dim = geometry.dim
        measure = math.sqrt(3.0) if kind == "hexagonal_array" else 1.0  # unit cell (hexagonal: 1 x sqrt 3)
    else:
        dim = len(geometry.lengths)
        measure = math.prod(geometry.lengths)
    return unstructured_cells(measure, geometry.mesh_size, dim)


def check_limits(estimates: Iterable[tuple[str, float | None]], limits: LimitsConfig, source: str,
                 max_cells: float | None = None) -> None:
    """Refuse the first estimate above its limit (one line naming the key).

    Args:
        estimates: ``(key, cells)`` pairs; a key starting with ``micro:`` is checked against
            ``max_micro_cells``, every other against ``max_cells``; ``None`` is not checked.
        limits: the config's ``[limits]``.
        source: the config file, for the message.
        max_cells: ``--max-cells`` from the command line (wins over ``limits.max_cells``).
    """
    cap = float(max_cells) if max_cells is not None else limits.max_cells
    for key, n in estimates:
        if n is None:
            continue
        micro = key.startswith("micro:")
        limit = limits.max_micro_cells if micro else cap
        name = "limits.max_micro_cells" if micro else (
            "--max-cells" if max_cells is not None else "limits.max_cells")
        if not math.isfinite(n) or n > limit:
            key = key.removeprefix("micro:")
            raise ConfigError(f"{source}: {key}: would make about {n:.3g} cells, more than {name} = {limit:.3g} "
                              f"(a bigger machine: raise {name})")
