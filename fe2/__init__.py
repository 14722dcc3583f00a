"""fe2: FE² multiscale homogenization on FEniCSx/DOLFINx."""

# The PyPI dolfinx-solver wheel must be imported before dolfinx/petsc4py (it orders MPI ahead of the
# compiled bindings); dolfinx itself is imported only by the modules that use it (fe2._compat and
# below), so a well-mixed reaction network or a UQ study of a Python function starts without it.
try:
    import dolfinx_solver  # noqa: F401
except ImportError:  # conda / Docker dolfinx
    pass

__version__ = "0.1.0"
