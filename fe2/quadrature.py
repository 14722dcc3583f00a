"""Constitutive data at the quadrature points of a mesh (shared by the macro problem and nonlinear RVEs).

The macro driver (small strain, Mandel notation) is evaluated at every
quadrature point of the *owned* cells with one ``fem.Expression`` call; the
material's flux and tangent are written back into quadrature-space functions
(owned cells), and ghost cells receive theirs by a scatter. Points are ordered
cell by cell (owned cells in local order), ``n_points = n_owned_cells * n_qp``.
"""

from __future__ import annotations

import basix
import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh



class QuadratureFields:
    """Flux (n_points, m) and tangent (n_points, m, m) of a material at the owned quadrature points.

    Attributes:
        flux, tangent: quadrature-space functions used in the residual and Jacobian forms.
        dx: the cell measure whose rule matches these points (use it in every form that reads them).
        n_points: number of owned quadrature points on this rank.
    """

    def __init__(self, msh: dmesh.Mesh, quadrature_degree: int, m: int) -> None:
        self.mesh = msh
        self.m = m
        self.degree = quadrature_degree
        cell = msh.topology.cell_name()
        cell_type = getattr(basix.CellType, cell)
        self.points, self.weights = basix.make_quadrature(cell_type, quadrature_degree)
        self.n_qp = self.points.shape[0]
        tdim = msh.topology.dim
        self.owned_cells = np.arange(msh.topology.index_map(tdim).size_local, dtype=np.int32)
        self.n_points = self.owned_cells.size * self.n_qp
        Qv = fem.functionspace(msh, basix.ufl.quadrature_element(cell, (m,), "default", quadrature_degree))
        Qt = fem.functionspace(msh, basix.ufl.quadrature_element(cell, (m, m), "default", quadrature_degree))
        self.flux = fem.Function(Qv, name="flux")
        self.tangent = fem.Function(Qt, name="tangent")
        # block index of (owned cell c, point p) in the quadrature spaces
        self._blocks = Qv.dofmap.list[: self.owned_cells.size].reshape(-1)
        self.dx = ufl.Measure(
            "dx", domain=msh, metadata={"quadrature_degree": quadrature_degree, "quadrature_scheme": "default"}
        )

    def expression(self, expr) -> fem.Expression:
        """Compile ``expr`` (value size m or any) for evaluation at these points; do it once."""
        return fem.Expression(expr, self.points)

    def evaluate(self, expression: fem.Expression) -> np.ndarray:
        """Values of a compiled expression at the owned points, shape (n_points, value_size)."""
        vals = expression.eval(self.mesh, self.owned_cells)
        return vals.reshape(self.n_points, -1)

    def set(self, flux: np.ndarray, tangent: np.ndarray) -> None:
        """Write flux (n_points, m) and tangent (n_points, m, m) at the owned points, then update ghosts."""
        m = self.m
        fx = self.flux.x.array.reshape(-1, m)
        fx[self._blocks] = flux
        tx = self.tangent.x.array.reshape(-1, m * m)
        tx[self._blocks] = tangent.reshape(-1, m * m)
        self.flux.x.scatter_forward()
        self.tangent.x.scatter_forward()
