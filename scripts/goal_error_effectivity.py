"""Effectivity tables of the goal-oriented (DWR) error estimates of macro quantities (docs/verification.md).

    python scripts/goal_error_effectivity.py            # Darcy: manufactured solution + L-shaped adaptivity
    python scripts/goal_error_effectivity.py --elasticity
    mpirun -n 2 python scripts/goal_error_effectivity.py   # the same numbers on 2 ranks

--elasticity: the tapered-plate reaction table (tests/macro/test_reaction_error.py) and the adaptive vs
uniform reaction on the clamped L-shaped plate (tests/macro/test_reaction_adaptivity.py; reference: P2
adaptive to 1e-7).

Darcy manufactured solution: the two-region problem of tests/physics/darcy/test_goal_error.py (closed-form
outflow and Starling inflow). L-shaped domain (fe2.geometry.l_shape, K = 1, p = 1 on 'inlet', 0 on 'outlet'):
the outflow through 'outlet' with adaptive (Dörfler θ = 0.5) and uniform refinement from n = 2; reference =
the corrected value J_h + η of a P2 adaptive run to |η|/|J| <= 1e-8 (its own error is about |η| ≈ 3e-9).
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "physics" / "darcy"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "macro"))


def say(*args) -> None:
    if MPI.COMM_WORLD.rank == 0:
        print(*args, flush=True)


def manufactured_darcy() -> None:
    from test_goal_error import estimate, exact

    say("| QoI | degree | n | dofs | error J - J_h | estimate | effectivity | rate | error of J_h + eta |")
    say("|---|---|---|---|---|---|---|---|---|")
    for qoi in ("outflow", "starling_inflow"):
        J = exact()[qoi]
        for degree, ns in ((1, (4, 8, 16, 32)), (2, (4, 8, 16))):
            prev = None
            for n in ns:
                est, _ = estimate(MPI.COMM_WORLD, n, degree, qoi)
                err = J - est.value
                rate = "" if prev is None else f"{np.log2(abs(prev / err)):.2f}"
                say(f"| {qoi} | {degree} | {n} | {est.dofs} | {err:.3e} | {est.estimate:.3e} | "
                    f"{est.estimate / err:.4f} | {rate} | {J - est.corrected:.1e} |")
                prev = err


def l_shape(targets=(1e-2, 3e-3, 1e-3, 3e-4)) -> None:
    from fe2.geometry.l_shape import l_shaped_domain
    from fe2.physics.darcy import PressureBC, TissueProperties
    from fe2.physics.darcy.adaptivity import adapt_darcy

    comm = MPI.COMM_WORLD
    tissue = {1: TissueProperties(K=1.0)}
    bcs = [PressureBC(1, 1.0), PressureBC(2, 0.0)]

    def run(target, degree=1, uniform=False):
        gc.collect()  # release the meshes of the previous sequences (each holds communicators)
        tm = l_shaped_domain(comm, 2)
        return adapt_darcy(tm.mesh, tm.cell_tags, tm.facet_tags, tissue, bcs, qoi="outflow", boundary_tag=2,
                           target_error=target, degree=degree, uniform=uniform, max_steps=40)

    ref_steps = run(1e-8, degree=2)
    J = ref_steps[-1].estimate.corrected
    say(f"reference (P2 adaptive, {ref_steps[-1].dofs} dofs): J = {J:.12f}, its estimate "
        f"{ref_steps[-1].estimate.estimate:.1e}  (1/sqrt(3) = {1 / np.sqrt(3):.12f})")
    for uniform in (False, True):
        steps = run(min(targets), uniform=uniform)
        say(f"\n{'uniform' if uniform else 'adaptive'} sequence, P1:")
        say("| dofs | J_h | error J - J_h | estimate | effectivity | sum abs eta_K / abs eta |")
        say("|---|---|---|---|---|---|")
        for s in steps:
            e = s.estimate
            err = J - e.value
            say(f"| {s.dofs} | {e.value:.8f} | {err:.3e} | {e.estimate:.3e} | {e.estimate / err:.3f} | "
                f"{e.sum_abs_indicators / abs(e.estimate):.2f} |")
        d, r = np.log([s.dofs for s in steps]), np.log([abs(J - s.estimate.value) for s in steps])
        say(f"error ~ dofs^{np.polyfit(d[-3:], r[-3:], 1)[0]:.2f} (last three)")
    say("\n| target | adaptive dofs (steps) | true rel. error | uniform dofs (steps) | true rel. error | ratio |")
    say("|---|---|---|---|---|---|")
    for t in targets:
        a, u = run(t), run(t, uniform=True)
        ea, eu = abs(J - a[-1].estimate.value) / abs(J), abs(J - u[-1].estimate.value) / abs(J)
        say(f"| {t:g} | {a[-1].dofs} ({len(a)}) | {ea:.2e} | {u[-1].dofs} ({len(u)}) | {eu:.2e} | "
            f"{u[-1].dofs / a[-1].dofs:.1f} |")


def l_shape_elasticity(targets=(1e-2, 3e-3, 1e-3)) -> None:
    """Reaction R_x on 'outlet' of the clamped L-shaped plate (tests/macro/test_reaction_adaptivity.py)."""
    from test_reaction_adaptivity import run

    gc.collect()
    ref = run(MPI.COMM_WORLD, 1e-7, degree=2)[-1]
    J = ref.estimate.corrected
    say(f"L-shaped plate, reference (P2 adaptive, {ref.dofs} dofs): J = {J:.12e}, its estimate "
        f"{ref.estimate.estimate:.1e}")
    for uniform in (False, True):
        gc.collect()
        steps = run(MPI.COMM_WORLD, min(targets), uniform=uniform)
        say(f"\n{'uniform' if uniform else 'adaptive'} sequence, P1:")
        say("| dofs | J_h | error J - J_h | estimate | effectivity |")
        say("|---|---|---|---|---|")
        for st in steps:
            e = st.estimate
            err = J - e.value
            say(f"| {st.dofs} | {e.value:.8e} | {err:.3e} | {e.estimate:.3e} | {e.estimate / err:.3f} |")
        d, r = np.log([st.dofs for st in steps]), np.log([abs(J - st.estimate.value) for st in steps])
        say(f"error ~ dofs^{np.polyfit(d[-3:], r[-3:], 1)[0]:.2f} (last three)")
    say("\n| target | adaptive dofs (solves) | true rel. error | uniform dofs (solves) | true rel. error | ratio |")
    say("|---|---|---|---|---|---|")
    for t in targets:
        gc.collect()
        a, u = run(MPI.COMM_WORLD, t), run(MPI.COMM_WORLD, t, uniform=True)
        ea, eu = abs(J - a[-1].estimate.value) / abs(J), abs(J - u[-1].estimate.value) / abs(J)
        say(f"| {t:g} | {a[-1].dofs} ({len(a)}) | {ea:.2e} | {u[-1].dofs} ({len(u)}) | {eu:.2e} | "
            f"{u[-1].dofs / a[-1].dofs:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--elasticity", action="store_true", help="the reaction-force table of fe2 run (linear micro)")
    args = ap.parse_args()
    if args.elasticity:
        from test_reaction_error import effectivity_table

        effectivity_table(say)
        say("")
        l_shape_elasticity()
        return
    manufactured_darcy()
    say("")
    l_shape()


if __name__ == "__main__":
    main()
