"""RVE geometry: gmsh generators of periodic :class:`RVEMesh` objects, and ``.msh`` import.

Generators (all collective over ``comm``; gmsh runs on one rank, the mesh is distributed):

* :func:`inclusion_rve` — box with circular/spherical inclusions, wrapped periodically;
  :func:`square_array`, :func:`hexagonal_array` — regular fibre arrays.
* :func:`laminate_rve` — layers normal to one axis, conforming interfaces.
* :func:`random_rve` — random sequential addition packing (:func:`random_inclusions`).
* :func:`rve_from_msh` — a user's gmsh ``.msh`` with one physical group per phase.
"""

try:  # orders mpi4py ahead of the dolfinx bindings where the wheel stack is used
    import dolfinx_solver  # noqa: F401
except ImportError:
    pass

from fe2.geometry.base import RVEMesh
from fe2.geometry.inclusions import (
    Inclusion,
    exact_volume_fractions,
    hexagonal_array,
    inclusion_rve,
    square_array,
)
from fe2.geometry.laminate import laminate_rve
from fe2.geometry.msh_import import rve_from_msh
from fe2.geometry.random_packing import packing_fraction, random_inclusions, random_rve
from fe2.geometry.validation import periodicity_mismatch, phase_volumes
from fe2.geometry.voids import remove_phases

__all__ = [
    "Inclusion",
    "RVEMesh",
    "exact_volume_fractions",
    "hexagonal_array",
    "inclusion_rve",
    "laminate_rve",
    "packing_fraction",
    "periodicity_mismatch",
    "phase_volumes",
    "random_inclusions",
    "random_rve",
    "remove_phases",
    "rve_from_msh",
    "square_array",
]
