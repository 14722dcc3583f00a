"""fe2: FE² multiscale homogenization on FEniCSx/DOLFINx."""

from fe2 import _compat  # noqa: F401  (imports dolfinx_solver first where installed)

__version__ = "0.1.0"
