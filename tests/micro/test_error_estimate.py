"""Solution verification: the p+1 error estimate of RVE effective tensors (fe2.micro.error_estimate).

What is verified and why the tolerances are what they are:

* the energy identity C_p - C_{p+1} = Gram(δ)/|Y| (KUBC, PBC) and
  S_{p+1} - S_p = Gram(δ)/|Y| (TUBC) holds for nested spaces up to the direct
  solver's round-off (1e-10 relative, as in test_micro_rve.py); the cell
  indicators sum to the Gram diagonal (round-off); the estimate is positive
  semi-definite (Galerkin orthogonality: the FE tensor is too stiff);
* effectivity indices against a reference on the same polygonal geometry
  (mesh refined uniformly once, P3 fields; its own error is ~3e-5 against a
  true error ~1e-2 at h = 0.1): the estimate is a lower bound (index <= 1 up to
  the reference error) and tends to 1 — measured 0.90-0.92 at h = 0.2 and
  0.956-0.957 at h = 0.1 for conductivity (docs/verification.md); asked: in
  [0.93, 1.005] at h = 0.1 and larger than at h = 0.2;
* P2 -> P3 on a curved (order-2) mesh: flagged as not nested, the identity holds to
  quadrature error (below 1 % of the estimate);
* adaptive refinement meets its target (KUBC) and refuses periodic conditions.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from mpi4py import MPI

from fe2.errors import ConfigError
from fe2.geometry import square_array
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.micro.adaptivity import adapt, refine_rve
from fe2.micro.error_estimate import ErrorEstimator, homogenize_with_estimates
from fe2.micro.physics import Conductivity, Elasticity
from fe2.micro.rve_problem import RVEProblem

ROUNDOFF = 1e-10
BCS = ("kubc", "periodic", "tubc")


def _case(name: str):
    if name == "elasticity":
        return Elasticity(2), {"matrix": IsotropicElastic(1.0, 0.3), "fibre": IsotropicElastic(10.0, 0.2)}
    return Conductivity(2), {"matrix": IsotropicConductor(1.0), "fibre": IsotropicConductor(10.0)}


@pytest.fixture(scope="module")
def coarse_rve():
    return square_array(MPI.COMM_WORLD, volume_fraction=0.3, mesh_size=0.2, element_order=1)


@pytest.mark.parametrize("physics", ["conductivity", "elasticity"])
def test_energy_identity_sign_and_indicators(physics, coarse_rve):
    ph, mats = _case(physics)
    hom = homogenize_with_estimates(RVEProblem(coarse_rve, ph, mats, degree=1), BCS)
    comm = coarse_rve.mesh.comm
    for bc in BCS:
        est = hom.bcs[bc].error_estimate
        assert est is not None and est.nested
        assert est.identity_residual < ROUNDOFF, bc
        scale = np.max(np.abs(est.energy_gram))
        assert np.min(np.linalg.eigvalsh(est.energy_gram)) > -ROUNDOFF * scale, bc
        err = est.error_voigt
        assert np.min(np.linalg.eigvalsh(0.5 * (err + err.T))) > -ROUNDOFF * np.max(np.abs(err)), bc
        sums = np.array([comm.allreduce(float(np.sum(est.cell_indicators[:, j]))) for j in range(err.shape[0])])
        assert np.allclose(sums, np.diag(est.energy_gram), rtol=1e-12, atol=0.0), bc
        assert np.all(est.cell_indicators >= -ROUNDOFF * scale)
    data = hom.to_dict()
    assert set(data["error_estimate"]) == set(BCS)
    assert data["details"]["kubc"]["error_estimate"]["nested"] is True


def test_effectivity_tends_to_one_conductivity():
    """Effectivity of the diagonal entries against a refined P3 reference of the same geometry."""
    ph, mats = _case("conductivity")
    comm = MPI.COMM_WORLD
    eff = {}
    for h in (0.2, 0.1):
        rve = square_array(comm, volume_fraction=0.3, mesh_size=h, element_order=1)
        hom = homogenize_with_estimates(RVEProblem(rve, ph, mats, degree=1), BCS)
        ref = RVEProblem(refine_rve(rve), ph, mats, degree=3).homogenize(BCS)
        for bc in BCS:
            true = np.diag(hom.effective(bc) - ref.effective(bc))
            est = np.diag(hom.bcs[bc].error_estimate.error_voigt)  # type: ignore[union-attr]
            eff[h, bc] = est / true
    for bc in BCS:
        assert np.all(eff[0.1, bc] >= 0.93) and np.all(eff[0.1, bc] <= 1.005), (bc, eff[0.1, bc])
        assert np.all(eff[0.1, bc] > eff[0.2, bc]), bc


def test_degree_two_estimate_on_curved_mesh():
    """P2 -> P3 on a curved mesh: not nested (rational integrands: the P2 and P3 forms use different
    quadrature), so the energy identity holds to quadrature error only: measured 2.8e-6 against an
    estimated relative error of 1.4e-3; asked: below 1 % of the estimate."""
    ph, mats = _case("conductivity")
    curved = square_array(MPI.COMM_WORLD, volume_fraction=0.3, mesh_size=0.3, element_order=2)
    p2 = RVEProblem(curved, ph, mats, degree=2)
    res, fields = p2.solve("periodic")
    est = ErrorEstimator(p2).estimate(res, fields)
    assert est.enriched_degree == 3 and not est.nested
    assert 0.0 < est.identity_residual < 1e-2 * est.relative_error
    with pytest.raises(ConfigError, match="p\\+1"):
        ErrorEstimator(RVEProblem(curved, ph, mats, degree=3))


def test_adaptive_refinement_meets_target(coarse_rve):
    ph, mats = _case("conductivity")
    target = 5e-3
    steps = adapt(coarse_rve, ph, mats, "kubc", target)
    assert steps[-1].error <= target < steps[0].error
    assert all(b.dofs > a.dofs for a, b in itertools.pairwise(steps))
    with pytest.raises(ConfigError, match="periodic"):
        adapt(coarse_rve, ph, mats, "periodic", target)


def test_refined_mesh_keeps_phases_and_periodicity(coarse_rve):
    """Uniform refinement: same phase volumes (polygonal geometry kept), periodic solve still possible."""
    ph, mats = _case("conductivity")
    fine = refine_rve(coarse_rve)
    a = RVEProblem(coarse_rve, ph, mats)
    b = RVEProblem(fine, ph, mats)
    for phase, f in a.volume_fractions.items():
        assert b.volume_fractions[phase] == pytest.approx(f, rel=1e-12)
    assert fine.periodic
    b.solve("periodic")


def test_energy_identity_3d_elasticity():
    """3D (6 load cases, 21 Gram pairs): the same exact identity and sign, coarse tetrahedral cell."""
    rve = square_array(MPI.COMM_WORLD, volume_fraction=0.2, mesh_size=0.35, dim=3)
    mats = {"matrix": IsotropicElastic(1.0, 0.3), "fibre": IsotropicElastic(10.0, 0.2)}
    hom = homogenize_with_estimates(RVEProblem(rve, Elasticity(3), mats), BCS)
    for bc in BCS:
        est = hom.bcs[bc].error_estimate
        assert est is not None and est.error_voigt.shape == (6, 6)
        assert est.identity_residual < ROUNDOFF, bc
        assert np.min(np.linalg.eigvalsh(est.energy_gram)) > 0.0, bc


def test_p1_estimate_on_curved_mesh_uses_the_exact_affine_part():
    """P1 -> P2 on a curved (order-2) mesh, h = 0.1 (square array f = 0.3, contrast 10): the Gram matrix of
    the fluctuation differences (plus, for TUBC, the exact affine field of Ē_{p+1} − Ē_p) equals C_p − C_{p+1}
    (S_{p+1} − S_p) up to quadrature error: identity residual measured 1.5e-6 / 1.6e-6 / 1.7e-6 (KUBC / PBC /
    TUBC); bound 1e-5. Differences of the total fields (interpolated affine part) left 7e-4 and an estimate
    10 % low."""
    from fe2.micro.physics import Conductivity

    rve = square_array(MPI.COMM_WORLD, volume_fraction=0.3, mesh_size=0.1, element_order=2)
    p1 = RVEProblem(rve, Conductivity(2), {"matrix": IsotropicConductor(1.0), "fibre": IsotropicConductor(10.0)},
                    degree=1)
    est = ErrorEstimator(p1)
    for bc in ("kubc", "periodic", "tubc"):
        res, fields = p1.solve(bc)
        e = est.estimate(res, fields)
        assert not e.nested and e.identity_residual < 1e-5, (bc, e.identity_residual)
        # the cell indicators sum to the Gram diagonal
        total = MPI.COMM_WORLD.allreduce(e.cell_indicators.sum(axis=0))
        assert np.allclose(total, np.diag(e.energy_gram), rtol=1e-12)
