"""Small shims so fe2 runs on dolfinx 0.10 and 0.11 (PyPI wheel, conda, Docker).

``import fe2`` imports ``dolfinx_solver`` first when that PyPI wheel is
installed (it orders MPI ahead of the compiled bindings); elsewhere it is absent
and nothing happens.
"""

from __future__ import annotations

try:  # the PyPI dolfinx-solver wheel must be imported before dolfinx/petsc4py
    import dolfinx_solver  # noqa: F401
except ImportError:  # conda / Docker dolfinx
    pass

import dolfinx
from petsc4py import PETSc


def create_petsc_vector(V: dolfinx.fem.FunctionSpace) -> PETSc.Vec:
    """A new ghosted PETSc vector with the layout of V (not zeroed)."""
    im, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    try:
        from dolfinx.la.petsc import create_vector

        return create_vector([(im, bs)])
    except (ImportError, TypeError, AttributeError):  # dolfinx 0.10
        return dolfinx.la.create_petsc_vector(im, bs)
