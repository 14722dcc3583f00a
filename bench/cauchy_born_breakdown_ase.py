"""Breakdown strain of the Cauchy–Born indicator vs ASE's lattice dynamics of the same crystal.

The 2D triangular LJ crystal (r_c = 2.5σ truncated and shifted, ASE's ``LennardJones(smooth=False)``,
the law's a₀) is stretched uniaxially, F = I + ε e_axis⊗e_axis. For each ε ASE's
``ase.phonons.Phonons`` computes the force constants of the deformed one-atom cell by finite
displacements (±δ, δ = 1e-3σ, unit masses) in an N × N × 1 supercell (a slab: pbc in x, y, 10σ of
vacuum in z). From them:

* **the periodic N × N cell** is unstable as soon as its Hessian has a negative eigenvalue, i.e. the
  in-plane dynamical matrix D(q) has one at a commensurate q = (m₁, m₂)/N ≠ 0 (exact: the supercell's
  own normal modes). Its onset ε_N is bisected; a finite cell cannot host a wave longer than N a, so
  ε_N ≥ ε_CB and ε_N → ε_CB from above as N grows;
* **the long-wavelength limit**: D(κ n)/κ² for |q| = κ = 1e-3 (reciprocal units 2π/a₀) over 720
  directions n, from the force constants of an 8 × 8 supercell (a supercell of 8 cells covers every
  bond shorter than r_c, so the Fourier sum is the infinite crystal's D(q) at any q); its onset ε_Γ
  is where the lowest acoustic branch goes negative at Γ, the atomistic counterpart of the loss of
  strong ellipticity.

The x stretch passes ε = r_c/(2a₀) − 1 = 0.1223, where the third-neighbour bonds along x cross
r_c: there the energy of the truncated-and-shifted φ has a kink (φ′(r_c) ≠ 0) and the
finite-difference Hessian sees a spike −φ′(r_c)/δ over |Δε| ≲ δ/(2a₀) — an artefact of truncation,
not a lattice instability. The bisections therefore start at ε_CB − 1e-3, above it, after checking
that the crystal is stable there.

Run: ``python bench/cauchy_born_breakdown_ase.py [--cells 8 16 32] [--json out.json]``; numbers in
docs/cauchy_born.md. The fast version is ``tests/materials/test_cauchy_born_ase.py``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

RC = 2.5
DELTA = 1e-3


def triangular_law():
    from fe2.materials.cauchy_born import CauchyBornLaw, LennardJones, lattice

    return CauchyBornLaw(LennardJones(cutoff=RC), lattice("triangular"))


def uniaxial(axis: int, eps: float) -> np.ndarray:
    f = np.eye(2)
    f[axis, axis] += eps
    return f


def force_constants(law, f: np.ndarray, cells: int, delta: float = DELTA):
    """ASE ``Phonons`` of the deformed one-atom triangular cell in a ``cells`` × ``cells`` × 1 supercell,
    read (force constants / unit mass in ``D_N``, lattice vectors in ``_lattice_vectors_array``).
    """
    from ase import Atoms
    from ase.calculators.lj import LennardJones as AseLJ
    from ase.phonons import Phonons

    cell = np.zeros((3, 3))
    cell[:2, :2] = law.lattice_parameter * law.lattice.primitive @ f.T
    cell[2, 2] = 10.0
    atoms = Atoms("Ar", positions=[[0.0, 0.0, 0.0]], cell=cell, pbc=(True, True, False))
    atoms.set_masses([1.0])
    with tempfile.TemporaryDirectory() as tmp:
        ph = Phonons(atoms, AseLJ(sigma=1.0, epsilon=1.0, rc=RC, smooth=False), supercell=(cells, cells, 1),
                     delta=delta, name=f"{tmp}/phonon")
        ph.run()
        ph.read(acoustic=True)
    return ph


def dynamical_matrix(ph, q_scaled: np.ndarray) -> np.ndarray:
    """D(q) ``(m, 3, 3)`` (real: the crystal is centrosymmetric) at scaled q ``(m, 3)``."""
    phase = np.exp(-2j * np.pi * q_scaled @ ph._lattice_vectors_array)
    return np.einsum("qn,nij->qij", phase, ph.D_N).real


def cell_min_eigenvalue(ph, cells: int) -> tuple[float, float, np.ndarray]:
    """Smallest in-plane eigenvalue of D over the commensurate q ≠ 0 of the supercell, the smallest
    out-of-plane one, and the q (scaled) of the in-plane minimum.
    """
    g = np.arange(cells) / cells
    qs = np.array([(i, j, 0.0) for i in g for j in g][1:])
    d = dynamical_matrix(ph, qs)
    lam = np.linalg.eigvalsh(d[:, :2, :2])[:, 0]
    return float(lam.min()), float(d[:, 2, 2].min()), qs[np.argmin(lam)]


def gamma_min_eigenvalue(ph, a0: float, kappa: float = 1e-3, directions: int = 720) -> float:
    """min over directions n of the smallest in-plane eigenvalue of D(k n)/k², k = κ 2π/a₀."""
    th = np.pi * np.arange(directions) / directions
    k = kappa * 2.0 * np.pi / a0
    kv = k * np.stack([np.cos(th), np.sin(th), np.zeros_like(th)], axis=1)
    qs = kv @ ph.atoms.cell.array.T / (2.0 * np.pi)
    d = dynamical_matrix(ph, qs)[:, :2, :2]
    return float(np.linalg.eigvalsh(d)[:, 0].min() / k**2)


def bisect(fun, lo: float, hi: float, steps: int) -> float:
    """Onset of fun ≤ 0 between a stable ``lo`` (fun > 0) and an unstable ``hi``."""
    if not (fun(lo) > 0.0 and fun(hi) <= 0.0):
        raise RuntimeError(f"no sign change of the stability measure in [{lo}, {hi}]")
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fun(mid) > 0.0 else (lo, mid)
    return 0.5 * (lo + hi)


def cb_breakdown(law, axis: int) -> float:
    return bisect(lambda e: law.ellipticity(uniaxial(axis, e).reshape(1, 4))[0][0], 0.05, 0.2, 32)


def gamma_onset(law, axis: int, lo: float, hi: float, steps: int = 24) -> float:
    a0 = law.lattice_parameter
    return bisect(lambda e: gamma_min_eigenvalue(force_constants(law, uniaxial(axis, e), 8), a0), lo, hi, steps)


def cell_onset(law, axis: int, cells: int, lo: float, hi: float, steps: int = 22) -> float:
    return bisect(lambda e: cell_min_eigenvalue(force_constants(law, uniaxial(axis, e), cells), cells)[0],
                  lo, hi, steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--json", type=str, default="")
    args = ap.parse_args()
    law = triangular_law()
    out: dict = {"lattice_parameter": law.lattice_parameter, "delta": DELTA, "axes": {}}
    for axis in (0, 1):
        eps_cb = cb_breakdown(law, axis)
        lo, hi = eps_cb - 1e-3, eps_cb + 2e-2
        t0 = time.perf_counter()
        eps_g = gamma_onset(law, axis, lo, hi)
        rec = {"eps_cb": eps_cb, "eps_gamma_ase": eps_g, "cells": {}}
        print(f"axis {axis}: eps_CB = {eps_cb:.7f}, ASE Gamma-limit onset {eps_g:.7f} (diff {eps_g - eps_cb:+.2e},"
              f" {time.perf_counter() - t0:.1f} s)", flush=True)
        for n in args.cells:
            t0 = time.perf_counter()
            eps_n = cell_onset(law, axis, n, lo, hi)
            _, zz, q = cell_min_eigenvalue(force_constants(law, uniaxial(axis, eps_n + 1e-4), n), n)
            rec["cells"][n] = {"eps_cell": eps_n, "q_onset": q.tolist(), "out_of_plane_min": zz}
            print(f"  {n:3d} x {n:<3d} cell: onset {eps_n:.7f} (eps_N - eps_CB = {eps_n - eps_cb:.3e}), softest q"
                  f" {q[:2]}, out-of-plane min {zz:.3e} ({time.perf_counter() - t0:.1f} s)", flush=True)
        out["axes"][axis] = rec
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
