"""A Cauchy–Born law as a phase inside a finite-strain RVE (fe2.micro.nonlinear_rve).

* One crystal in every phase: the fluctuation vanishes, so the homogenized P̄ and tangent equal the
  law's own P and ∂P/∂F at that F (1e-8 of the moduli: the micro Newton tolerance).
* Crystal matrix (triangular LJ) around a stiffer neo-Hookean fibre (E = 200 ε/σ², ν = 0.3): the
  homogenized tangent equals central finite differences of P̄(F̄) (h = 1e-7; 1e-5 relative, as for
  the neo-Hookean RVE in tests/macro/test_fe2_finite_strain.py: micro Newton tolerance / h).
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from fe2.geometry import square_array
from fe2.materials.cauchy_born import CauchyBornLaw, LennardJones, lattice
from fe2.materials.neo_hookean import NeoHookean
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial

pytestmark = pytest.mark.serial

F = np.array([[1.04, 0.02, -0.01, 0.99]])  # 4 % stretch, some shear: well inside the elliptic range


def test_one_crystal_rve_equals_the_law():
    law = CauchyBornLaw(LennardJones(cutoff=2.5), lattice("triangular"))
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.3)
    mat = NonlinearRVEMaterial(rve, {"matrix": law, "fibre": law})
    p, a, _ = mat.evaluate(F, mat.initial_state(1))
    p0, a0, _ = law.evaluate(F, law.initial_state(1))
    scale = np.abs(a0).max()
    assert np.abs(p - p0).max() <= 1e-8 * scale
    assert np.abs(a - a0).max() <= 1e-8 * scale


def test_crystal_matrix_rve_tangent_vs_finite_differences():
    law = CauchyBornLaw(LennardJones(cutoff=2.5), lattice("triangular"))
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.3)
    mat = NonlinearRVEMaterial(rve, {"matrix": law, "fibre": NeoHookean(200.0, 0.3, dim=2)})
    state = mat.initial_state(1)
    _, a, _ = mat.evaluate(F, state)
    h = 1e-7
    fd = np.zeros((4, 4))
    for j in range(4):
        df = np.zeros(4)
        df[j] = h
        fd[:, j] = (mat.evaluate(F + df, state)[0][0] - mat.evaluate(F - df, state)[0][0]) / (2 * h)
    assert np.abs(fd - a[0]).max() <= 1e-5 * np.abs(a[0]).max()
