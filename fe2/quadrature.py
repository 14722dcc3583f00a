"""Constitutive data at the quadrature points of a mesh (shared by the macro problems and nonlinear RVEs).

The macro driver (Mandel ε, F, ∇p …) is evaluated at every quadrature point of
the *owned* cells with one ``fem.Expression`` call; the micro model's flux and
tangent are written back into quadrature-space functions (owned cells), and
ghost cells receive theirs by a scatter. Points are ordered cell by cell (owned
cells in local order), ``n_points = n_owned_cells * n_qp``.

:func:`evaluate_into` is the one way a macro problem asks a micro model for its
answers at the points (FE² mechanics, Darcy with micro cells): evaluate through
a :class:`~fe2.materials.state.StateStore`, reduce any failure over the ranks,
then write flux and tangent.
"""

from __future__ import annotations

import basix
import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh

from fe2.errors import ConvergenceError, Fe2Error
from fe2.materials.contract import InadmissibleDriverError


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

    def set(self, flux: np.ndarray, tangent: np.ndarray, points: np.ndarray | None = None) -> None:
        """Write flux (n, m) and tangent (n, m, m) at the owned points (all, or the local point indices
        ``points``), then update ghosts (collective).
        """
        m = self.m
        blocks = self._blocks if points is None else self._blocks[points]
        fx = self.flux.x.array.reshape(-1, m)
        fx[blocks] = flux
        tx = self.tangent.x.array.reshape(-1, m * m)
        tx[blocks] = tangent.reshape(-1, m * m)
        self.flux.x.scatter_forward()
        self.tangent.x.scatter_forward()

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the flux (n_points, m) and tangent (n_points, m, m) at the owned points."""
        m = self.m
        flux = self.flux.x.array.reshape(-1, m)[self._blocks].copy()
        tangent = self.tangent.x.array.reshape(-1, m * m)[self._blocks].reshape(-1, m, m).copy()
        return flux, tangent


def evaluate_into(
    fields: QuadratureFields,
    store,
    driver: np.ndarray,
    *,
    guess=None,
    points: np.ndarray | None = None,
    raise_as: type[Fe2Error] | None = ConvergenceError,
) -> None:
    """Evaluate a micro model at owned quadrature points and write its flux and tangent into ``fields``.

    Collective over the mesh communicator. ``store`` (a
    :class:`~fe2.materials.state.StateStore` of the model, one entry per point
    evaluated) evaluates ``driver`` from its committed state (``guess``: the
    warm start of models that declare ``uses_guess``) and keeps the trial
    state. ``points``: the local indices of the points in ``fields`` (all when
    ``None``; then ``driver`` has one row per owned point).

    Failures are collective: a typed error (:class:`~fe2.errors.Fe2Error`) or a
    non-finite flux/tangent on any rank is raised on every rank before anything
    is written (never between the collectives of the scatter), as ``raise_as``
    with the first rank's message — or, with ``raise_as=None``, as the error
    itself where it happened (and :class:`~fe2.errors.Fe2Error` elsewhere).
    """
    problem = ""
    own: Fe2Error | None = None
    try:
        flux, tangent = store.evaluate(driver, guess=guess)
        if not (np.all(np.isfinite(flux)) and np.all(np.isfinite(tangent))):
            problem = "material returned NaN/inf flux or tangent"
    except InadmissibleDriverError as err:
        problem, own = f"inadmissible macro driver: {err}", err
    except Fe2Error as err:  # a micro Newton or solver failure: every rank must learn it, or they deadlock
        problem, own = str(err), err
    problems = [p for p in fields.mesh.comm.allgather(problem) if p]
    if problems:
        if raise_as is not None:
            raise raise_as(problems[0])
        if own is not None:
            raise own
        raise Fe2Error(problems[0])
    fields.set(flux, tangent, points)
