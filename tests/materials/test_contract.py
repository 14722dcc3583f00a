"""The one micro–macro contract (fe2.materials.contract) and the open micro physics registry.

* Declared defaults: a micro model that declares only kind, dim and evaluate runs through the macro
  problem and the load stepping with every optional capability at its default (no AttributeError).
* FE² with a linear RVE micro model equals the single-scale solve with LinearElasticLaw(C_hom): the
  same discrete system with C vs (C + Cᵀ)/2, so the displacements agree to solver round-off (1e-12
  relative asked; C_hom is symmetric to ~1e-15).
* ``fe2 darcy`` with micro cells: the K at every quadrature point is the micro model's tangent
  (micro regions) or the tissue law's (other regions), bitwise — it is what was written.
* The phase-field → RVE link: the apparent tensor of each BC is the linear RVE model's constant
  tangent, bitwise.
* A physics defined in this file only (anisotropic conductivity, full tensor k_ij per phase) registers
  itself and homogenizes a laminate: periodic = the exact anisotropic laminate formula to 1e-10
  relative (the exact field is piecewise affine and the mesh conforms to the layers, so only the
  round-off of a direct solve remains, ~1e-14); KUBC ⪰ exact ⪰ TUBC (Huet's order, exact for the
  nested discrete spaces: eigenvalues of the differences >= -1e-10 |K|); with isotropic tensors it
  equals the built-in conductivity under every BC to 1e-12 relative (same discrete problem, the flux
  written k·g vs K·g).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pytest
import ufl
from mpi4py import MPI

from fe2.errors import MaterialError
from fe2.geometry import laminate_rve, square_array
from fe2.geometry.macro_domains import plate_with_hole
from fe2.macro.balance import BalancedMaterial
from fe2.macro.driver import Monitor, run_load_steps
from fe2.macro.small_strain import Dirichlet, QuasiStaticMacroProblem, Traction
from fe2.materials import (
    EmptyState,
    IsotropicConductor,
    IsotropicElastic,
    J2Plasticity,
    LinearElasticLaw,
    LinearTransportLaw,
    MicroModel,
    MicroStatistics,
    StateStore,
)
from fe2.materials.contract import Block
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial, RVEState
from fe2.micro.physics import (
    Conductivity,
    Elasticity,
    ScalarGradientPhysics,
    make_physics,
    physics_names,
    register_physics,
)
from fe2.micro.rve_material import LinearRVEMaterial
from fe2.micro.rve_problem import RVEProblem
from fe2.tensors import isotropic_stiffness_mandel


# =========================================================================== declared defaults
class _Bare(MicroModel):
    """Only what is required: kind (default small strain), dim and evaluate."""

    dim = 2

    def __init__(self, c):
        self.c = np.asarray(c)

    def evaluate(self, driver, state, guess=None):
        return driver @ self.c.T, np.broadcast_to(self.c, (driver.shape[0], 3, 3)).copy(), EmptyState()


def test_missing_optional_capabilities_get_the_declared_defaults(shared_tmp_path):
    comm = MPI.COMM_WORLD
    law = _Bare(isotropic_stiffness_mandel(0.5, 0.4, 2))
    assert (law.is_linear, law.has_history, law.uses_guess, law.writes_point_fields) == (False,) * 4
    assert law.constant_tangent() is None and law.point_data == ()
    assert law.driver_blocks == (Block("strain", 3),) and law.flux_blocks == (Block("stress", 3),)
    assert law.driver_size == 3 and isinstance(law.initial_state(5), EmptyState)
    assert law.point_fields(EmptyState()) == {}
    assert law.statistics() == MicroStatistics() and law.statistics().reduce(comm) == MicroStatistics()
    law.commit()
    law.rollback()
    with pytest.raises(MaterialError, match="no micro fields"):
        law.write_point_fields("x.xdmf", np.zeros(3), EmptyState(), 0, 0.0, False)
    with pytest.raises(TypeError):  # evaluate is the one required method
        type("NoEvaluate", (MicroModel,), {"dim": 2})()
    # the whole macro path (Newton, commit, output of point fields, micro output points, checkpoint)
    plate = plate_with_hole(comm, mesh_size=0.4)
    bcs = [Dirichlet(plate.tag("left"), 0.0, 0), Dirichlet(plate.tag("bottom"), 0.0, 1),
           Dirichlet(plate.tag("right"), 0.01, 0)]
    solver = QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, law, dirichlet=bcs)
    assert not solver.uniform_linear  # not declared linear: the general quadrature-point path
    rec = run_load_steps(solver, [0.5, 1.0], shared_tmp_path / "bare", monitor=Monitor(plate.tag("right"), 0),
                         micro_points=[(1.5, 1.5)])
    assert len(rec) == 2 and rec[1]["reaction"] == pytest.approx(2 * rec[0]["reaction"], rel=1e-10)


def test_several_named_blocks_give_the_driver_size():
    class StrainAndPressure(_Bare):
        @property
        def driver_blocks(self):
            return (Block("strain", 3), Block("pressure_gradient", 2))

        @property
        def flux_blocks(self):
            return (Block("stress", 3), Block("fluid_flux", 2))

    assert StrainAndPressure(np.eye(3)).driver_size == 5


def test_state_store_takes_the_declared_point_data():
    with pytest.raises(MaterialError, match="point data"):
        StateStore(_Bare(np.eye(3)), 4, point_data={"fibre_fraction": np.zeros(4)})
    with pytest.raises(MaterialError, match="point data"):
        _Bare(np.eye(3)).initial_state(2, {"x": np.zeros(2)})


def test_balanced_material_declares_and_delegates_explicitly():
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.4)
    inner = NonlinearRVEMaterial(rve, {"matrix": J2Plasticity(1.0, 0.3, 0.01, h_iso=0.1, dim=2),
                                       "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)})
    mat = BalancedMaterial(inner, MPI.COMM_WORLD)
    assert "__getattr__" not in vars(BalancedMaterial)
    for cap in ("kind", "dim", "is_linear", "has_history", "uses_guess", "writes_point_fields", "point_data",
                "driver_blocks", "flux_blocks", "driver_size"):
        assert getattr(mat, cap) == getattr(inner, cap), cap
    state = mat.initial_state(2)
    assert isinstance(state, RVEState) and state.n_points == 2
    E = np.array([[0.02, -0.005, 0.004], [0.0, 0.001, 0.0]])
    _, _, trial = mat.evaluate(E, state)
    assert mat.statistics().solves == inner.micro_solves == 2
    # an RVE state is a BatchedState: take/put/checkpoint round trip
    one = trial.take(np.array([1]))
    back = state.copy()
    back.put(np.array([1]), one)
    assert back.take(np.array([1])).allclose(one) and back.take(np.array([0])).allclose(state.take(np.array([0])))
    assert state.restored(trial.to_arrays()).allclose(trial)
    assert mat.point_fields(trial)["eq_plastic_strain"].shape == (2,)


# =========================================================================== FE² vs single scale
def test_fe2_linear_rve_model_equals_single_scale_law():
    comm = MPI.COMM_WORLD
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.1)
    mats = {"matrix": IsotropicElastic(1.0, 0.3), "fibre": IsotropicElastic(10.0, 0.3)}
    rve_model = LinearRVEMaterial(RVEProblem(rve, Elasticity(2), mats))
    assert rve_model.is_linear and rve_model.kind == "small_strain"
    C = rve_model.constant_tangent()
    assert C is rve_model.c_mandel and rve_model.statistics().solves == 1

    def solve(material):
        plate = plate_with_hole(comm, mesh_size=0.2)
        s = QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, material,
                                    dirichlet=[Dirichlet(plate.tag("left"), 0.0, 0),
                                               Dirichlet(plate.tag("bottom"), 0.0, 1)],
                                    tractions=[Traction(plate.tag("right"), [0.05, 0.0])])
        s.solve_step(1.0)
        return s

    fe2, single = solve(rve_model), solve(LinearElasticLaw(C))
    assert fe2.uniform_linear and single.uniform_linear
    diff = comm.allreduce(float(np.max(np.abs(fe2.u.x.array - single.u.x.array), initial=0.0)), op=MPI.MAX)
    scale = comm.allreduce(float(np.max(np.abs(single.u.x.array), initial=0.0)), op=MPI.MAX)
    assert diff <= 1e-12 * scale
    # the stress at the points is the model's answer: flux = C ε
    eps = fe2.quad.evaluate(fe2.strain_expr)
    flux, tangent = fe2.quad.values()
    np.testing.assert_array_equal(flux, rve_model.evaluate(eps, EmptyState())[0])
    np.testing.assert_array_equal(tangent, np.broadcast_to(C, tangent.shape))


# =========================================================================== fe2 darcy
def test_darcy_micro_K_at_the_points_is_the_micro_models_tangent():
    from fe2.apps.darcy.runner import build_domain, micro_conductivity, tissue_properties
    from fe2.config.darcy import DarcyConfig
    from fe2.physics.darcy.micro_permeability import FibreFractionState

    comm = MPI.COMM_WORLD
    cfg = DarcyConfig.model_validate({
        "domain": {"kind": "tumour_in_host", "dim": 2, "tumour_radius": 1e-3, "host_radius": 3e-3,
                   "mesh_size": 6e-4},
        "tissue": {"tumour": {"preset": "baxter_jain_tumour"}, "host": {"preset": "baxter_jain_normal"}},
        "boundary": [{"name": "outer", "pressure": 0.0}],
        "permeability": {"fibre_radius": 5e-9, "viscosity": 1e-3, "cell_mesh_size": 0.1,
                         "fibre_fraction": {"host": 0.2}},
    })
    tm = build_domain(cfg, comm)
    tissue = {tm.region(n): tissue_properties(s) for n, s in cfg.tissue.items()}
    q, fractions, K, model = micro_conductivity(cfg, tm, tissue, comm)
    assert model.kind == "darcy" and model.is_linear and model.point_data == ("fibre_fraction",)
    micro = ~np.isnan(fractions)
    assert comm.allreduce(int(micro.sum())) > 0 and comm.allreduce(int((~micro).sum())) > 0
    g = np.zeros((int(micro.sum()), 2))
    flux, tangent, _ = model.evaluate(g, FibreFractionState(fractions[micro]))
    np.testing.assert_array_equal(K[micro], tangent)
    np.testing.assert_array_equal(flux, 0.0)
    law = LinearTransportLaw(tissue[tm.region("tumour")].K_tensor(2))
    np.testing.assert_array_equal(K[~micro], np.broadcast_to(law.constant_tangent(), K[~micro].shape))
    np.testing.assert_array_equal(q.values()[1], K)  # what the Darcy problem reads (QuadratureConductivity)
    # the contract's flux convention for darcy: q = K ∇p (= -u); evaluate is collective (shared cache)
    grad_p = np.array([[1.0, -2.0]])
    q1, K1, _ = model.evaluate(grad_p, FibreFractionState(np.array([0.2])))
    np.testing.assert_allclose(q1, grad_p @ K1[0].T, rtol=1e-14)


# =========================================================================== phase field -> RVE
@pytest.mark.parametrize("alpha,beta", [(IsotropicConductor(1.0), IsotropicConductor(10.0)),
                                        (IsotropicElastic(1.0, 0.3), IsotropicElastic(20.0, 0.2))])
def test_phasefield_link_tensor_is_the_linear_models_constant_tangent(alpha, beta):
    from dolfinx import mesh as dmesh

    from fe2.apps.phasefield.rve_link import PhaseFieldHomogenizer, PhaseFieldMaterial

    msh = dmesh.create_rectangle(MPI.COMM_WORLD, [[0.0, 0.0], [1.0, 1.0]], [8, 8],
                                 cell_type=dmesh.CellType.quadrilateral)
    hom = PhaseFieldHomogenizer(msh, PhaseFieldMaterial(alpha, beta, 0.3, 0.7))
    hom.set_concentration(lambda x: 0.5 + 0.3 * np.sin(2 * np.pi * x[0]) * np.cos(2 * np.pi * x[1]))
    problem = hom.rve_problem()
    models = hom.micro_models(problem=problem)
    res = hom.collect(problem, models)
    for bc, model in models.items():
        assert model.is_linear and model.kind == hom.physics.kind
        np.testing.assert_array_equal(res.bcs[bc].effective_mandel, model.constant_tangent())
        np.testing.assert_array_equal(res.effective(bc), hom.physics.to_voigt(model.constant_tangent()))
    # homogenize() is the same path: another solve of the same problem (MUMPS, distributed: round-off)
    again = hom.homogenize()
    for bc in models:
        assert np.max(np.abs(again.effective(bc) - res.effective(bc))) <= 1e-12 * np.max(np.abs(res.effective(bc)))


# =========================================================================== registry
@dataclasses.dataclass(frozen=True)
class AnisotropicConductor:
    """A phase with a full symmetric positive definite conductivity tensor k_ij."""

    K: tuple


@register_physics
@dataclasses.dataclass(frozen=True)
class AnisotropicConductivity(ScalarGradientPhysics):
    """Steady conduction with a full tensor per phase: J = K ∇φ, K given by its upper-triangle entries."""

    name: ClassVar[str] = "anisotropic_conductivity_test"
    phase_material: ClassVar[type] = AnisotropicConductor

    def _pairs(self):
        return [(i, j) for i in range(self.dim) for j in range(i, self.dim)]

    @property
    def coefficient_names(self) -> tuple[str, ...]:
        return tuple(f"k{i + 1}{j + 1}" for i, j in self._pairs())

    def _name(self, i, j):
        return f"k{min(i, j) + 1}{max(i, j) + 1}"

    def flux(self, strain, coeffs):
        K = ufl.as_matrix([[coeffs[self._name(i, j)] for j in range(self.dim)] for i in range(self.dim)])
        return ufl.dot(K, strain)

    def _coefficient_values(self, material):
        K = np.asarray(material.K, dtype=float)
        return {self._name(i, j): float(K[i, j]) for i, j in self._pairs()}

    def tensor_from_coefficients(self, values):
        n = len(next(iter(values.values())))
        t = np.empty((n, self.dim, self.dim))
        for i in range(self.dim):
            for j in range(self.dim):
                t[:, i, j] = values[self._name(i, j)]
        return t


def anisotropic_laminate(tensors, fractions, axis: int) -> np.ndarray:
    """Exact effective tensor of a rank-1 laminate of anisotropic layers normal to ``e_axis``.

    In layer i the gradient is g_i = G + c_i n (the tangential gradient is continuous) and the normal
    flux n·K_i g_i = q is the same in every layer (continuity of the normal flux); ⟨g⟩ = G gives
    Σ f_i c_i = 0. Hence q = a·G with a = H Σ f_i (n·K_i)/k_i, H = (Σ f_i / k_i)⁻¹, k_i = n·K_i n,
    c_i = (a − n·K_i)·G / k_i, and K_eff = Σ f_i K_i (I + n ⊗ (a − n·K_i)/k_i).
    """
    Ks = [np.asarray(K, dtype=float) for K in tensors]
    d = Ks[0].shape[0]
    n = np.eye(d)[axis]
    knn = [n @ K @ n for K in Ks]
    H = 1.0 / sum(f / k for f, k in zip(fractions, knn, strict=False))
    a = H * sum(f * (n @ K) / k for f, K, k in zip(fractions, Ks, knn, strict=False))
    return sum(f * K @ (np.eye(d) + np.outer(n, (a - n @ K) / k)) for f, K, k in zip(fractions, Ks, knn, strict=False))


def test_formula_reduces_to_harmonic_and_arithmetic_means():
    K = anisotropic_laminate([2.0 * np.eye(2), 8.0 * np.eye(2)], [0.25, 0.75], axis=0)
    np.testing.assert_allclose(K, np.diag([1.0 / (0.25 / 2 + 0.75 / 8), 0.25 * 2 + 0.75 * 8]), rtol=1e-15)


def test_registered_physics_homogenizes_an_anisotropic_laminate():
    assert "anisotropic_conductivity_test" in physics_names()
    with pytest.raises(ValueError, match="already registered"):
        register_physics(type("Other", (AnisotropicConductivity,), {"__module__": "elsewhere"}))
    ph = make_physics("anisotropic_conductivity_test", 2)
    Ka, Kb = ((2.0, 0.5), (0.5, 1.0)), ((10.0, -3.0), (-3.0, 4.0))
    fractions = [0.3, 0.7]
    rve = laminate_rve(MPI.COMM_WORLD, [1.0, 1.0], 0, fractions, ["a", "b"], 0.1)
    problem = RVEProblem(rve, ph, {"a": AnisotropicConductor(Ka), "b": AnisotropicConductor(Kb)})
    res = problem.homogenize()
    exact = anisotropic_laminate([Ka, Kb], fractions, axis=0)
    scale = np.max(np.abs(exact))
    assert np.max(np.abs(res.effective("periodic") - exact)) <= 1e-10 * scale
    assert np.min(np.linalg.eigvalsh(res.effective("kubc") - exact)) >= -1e-10 * scale
    assert np.min(np.linalg.eigvalsh(exact - res.effective("tubc"))) >= -1e-10 * scale
    assert max(r.hill_mandel_max for r in res.bcs.values()) < 1e-10
    # the anisotropy matters: KUBC and TUBC are strictly apart from the laminate here
    assert np.max(np.abs(res.effective("kubc") - res.effective("tubc"))) > 1e-3 * scale
    # the result records come from the physics (notation, labels), and a linear RVE model answers the contract
    d = res.to_dict()
    assert d["components"] == ["1", "2"] and d["notation"] == "vector"
    model = LinearRVEMaterial(problem, "periodic")
    assert model.kind == "conductivity" and model.driver_size == 2
    np.testing.assert_array_equal(model.constant_tangent(), res.bcs["periodic"].effective_mandel)
    # isotropic tensors: the same answers as the built-in conductivity under every BC
    iso = RVEProblem(rve, ph, {"a": AnisotropicConductor(((2.0, 0.0), (0.0, 2.0))),
                               "b": AnisotropicConductor(((7.0, 0.0), (0.0, 7.0)))}).homogenize()
    ref = RVEProblem(rve, Conductivity(2), {"a": IsotropicConductor(2.0), "b": IsotropicConductor(7.0)}).homogenize()
    for bc in ("kubc", "periodic", "tubc"):
        assert np.max(np.abs(iso.effective(bc) - ref.effective(bc))) <= 1e-12 * np.max(np.abs(ref.effective(bc)))
    np.testing.assert_allclose(iso.reuss_bound, ref.reuss_bound, rtol=1e-14)


def test_solver_prefixes_are_stable():
    rve = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.4)
    mat = NonlinearRVEMaterial(rve, {"matrix": LinearElasticLaw.isotropic(1.0, 0.3, 2),
                                     "fibre": LinearElasticLaw.isotropic(10.0, 0.3, 2)})
    assert mat.ksp.getOptionsPrefix() == "fe2_rve_"
    plate = plate_with_hole(MPI.COMM_WORLD, mesh_size=0.5)
    s = QuasiStaticMacroProblem(plate.mesh, plate.facet_tags, mat, dirichlet=[Dirichlet(plate.tag("left"), 0.0, 0)])
    assert s.ksp.getOptionsPrefix() == "fe2_macro_"
    from petsc4py import PETSc

    assert not PETSc.Options().hasName("fe2_rve_ksp_type")  # defaults are removed after configuration


def test_registered_physics_is_selected_from_toml(shared_tmp_path, capsys):
    """`fe2 homogenize` with ``physics = "anisotropic_conductivity_test"`` and ``plugins = [this module]``:
    the tables ``[materials.a] K = [[...]]`` reach the physics' material_from_table, and the periodic
    tensor in result.json is the exact laminate to 1e-10 (as above); a table the physics cannot read
    and an unknown physics are one-line errors naming the key."""
    import json

    from fe2.cli import main

    Ka, Kb = [[2.0, 0.5], [0.5, 1.0]], [[10.0, -3.0], [-3.0, 4.0]]
    text = f"""
physics = "anisotropic_conductivity_test"
plugins = ["{__name__}"]
boundary_conditions = ["periodic", "kubc"]
[geometry]
kind = "laminate"
lengths = [1.0, 1.0]
axis = 0
fractions = [0.3, 0.7]
phases = ["a", "b"]
mesh_size = 0.1
[materials.a]
K = {Ka}
[materials.b]
K = {Kb}
[output]
fields = false
"""
    comm = MPI.COMM_WORLD
    cfg, bad, unknown = (shared_tmp_path / n for n in ("plugin.toml", "bad.toml", "unknown.toml"))
    if comm.rank == 0:
        cfg.write_text(text)
        bad.write_text(text.replace("K = [[2.0", "k = [[2.0"))
        unknown.write_text(text.replace('"anisotropic_conductivity_test"', '"anisotropic_conductivity_tset"'))
    comm.Barrier()
    assert main(["homogenize", str(cfg), "--out", str(shared_tmp_path / "out")]) == 0
    comm.Barrier()  # rank 0 writes result.json
    res = json.loads((shared_tmp_path / "out" / "result.json").read_text())
    assert res["physics"] == "anisotropic_conductivity_test"
    exact = anisotropic_laminate([Ka, Kb], [0.3, 0.7], axis=0)
    K = np.asarray(res["effective"]["periodic"])
    assert np.max(np.abs(K - exact)) <= 1e-10 * np.max(np.abs(exact))
    capsys.readouterr()
    assert main(["homogenize", str(bad), "--out", str(shared_tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    if comm.rank == 0:
        assert len(err) == 1 and "materials.a: not a AnisotropicConductor table" in err[0], err
    assert main(["homogenize", str(unknown), "--out", str(shared_tmp_path / "unknown")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    if comm.rank == 0:
        assert len(err) == 1 and "physics: unknown physics 'anisotropic_conductivity_tset'" in err[0], err
