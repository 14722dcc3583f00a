"""Effectivity indices of the p+1 error estimate of RVE effective tensors (docs/verification.md).

Run: ``PATH=$PWD/.venv/bin:$PATH .venv/bin/python scripts/error_effectivity.py [--adaptive]``
(``mpirun -n 2`` works too). Notation: Voigt, engineering shear, order 11 22 12.

Problem: square array of circular cylinders, area fraction 0.3, straight-sided
(order-1) gmsh meshes of size h, P1 fields, contrast 10 (conductivity k = 1 / 10;
elasticity E = 1 / 10, ν = 0.3 / 0.2). For each BC and each h the run's tensor
C_h and the estimate C_1 - C_2 are compared with the true error C_h - C_ref,
where C_ref solves *the same polygonal geometry* on the mesh refined uniformly
twice with P3 fields (its own error is bounded by |C_ref(2x) - C_ref(1x)|,
printed as ``ref_unc``). The effectivity of diagonal entry j is
(C_1 - C_2)_jj / (C_1 - C_ref)_jj; Perrins' value is printed for the periodic
conductivity (the polygon's geometry error is included there, not estimated).
"""

from __future__ import annotations

import argparse

import numpy as np
from mpi4py import MPI

from fe2.analytic import rayleigh_multipole, rayleigh_square_array
from fe2.geometry import square_array
from fe2.geometry.base import RVEMesh
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.micro.adaptivity import adapt, refine_rve
from fe2.micro.error_estimate import homogenize_with_estimates
from fe2.micro.physics import Conductivity, Elasticity
from fe2.micro.rve_problem import RVEProblem
from fe2.tensors import stiffness_voigt_to_mandel

BCS = ("kubc", "periodic", "tubc")
CASES = {
    "conductivity": (Conductivity(2), {"matrix": IsotropicConductor(1.0), "fibre": IsotropicConductor(10.0)}),
    "elasticity": (Elasticity(2), {"matrix": IsotropicElastic(1.0, 0.3), "fibre": IsotropicElastic(10.0, 0.2)}),
}


def say(msg: str) -> None:
    if MPI.COMM_WORLD.rank == 0:
        print(msg, flush=True)


def effectivity_table(sizes=(0.2, 0.1, 0.05)) -> None:
    comm = MPI.COMM_WORLD
    say("physics       bc        h     dofs   entry  true_err     est_err     effectivity  ref_unc")
    for name, (ph, mats) in CASES.items():
        for h in sizes:
            rve = square_array(comm, volume_fraction=0.3, mesh_size=h, element_order=1)
            hom = homogenize_with_estimates(RVEProblem(rve, ph, mats, degree=1), BCS)
            fine1 = refine_rve(rve)
            fine2 = refine_rve(fine1)
            ref1 = RVEProblem(fine1, ph, mats, degree=3).homogenize(BCS)
            ref2 = RVEProblem(fine2, ph, mats, degree=3).homogenize(BCS)
            for bc in BCS:
                C = _effectivity_rows(f"{name:13s} {bc:8s} {h:5.3f}", bc, hom, ref1, ref2)
                if name == "conductivity" and bc == "periodic":
                    perrins = float(rayleigh_square_array(0.3, 10.0))
                    say(f"    periodic k11: C_h - Perrins = {C[0, 0] - perrins:.4e}, "
                        f"C_ref - Perrins = {ref2.effective(bc)[0, 0] - perrins:.4e} (polygon geometry error)")


def _effectivity_rows(label: str, bc: str, hom, ref1, ref2) -> np.ndarray:
    """One table row per diagonal entry: true error (vs ref2), estimate, effectivity, reference uncertainty."""
    C = hom.effective(bc)
    est = hom.bcs[bc].error_estimate
    assert est is not None
    true = C - ref2.effective(bc)
    unc = np.abs(ref2.effective(bc) - ref1.effective(bc))
    for j in range(C.shape[0]):
        say(f"{label} {hom.mesh['dofs']:7d}  {j + 1}{j + 1}    {true[j, j]:.4e}  {est.error_voigt[j, j]:.4e}  "
            f"{est.error_voigt[j, j] / true[j, j]:.4f}       {unc[j, j]:.1e}")
    return C


def staircase_rve(comm, n: int) -> RVEMesh:
    """Unit square, n x n structured triangles; layers of the oblique laminate frac(x + 2y) < 1/2
    (normal (1, 2)/√5, periodic in the square) assigned by cell midpoint: a staircase, not aligned.
    """
    from dolfinx import mesh as dmesh  # after mpi4py (libmpi), which the fe2 imports load

    msh = dmesh.create_unit_square(comm, n, n, dmesh.CellType.triangle, diagonal=dmesh.DiagonalType.right)
    tdim = msh.topology.dim
    im = msh.topology.index_map(tdim)
    cells = np.arange(im.size_local + im.num_ghosts, dtype=np.int32)
    mid = dmesh.compute_midpoints(msh, tdim, cells)
    phase = np.where(np.mod(mid[:, 0] + 2.0 * mid[:, 1], 1.0) < 0.5, 1, 2).astype(np.int32)
    tags = dmesh.meshtags(msh, tdim, cells, phase)
    return RVEMesh(msh, tags, {"matrix": 1, "fibre": 2}, np.zeros(2), np.ones(2),
                   description={"generator": "staircase laminate", "n": n})


def staircase_table(sizes=(8, 16, 32)) -> None:
    """Oblique laminate on a structured mesh that does not follow the layers (cell-wise phases)."""
    comm = MPI.COMM_WORLD
    say("staircase laminate (layers not aligned with the mesh), P1, reference = refined twice, P3")
    say("physics       bc        n    dofs   entry  true_err     est_err     effectivity  ref_unc")
    for name, (ph, mats) in CASES.items():
        for n in sizes:
            rve = staircase_rve(comm, n)
            hom = homogenize_with_estimates(RVEProblem(rve, ph, mats, degree=1), BCS)
            fine1 = refine_rve(rve)
            ref1 = RVEProblem(fine1, ph, mats, degree=3).homogenize(BCS)
            ref2 = RVEProblem(refine_rve(fine1), ph, mats, degree=3).homogenize(BCS)
            for bc in BCS:
                _effectivity_rows(f"{name:13s} {bc:8s} {n:4d}", bc, hom, ref1, ref2)


def perrins_table(sizes=(0.4, 0.2, 0.1)) -> None:
    """Curved (order-2) meshes, P2 fields, periodic conductivity: true error against Rayleigh's multipole solution."""
    comm = MPI.COMM_WORLD
    ph, mats = CASES["conductivity"]
    exact = float(rayleigh_multipole(0.3, 10.0, "square"))
    say(f"periodic conductivity, curved mesh, P2 (estimate P2 -> P3), exact (multipole) k = {exact:.10f}")
    say("h      dofs   true_err    est_err     effectivity")
    for h in sizes:
        rve = square_array(comm, volume_fraction=0.3, mesh_size=h, element_order=2)
        hom = homogenize_with_estimates(RVEProblem(rve, ph, mats, degree=2), ("periodic",))
        est = hom.bcs["periodic"].error_estimate
        assert est is not None
        true = hom.effective("periodic")[0, 0] - exact
        e = est.error_voigt[0, 0]
        say(f"{h:5.3f} {hom.mesh['dofs']:6d}  {true:.4e}  {e:.4e}  {e / true:.4f}")


def _true_error(step, ph, mats, bc: str) -> float:
    """max_j true relative energy error of a step, against its mesh refined once with P3 fields."""
    ref = RVEProblem(refine_rve(step.rve), ph, mats, degree=3).solve(bc)[0].effective_mandel
    Ch = ph_mandel(ph, step.effective_voigt)
    if bc == "tubc":
        Sh, Sr = np.linalg.inv(Ch), np.linalg.inv(ref)
        return float(np.max(np.diag(Sr - Sh) / np.diag(Sh)))
    return float(np.max(np.diag(Ch - ref) / np.diag(Ch)))


def ph_mandel(ph, voigt: np.ndarray) -> np.ndarray:
    """Voigt (engineering shear) -> Mandel for elasticity; conductivity tensors are plain."""
    if isinstance(ph, Elasticity):
        return stiffness_voigt_to_mandel(voigt)
    return voigt


def adaptive_table(target: float = 5e-4) -> None:
    """Adaptive (Dörfler θ = 0.5) vs uniform refinement from the h = 0.2 mesh, KUBC and TUBC.

    ``uniform@adaptive`` is the uniform dofs interpolated (log-log, between the two uniform
    steps that bracket it) at the error the adaptive run ended with.
    """
    comm = MPI.COMM_WORLD
    say(f"adaptive vs uniform, target estimated relative energy error {target:g}, ranks {comm.size}")
    for name, (ph, mats) in CASES.items():
        for bc in ("kubc", "tubc"):
            rve = square_array(comm, volume_fraction=0.3, mesh_size=0.2, element_order=1)
            seq = {uniform: adapt(rve, ph, mats, bc, target, uniform=uniform) for uniform in (False, True)}
            a, u = seq[False][-1], seq[True]
            say(f"{name} {bc}: adaptive " + ", ".join(f"{s.dofs}:{s.error:.2e}" for s in seq[False]))
            say(f"{name} {bc}: uniform  " + ", ".join(f"{s.dofs}:{s.error:.2e}" for s in u))
            k = next(i for i, s in enumerate(u) if s.error <= a.error)
            lo, hi = u[k - 1], u[k]
            slope = np.log(hi.dofs / lo.dofs) / np.log(lo.error / hi.error)
            at = lo.dofs * (lo.error / a.error) ** slope
            say(f"{name:13s} {bc:5s} adaptive {a.dofs:7d} dofs (est {a.error:.2e}); uniform@adaptive {at:8.0f} dofs;"
                f" uniform to target {u[-1].dofs:7d} dofs (est {u[-1].error:.2e}); ratio {at / a.dofs:.2f}")
            say(f"    true relative energy error of the last adaptive mesh {_true_error(a, ph, mats, bc):.2e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--adaptive", action="store_true")
    parser.add_argument("--perrins", action="store_true")
    parser.add_argument("--staircase", action="store_true")
    parser.add_argument("--target", type=float, default=5e-4)
    args = parser.parse_args()
    if args.adaptive:
        adaptive_table(args.target)
    elif args.perrins:
        perrins_table()
    elif args.staircase:
        staircase_table()
    else:
        effectivity_table()
