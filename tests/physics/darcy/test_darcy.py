"""Tissue perfusion (fe2.physics.darcy): Baxter–Jain verification, audits, MPI equality, transport.

Verification targets and why the tolerances are what they are:

* 2D disk (I₀ solution), R = 1 mm, Baxter–Jain tumour data (α = 3.68), h = R/4, R/8, R/16.
  Measured: P1 pressure L2 rates 1.85, 1.95 (theory 2; the inscribed polygon adds an O(h²)
  geometric error, no worse); mixed RT1×DG0 pressure rates 0.88, 0.95 (theory 1) and its
  surface-velocity error 1.8e-2, 5.1e-3, 1.35e-3 (rates 1.83, 1.92). Asserted: rates ≥
  theory − 0.2 (P1 p, mixed u_R) and ≥ 0.8 (DG0 p), i.e. pre-asymptotic slack below the
  measured values.
* 3D ball, h = R/5 (2.6k tets): P1 relative L2 error 5.6e-2, mixed u_R error 1.6e-2 (both
  measured; asserted ≤ 7e-2 / 2e-2: the errors at h = R/3 were 0.133 / 0.039, so the bounds
  sit between the two meshes' values).
* Conservation: the mixed method balances globally and per cell to round-off (≤ 1e-10);
  the primal consistent (residual-based) flux closes the global balance to ≤ 1e-10, its
  recovered flux −K∇p_h does not (measured 7e-2 at h = R/16) and is reported as such.
* Transport: manufactured solution linear in t (backward Euler exact in time), P1 SUPG L2
  rates 1.86, 1.79 at Pe_h ≤ 3 (Galerkin 2.04, 2.01): asserted ≥ 1.7.
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

import fe2  # noqa: F401
from fe2.analytic.perfusion import baxter_jain_pressure, baxter_jain_surface_velocity
from fe2.apps.darcy import output
from fe2.errors import ConfigError, MaterialError
from fe2.geometry.tissue import tissue_from_msh, tumour_in_host
from fe2.physics.darcy import (
    DarcyProblem,
    FluxBC,
    PressureBC,
    QuadratureConductivity,
    SoluteProperties,
    SoluteTransport,
    TissueProperties,
    units,
)
from fe2.quadrature import QuadratureFields

R = 1e-3  # 1 mm tumour: alpha = 3.68 with the Baxter-Jain tumour data
TUMOUR = TissueProperties.baxter_jain("tumour")
NORMAL = TissueProperties.baxter_jain("normal")


def _total(comm, expr) -> float:
    return comm.allreduce(fem.assemble_scalar(fem.form(expr)), op=MPI.SUM)


def _errors(res, tm, dim: int) -> tuple[float, float]:
    """(relative L2 pressure error, relative error of the mean outward surface velocity)."""
    msh, comm = tm.mesh, tm.mesh.comm
    alpha = TUMOUR.alpha(R)
    pe = fem.Function(fem.functionspace(msh, ("Lagrange", 4 if dim == 2 else 3)))
    pe.interpolate(lambda x: baxter_jain_pressure(np.linalg.norm(x[:dim], axis=0), R, alpha, TUMOUR.p_e, dim))
    dx, ds = ufl.dx(domain=msh), ufl.ds(domain=msh)
    err = np.sqrt(_total(comm, (res.p - pe) ** 2 * dx) / _total(comm, pe**2 * dx))
    u_mean = _total(comm, ufl.dot(res.u, ufl.FacetNormal(msh)) * ds) / _total(comm, 1.0 * ds)
    return err, u_mean / baxter_jain_surface_velocity(R, alpha, TUMOUR.p_e, TUMOUR.K_scalar(), dim) - 1.0


def _solve_ball(comm, dim: int, h: float, formulation: str):
    tm = tumour_in_host(comm, dim=dim, tumour_radius=R, host_radius=None, mesh_size=h)
    res = DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, {tm.region("tumour"): TUMOUR},
                       bcs=[PressureBC(tm.tag("outer"), 0.0)], formulation=formulation).solve()
    return tm, res


def _rates(e):
    e = np.abs(np.asarray(e))
    return np.log2(e[:-1] / e[1:])


def test_units_and_baxter_jain_parameters():
    """p_e = 15.6 − 0.82 (20 − 15) = 11.5 mmHg, α(1 cm) = sqrt(2.8e-7·200/4.13e-8) = 36.8 (Baxter & Jain)."""
    assert TUMOUR.p_e / units.MMHG == pytest.approx(11.5, rel=1e-12)
    assert TUMOUR.alpha(1e-2) == pytest.approx(np.sqrt(2.8e-7 * 200 / 4.13e-8), rel=1e-12)
    assert units.pa_to_mmhg(units.mmhg_to_pa(7.0)) == pytest.approx(7.0, rel=1e-15)
    assert units.conductivity_cgs_to_si(1.0) == pytest.approx(1e-4 / 133.322387415, rel=1e-12)
    assert NORMAL.L_pL_SV == pytest.approx(1.33e-5 / units.MMHG, rel=1e-12)
    with pytest.raises(MaterialError):
        TissueProperties(K=-1.0)


def test_disk_bessel_convergence_rates(comm):
    """2D disk vs p/p_e = 1 − I₀(αr/R)/I₀(α): observed rates (see module docstring)."""
    hs = [R / 4, R / 8, R / 16]
    primal, mixed = [], []
    for h in hs:
        tm, res = _solve_ball(comm, 2, h, "primal")
        primal.append(_errors(res, tm, 2))
        assert res.audit.relative_residual_consistent < 1e-10
        tm, res = _solve_ball(comm, 2, h, "mixed")
        mixed.append(_errors(res, tm, 2))
        assert res.audit.relative_residual < 1e-10 and res.audit.cell_residual_max < 1e-10
    primal, mixed = np.array(primal), np.array(mixed)
    assert np.all(_rates(primal[:, 0]) >= 1.8), primal
    assert primal[-1, 0] < 3e-3  # measured 2.4e-3
    assert np.all(_rates(mixed[:, 0]) >= 0.8), mixed
    assert np.all(_rates(mixed[:, 1]) >= 1.8), mixed
    assert abs(mixed[-1, 1]) < 2e-3  # measured 1.35e-3
    # the recovered P1 flux converges (measured errors −0.22, −0.13, −0.07), but only at first order
    assert np.all(np.diff(np.abs(primal[:, 1])) < 0) and abs(primal[-1, 1]) < 0.08
    assert np.all(_rates(np.abs(primal[:, 1])) >= 0.7), primal  # first order (0.75, 0.9 measured)


def test_sphere_accuracy_3d(comm):
    """3D Baxter–Jain sphere, p/p_e = 1 − sinh(αr/R)/((r/R) sinh α), on a 2.6k-tet ball."""
    tm, res = _solve_ball(comm, 3, R / 5, "primal")
    err_p, err_u = _errors(res, tm, 3)
    assert err_p < 7e-2, err_p  # measured 5.6e-2
    assert res.audit.relative_residual_consistent < 1e-10
    tm, res = _solve_ball(comm, 3, R / 5, "mixed")
    err_p, err_u = _errors(res, tm, 3)
    assert abs(err_u) < 2e-2, err_u  # measured −1.56e-2
    assert res.audit.relative_residual < 1e-10 and res.audit.cell_residual_max < 1e-10


def _tumour_in_host(comm):
    return tumour_in_host(comm, dim=2, tumour_radius=R, host_radius=3 * R, mesh_size=R / 3,
                          tumour_mesh_size=R / 6)


def _two_region(tm, formulation, **kw):
    tissue = {tm.region("tumour"): TUMOUR, tm.region("host"): NORMAL}
    return DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, tissue, bcs=[PressureBC(tm.tag("outer"), 0.0)],
                        formulation=formulation, **kw).solve()


def test_two_region_audits(comm):
    """Tumour in lymphatic host: mixed conserves globally and per cell; primal consistent flux closes."""
    tm = _tumour_in_host(comm)
    mixed = _two_region(tm, "mixed")
    a = mixed.audit
    assert a.lymphatic_drainage > 0 and a.starling_inflow > 0 and a.boundary_outflow > 0
    assert a.relative_residual < 1e-10 and a.cell_residual_max < 1e-10
    primal = _two_region(tm, "primal")
    b = primal.audit
    assert b.relative_residual_consistent < 1e-10
    assert b.relative_residual > 1e-6  # the recovered flux is not conservative (reported, not hidden)
    # both discretizations agree on the physics to discretization accuracy
    assert b.starling_inflow == pytest.approx(a.starling_inflow, rel=0.05)
    assert primal.to_dict()["audit"]["formulation"] == "primal"


@pytest.mark.parallel
@pytest.mark.parametrize("formulation", ["primal", "mixed"])
def test_parallel_equals_serial(comm, formulation):
    """COMM_WORLD solve = COMM_SELF solve of the same gmsh mesh (functionals to 1e-10)."""
    def functionals(c):
        tm = _tumour_in_host(c)
        res = _two_region(tm, formulation)
        dx = ufl.dx(domain=tm.mesh)
        return np.array([res.audit.starling_inflow, res.audit.lymphatic_drainage, res.audit.boundary_outflow,
                         _total(c, res.p**2 * dx), _total(c, ufl.dot(res.u, res.u) * dx)])

    world = functionals(comm)
    alone = functionals(MPI.COMM_SELF)
    assert np.allclose(world, alone, rtol=1e-10, atol=0.0), (world, alone)


@pytest.mark.parametrize("formulation", ["primal", "mixed"])
def test_quadrature_conductivity_matches_regions(comm, formulation):
    """K given at quadrature points (FE² path) with the region values reproduces the DG0-region solve."""
    tm = _tumour_in_host(comm)
    ref = _two_region(tm, formulation)
    gdim = tm.mesh.geometry.dim
    q = QuadratureFields(tm.mesh, 2, gdim)
    n_cells = q.owned_cells.size
    Kc = np.where(np.isin(np.arange(n_cells), tm.cell_tags.find(tm.region("tumour"))),
                  TUMOUR.K_scalar(), NORMAL.K_scalar())
    K = np.repeat(Kc, q.n_qp)[:, None, None] * np.eye(gdim)
    q.set(np.zeros((q.n_points, gdim)), K)
    het = _two_region(tm, formulation, K_field=QuadratureConductivity.from_fields(q))
    dx = ufl.dx(domain=tm.mesh)
    err = np.sqrt(_total(comm, (het.p - ref.p) ** 2 * dx) / _total(comm, ref.p**2 * dx))
    assert err < 1e-10, err


def test_config_errors(comm):
    tm = _tumour_in_host(comm)
    with pytest.raises(ConfigError):
        DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, {1: TUMOUR}, formulation="primal")  # host untagged
    with pytest.raises(ConfigError):
        DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, {1: TUMOUR, 2: NORMAL}, bcs=[FluxBC(1, 1e-9)])
    with pytest.raises(ConfigError):
        DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, {1: TUMOUR, 2: NORMAL}, bcs=[PressureBC(7, 0.0)])


def _boundary_tags(msh, pieces: dict[int, callable] | None = None):
    fdim = msh.topology.dim - 1
    msh.topology.create_connectivity(fdim, msh.topology.dim)
    if pieces is None:
        f = dmesh.exterior_facet_indices(msh.topology)
        return dmesh.meshtags(msh, fdim, f, np.full(f.size, 1, np.int32))
    idx, val = [], []
    for tag, where in pieces.items():
        f = dmesh.locate_entities_boundary(msh, fdim, where)
        idx.append(f)
        val.append(np.full(f.size, tag, np.int32))
    idx, val = np.concatenate(idx), np.concatenate(val)
    o = np.argsort(idx)
    return dmesh.meshtags(msh, fdim, idx[o], val[o])


def test_transport_manufactured_rate(comm):
    """c = (1+t) sin(πx) sin(πy): SUPG P1 L2 rates ≥ 1.7 (measured 1.86, 1.79)."""
    D, k = 0.02, 0.5
    errs = []
    for N in (8, 16, 32):
        msh = dmesh.create_unit_square(comm, N, N)
        x = ufl.SpatialCoordinate(msh)
        u = ufl.as_vector((1.0 + 0.5 * x[1], 0.5 - 0.3 * x[0]))

        def exact(x, t):
            return (1 + t) * ufl.sin(ufl.pi * x[0]) * ufl.sin(ufl.pi * x[1])

        def src(x, t, u=u):
            ce = exact(x, t)
            return ce / (1 + t) + ufl.div(u * ce) - ufl.div(D * ufl.grad(ce)) + k * ce

        tr = SoluteTransport(msh, u, None, {1: SoluteProperties(D=D, uptake=k)}, dt=0.1,
                             facet_tags=_boundary_tags(msh), dirichlet={1: 0.0}, source=src,
                             c0=lambda X: np.sin(np.pi * X[0]) * np.sin(np.pi * X[1]))
        for _ in range(3):
            audit = tr.step()
        assert audit.relative_residual < 1e-9
        errs.append(np.sqrt(_total(comm, (tr.c - exact(x, fem.Constant(msh, 0.3))) ** 2 * ufl.dx(degree=6))))
    assert np.all(_rates(errs) >= 1.7), errs
    assert errs[-1] < 1.5e-3  # measured 1.29e-3


def test_transport_mass_balance(comm):
    """No Dirichlet facets: Δmass/Δt = vessel + SKK − uptake − lymph − outflow to round-off (CN)."""
    msh = dmesh.create_unit_square(comm, 12, 12)
    x = ufl.SpatialCoordinate(msh)
    u = ufl.as_vector((1.0 + 0.5 * x[1], 0.5 - 0.3 * x[0]))
    props = {1: SoluteProperties(D=1e-3, uptake=0.1, PS_V=0.2, sigma_f=0.5)}
    tr = SoluteTransport(msh, u, None, props, dt=0.05,
                         theta=0.5, c_vessel=1.0, fluid_exchange=fem.Constant(msh, 0.3),
                         lymphatic=fem.Constant(msh, 0.1), c0=lambda X: X[0])
    for _ in range(3):
        a = tr.step()
        assert a.relative_residual < 1e-12, a
        assert a.advective_outflow != 0 and a.vessel_source > 0


def test_transport_high_peclet_no_oscillations(comm):
    """Boundary layer at Pe_h = 156: SUPG min c = 0 (measured), overshoot 4.5%; Galerkin min −2.3."""
    out = {}
    for supg in (True, False):
        msh = dmesh.create_unit_square(comm, 32, 32)
        ft = _boundary_tags(msh, {1: lambda X: np.isclose(X[0], 0.0), 2: lambda X: np.isclose(X[0], 1.0)})
        u = fem.Constant(msh, np.array([1.0, 0.0]))
        tr = SoluteTransport(msh, u, None, {1: SoluteProperties(D=1e-4)},
                             dt=1e3, facet_tags=ft, dirichlet={1: 1.0, 2: 0.0}, supg=supg)
        for _ in range(3):
            tr.step()
        arr = tr.c.x.array
        out[supg] = (comm.allreduce(arr.min(), op=MPI.MIN), comm.allreduce(arr.max(), op=MPI.MAX))
    assert out[True][0] >= -1e-3 and out[True][1] <= 1.06, out
    assert out[False][0] < -1.0, out  # the case is a real test: plain Galerkin oscillates


def test_transport_on_darcy_tumour(comm, shared_tmp_path):
    """Solute carried by the two-region mixed Darcy flow: conserves each step; fields and profile written."""
    tm = _tumour_in_host(comm)
    res = _two_region(tm, "mixed")
    solute = {tm.region("tumour"): SoluteProperties(D=1e-10, uptake=1e-4, PS_V=1e-4, sigma_f=0.8),
              tm.region("host"): SoluteProperties(D=1e-10, uptake=1e-5, PS_V=2e-5, sigma_f=0.9)}
    tr = SoluteTransport.from_darcy(res, tm.cell_tags, solute, dt=60.0, c_vessel=1.0)
    for _ in range(2):
        a = tr.step()
        assert a.relative_residual < 1e-10, a
    assert a.vessel_source > 0 and a.lymphatic_loss > 0
    paths = output.write_fields(shared_tmp_path / "tumour", {"p": res.p, "u": res.u, "c": tr.c})
    r, p = output.radial_profile(res.p, 3 * R, n=21)
    assert np.all(np.isfinite(p)) and p[0] > p[-1]
    png = output.write_radial_profile(shared_tmp_path / "profile", r, p, None, comm)
    comm.Barrier()
    assert [p.suffix for p in paths] == [".bp", ".pvd"] and all(p.exists() for p in paths) and png.exists()


@pytest.mark.serial
def test_tissue_from_msh(tmp_path):
    """A user .msh (disk tumour in square host, named groups) is read with its regions and boundaries."""
    import gmsh

    path = tmp_path / "tissue.msh"
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("t")
        occ = gmsh.model.occ
        sq = occ.addRectangle(-2e-3, -2e-3, 0, 4e-3, 4e-3)
        d = occ.addDisk(0, 0, 0, 1e-3, 1e-3)
        occ.fragment([(2, sq)], [(2, d)])
        occ.synchronize()
        surfs = [s for _, s in gmsh.model.getEntities(2)]
        tum = [s for s in surfs if gmsh.model.getBoundingBox(2, s)[3] < 1.5e-3]
        host = [s for s in surfs if s not in tum]
        gmsh.model.addPhysicalGroup(2, tum, 5, "tumour")
        gmsh.model.addPhysicalGroup(2, host, 6, "host")
        outer = [c for _, c in gmsh.model.getBoundary([(2, host[0])], oriented=False)
                 if max(np.abs(gmsh.model.getBoundingBox(1, c))) > 1.5e-3]
        gmsh.model.addPhysicalGroup(1, outer, 9, "outer")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 5e-4)
        gmsh.model.mesh.generate(2)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    tm = tissue_from_msh(MPI.COMM_SELF, path)
    assert tm.regions == {"tumour": 5, "host": 6} and tm.boundaries == {"outer": 9}
    res = DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, {5: TUMOUR, 6: NORMAL},
                       bcs=[PressureBC(tm.tag("outer"), 0.0)]).solve()
    assert res.audit.relative_residual < 1e-10
