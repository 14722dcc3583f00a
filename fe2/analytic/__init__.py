"""Analytic references for numerical homogenization (pure numpy/scipy, no MPI, no dolfinx).

The test suite checks fe2's RVE results against these formulas; each function's
docstring states its conventions, units and the literature source.

* :mod:`~fe2.analytic.bounds`: Voigt/Reuss bounds (any tensors), Hashin-Shtrikman(-Walpole)
  bounds for isotropic phases (elastic bulk/shear in 2D plane strain and 3D, conductivity
  in 2D/3D), Maxwell-Garnett conductivity, Hashin's coated-sphere/cylinder bulk modulus.
* :mod:`~fe2.analytic.laminate`: exact laminate stiffness (Mandel) and conductivity.
* :mod:`~fe2.analytic.cylinder_arrays`: Rayleigh / Perrins-McKenzie-McPhedran
  conductivity of square and hexagonal arrays of cylinders (closed forms and the
  full multipole solution).
* :mod:`~fe2.analytic.moduli`: bulk and shear moduli read off a Mandel stiffness.
* :mod:`~fe2.analytic.perfusion`: Baxter & Jain (1989) interstitial pressure and surface
  velocity of a uniformly perfused isolated tumour (sphere; disk analogue with I₀).

Conventions: stiffnesses are Mandel matrices in fe2's component order
(:mod:`fe2.tensors`); ``dim = 2`` elasticity is plane strain with the 2D bulk
modulus ``kappa_2D = lambda + mu``.
"""

from fe2.analytic.bounds import (
    bulk_modulus,
    coated_sphere_bulk,
    hashin_shtrikman_bulk,
    hashin_shtrikman_conductivity,
    hashin_shtrikman_shear,
    maxwell_garnett_conductivity,
    reuss_bound,
    voigt_bound,
)
from fe2.analytic.cylinder_arrays import (
    F_MAX_HEXAGONAL,
    F_MAX_SQUARE,
    HEXAGONAL_ARRAY_CONSTANTS,
    SQUARE_ARRAY_CONSTANTS,
    lattice_sums,
    rayleigh_hexagonal_array,
    rayleigh_multipole,
    rayleigh_square_array,
)
from fe2.analytic.laminate import laminate_conductivity, laminate_moduli, laminate_stiffness
from fe2.analytic.moduli import BulkShear2D, BulkShear3D, bulk_shear_2d, bulk_shear_3d
from fe2.analytic.perfusion import (
    baxter_jain_center_pressure,
    baxter_jain_pressure,
    baxter_jain_surface_velocity,
)

__all__ = [
    "F_MAX_HEXAGONAL",
    "F_MAX_SQUARE",
    "HEXAGONAL_ARRAY_CONSTANTS",
    "SQUARE_ARRAY_CONSTANTS",
    "BulkShear2D",
    "BulkShear3D",
    "baxter_jain_center_pressure",
    "baxter_jain_pressure",
    "baxter_jain_surface_velocity",
    "bulk_modulus",
    "bulk_shear_2d",
    "bulk_shear_3d",
    "coated_sphere_bulk",
    "hashin_shtrikman_bulk",
    "hashin_shtrikman_conductivity",
    "hashin_shtrikman_shear",
    "laminate_conductivity",
    "laminate_moduli",
    "laminate_stiffness",
    "lattice_sums",
    "maxwell_garnett_conductivity",
    "rayleigh_hexagonal_array",
    "rayleigh_multipole",
    "rayleigh_square_array",
    "reuss_bound",
    "voigt_bound",
]
