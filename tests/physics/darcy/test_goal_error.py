"""Goal-oriented (DWR) error estimate of Darcy fluxes (fe2.physics.darcy.goal_error) against a manufactured
solution with a closed-form flux.

Problem: unit square, two tissue regions split at x = 1/2 (K, L_p S/V and p_e differ: the dual's gradient
jumps there), p = P0 at x = 0 ('left'), p = P1 at x = 1 ('right'), no flux on y = 0, 1. The exact pressure
depends on x only: p = p_e,i + a_i e^{κ_i x} + b_i e^{−κ_i x}, κ_i² = C_i/K_i, with p and K p' continuous at
x = 1/2; the outflow through 'right' is −K_2 p'(1) and the Starling inflow ∫ L_p S/V (p_e − p) dx, both in
closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.errors import ConfigError
from fe2.physics.darcy import DarcyProblem, FluxBC, PressureBC, TissueProperties
from fe2.physics.darcy.goal_error import darcy_goal_error

REGIONS = {1: TissueProperties(K=2.0, L_p=1.0, S_V=8.0, p_v=3.0),    # C = 8, p_e = 3
           2: TissueProperties(K=0.5, L_p=1.0, S_V=2.0, p_v=-1.0)}   # C = 2, p_e = -1
P0, P1, XI = 0.0, 1.0, 0.5


def exact():
    """(outflow through x = 1, Starling inflow) of the 1D solution."""
    (K1, C1, e1), (K2, C2, e2) = [(t.K, t.L_p * t.S_V, t.p_v) for t in REGIONS.values()]
    k1, k2 = np.sqrt(C1 / K1), np.sqrt(C2 / K2)
    E = np.exp
    # unknowns a1 b1 a2 b2
    M = np.array([[1.0, 1.0, 0.0, 0.0],
                  [0.0, 0.0, E(k2), E(-k2)],
                  [E(k1 * XI), E(-k1 * XI), -E(k2 * XI), -E(-k2 * XI)],
                  [K1 * k1 * E(k1 * XI), -K1 * k1 * E(-k1 * XI), -K2 * k2 * E(k2 * XI), K2 * k2 * E(-k2 * XI)]])
    a1, b1, a2, b2 = np.linalg.solve(M, [P0 - e1, P1 - e2, e2 - e1, 0.0])
    outflow = -K2 * k2 * (a2 * E(k2) - b2 * E(-k2))
    # ∫ C (p_e − p) = −C ∫ (a e^{κx} + b e^{−κx}) dx per region
    inflow = (-C1 * (a1 * (E(k1 * XI) - 1) / k1 - b1 * (E(-k1 * XI) - 1) / k1)
              - C2 * (a2 * (E(k2) - E(k2 * XI)) / k2 - b2 * (E(-k2) - E(-k2 * XI)) / k2))
    left_flux = K1 * k1 * (a1 - b1)  # outward normal flux u·n = −K p'·(−1) at x = 0
    return {"outflow": outflow, "starling_inflow": inflow, "left_flux": left_flux}


def build(comm, n: int, degree: int, dim: int = 2, flux_left: bool = False) -> DarcyProblem:
    msh = (dmesh.create_unit_square(comm, n, n, diagonal=dmesh.DiagonalType.crossed) if dim == 2
           else dmesh.create_unit_cube(comm, n, n, n))
    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    imap = msh.topology.index_map(tdim)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    left_cells = dmesh.locate_entities(msh, tdim, lambda x: x[0] <= XI + 1e-12)
    tags = np.where(np.isin(cells, left_cells), 1, 2).astype(np.int32)
    ct = dmesh.meshtags(msh, tdim, cells, tags)
    left = dmesh.locate_entities_boundary(msh, tdim - 1, lambda x: np.isclose(x[0], 0.0))
    right = dmesh.locate_entities_boundary(msh, tdim - 1, lambda x: np.isclose(x[0], 1.0))
    idx = np.concatenate([left, right])
    val = np.concatenate([np.full(left.size, 1), np.full(right.size, 2)]).astype(np.int32)
    order = np.argsort(idx)
    ft = dmesh.meshtags(msh, tdim - 1, idx[order].astype(np.int32), val[order])
    left_bc = FluxBC(1, exact()["left_flux"]) if flux_left else PressureBC(1, P0)
    return DarcyProblem(msh, ct, ft, REGIONS, bcs=[left_bc, PressureBC(2, P1)], formulation="primal",
                        degree=degree)


def estimate(comm, n, degree, qoi, dim=2):
    prob = build(comm, n, degree, dim)
    res = prob.solve()
    return darcy_goal_error(prob, qoi, 2, name="right"), res


@pytest.mark.parametrize("qoi", ["outflow", "starling_inflow"])
def test_effectivity_on_manufactured_solution(qoi):
    """P1 on n = 4, 8, 16: effectivity η/(J − J_h) within 2 % of 1 on every mesh (measured 0.9966 / 0.9991 /
    0.9998 outflow, 0.9993 / 0.9998 / 1.0000 Starling inflow), the error converges at rate 2 (consistent
    flux; measured 1.99–2.00), the indicators sum to η (round-off) and the corrected value J_h + η is at
    least 20× closer than J_h (measured 290–22000×). The 2 % leave room for the O(h) decay of
    1 − I_eff seen here, not for a different rate.
    """
    J = exact()[qoi]
    errs = []
    for n in (4, 8, 16):
        est, res = estimate(MPI.COMM_WORLD, n, 1, qoi)
        err = J - est.value
        errs.append(err)
        assert 0.98 <= est.estimate / err <= 1.02, (n, est.estimate, err)
        assert abs(est.indicator_sum - est.estimate) <= 1e-10 * abs(est.estimate)
        assert est.sum_abs_indicators >= abs(est.estimate) * (1 - 1e-12)
        assert abs(J - est.corrected) <= abs(err) / 20
        if qoi == "starling_inflow":  # the audit's inflow is the same functional
            assert est.value == pytest.approx(res.audit.starling_inflow, rel=1e-12)
    rates = np.log2(np.abs(np.array(errs[:-1]) / np.array(errs[1:])))
    assert np.all(rates >= 1.9), rates


def test_effectivity_with_a_flux_boundary():
    """The same exact solution with the left end given by its exact outward flux (a FluxBC, the Neumann load
    enters the residual and the indicators): effectivity within 2 % of 1 on n = 4, 8, 16 (measured
    1.0020 / 1.0005 / 1.0001), Σ η_K = η, error rate >= 1.9 (measured 1.97, 1.99)."""
    J = exact()["outflow"]
    errs = []
    for n in (4, 8, 16):
        prob = build(MPI.COMM_WORLD, n, 1, flux_left=True)
        prob.solve()
        est = darcy_goal_error(prob, "outflow", 2)
        errs.append(J - est.value)
        assert 0.98 <= est.estimate / errs[-1] <= 1.02, (n, est.estimate / errs[-1])
        assert abs(est.indicator_sum - est.estimate) <= 1e-10 * abs(est.estimate)
    assert np.all(np.log2(np.array(errs[:-1]) / np.array(errs[1:])) >= 1.9)


def test_effectivity_p2():
    """P2 (dual in P3): the outflow error is O(h^4) (measured rate 3.98 on n = 4 -> 8) and the effectivity is
    within 2 % of 1 (measured 0.9992 / 0.9998 on n = 4 / 8)."""
    J = exact()["outflow"]
    errs = []
    for n in (4, 8):
        est, _ = estimate(MPI.COMM_WORLD, n, 2, "outflow")
        errs.append(J - est.value)
        assert 0.98 <= est.estimate / errs[-1] <= 1.02
    assert np.log2(errs[0] / errs[1]) >= 3.5


@pytest.mark.parametrize("qoi", ["outflow", "starling_inflow"])
def test_effectivity_3d(qoi):
    """The same solution in the unit cube (P1 tetrahedra, n = 2, 4, 8): effectivity within 3 % of 1 (measured
    0.977 / 0.995 / 0.999 outflow, 0.997 / 0.999 / 1.000 Starling inflow), error rate >= 1.8 (measured
    1.69 -> 1.93 outflow n = 2 -> 4 -> 8: the coarsest mesh is pre-asymptotic, so the rate is asserted on
    n = 4 -> 8 only)."""
    J = exact()[qoi]
    errs = []
    for n in (2, 4, 8):
        est, _ = estimate(MPI.COMM_WORLD, n, 1, qoi, dim=3)
        errs.append(J - est.value)
        assert 0.97 <= est.estimate / errs[-1] <= 1.03
        assert abs(est.indicator_sum - est.estimate) <= 1e-10 * abs(est.estimate)
    assert np.log2(errs[1] / errs[2]) >= 1.8


def test_parallel_equals_serial():
    """The estimate on all ranks equals the one on each rank alone (same mesh on COMM_SELF), to 1e-10."""
    par, _ = estimate(MPI.COMM_WORLD, 8, 1, "outflow")
    ser, _ = estimate(MPI.COMM_SELF, 8, 1, "outflow")
    for a, b in ((par.value, ser.value), (par.estimate, ser.estimate),
                 (par.sum_abs_indicators, ser.sum_abs_indicators)):
        assert a == pytest.approx(b, rel=1e-10)


def test_gmsh_mesh_parallel_equals_serial():
    """A gmsh tumour-in-host mesh (distributed without a shared-facet ghost layer: the indicators use no
    interior-facet integrals) gives the same estimate on all ranks as on one (1e-10), and the same
    effectivity-relevant numbers: Σ η_K = η."""
    from fe2.geometry.tissue import tumour_in_host

    def run(comm):
        tm = tumour_in_host(comm, dim=2, tumour_radius=1.0, host_radius=2.0, mesh_size=0.5)
        tissue = {tm.region("tumour"): REGIONS[1], tm.region("host"): REGIONS[2]}
        prob = DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, tissue, bcs=[PressureBC(tm.tag("outer"), 0.0)],
                            formulation="primal")
        prob.solve()
        return darcy_goal_error(prob, "outflow", tm.tag("outer"))

    par, ser = run(MPI.COMM_WORLD), run(MPI.COMM_SELF)
    assert par.estimate == pytest.approx(ser.estimate, rel=1e-10)
    assert par.value == pytest.approx(ser.value, rel=1e-10)
    assert par.sum_abs_indicators == pytest.approx(ser.sum_abs_indicators, rel=1e-10)
    assert abs(par.indicator_sum - par.estimate) <= 1e-10 * abs(par.estimate)


def test_refuses_mixed_and_neumann_boundary():
    prob = build(MPI.COMM_WORLD, 2, 1)
    prob.solve()
    with pytest.raises(ConfigError, match="pressure boundary"):
        darcy_goal_error(prob, "outflow", 7)
    msh, ct, ft = prob.mesh, None, prob.facet_tags
    mixed = DarcyProblem(msh, ct, ft, {1: REGIONS[1]}, bcs=[PressureBC(1, P0)], formulation="mixed")
    with pytest.raises(ConfigError, match="primal"):
        darcy_goal_error(mixed, "outflow", 1)
