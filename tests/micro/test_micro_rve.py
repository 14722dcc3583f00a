"""Verification of the linear RVE solver (KUBC, periodic, TUBC, Hill–Mandel).

Tolerances: the solver is direct (MUMPS), so identities that hold for the
discrete problem (Hill–Mandel, exactness for a homogeneous cell, the ordering
of the three BCs, which follows from nested discrete spaces) are checked at
1e-10 relative — round-off of a sparse factorization, with margin.
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.errors import ConfigError, GeometryError, MaterialError, MeshError
from fe2.geometry import Inclusion, hexagonal_array, inclusion_rve, square_array
from fe2.geometry.base import RVEMesh
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.micro.linear_solver import LinearSolverOptions
from fe2.micro.physics import Conductivity, Elasticity
from fe2.micro.rve_problem import RVEProblem

ROUNDOFF = 1e-10


def _materials(physics: str, contrast: float = 10.0, fibre_poisson: float = 0.25):
    if physics == "elasticity":
        return {"matrix": IsotropicElastic(1.0, 0.3), "fibre": IsotropicElastic(contrast, fibre_poisson)}
    return {"matrix": IsotropicConductor(1.0), "fibre": IsotropicConductor(contrast)}


def _physics(name: str, dim: int):
    return Elasticity(dim) if name == "elasticity" else Conductivity(dim)


def _min_eig(a: np.ndarray, scale: float) -> float:
    """Smallest eigenvalue of sym(a), relative to ``scale``."""
    return float(np.linalg.eigvalsh(0.5 * (a + a.T))[0] / scale)


def assert_ordered(res) -> None:
    """Voigt ⪰ KUBC ⪰ periodic ⪰ TUBC ⪰ Reuss as quadratic forms (Mandel forms, so eigenvalues are true)."""
    chain = [
        res.voigt_bound,
        res.effective("kubc"),
        res.effective("periodic"),
        res.effective("tubc"),
        res.reuss_bound,
    ]
    # Compare in Mandel form: the Voigt-notation matrices are congruent to it, so PSD-ness is the same.
    scale = np.max(np.abs(res.voigt_bound))
    names = ["voigt", "kubc", "periodic", "tubc", "reuss"]
    for a, b, na, nb in zip(chain[:-1], chain[1:], names[:-1], names[1:], strict=False):
        assert _min_eig(a - b, scale) >= -ROUNDOFF, f"{na} - {nb} is not positive semi-definite"


@pytest.fixture(scope="module")
def fibre_rve_2d():
    return square_array(MPI.COMM_WORLD, volume_fraction=0.3, mesh_size=0.08)


@pytest.mark.parametrize("physics", ["elasticity", "conductivity"])
def test_homogeneous_cell_returns_phase_tensor(physics):
    """One material everywhere: every BC must return the phase tensor exactly (w = 0 is the discrete solution)."""
    rve = square_array(MPI.COMM_WORLD, volume_fraction=0.3, mesh_size=0.1)
    mats = _materials(physics, contrast=1.0, fibre_poisson=0.3)
    res = RVEProblem(rve, _physics(physics, 2), mats).homogenize()
    exact = res.voigt_bound
    for bc in ("kubc", "periodic", "tubc"):
        np.testing.assert_allclose(res.effective(bc), exact, rtol=0, atol=1e-12 * np.max(np.abs(exact)))
        assert res.bcs[bc].hill_mandel_max < ROUNDOFF


@pytest.mark.parametrize("physics", ["elasticity", "conductivity"])
def test_ordering_and_hill_mandel_2d(fibre_rve_2d, physics):
    """Voigt ⪰ KUBC ⪰ PBC ⪰ TUBC ⪰ Reuss, Hill–Mandel <= 1e-10 for all three BCs, symmetric tensors."""
    res = RVEProblem(fibre_rve_2d, _physics(physics, 2), _materials(physics)).homogenize()
    assert_ordered(res)
    for bc, r in res.bcs.items():
        assert r.hill_mandel_max < ROUNDOFF, bc
        assert r.checks["symmetry_error"] < ROUNDOFF, bc
    # KUBC and PBC reproduce the prescribed mean strain (boundary integral) exactly
    assert res.bcs["kubc"].checks["mean_strain_error"] < ROUNDOFF
    assert res.bcs["periodic"].checks["mean_strain_error"] < ROUNDOFF
    # TUBC: the mean stress is the prescribed one (self-equilibrated load, exact pins)
    assert res.bcs["tubc"].checks["mean_stress_error"] < ROUNDOFF


@pytest.mark.parametrize("physics", ["elasticity", "conductivity"])
def test_ordering_3d_sphere(physics):
    """The same chain for a 3D spherical inclusion (coarse mesh: the ordering holds on any mesh)."""
    rve = square_array(MPI.COMM_WORLD, volume_fraction=0.2, mesh_size=0.25, dim=3)
    res = RVEProblem(rve, _physics(physics, 3), _materials(physics)).homogenize()
    assert_ordered(res)
    assert max(r.hill_mandel_max for r in res.bcs.values()) < ROUNDOFF


def test_pores_ordering_and_strain_average():
    """A centred pore: ordering holds, <ε> from the boundary integral equals E for KUBC/PBC,
    and the porous TUBC keeps <σ> = Σ (pore surface is traction free)."""
    rve = square_array(MPI.COMM_WORLD, volume_fraction=0.2, mesh_size=0.08, void=True)
    res = RVEProblem(rve, Elasticity(2), {"matrix": IsotropicElastic(1.0, 0.3)}).homogenize()
    assert_ordered(res)
    assert res.volume_fractions["fibre"] == pytest.approx(0.2, rel=1e-12)
    assert res.volume_fractions["matrix"] == pytest.approx(0.8, rel=5e-3)  # polygonal hole, O(h^2)
    assert res.bcs["periodic"].checks["mean_strain_error"] < ROUNDOFF
    assert res.bcs["tubc"].checks["mean_stress_error"] < ROUNDOFF


def test_tubc_rejects_pores_on_the_boundary():
    """Pores cutting the box faces leave no material to carry a uniform traction: a clear error."""
    incs = [Inclusion((0.0, 0.5), 0.2, "pore")]
    rve = inclusion_rve(MPI.COMM_WORLD, [1.0, 1.0], incs, 0.1, void_phases=("pore",))
    prob = RVEProblem(rve, Elasticity(2), {"matrix": IsotropicElastic(1.0, 0.3)})
    prob.solve("periodic")  # fine
    with pytest.raises(GeometryError, match="TUBC needs material on the whole RVE boundary"):
        prob.solve("tubc")


def test_hexagonal_array_is_isotropic():
    """Hexagonal symmetry makes the 2D effective stiffness isotropic: C11 = C22 and C66 = (C11 - C12)/2."""
    rve = hexagonal_array(MPI.COMM_WORLD, volume_fraction=0.4, mesh_size=0.06)
    C = RVEProblem(rve, Elasticity(2), _materials("elasticity")).homogenize(["periodic"]).effective("periodic")
    # Discretization breaks the symmetry at O(h^2); 1e-2 relative is far above that and far below anisotropy
    # of a square array at this fraction (~10%).
    assert C[0, 0] == pytest.approx(C[1, 1], rel=1e-2)
    assert C[2, 2] == pytest.approx(0.5 * (C[0, 0] - C[0, 1]), rel=1e-2)


def test_iterative_matches_direct(fibre_rve_2d):
    """CG + GAMG (rtol 1e-12) gives the direct solver's tensors to 1e-8."""
    mats = _materials("elasticity")
    direct = RVEProblem(fibre_rve_2d, Elasticity(2), mats).homogenize()
    it = RVEProblem(fibre_rve_2d, Elasticity(2), mats, solver=LinearSolverOptions("iterative")).homogenize()
    for bc in ("kubc", "periodic", "tubc"):
        np.testing.assert_allclose(it.effective(bc), direct.effective(bc), rtol=1e-8, atol=1e-10)
        assert all(lc.iterations > 0 for lc in it.bcs[bc].load_cases)


@pytest.mark.parallel
@pytest.mark.parametrize("physics", ["elasticity", "conductivity"])
def test_distributed_equals_serial(physics):
    """The same RVE on COMM_WORLD (distributed under mpirun -n 2) and on COMM_SELF: tensors agree to 1e-10."""
    mats = _materials(physics)
    world = square_array(MPI.COMM_WORLD, volume_fraction=0.3, mesh_size=0.08)
    serial = square_array(MPI.COMM_SELF, volume_fraction=0.3, mesh_size=0.08)
    rw = RVEProblem(world, _physics(physics, 2), mats).homogenize()
    rs = RVEProblem(serial, _physics(physics, 2), mats).homogenize()
    for bc in ("kubc", "periodic", "tubc"):
        scale = np.max(np.abs(rs.effective(bc)))
        np.testing.assert_allclose(rw.effective(bc), rs.effective(bc), rtol=0, atol=ROUNDOFF * scale)


def test_averages_match_direct_field_integrals(fibre_rve_2d):
    """<σ>, <ε> and <σ:ε> from the G/H vectors equal UFL integrals of the returned fields (independent route)."""
    ph = Elasticity(2)
    prob = RVEProblem(fibre_rve_2d, ph, _materials("elasticity"))
    res, fields = prob.solve("periodic")
    msh = fibre_rve_2d.mesh
    u = fem.Function(prob.V)
    fields[0].copy(u.x.petsc_vec)
    u.x.scatter_forward()
    eps = ph.strain(u)
    sig = ph.flux(eps, prob.coefficients)
    vol = fibre_rve_2d.volume
    comm = msh.comm

    def integral(expr, measure=ufl.dx):
        return comm.allreduce(fem.assemble_scalar(fem.form(expr * measure)), op=MPI.SUM) / vol

    lc = res.load_cases[0]
    s = np.sqrt(2.0)
    sig_ufl = np.array([integral(sig[0, 0]), integral(sig[1, 1]), s * integral(sig[0, 1])])
    eps_bnd = np.array([integral(u[0] * ufl.FacetNormal(msh)[0], ufl.ds)])
    np.testing.assert_allclose(lc.mean_stress, sig_ufl, rtol=1e-12, atol=1e-12)
    assert lc.mean_strain[0] == pytest.approx(eps_bnd[0], abs=1e-12)
    assert lc.mean_energy == pytest.approx(integral(ufl.inner(sig, eps)), rel=1e-12)


def _skewed_square(comm) -> RVEMesh:
    """A unit square whose x=1 face nodes are shifted along y: not periodic."""
    msh = dmesh.create_unit_square(comm, 8, 8)
    x = msh.geometry.x
    right = np.isclose(x[:, 0], 1.0)
    x[right, 1] += 0.03 * np.sin(np.pi * x[right, 1])
    tdim = msh.topology.dim
    n = msh.topology.index_map(tdim).size_local + msh.topology.index_map(tdim).num_ghosts
    tags = dmesh.meshtags(msh, tdim, np.arange(n, dtype=np.int32), np.ones(n, dtype=np.int32))
    return RVEMesh(msh, tags, {"matrix": 1}, np.zeros(2), np.ones(2), periodic=False)


def test_non_periodic_mesh_is_an_error_under_pbc():
    rve = _skewed_square(MPI.COMM_WORLD)
    prob = RVEProblem(rve, Elasticity(2), {"matrix": IsotropicElastic(1.0, 0.3)})
    prob.solve("kubc")  # KUBC does not need periodicity
    with pytest.raises(MeshError, match="not periodic"):
        prob.solve("periodic")


def test_material_and_phase_errors(fibre_rve_2d):
    with pytest.raises(MaterialError, match=r"nu >= 0\.5"):
        IsotropicElastic(1.0, 0.5)
    with pytest.raises(MaterialError, match="Young's modulus"):
        IsotropicElastic(-1.0, 0.3)
    with pytest.raises(MaterialError, match="conductivity"):
        IsotropicConductor(0.0)
    with pytest.raises(ConfigError, match="no material given for phase"):
        RVEProblem(fibre_rve_2d, Elasticity(2), {"matrix": IsotropicElastic(1.0, 0.3)})
    with pytest.raises(ConfigError, match="unknown phase"):
        RVEProblem(fibre_rve_2d, Elasticity(2), {**_materials("elasticity"), "glass": IsotropicElastic(1, 0.2)})
    with pytest.raises(ConfigError, match="IsotropicConductor"):
        RVEProblem(fibre_rve_2d, Conductivity(2), _materials("elasticity"))
    with pytest.raises(ConfigError, match="unknown boundary condition"):
        RVEProblem(fibre_rve_2d, Elasticity(2), _materials("elasticity")).solve("dirichlet")


def test_meshed_phase_turned_into_pore_matches_generated_pore():
    """A meshed fibre removed with remove_phases ('void = true') behaves like a pore cut before meshing:
    same void fraction (to the polygonal O(h^2) error), tensors within 1 % (two different meshes of the same
    geometry at h = 0.04; the P1 discretization error is ~0.5 %), the ordering chain holds and PBC still pairs nodes."""
    from fe2.geometry import remove_phases

    h = 0.04
    meshed = remove_phases(square_array(MPI.COMM_WORLD, volume_fraction=0.2, mesh_size=h), ["fibre"])
    cut = square_array(MPI.COMM_WORLD, volume_fraction=0.2, mesh_size=h, void=True)
    mats = {"matrix": IsotropicElastic(1.0, 0.3)}
    a = RVEProblem(meshed, Elasticity(2), mats).homogenize()
    b = RVEProblem(cut, Elasticity(2), mats).homogenize()
    assert_ordered(a)
    assert a.volume_fractions["fibre"] == pytest.approx(0.2, rel=2e-2)
    for bc in ("kubc", "periodic", "tubc"):
        np.testing.assert_allclose(a.effective(bc), b.effective(bc), rtol=0, atol=1e-2 * b.effective(bc)[0, 0])


def test_remove_phases_errors():
    from fe2.geometry import remove_phases

    rve = square_array(MPI.COMM_WORLD, volume_fraction=0.2, mesh_size=0.1)
    with pytest.raises(GeometryError, match="not phases of the mesh"):
        remove_phases(rve, ["glass"])
    with pytest.raises(GeometryError, match="no material left"):
        remove_phases(rve, ["fibre", "matrix"])


def test_many_meshes_one_compiled_form(monkeypatch):
    """RVEs of one kind share compiled forms: after the first compile no JIT happens, and results equal a fresh
    compile to round-off (same kernels; a distributed MUMPS factorization is not bitwise reproducible between
    runs, measured differences ~3e-17 on entries of size 1). A mesh of another kind is refused."""
    from dolfinx import jit

    from fe2.micro.forms import RVEForms

    mats = _materials("conductivity")
    first = square_array(MPI.COMM_WORLD, volume_fraction=0.2, mesh_size=0.1)
    forms = RVEForms.for_mesh(Conductivity(2), first.mesh, 1)
    meshes = [square_array(MPI.COMM_WORLD, volume_fraction=f, mesh_size=0.1) for f in (0.1, 0.3)]
    fresh = [RVEProblem(m, Conductivity(2), mats).homogenize(["periodic"]).effective("periodic") for m in meshes]

    def no_jit(*args, **kwargs):
        raise AssertionError("JIT compilation attempted although compiled forms were shared")

    monkeypatch.setattr(jit, "ffcx_jit", no_jit)
    shared = [
        RVEProblem(m, Conductivity(2), mats, forms=forms).homogenize(["periodic"]).effective("periodic")
        for m in meshes
    ]
    for a, b in zip(shared, fresh, strict=False):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.max(np.abs(b)))
    with pytest.raises(ConfigError, match="compiled RVE forms are for"):
        RVEProblem(meshes[0], Conductivity(2), mats, degree=2, forms=forms)
