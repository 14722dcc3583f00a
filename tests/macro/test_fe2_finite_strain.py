"""Finite-strain FE² (driver F, flux P, tangent ∂P/∂F): verification.

* The quadrature-point macro solver with the neo-Hookean law equals a UFL
  hyperelastic solve (SNES on the derivative of the same stored energy) at 30 %
  stretch: both solve the same discrete equations, so 1e-8 relative.
* A one-phase neo-Hookean RVE reproduces the single-scale solve (the
  fluctuation vanishes): 1e-6 relative (micro Newton tolerance).
* The homogenized tangent of a two-phase RVE at a finite deformation equals
  central finite differences of P̄(F̄): 1e-5 relative (h = 1e-7).
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import NonlinearProblem
from mpi4py import MPI

from fe2.geometry import square_array
from fe2.geometry.macro_domains import plate_with_hole
from fe2.macro.driver import run_load_steps
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem
from fe2.materials.neo_hookean import NeoHookean
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.tensors import lame_from_young_poisson

E_M, NU_M = 1.0, 0.3
STRETCH = 0.3  # right edge u1 = 0.3 x load factor on a unit-width plate


def _plate(material, comm, mesh_size=0.3):
    plate = plate_with_hole(comm, mesh_size=mesh_size)
    bcs = [Dirichlet(plate.tag("left"), 0.0, 0), Dirichlet(plate.tag("bottom"), 0.0, 1),
           Dirichlet(plate.tag("right"), STRETCH, 0)]
    return QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, material, dirichlet=bcs), plate


def _rel(a, b, comm):
    num = comm.allreduce(float(np.max(np.abs(a - b), initial=0.0)), op=MPI.MAX)
    den = comm.allreduce(float(np.max(np.abs(b), initial=0.0)), op=MPI.MAX)
    return num / den


def test_macro_neo_hookean_equals_ufl_hyperelastic_solve(shared_tmp_path):
    comm = MPI.COMM_WORLD
    solver, plate = _plate(NeoHookean(E_M, NU_M, dim=2), comm)
    assert solver.kinematics.kind == "finite_strain" and solver.m == 4
    run_load_steps(solver, [0.5, 1.0], shared_tmp_path / "fe2")
    # reference: SNES on the first variation of ψ = μ/2 (I1 − 2 − 2 ln J) + λ/2 (ln J)^2 (plane strain)
    V = solver.V
    u = fem.Function(V)
    v = ufl.TestFunction(V)
    lam, mu = lame_from_young_poisson(E_M, NU_M)
    F = ufl.Identity(2) + ufl.grad(u)
    J = ufl.det(F)
    psi = mu / 2 * (ufl.tr(F.T * F) - 2 - 2 * ufl.ln(J)) + lam / 2 * ufl.ln(J) ** 2
    Pi = psi * ufl.dx(metadata={"quadrature_degree": 1})
    R = ufl.derivative(Pi, u, v)
    d = 2
    g = fem.Constant(plate.mesh, 0.0)
    bcs = [
        fem.dirichletbc(
            0.0, fem.locate_dofs_topological(V.sub(0), d - 1, plate.facet_tags.find(plate.tag("left"))), V.sub(0)
        ),
        fem.dirichletbc(
            0.0, fem.locate_dofs_topological(V.sub(1), d - 1, plate.facet_tags.find(plate.tag("bottom"))), V.sub(1)
        ),
        fem.dirichletbc(
            g, fem.locate_dofs_topological(V.sub(0), d - 1, plate.facet_tags.find(plate.tag("right"))), V.sub(0)
        ),
    ]
    problem = NonlinearProblem(R, u, bcs=bcs, petsc_options_prefix="fe2_test_hyper_",
                               petsc_options={"snes_rtol": 1e-12, "snes_atol": 1e-14, "ksp_type": "preonly",
                                              "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"})
    for factor in (0.5, 1.0):
        g.value = STRETCH * factor
        problem.solve()
    assert _rel(solver.u.x.array, u.x.array, comm) < 1e-8
    res = solver.history[-1].residuals
    assert res[-1] < 1e-10 * res[0] and len(res) <= 8  # quadratic convergence with ∂P/∂F


def test_one_phase_neo_hookean_rve_equals_single_scale(shared_tmp_path):
    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.3)
    law = NeoHookean(E_M, NU_M, dim=2)
    rve_mat = NonlinearRVEMaterial(rve, {"matrix": law, "fibre": law})
    assert rve_mat.kind == "finite_strain"
    fe2_solver, _ = _plate(rve_mat, comm, mesh_size=0.4)
    single, _ = _plate(NeoHookean(E_M, NU_M, dim=2), comm, mesh_size=0.4)
    run_load_steps(fe2_solver, [0.5, 1.0], shared_tmp_path / "fe2")
    run_load_steps(single, [0.5, 1.0], shared_tmp_path / "one")
    assert _rel(fe2_solver.u.x.array, single.u.x.array, comm) < 1e-6
    assert comm.allreduce(rve_mat.hill_mandel_max, op=MPI.MAX) < 1e-8


def test_finite_strain_homogenized_tangent_matches_finite_differences():
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.15)
    mat = NonlinearRVEMaterial(rve, {"matrix": NeoHookean(1.0, 0.3, dim=2), "fibre": NeoHookean(20.0, 0.3, dim=2)})
    F = np.array([[1.25, 0.1, -0.05, 0.9]])  # 25 % stretch, shear, lateral contraction
    state = mat.initial_state(1)
    P, A, _ = mat.evaluate(F, state)
    h = 1e-7
    fd = np.zeros((4, 4))
    for j in range(4):
        dF = np.zeros(4)
        dF[j] = h
        fd[:, j] = (mat.evaluate(F + dF, state)[0][0] - mat.evaluate(F - dF, state)[0][0]) / (2 * h)
    assert np.max(np.abs(fd - A[0])) <= 1e-5 * np.max(np.abs(A[0]))
    assert mat.hill_mandel_max < 1e-8
    # objectivity of the homogenized response: P̄(QF̄) = Q P̄(F̄)
    c, s = np.cos(0.4), np.sin(0.4)
    Q = np.array([[c, -s], [s, c]])
    PQ = mat.evaluate((Q @ F.reshape(2, 2)).reshape(1, 4), state)[0][0].reshape(2, 2)
    np.testing.assert_allclose(PQ, Q @ P[0].reshape(2, 2), rtol=0, atol=1e-9 * np.max(np.abs(P)))


def test_run_configs_parse_and_kinematics_mix_is_an_error(tmp_path):
    from pathlib import Path

    from fe2.config.run import load_run_config
    from fe2.errors import ConfigError

    root = Path(__file__).resolve().parents[2] / "demos" / "configs" / "run"
    paths = sorted(root.glob("*.toml"))
    assert len(paths) >= 2
    for p in paths:
        load_run_config(p)
    text = (root / "fe2_plate_neo_hookean.toml").read_text().replace(
        'materials.fibre = { model = "neo_hookean", young = 20.0, poisson = 0.3 }',
        'materials.fibre = { model = "elastic", young = 20.0, poisson = 0.3 }')
    bad = tmp_path / "mixed.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match="cannot be mixed"):
        load_run_config(bad)
