"""User PETSc options reach fe2's solvers under their stable prefixes, and stay in the database.

fe2's own settings are *defaults* (fe2.solvers.options): an option the user put in the database
before a solver is built (command line ``-fe2_stokes_ksp_type gmres``, a TOML ``[petsc]`` table)
must be what the solver uses (read back with ``getType`` / ``getTolerances``), must still be in
the database afterwards (no solver deletes a user's option), and fe2's defaults must be gone
again (they are set only around ``setFromOptions``). Checked for the Stokes cell, both Darcy
formulations and the solute transport, the Cahn–Hilliard / Allen–Cahn solvers (SNES with no-flux
boundaries, the periodic Newton's KSP) and the reaction–diffusion diffusion KSP and monolithic
SNES. Exact comparisons: options are strings parsed by PETSc, nothing is computed.
"""

from __future__ import annotations

import numpy as np
import pytest
from dolfinx import mesh
from petsc4py import PETSc

import fe2  # noqa: F401
from fe2.solvers import PREFIXES


@pytest.fixture
def user_options():
    """Set user options for one test; afterwards check none of fe2's defaults leaked, then clean up."""
    opts = PETSc.Options()
    mine: dict[str, str] = {}
    before = {k for k in opts.getAll() if k.startswith(tuple(PREFIXES))}

    def put(**values):
        for k, v in values.items():
            assert not opts.hasName(k), f"{k} already in the options database"
            opts[k] = v
            mine[k] = str(v)

    yield put
    try:
        for k, v in mine.items():
            assert opts.hasName(k) and opts.getString(k) == v, f"user option {k} was removed or changed"
        leaked = [k for k in opts.getAll()
                  if k.startswith(tuple(PREFIXES)) and k not in mine and k not in before]
        assert not leaked, f"fe2 defaults left in the options database: {leaked}"
    finally:
        for k in mine:
            opts.delValue(k)


def test_stokes_cell_takes_user_ksp_type(comm, user_options):
    """-fe2_stokes_ksp_type gmres: GMRES preconditioned by the MUMPS LDLᵀ default; K as with the
    direct default (the preconditioner is the exact inverse: one iteration, agreement ≤ 1e-10)."""
    from fe2.micro.stokes import FibreCell, StokesCell

    rve = FibreCell(0.3, mesh_size=0.15).build(comm)
    ref = StokesCell(rve)
    assert ref.ksp.getType() == "preonly" and ref.prefix == "fe2_stokes_"
    K_ref = ref.solve().K
    ref.destroy()
    user_options(fe2_stokes_ksp_type="gmres", fe2_stokes_ksp_rtol="1e-13")
    cell = StokesCell(rve)
    assert cell.ksp.getType() == "gmres" and cell.ksp.getOptionsPrefix() == "fe2_stokes_"
    assert cell.ksp.getTolerances()[0] == 1e-13
    assert cell.ksp.getPC().getType() == "cholesky"  # fe2's default where the user set nothing
    K = cell.solve().K
    cell.destroy()
    np.testing.assert_allclose(K, K_ref, rtol=1e-10, atol=1e-10 * np.abs(K_ref).max())


@pytest.mark.parametrize("formulation", ["mixed", "primal"])
def test_darcy_takes_user_tolerances(comm, user_options, formulation):
    """-fe2_darcy_ksp_type gmres with -fe2_darcy_ksp_rtol (and the same under fe2_darcy_proj_,
    fe2_solute_) reach the Darcy, velocity-recovery and transport KSPs; the LU default stays where
    the user set nothing. (PETSc reads no tolerances for 'preonly', hence a Krylov type.)"""
    from fe2.geometry.tissue import tumour_in_host
    from fe2.physics.darcy import (
        DarcyProblem,
        PressureBC,
        SoluteProperties,
        SoluteTransport,
        TissueProperties,
    )

    user_options(fe2_darcy_ksp_type="gmres", fe2_darcy_ksp_rtol="1e-11", fe2_darcy_proj_ksp_type="cg",
                 fe2_darcy_proj_ksp_max_it="17", fe2_solute_ksp_type="gmres", fe2_solute_ksp_rtol="1e-12")
    tm = tumour_in_host(comm, dim=2, tumour_radius=1e-3, host_radius=None, mesh_size=5e-4)
    tumour = TissueProperties.baxter_jain("tumour")
    prob = DarcyProblem(tm.mesh, tm.cell_tags, tm.facet_tags, {tm.region("tumour"): tumour},
                        bcs=[PressureBC(tm.tag("outer"), 0.0)], formulation=formulation)
    ksp = prob.solver.ksp
    assert ksp.getOptionsPrefix() == "fe2_darcy_" and ksp.getType() == "gmres"
    assert ksp.getTolerances()[0] == 1e-11 and ksp.getPC().getType() == "lu"
    if formulation == "primal":
        proj = prob.solver.ksp_proj
        assert proj.getOptionsPrefix() == "fe2_darcy_proj_" and proj.getType() == "cg"
        assert proj.getTolerances()[3] == 17 and proj.getPC().getType() == "bjacobi"
    res = prob.solve()
    solute = {tm.region("tumour"): SoluteProperties(D=1e-9)}
    tr = SoluteTransport.from_darcy(res, tm.cell_tags, solute, dt=1.0)
    assert tr.ksp.getOptionsPrefix() == "fe2_solute_" and tr.ksp.getType() == "gmres"
    assert tr.ksp.getTolerances()[0] == 1e-12
    tr.step()


@pytest.mark.parametrize("boundary", ["periodic", "noflux"])
def test_cahn_hilliard_and_allen_cahn_take_user_options(comm, user_options, boundary):
    """Periodic: -fe2_ch_ksp_rtol / -fe2_ch_ksp_max_it reach the lagged-LU GMRES of the own Newton
    (the other defaults — GMRES, MUMPS LU — stay); no-flux: -fe2_ch_snes_max_it / -fe2_ac_snes_rtol
    reach dolfinx's SNES. One step is taken, so the solvers run with the user's values."""
    from fe2.physics.phasefield import AllenCahn, CahnHilliard, DoubleWell, pfhub_bm1_energy, smooth_noise

    user_options(fe2_ch_ksp_rtol="1e-11", fe2_ch_ksp_max_it="50", fe2_ch_snes_max_it="9",
                 fe2_ac_snes_rtol="1e-9", fe2_ac_ksp_type="gmres", fe2_ac_ksp_max_it="40")
    m = mesh.create_rectangle(comm, [[0.0, 0.0], [40.0, 40.0]], [8, 8])
    ch = CahnHilliard(m, pfhub_bm1_energy(), kappa=2.0, mobility=5.0, boundary=boundary)
    ac = AllenCahn(m, DoubleWell(), kappa=2.0, boundary=boundary)
    for model in (ch, ac):
        model.set_initial_condition(smooth_noise(0.5, 0.05, 40.0, seed=1))
        assert model.step(0.1)[0]
    if boundary == "periodic":
        ksp = ch._periodic.ksp
        assert ksp.getOptionsPrefix() == "fe2_ch_" and ksp.getType() == "gmres"
        assert ksp.getTolerances()[0] == 1e-11 and ksp.getTolerances()[3] == 50
        assert ksp.getPC().getType() == "lu"
        assert ac._periodic.ksp.getOptionsPrefix() == "fe2_ac_" and ac._periodic.ksp.getTolerances()[3] == 40
        assert ac._periodic.ksp.getTolerances()[0] == 1e-12  # fe2's default where the user set nothing
    else:
        assert ch.snes.getOptionsPrefix() == "fe2_ch_" and ch.snes.getTolerances()[3] == 9
        assert ch.snes.getTolerances()[0] == 1e-10  # the model's rtol default
        assert ac.snes.getOptionsPrefix() == "fe2_ac_" and ac.snes.getTolerances()[0] == 1e-9
        assert ac.snes.getKSP().getType() == "gmres" and ac.snes.getKSP().getTolerances()[3] == 40
    ch.close()
    ac.close()


def test_reaction_diffusion_takes_user_options(comm, user_options):
    """-fe2_rd_ksp_type / -fe2_rd_mono_snes_max_it reach the splitting's diffusion KSP and the
    monolithic SNES; a DEFAULT_SNES_OPTIONS entry the user did not touch stays fe2's."""
    from fe2.physics.reactions import Network, Reaction, Species
    from fe2.physics.reactions.diffusion import ReactionDiffusion

    user_options(fe2_rd_ksp_type="cg", fe2_rd_pc_type="jacobi", fe2_rd_ksp_rtol="1e-13",
                 fe2_rd_mono_snes_max_it="11")
    net = Network([Species("A", 1.0)], [Reaction.parse("A ->", k="k")], {"k": 1.0})
    m = mesh.create_unit_square(comm, 6, 6)
    rd = ReactionDiffusion(m, net, {"A": 0.1})
    rd.set_initial({"A": lambda x: 1.0 + x[0]})
    rd.step(0.01, "strang")
    ksp = next(iter(rd._ops.values())).ksp
    assert ksp.getOptionsPrefix() == "fe2_rd_" and ksp.getType() == "cg" and ksp.getPC().getType() == "jacobi"
    rd.step(0.01, "monolithic")
    snes = rd._mono.snes
    assert snes.getOptionsPrefix() == "fe2_rd_mono_" and snes.getTolerances()[3] == 11
    assert snes.getTolerances()[0] == 1e-10
    rd.close()
