"""Linear isotropic phase laws: elasticity (E, nu) and conductivity (k).

Units are the user's (consistent): E in Pa (or any stress unit), k in W/(m K)
or any flux-per-gradient unit; fe2 never converts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fe2.errors import MaterialError
from fe2.tensors import lame_from_young_poisson


@dataclass(frozen=True)
class IsotropicElastic:
    """Isotropic linear elastic phase. 2D problems are plane strain.

    Attributes:
        young: Young's modulus E > 0.
        poisson: Poisson's ratio, -1 < nu < 0.5 (nu = 0.5 is incompressible and
            not representable in a displacement formulation).
    """

    young: float
    poisson: float

    def __post_init__(self) -> None:
        if not (self.young > 0.0):
            raise MaterialError(
                f"Young's modulus must be > 0, got E = {self.young} (a pore is a void phase: `void = "
                f"true` in the config, or a hole in the mesh)"
            )
        if not (-1.0 < self.poisson < 0.5):
            raise MaterialError(
                f"Poisson's ratio must satisfy -1 < nu < 0.5, got nu = {self.poisson}"
                " (nu >= 0.5 is incompressible: not supported by the displacement formulation)"
            )

    @property
    def lame(self) -> tuple[float, float]:
        """(lambda, mu), the Lamé constants."""
        return lame_from_young_poisson(self.young, self.poisson)


@dataclass(frozen=True)
class IsotropicConductor:
    """Isotropic conductor: flux J = k grad(phi) with k > 0."""

    conductivity: float

    def __post_init__(self) -> None:
        if not (self.conductivity > 0.0):
            raise MaterialError(
                f"conductivity must be > 0, got k = {self.conductivity} (a pore is a void phase: `void = "
                f"true` in the config, or a hole in the mesh)"
            )
