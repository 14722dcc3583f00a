"""Macro layer: the quadrature-point solver against single-scale UFL solves, and FE² with a linear RVE.

Tolerances: the macro solver and the reference solve the same discrete linear
system (same mesh, space, quadrature-exact integrands), so displacements agree
to solver round-off; 1e-8 relative is the issue's bound, measured ~1e-14.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import LinearProblem
from mpi4py import MPI

from fe2.errors import ConvergenceError, GeometryError
from fe2.geometry import square_array
from fe2.geometry.macro_domains import bar, plate_with_hole
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem, Traction
from fe2.materials import BatchedState, IsotropicElastic, MicroModel
from fe2.micro.physics import Elasticity
from fe2.micro.rve_material import LinearRVEMaterial
from fe2.micro.rve_problem import RVEProblem
from fe2.tensors import SQRT2, isotropic_stiffness_mandel


def _single_scale(V, c_mandel, facet_tags, dirichlet, tractions):
    """Reference: dolfinx LinearProblem with the constant (anisotropic) stiffness c_mandel."""
    msh = V.mesh
    d = msh.geometry.dim
    C = fem.Constant(msh, np.asarray(c_mandel, dtype=float))

    def eps_m(w):
        e = ufl.sym(ufl.grad(w))
        if d == 2:
            return ufl.as_vector([e[0, 0], e[1, 1], SQRT2 * e[0, 1]])
        return ufl.as_vector([e[0, 0], e[1, 1], e[2, 2], SQRT2 * e[1, 2], SQRT2 * e[0, 2], SQRT2 * e[0, 1]])

    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    ds = ufl.Measure("ds", domain=msh, subdomain_data=facet_tags)
    a = ufl.inner(ufl.dot(C, eps_m(u)), eps_m(v)) * ufl.dx
    L = sum((ufl.inner(fem.Constant(msh, np.asarray(t.value, float)), v) * ds(t.tag) for t in tractions[1:]),
            ufl.inner(fem.Constant(msh, np.asarray(tractions[0].value, float)), v) * ds(tractions[0].tag))
    bcs = []
    for bc in dirichlet:
        facets = facet_tags.find(bc.tag)
        dofs = fem.locate_dofs_topological(V.sub(bc.component), d - 1, facets)
        bcs.append(fem.dirichletbc(float(bc.value), dofs, V.sub(bc.component)))
    problem = LinearProblem(
        a,
        L,
        bcs=bcs,
        petsc_options_prefix="fe2_test_ref_",
        petsc_options={"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"},
    )
    return problem.solve()


class _ConstantLaw(MicroModel):
    """A minimal linear law (micro–macro contract: only kind, dim and evaluate; not declared linear, so it
    takes the general quadrature-point path) for the solver test."""

    def __init__(self, c):
        self.c = np.asarray(c)
        self.dim = 2 if self.c.shape[0] == 3 else 3

    def evaluate(self, driver, state, guess=None):
        return driver @ self.c.T, np.broadcast_to(self.c, (driver.shape[0], *self.c.shape)), state


def _max_rel_diff(a, b, comm):
    num = comm.allreduce(float(np.max(np.abs(a - b), initial=0.0)), op=MPI.MAX)
    den = comm.allreduce(float(np.max(np.abs(b), initial=0.0)), op=MPI.MAX)
    return num / den


def test_plate_with_hole_fe2_linear_rve_equals_single_scale():
    """FE² with a linear fibre RVE (solved once, C_hom at every point) = single-scale solve with C_hom (1e-8)."""
    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.1)
    mats = {"matrix": IsotropicElastic(1.0, 0.3), "fibre": IsotropicElastic(10.0, 0.3)}
    material = LinearRVEMaterial(RVEProblem(rve, Elasticity(2), mats))
    assert material.micro_solves == 1 and material.hill_mandel < 1e-10
    plate = plate_with_hole(comm, mesh_size=0.15)
    dirichlet = [Dirichlet(plate.tag("left"), 0.0, 0), Dirichlet(plate.tag("bottom"), 0.0, 1)]
    tractions = [Traction(plate.tag("right"), [0.05, 0.0])]
    solver = QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, material, dirichlet=dirichlet, tractions=tractions)
    report = solver.solve_step(1.0)
    assert report.converged and report.iterations == 1  # linear: one Newton step
    ref = _single_scale(solver.V, material.c_mandel, plate.facet_tags, dirichlet, tractions)
    assert _max_rel_diff(solver.u.x.array, ref.x.array, comm) < 1e-8


def test_bar_3d_quadrature_solver_equals_ufl_elasticity():
    """3D bar, isotropic law through quadrature points vs the UFL bilinear form (1e-8)."""
    comm = MPI.COMM_WORLD
    b = bar(comm, lengths=(3.0, 1.0, 1.0), mesh_size=0.5)
    c = isotropic_stiffness_mandel(0.6, 0.4, 3)
    dirichlet = [Dirichlet(b.tag("xmin"), 0.0, i) for i in range(3)]
    tractions = [Traction(b.tag("xmax"), [0.0, -0.01, 0.02])]
    solver = QuasiStaticMacroProblem(b.mesh, b.facet_tags, _ConstantLaw(c), dirichlet=dirichlet, tractions=tractions)
    solver.solve_step(1.0)
    ref = _single_scale(solver.V, c, b.facet_tags, dirichlet, tractions)
    assert _max_rel_diff(solver.u.x.array, ref.x.array, comm) < 1e-8


def test_diverging_material_is_a_clear_error():
    """A material that returns NaN stops the step with ConvergenceError, state not committed."""

    @dataclasses.dataclass
    class _Marker(BatchedState):
        touched: np.ndarray

    class _Broken(_ConstantLaw):
        def initial_state(self, n, point_data=None):
            return _Marker(np.zeros(n))

        def evaluate(self, driver, state, guess=None):
            flux, tangent, _ = super().evaluate(driver, state)
            return flux * np.nan, tangent, _Marker(np.ones(driver.shape[0]))

    plate = plate_with_hole(MPI.COMM_WORLD, mesh_size=0.3)
    solver = QuasiStaticMacroProblem(
        plate.mesh, plate.facet_tags, _Broken(isotropic_stiffness_mandel(1.0, 1.0, 2)),
        dirichlet=[Dirichlet(plate.tag("left"), 0.0, 0), Dirichlet(plate.tag("bottom"), 0.0, 1)],
        tractions=[Traction(plate.tag("right"), [0.1, 0.0])],
    )
    with pytest.raises(ConvergenceError, match="NaN"):
        solver.solve_step(1.0)
    assert not np.any(solver.state.touched)  # the committed state never saw the failed trial
    solver.rollback()
    assert not np.any(solver.store.trial.touched)


def test_macro_domain_errors():
    with pytest.raises(GeometryError, match="hole radius"):
        plate_with_hole(MPI.COMM_WORLD, radius=2.0)
    plate = plate_with_hole(MPI.COMM_WORLD, mesh_size=0.3)
    with pytest.raises(GeometryError, match="unknown boundary"):
        plate.tag("front")


@dataclasses.dataclass
class _StrainState(BatchedState):
    strain: np.ndarray


class _IncrementLimitedLaw(_ConstantLaw):
    """Linear law whose evaluation fails (NaN) when the strain jumps more than ``limit`` from the committed
    state: forces the driver to cut load increments. State = last committed strain."""

    has_history = True

    def __init__(self, c, limit):
        super().__init__(c)
        self.limit = limit

    def initial_state(self, n, point_data=None):
        return _StrainState(np.zeros((n, self.driver_size)))

    def evaluate(self, driver, state, guess=None):
        flux, tangent, _ = super().evaluate(driver, state)
        if np.max(np.abs(driver - state.strain), initial=0.0) > self.limit:
            flux = flux * np.nan
        return flux, tangent, _StrainState(driver.copy())


def _pulled_plate(material, comm):
    plate = plate_with_hole(comm, mesh_size=0.2)
    dirichlet = [
        Dirichlet(plate.tag("left"), 0.0, 0),
        Dirichlet(plate.tag("bottom"), 0.0, 1),
        Dirichlet(plate.tag("right"), 0.01, 0),  # displacement control: u_x = 0.01 * load factor
    ]
    return QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, material, dirichlet=dirichlet), plate


def test_load_steps_restart_reproduces_uninterrupted_run(shared_tmp_path):
    """Checkpoint after every converged step; a restart from step 2 ends where an uninterrupted run ends (1e-12),
    and the reaction force is linear in the load factor (linear material)."""
    from fe2.macro.driver import Monitor, run_load_steps

    comm = MPI.COMM_WORLD
    c = isotropic_stiffness_mandel(0.5, 0.4, 2)
    full, plate = _pulled_plate(_ConstantLaw(c), comm)
    mon = Monitor(plate.tag("right"), 0)
    rec_full = run_load_steps(full, [0.25, 0.5, 0.75, 1.0], shared_tmp_path / "full", monitor=mon)
    part, _ = _pulled_plate(_ConstantLaw(c), comm)
    run_load_steps(part, [0.25, 0.5], shared_tmp_path / "part", monitor=mon)
    resumed, _ = _pulled_plate(_ConstantLaw(c), comm)
    rec = run_load_steps(resumed, [0.25, 0.5, 0.75, 1.0], shared_tmp_path / "part", monitor=mon, restart=True)
    assert [r["step"] for r in rec] == [1, 2, 3, 4]
    assert _max_rel_diff(resumed.u.x.array, full.u.x.array, comm) < 1e-12
    reactions = np.array([r["reaction"] for r in rec_full])
    np.testing.assert_allclose(reactions / reactions[-1], [0.25, 0.5, 0.75, 1.0], rtol=1e-10)
    if comm.rank == 0:
        assert (shared_tmp_path / "full" / "load_displacement.csv").is_file()
        assert (shared_tmp_path / "full" / "load_displacement.png").is_file()
        assert (shared_tmp_path / "full" / "displacement.xdmf").is_file()


def test_load_step_cutback_and_commit(shared_tmp_path):
    """A material that cannot take large increments forces cuts; the run still reaches the target, commits only
    converged states, and ends equal to the uncut linear solution."""
    from fe2.macro.driver import run_load_steps

    comm = MPI.COMM_WORLD
    c = isotropic_stiffness_mandel(0.5, 0.4, 2)
    solver, _ = _pulled_plate(_IncrementLimitedLaw(c, limit=0.004), comm)
    rec = run_load_steps(solver, [1.0], shared_tmp_path / "cut", max_cuts=6)
    assert len(rec) > 1 and rec[-1]["load_factor"] == pytest.approx(1.0)
    ref, _ = _pulled_plate(_ConstantLaw(c), comm)
    ref.solve_step(1.0)
    assert _max_rel_diff(solver.u.x.array, ref.u.x.array, comm) < 1e-10
    tight, _ = _pulled_plate(_IncrementLimitedLaw(c, limit=1e-9), comm)
    with pytest.raises(ConvergenceError, match="failed after 2 cuts"):
        run_load_steps(tight, [1.0], shared_tmp_path / "fail", max_cuts=2)


class _EarlyLimitedLaw(_IncrementLimitedLaw):
    """Fails (NaN) on strain jumps above ``limit`` only while the committed strain is below ``until``: the
    increments are cut at first and grow back one halving per converged step afterwards."""

    def __init__(self, c, limit, until):
        super().__init__(c, limit)
        self.until = until

    def evaluate(self, driver, state, guess=None):
        flux, tangent, trial = super().evaluate(driver, state)
        if np.max(np.abs(state.strain), initial=0.0) >= self.until:
            flux, tangent, trial = _ConstantLaw.evaluate(self, driver, state)
            trial = _StrainState(driver.copy())
        return flux, tangent, trial


def test_restart_during_cutback_takes_the_same_increments(shared_tmp_path, monkeypatch):
    """A run whose increments were cut (and are growing back) is stopped after a converged step (an error
    raised at the next trial, on every rank) and restarted: the halvings in force are in the checkpoint,
    so the resumed run takes the same load factors as the uninterrupted one, not the whole remaining
    increment at once."""
    from fe2 import faults
    from fe2.macro.driver import run_load_steps

    comm = MPI.COMM_WORLD
    c = isotropic_stiffness_mandel(0.5, 0.4, 2)

    def law():
        return _EarlyLimitedLaw(c, limit=0.004, until=0.004)

    full, _ = _pulled_plate(law(), comm)
    ref = run_load_steps(full, [1.0], shared_tmp_path / "full", max_cuts=6)
    assert len(ref) > 4
    stop_after = len(ref) - 2  # the cut count is still > 0 there (it grows back one per step)
    part, _ = _pulled_plate(law(), comm)
    calls = {"n": 0}
    real = part.solve_step

    def counting(trial, log=None):
        rep = real(trial, log=log)
        calls["n"] += 1
        if calls["n"] == stop_after:
            monkeypatch.setenv("FE2_FAULT", "macro.step:raise")
            faults._hits.clear()
        return rep

    monkeypatch.setattr(part, "solve_step", counting)
    with pytest.raises(RuntimeError, match="injected fault"):
        run_load_steps(part, [1.0], shared_tmp_path / "part", max_cuts=6)
    monkeypatch.delenv("FE2_FAULT")
    resumed, _ = _pulled_plate(law(), comm)
    rec = run_load_steps(resumed, [1.0], shared_tmp_path / "part", max_cuts=6, restart=True)
    assert [r["load_factor"] for r in rec] == [r["load_factor"] for r in ref]
    # one rank: bitwise. Two ranks: two uninterrupted runs in one process already differ by 1.7e-16 (parallel
    # MUMPS sums the contributions of the ranks in arrival order), so the bound is the project's -n 1 = -n 2 one
    bound = 0.0 if comm.size == 1 else 1e-14
    assert _max_rel_diff(resumed.u.x.array, full.u.x.array, comm) <= bound
