"""Where the Cauchy–Born rule fails: a relaxed vacancy in LJ FCC, measured with ASE.

A cubic FCC supercell (``n`` cubic cells per edge, LJ r_c = 2.5σ truncated and shifted, ASE's
``LennardJones(smooth=False)``) at the Cauchy–Born lattice parameter a₀ of
:class:`fe2.materials.cauchy_born.CauchyBornLaw` (so the perfect crystal is stress free) loses its
centre atom; the positions relax with ASE's FIRE in the fixed periodic cell. Measured:

* the relaxed displacement u of every atom; its *non-affine* part is u minus the least-squares
  affine map u ≈ E x (the homogeneous part a fixed periodic cell allows; a vacancy is a centre of
  dilatation, and its images add a nearly uniform strain);
* the decay of |u_na| with the distance r from the vacancy: a power-law fit of the shell averages
  over 1.5 nn < r < L/2 − 1 nn. Linear elasticity gives the far field of a centre of dilatation
  u = A x / r³, i.e. |u| ∝ r⁻² (strain ∝ r⁻³) in an infinite crystal; in the periodic box the
  images of the vacancy bend the curve down towards r = L/2 (where u = 0 by symmetry), so the same
  fit is applied to the isotropic elastic prediction in the same box (the field A x/r³ summed over
  the images, affine part removed the same way) and the amplitude A is fitted to the atoms;
* the Cauchy–Born energy error per atom, |E_atom − Ω W(F_local)| (ASE's per-atom energies vs the
  law at the local affine deformation fitted to each atom's neighbours), and its decay exponent
  (a strain ∝ r⁻³ gives an energy density ∝ r⁻⁶ where the law is right; near the vacancy the
  missing bonds make the error O(1));
* the vacancy formation energy E_v = E_relaxed − (N − 1)/N · E_perfect.

Run: ``python bench/cauchy_born_defect.py [--cells 6] [--json out.json]`` (``--quick``: 4 cells).
Numbers of a run are quoted in docs/cauchy_born.md.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _slope(r: np.ndarray, y: np.ndarray) -> float:
    """Exponent of a power-law fit y ~ r^m (NaN with fewer than 3 shells: a box too small to tell)."""
    return float(np.polyfit(np.log(r), np.log(y), 1)[0]) if r.size >= 3 else float("nan")


def dilatation_with_images(x: np.ndarray, length: float, images: int = 4) -> np.ndarray:
    """Σ_n (x − nL)/|x − nL|³ over the cube of images |n_k| ≤ ``images`` (A = 1), ``(m, 3)``."""
    n = np.array([(i, j, k) for i in range(-images, images + 1) for j in range(-images, images + 1)
                  for k in range(-images, images + 1)], dtype=float) * length
    out = np.zeros_like(x)
    for shift in n:
        y = x - shift
        out += y / np.linalg.norm(y, axis=1)[:, None] ** 3
    return out


def relaxed_vacancy(cells: int, fmax: float = 1e-5) -> dict:
    """Build, relax and measure (see the module docstring); returns a dict of arrays and numbers."""
    from ase.build import bulk
    from ase.calculators.lj import LennardJones as AseLJ
    from ase.optimize import FIRE

    from fe2.materials.cauchy_born import CauchyBornLaw, LennardJones, lattice

    law = CauchyBornLaw(LennardJones(cutoff=2.5), lattice("fcc"))
    a0 = law.lattice_parameter
    perfect = bulk("Ar", "fcc", a=a0, cubic=True).repeat((cells, cells, cells))
    perfect.calc = AseLJ(sigma=1.0, epsilon=1.0, rc=2.5, smooth=False)
    e_perfect = perfect.get_potential_energy()
    n = len(perfect)
    centre = np.full(3, 0.5 * cells * a0)
    pos0 = perfect.get_positions()
    hole = int(np.argmin(np.linalg.norm(pos0 - centre, axis=1)))
    atoms = perfect.copy()
    del atoms[hole]
    atoms.calc = AseLJ(sigma=1.0, epsilon=1.0, rc=2.5, smooth=False)
    ref = atoms.get_positions().copy()
    t0 = time.perf_counter()
    opt = FIRE(atoms, logfile=None)
    opt.run(fmax=fmax, steps=5000)
    t_relax = time.perf_counter() - t0
    e_relaxed = atoms.get_potential_energy()
    cell = atoms.get_cell().array
    # displacements and distances with the minimum-image convention about the vacancy site
    u = atoms.get_positions() - ref
    u -= np.round(u @ np.linalg.inv(cell)) @ cell
    x = ref - pos0[hole]
    x -= np.round(x @ np.linalg.inv(cell)) @ cell
    r = np.linalg.norm(x, axis=1)
    # non-affine part: u minus the least-squares affine map E x (plus a translation)
    design = np.hstack([x, np.ones((x.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(design, u, rcond=None)
    u_na = u - design @ coef
    nn = a0 / np.sqrt(2)
    half = 0.5 * cells * a0
    shells = np.unique(np.round(r, 6))
    mean_u = np.array([np.linalg.norm(u_na[np.abs(r - s) < 1e-5], axis=1).mean() for s in shells])
    fit = (shells > 1.5 * nn) & (shells < half - nn)
    slope_u = _slope(shells[fit], mean_u[fit])
    # the continuum prediction in the same periodic box: a centre of dilatation u = A x/|x|³ and its
    # images (cube-ordered sum), treated exactly like the measurement (affine part removed, shells)
    pred = dilatation_with_images(x, cells * a0)
    pred -= design @ np.linalg.lstsq(design, pred, rcond=None)[0]
    far = r > 1.5 * nn
    amplitude = float(np.sum(pred[far] * u_na[far]) / np.sum(pred[far] * pred[far]))
    mean_pred = np.array([np.linalg.norm(pred[np.abs(r - s) < 1e-5], axis=1).mean() for s in shells])
    slope_pred = _slope(shells[fit], mean_pred[fit])
    misfit = float(np.linalg.norm(u_na[far] - amplitude * pred[far]) / np.linalg.norm(u_na[far]))
    # Cauchy-Born energy error per atom at the local affine deformation of each atom's neighbour shell
    e_atoms = atoms.get_potential_energies()
    omega = law.lattice.cell_volume * a0**3
    err = np.empty(len(atoms))
    pos = atoms.get_positions()
    for i in range(len(atoms)):
        dx = ref - ref[i]
        dx -= np.round(dx @ np.linalg.inv(cell)) @ cell
        near = (np.linalg.norm(dx, axis=1) < 1.1 * nn) & (np.linalg.norm(dx, axis=1) > 0)
        dy = pos[near] - pos[i]
        dy -= np.round(dy @ np.linalg.inv(cell)) @ cell
        f_local = np.linalg.lstsq(dx[near], dy, rcond=None)[0].T
        err[i] = abs(e_atoms[i] - omega * law.strain_energy(f_local.reshape(1, 9))[0])
    mean_err = np.array([err[np.abs(r - s) < 1e-5].mean() for s in shells])
    slope_e = _slope(shells[fit], mean_err[fit])
    return {"cells": cells, "atoms": n - 1, "lattice_parameter": a0, "fire_steps": opt.nsteps,
            "relax_time_s": t_relax, "vacancy_formation_energy": e_relaxed - (n - 1) / n * e_perfect,
            "max_displacement": float(np.linalg.norm(u, axis=1).max()),
            "nearest_neighbour_inward": float(-(u[r < 1.01 * nn] * x[r < 1.01 * nn]).sum(axis=1).mean() / nn),
            "decay_exponent_nonaffine_displacement": slope_u, "decay_exponent_cb_energy_error": slope_e,
            "decay_exponent_elastic_prediction_same_box": slope_pred, "dilatation_amplitude_A": amplitude,
            "misfit_vs_elastic_prediction": misfit,
            "fit_range": [float(shells[fit][0]), float(shells[fit][-1])],
            "shell_r": shells.tolist(), "shell_mean_u_nonaffine": mean_u.tolist(),
            "shell_mean_cb_energy_error": mean_err.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=6)
    ap.add_argument("--quick", action="store_true", help="4 cubic cells per edge")
    ap.add_argument("--json", type=str, default="")
    args = ap.parse_args()
    res = relaxed_vacancy(4 if args.quick else args.cells)
    print(f"LJ FCC vacancy, {res['cells']}^3 cubic cells ({res['atoms']} atoms), a0 = {res['lattice_parameter']:.6f}"
          f" sigma, FIRE {res['fire_steps']} steps in {res['relax_time_s']:.1f} s")
    print(f"  vacancy formation energy E_v = {res['vacancy_formation_energy']:.5f} epsilon")
    print(f"  nearest neighbours move inward by {res['nearest_neighbour_inward']:.5f} sigma")
    print(f"  |u_nonaffine| ~ r^{res['decay_exponent_nonaffine_displacement']:.2f}   (elastic far field: r^-2)"
          f"   fit over r in [{res['fit_range'][0]:.3f}, {res['fit_range'][1]:.3f}] sigma")
    print(f"  linear elasticity in the same periodic box (A x/r^3 + images, same treatment): "
          f"r^{res['decay_exponent_elastic_prediction_same_box']:.2f}; best A = {res['dilatation_amplitude_A']:.3e}"
          f" sigma^3, relative misfit {res['misfit_vs_elastic_prediction']:.2f} (atoms beyond 1.5 nn)")
    print(f"  Cauchy-Born energy error per atom ~ r^{res['decay_exponent_cb_energy_error']:.2f}")
    print("   r/sigma   |u_na|/sigma   |E_atom - Omega W(F_local)|/epsilon")
    for r, u, e in zip(res["shell_r"], res["shell_mean_u_nonaffine"], res["shell_mean_cb_energy_error"], strict=True):
        print(f"  {r:8.4f}   {u:.4e}    {e:.4e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
