"""Phase field → RVE homogenization (fe2.apps.phasefield.rve_link, RVEProblem(coefficients=...)).

Tolerances:
* uniform c and the discrete laminate are *exact* for the discrete problem (a constant
  coefficient; a P1 field is exactly piecewise linear across columns of quads), so they are
  checked at round-off of a sparse direct solve, 1e-12 absolute / 1e-10 relative;
* the continuum laminate profile differs from its N-column sampling by the midpoint-rule
  error, bounded a priori by L h² max|g''| / 24 for each averaged function g (computed here);
* the BC ordering KUBC ⪰ PBC ⪰ TUBC (nested discrete spaces) is checked at 1e-10 relative.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.analytic.laminate import laminate_conductivity, laminate_stiffness
from fe2.apps.phasefield.rve_link import (
    PhaseFieldHomogenizer,
    PhaseFieldMaterial,
    box_rve,
    run_with_snapshots,
    smoothstep,
)
from fe2.errors import ConfigError, MaterialError
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.micro.physics import Conductivity
from fe2.micro.rve_problem import RVEProblem
from fe2.physics.phasefield import CahnHilliard, TimeStepping, pfhub_bm1_energy, pfhub_bm1_initial_condition
from fe2.tensors import isotropic_stiffness_mandel, lame_from_young_poisson, stiffness_mandel_to_voigt

ROUNDOFF = 1e-10
L = 200.0
CA, CB = 0.3, 0.7


def _materials():
    return {
        "conductivity": PhaseFieldMaterial(IsotropicConductor(1.0), IsotropicConductor(10.0), CA, CB),
        "elasticity": PhaseFieldMaterial(IsotropicElastic(1.0, 0.3), IsotropicElastic(20.0, 0.2), CA, CB),
    }


def _quads(comm, n: int):
    return dmesh.create_rectangle(comm, [[0.0, 0.0], [L, L]], [n, n], cell_type=dmesh.CellType.quadrilateral)


def _single_phase_voigt(material: PhaseFieldMaterial, c: float) -> np.ndarray:
    vals = material.coefficient_arrays(np.array([c]))
    if material.physics_name == "conductivity":
        return vals["k"][0] * np.eye(2)
    return stiffness_mandel_to_voigt(isotropic_stiffness_mandel(vals["lambda"][0], vals["mu"][0], 2))


def test_smoothstep_interpolation():
    """h(0) = 0, h(1) = 1, h(1/2) = 1/2, flat at both ends, clipped outside [0, 1], monotone."""
    np.testing.assert_allclose(smoothstep([-0.5, 0.0, 0.5, 1.0, 1.5]), [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-15)
    e = 1e-4  # h' = 0 at both ends: h(e) = 1 - h(1 - e) = 10e³ - 15e⁴ + 6e⁵ <= 10e³
    assert smoothstep(e) <= 10 * e**3 and 1.0 - smoothstep(1.0 - e) <= 10 * e**3 * (1 + 1e-4)
    assert np.all(np.diff(smoothstep(np.linspace(0, 1, 101))) > 0)


@pytest.mark.parametrize("physics", ["conductivity", "elasticity"])
def test_uniform_c_gives_the_single_phase_tensor(comm, physics):
    """c = c_alpha, c_beta, mid-way and beyond c_beta (clipped): every BC returns the tensor of that one
    material to 1e-12 (a constant coefficient makes the affine field the exact discrete solution)."""
    material = _materials()[physics]
    hom = PhaseFieldHomogenizer(_quads(comm, 6), material)
    for c in (CA, CB, 0.5 * (CA + CB), CB + 0.05):
        hom.set_concentration(lambda x, c=c: np.full(x.shape[1], c))
        res = hom.homogenize()
        exact = _single_phase_voigt(material, c)
        for bc in ("kubc", "periodic", "tubc"):
            np.testing.assert_allclose(res.effective(bc), exact, rtol=0, atol=1e-12 * np.abs(exact).max())
        np.testing.assert_allclose(res.reuss_bound, exact, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_single_phase_voigt(material, CB + 0.05), _single_phase_voigt(material, CB), rtol=1e-15)


def _profile(x):
    """A smooth periodic laminate profile c(x): two diffuse interfaces (width ~ 8) between c_alpha and c_beta."""
    return CA + (CB - CA) * 0.5 * (np.tanh(6.0 * np.sin(2.0 * np.pi * x[0] / L + 0.3)) + 1.0)


@pytest.mark.parametrize("physics", ["conductivity", "elasticity"])
def test_laminate_profile_matches_the_laminate_formulas(comm, physics):
    """c = c(x) on N×N quads: the DG0 coefficient is constant in each of the N cell columns, and the
    periodic solution is exactly piecewise linear in x, so PBC reproduces the laminate formulas of the
    N column values (harmonic mean across, arithmetic along; Backus averages for elasticity) to
    round-off. KUBC and TUBC are not exact for a laminate; they bracket it."""
    n = 32
    material = _materials()[physics]
    hom = PhaseFieldHomogenizer(_quads(comm, n), material)
    hom.set_concentration(_profile)
    res = hom.homogenize()
    xm = (np.arange(n) + 0.5) * L / n  # column midpoints: the DG0 interpolation points
    cols = material.coefficient_arrays(_profile(np.vstack([xm, np.zeros(n)])))
    f = np.full(n, 1.0 / n)
    if physics == "conductivity":
        exact = laminate_conductivity(cols["k"], f, 2, axis=0)
    else:
        exact = stiffness_mandel_to_voigt(laminate_stiffness(cols["lambda"], cols["mu"], f, 2, axis=0))
    scale = np.abs(exact).max()
    np.testing.assert_allclose(res.effective("periodic"), exact, rtol=0, atol=ROUNDOFF * scale)
    for hi, lo in (("kubc", "periodic"), ("periodic", "tubc")):
        d = res.effective(hi) - res.effective(lo)
        assert np.linalg.eigvalsh(0.5 * (d + d.T))[0] >= -ROUNDOFF * scale, f"{hi} - {lo} not PSD"


def test_laminate_against_the_continuum_profile(comm):
    """The same laminate against the harmonic / arithmetic means of k(c(x)) integrated accurately
    (20001-point Simpson): the difference is the midpoint-rule error of sampling one value per
    column, bounded by L h² max|g''| / 24 (g = 1/k or k, max|g''| measured on the fine grid).
    Measured at N = 32: 5.8e-4 (harmonic, bound 0.10) and 2e-15 (arithmetic: the midpoint rule
    is spectrally accurate for this smooth periodic g, so the a-priori bound is far from sharp)."""
    n = 32
    material = _materials()["conductivity"]
    hom = PhaseFieldHomogenizer(_quads(comm, n), material)
    hom.set_concentration(_profile)
    K = hom.homogenize(progress=None).effective("periodic")
    xf = np.linspace(0.0, L, 20001)
    k = material.coefficient_arrays(_profile(np.vstack([xf, np.zeros_like(xf)])))["k"]
    from scipy.integrate import simpson

    h = L / n
    for g, val, comp in ((1.0 / k, 1.0 / K[0, 0], "harmonic"), (k, K[1, 1], "arithmetic")):
        mean = simpson(g, x=xf) / L
        g2 = np.abs(np.gradient(np.gradient(g, xf), xf)).max()
        bound = h * h * g2 / 24.0
        err = abs(val - mean)
        assert err <= bound, f"{comp} mean: |{val} - {mean}| = {err:.3e} > midpoint bound {bound:.3e}"


@pytest.mark.parametrize("physics", ["conductivity", "elasticity"])
def test_sharp_laminate_matches_the_two_phase_formula(comm, physics):
    """A sharp laminate c = c_beta on 0.25 L <= x < 0.625 L, c_alpha elsewhere, with both interfaces
    on cell edges (N = 16): PBC gives the exact two-phase laminate tensor (fraction 0.375) to
    round-off — the continuum answer, not only the sampled one."""
    n = 16
    material = _materials()[physics]
    hom = PhaseFieldHomogenizer(_quads(comm, n), material)
    hom.set_concentration(lambda x: np.where((x[0] >= 0.25 * L) & (x[0] < 0.625 * L), CB, CA))
    res = hom.homogenize()
    f = [0.625, 0.375]
    if physics == "conductivity":
        exact = laminate_conductivity([1.0, 10.0], f, 2, axis=0)
    else:
        (la, ma), (lb, mb) = lame_from_young_poisson(1.0, 0.3), lame_from_young_poisson(20.0, 0.2)
        exact = stiffness_mandel_to_voigt(laminate_stiffness([la, lb], [ma, mb], f, 2, axis=0))
    np.testing.assert_allclose(res.effective("periodic"), exact, rtol=0, atol=ROUNDOFF * np.abs(exact).max())


@pytest.fixture(scope="module")
def ch_snapshots():
    """A small PFHub-1a-like CH run (periodic 200², 24×24 quads) homogenized at t = 0, 30, 60."""
    comm = MPI.COMM_WORLD
    m = _quads(comm, 24)
    ch = CahnHilliard(m, pfhub_bm1_energy(), 2.0, 5.0, boundary="periodic")
    ch.set_initial_condition(pfhub_bm1_initial_condition())
    hom = PhaseFieldHomogenizer(m, _materials()["elasticity"])
    snaps = []
    run_with_snapshots(ch, 80.0, TimeStepping(dt=1.0, dt_max=10.0), [60.0, 0.0, 30.0],
                       lambda s: snaps.append(hom.snapshot(s.concentration(), s.t, s.free_energy())))
    t_final = ch.t
    ch.close()
    return snaps, t_final


def test_ch_microstructure_bc_ordering(ch_snapshots):
    """Voigt ⪰ KUBC ⪰ PBC ⪰ TUBC ⪰ Reuss on CH microstructures (nested discrete spaces: exact up to
    round-off), Hill–Mandel to round-off, and the snapshots land exactly on the requested times."""
    snaps, t_final = ch_snapshots
    assert [s.t for s in snaps] == [0.0, 30.0, 60.0] and t_final == pytest.approx(80.0, abs=1e-12)
    for s in snaps:
        r = s.result
        chain = [r.voigt_bound, r.effective("kubc"), r.effective("periodic"), r.effective("tubc"), r.reuss_bound]
        scale = np.abs(r.voigt_bound).max()
        for a, b in itertools.pairwise(chain):
            d = a - b
            assert np.linalg.eigvalsh(0.5 * (d + d.T))[0] >= -ROUNDOFF * scale
        assert max(br.hill_mandel_max for br in r.bcs.values()) < 1e-9
        assert s.mean_c == pytest.approx(0.5, abs=0.01)
    # coarsening: the microstructure separates, so the bounds spread apart
    width = [s.result.voigt_bound[0, 0] - s.result.reuss_bound[0, 0] for s in snaps]
    assert width[0] < width[1] < width[2]


@pytest.mark.parallel
def test_distributed_equals_serial(comm, ch_snapshots):
    """The COMM_WORLD run (CH + RVE) against the same run on COMM_SELF on every rank: 1e-8 relative
    (the CH trajectories agree to Newton tolerance, not round-off)."""
    snaps, _ = ch_snapshots
    m = _quads(MPI.COMM_SELF, 24)
    ch = CahnHilliard(m, pfhub_bm1_energy(), 2.0, 5.0, boundary="periodic")
    ch.set_initial_condition(pfhub_bm1_initial_condition())
    hom = PhaseFieldHomogenizer(m, _materials()["elasticity"], bcs=("periodic",))
    ref = []
    run_with_snapshots(ch, 60.0, TimeStepping(dt=1.0, dt_max=10.0), [0.0, 30.0, 60.0],  # same stops: same steps
                       lambda s: ref.append(hom.snapshot(s.concentration(), s.t, keep_image=False)))
    ch.close()
    a, b = snaps[-1].result.effective("periodic"), ref[-1].result.effective("periodic")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-8 * np.abs(b).max())


def test_coefficient_field_errors(comm):
    m = _quads(comm, 4)
    rve = box_rve(m)
    Q = fem.functionspace(m, ("DG", 0))
    k = fem.Function(Q)
    k.x.array[:] = 1.0
    ph = Conductivity(2)
    with pytest.raises(ConfigError, match="coefficient fields"):
        RVEProblem(rve, ph, {}, coefficients={"lambda": k})
    with pytest.raises(ConfigError, match="not both"):
        RVEProblem(rve, ph, {"phasefield": IsotropicConductor(1.0)}, coefficients={"k": k})
    P1 = fem.Function(fem.functionspace(m, ("Lagrange", 1)))
    with pytest.raises(ConfigError, match="DG0"):
        RVEProblem(rve, ph, {}, coefficients={"k": P1})
    k.x.array[0] = -1.0
    with pytest.raises(MaterialError, match="k > 0"):
        RVEProblem(rve, ph, {}, coefficients={"k": k})
    with pytest.raises(ConfigError):
        PhaseFieldMaterial(IsotropicConductor(1.0), IsotropicElastic(1.0, 0.3))
    with pytest.raises(ConfigError, match="BCs"):
        PhaseFieldHomogenizer(m, _materials()["conductivity"], bcs=("dirichlet",))


def test_lame_from_interpolated_young_poisson():
    """Elastic interpolation: E and ν follow h; λ, μ are their plane-strain Lamé constants."""
    mat = _materials()["elasticity"]
    c = np.array([CA, 0.5, CB])
    h = smoothstep((c - CA) / (CB - CA))
    vals = mat.coefficient_arrays(c)
    lam, mu = lame_from_young_poisson(1.0 + 19.0 * h, 0.3 - 0.1 * h)
    np.testing.assert_allclose(vals["lambda"], lam, rtol=1e-15)
    np.testing.assert_allclose(vals["mu"], mu, rtol=1e-15)


_TOML = """
model = "cahn_hilliard"
kappa = 2.0
mobility = 5.0
boundary = "periodic"
[domain]
length = [200.0, 200.0]
cells = [16, 16]
[energy]
kind = "pfhub_bm1"
[initial]
kind = "pfhub_bm1"
[time]
t_end = 40.0
dt = 1.0
dt_max = 10.0
[output]
every = 100
checkpoint_every = 100
[homogenize]
times = [0.0, 20.0, 40.0]
property = "conductivity"
contrast = 5.0
bcs = ["kubc", "periodic", "tubc"]
"""


def test_cli_phasefield_homogenize_table(comm, shared_tmp_path):
    """`fe2 phasefield` with a [homogenize] table writes homogenization.{json,csv,png} at the requested
    times, with the documented notation and the BC ordering on the diagonal."""
    from fe2.cli import main

    p = shared_tmp_path / "hom.toml"
    if comm.rank == 0:
        p.write_text(_TOML)
    comm.Barrier()
    out = shared_tmp_path / "out"
    assert main(["phasefield", str(p), "--out", str(out)]) == 0
    rec = json.loads((out / "homogenization.json").read_text())
    assert [s["t"] for s in rec["snapshots"]] == [0.0, 20.0, 40.0]
    assert rec["physics"] == "conductivity" and rec["c_alpha"] == CA and rec["c_beta"] == CB
    for s in rec["snapshots"]:
        kk, kp, kt = (np.array(s["effective"][bc]) for bc in ("kubc", "periodic", "tubc"))
        assert np.all(np.diag(kk) >= np.diag(kp) - 1e-12) and np.all(np.diag(kp) >= np.diag(kt) - 1e-12)
        assert 1.0 <= kt[0, 0] and kk[0, 0] <= 5.0
    rows = (out / "homogenization.csv").read_text().splitlines()
    assert rows[0] == "t,energy,mean_c,beta_fraction,bc,K11,K12,K22" and len(rows) == 1 + 3 * 5
    assert (out / "homogenization.png").is_file()
    res = json.loads((out / "result.json").read_text())
    assert res["t"] == pytest.approx(40.0) and "homogenization" in res
    assert any(abs(r["t"] - 20.0) < 1e-12 for r in res["history"])


def test_homogenize_table_validation(shared_tmp_path, comm):
    from fe2.config.phasefield import load_phasefield_config

    bad = {
        "c_alpha": _TOML + "c_alpha = 0.2\n",
        "prop": _TOML.replace('property = "conductivity"', 'property = "magnetism"'),
        "extra": _TOML + "colour = 1\n",
    }
    for name, text in bad.items():
        p = shared_tmp_path / f"bad_{name}.toml"
        if comm.rank == 0:
            p.write_text(text)
        comm.Barrier()
        with pytest.raises(ConfigError) as err:
            load_phasefield_config(p)
        assert "\n" not in str(err.value)
