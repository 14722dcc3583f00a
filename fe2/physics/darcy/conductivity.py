"""The conductivity K (and K⁻¹) as a UFL expression with its integration measure.

Region-wise K comes from the DG0 tensors of
:class:`~fe2.physics.darcy.coefficients.RegionCoefficients`; a heterogeneous K at
quadrature points (:class:`~fe2.physics.darcy.coefficients.QuadratureConductivity`)
replaces it, and every form term that reads it must use the quadrature measure.
"""

from __future__ import annotations

import ufl
from dolfinx import mesh as dmesh

from fe2.errors import ConfigError
from fe2.physics.darcy.coefficients import QuadratureConductivity, RegionCoefficients


def conductivity_terms(msh: dmesh.Mesh, coeffs: RegionCoefficients, K_field: QuadratureConductivity | None):
    """(K, K⁻¹, dx_K): UFL tensors (gdim, gdim) and the measure to integrate them with."""
    gdim = msh.geometry.dim
    if K_field is None:
        return coeffs.K, coeffs.K_inv, ufl.Measure("dx", domain=msh)
    if not isinstance(K_field, QuadratureConductivity):
        raise ConfigError(f"K_field must be a QuadratureConductivity, got {type(K_field).__name__}")
    if K_field.K.function_space.mesh is not msh:
        raise ConfigError("K_field lives on another mesh than the Darcy problem")
    shape = K_field.K.ufl_shape
    if shape != (gdim, gdim):
        raise ConfigError(f"K_field must have shape ({gdim}, {gdim}), got {shape}")
    return K_field.K, ufl.inv(K_field.K), K_field.dx
