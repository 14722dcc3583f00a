"""Where the Cauchy–Born rule fails: a relaxed edge dislocation in the 2D triangular LJ crystal (ASE).

A disk of radius R (in lattice constants a₀, the stress-free nearest-neighbour distance of
:class:`fe2.materials.cauchy_born.CauchyBornLaw` for the triangular lattice, LJ r_c = 2.5σ
truncated and shifted = ASE's ``LennardJones(rc=2.5, smooth=False)``; positions in the plane
z = 0, no periodicity) is displaced by the isotropic Volterra field of an edge dislocation
(Burgers vector b = a₀ e_x, line along z, core at (a₀/4, √3 a₀/4): between two atoms of
adjacent rows; cut along the negative x axis), with the 2D Lamé constants λ, μ of the law's own
tangent at F = I (the triangular lattice is isotropic in plane; ν = λ / (2(λ + μ)) in the
plane-strain formula). The atoms within ``shell`` r_c of the rim are held at the Volterra
positions; the rest relax with ASE's FIRE. Measured, per free atom at distance r from the core:

* ξ_na, the **non-affine** part of the relaxed configuration: the residual of the least-squares
  affine fit y_j − y_i ≈ F_i d_ij over the atom's first-shell neighbours (d_ij the perfect-lattice
  bond nearest to y_j − y_i). This is what the Cauchy–Born map F d ignores; for a smooth field it
  is ½ ∇∇u : d d, so continuum theory gives |ξ_na| ∝ b a₀² / r² — the same fit applied to the
  Volterra positions gives the continuum prediction, compared pointwise;
* ξ_V = u_relaxed − u_Volterra, the deviation from the linear-elastic (small-strain Cauchy–Born)
  displacement. It is *not* expected to fall as r⁻²: the core's dilatation (a line centre of
  dilatation, u ∝ 1/r) and second-order elasticity (strain² ∝ b²/r², displacement ∝ b²/r) give
  r⁻¹, bent down towards the held rim where ξ_V = 0; both are fitted and reported;
* the Cauchy–Born energy error per atom |E_i − Ω W(F_i)| (ASE's per-atom energies vs the law at
  the local fit F_i), relative to the strain energy Ω (W(F_i) − W(I)) of that atom.

Power-law exponents are fits of log(bin mean) vs log r over radial bins of width a₀/2 in the
window ``[r_min, r_max]`` (default 3 a₀ .. R/2). Breakdown radius: the largest bin radius at which
the quantity is still above the threshold (1 % of b for |ξ_na|; 1 % for the relative energy error).

Run: ``python bench/cauchy_born_dislocation.py [--radius 30] [--json out.json]``.
Numbers of a run are quoted in docs/cauchy_born.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np

RC = 2.5


def _law():
    from fe2.materials.cauchy_born import CauchyBornLaw, LennardJones, lattice

    return CauchyBornLaw(LennardJones(cutoff=RC), lattice("triangular"))


def lame_constants(law) -> tuple[float, float, float]:
    """(λ, μ, isotropy defect |C1111 − C1122 − 2 C1212| / C1111) of the law's tangent at F = I."""
    _, a, _ = law.evaluate(np.eye(2).reshape(1, 4), law.initial_state(1))
    c = a.reshape(2, 2, 2, 2)
    lam, mu = float(c[0, 0, 1, 1]), float(c[0, 1, 0, 1])
    return lam, mu, float(abs(c[0, 0, 0, 0] - lam - 2 * mu) / c[0, 0, 0, 0])


def volterra_edge(x: np.ndarray, b: float, nu: float) -> np.ndarray:
    """Isotropic edge dislocation, b along x (plane strain, Poisson's ratio ``nu``): u ``(m, 2)``; cut at θ = ±π."""
    r2 = x[:, 0] ** 2 + x[:, 1] ** 2
    ux = b / (2 * np.pi) * (np.arctan2(x[:, 1], x[:, 0]) + x[:, 0] * x[:, 1] / (2 * (1 - nu) * r2))
    uy = -b / (2 * np.pi) * ((1 - 2 * nu) / (4 * (1 - nu)) * np.log(r2) + (x[:, 0] ** 2 - x[:, 1] ** 2)
                             / (4 * (1 - nu) * r2))
    return np.stack([ux, uy], axis=1)


def local_affine_fit(y: np.ndarray, a0: float, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each atom in ``which``: F ``(k, 2, 2)`` of the first-shell neighbours (|y_j − y_i| < 1.3 a₀,
    bond d the nearest of the six lattice bonds of length a₀) and the rms non-affine residual ``(k,)``.
    """
    from scipy.spatial import cKDTree

    lattice_bonds = a0 * np.array([[np.cos(t), np.sin(t)] for t in np.arange(6) * np.pi / 3])
    tree = cKDTree(y)
    fs, res = np.full((which.size, 2, 2), np.nan), np.full(which.size, np.nan)
    for k, i in enumerate(which):
        nbr = [j for j in tree.query_ball_point(y[i], 1.3 * a0) if j != i]
        if len(nbr) < 3:
            continue
        dy = y[nbr] - y[i]
        d = lattice_bonds[np.argmin(np.linalg.norm(dy[:, None, :] - lattice_bonds[None], axis=2), axis=1)]
        ft = np.linalg.lstsq(d, dy, rcond=None)[0]
        fs[k] = ft.T
        res[k] = np.sqrt(np.mean(np.sum((dy - d @ ft) ** 2, axis=1)))
    return fs, res


def _binned(r: np.ndarray, v: np.ndarray, width: float, r_lo: float, r_hi: float) -> tuple[np.ndarray, np.ndarray]:
    edges = np.arange(r_lo, r_hi + width, width)
    mids, means = [], []
    for lo, hi in itertools.pairwise(edges):
        sel = (r >= lo) & (r < hi) & np.isfinite(v)
        if sel.sum() >= 3:
            mids.append(float(r[sel].mean()))
            means.append(float(v[sel].mean()))
    return np.array(mids), np.array(means)


def _exponent(r: np.ndarray, v: np.ndarray, lo: float, hi: float) -> float:
    sel = (r >= lo) & (r <= hi) & (v > 0)
    return float(np.polyfit(np.log(r[sel]), np.log(v[sel]), 1)[0]) if sel.sum() >= 3 else float("nan")


def _breakdown(r: np.ndarray, v: np.ndarray, threshold: float) -> float:
    above = r[v > threshold]
    return float(above.max()) if above.size else 0.0


def relaxed_dislocation(radius: float, *, shell: float = 1.0, fmax: float = 1e-6,
                        fit: tuple[float, float] | None = None, steps: int = 20000) -> dict:
    """Build, relax and measure (see the module docstring); ``radius`` in a₀, ``shell`` in r_c."""
    from ase import Atoms
    from ase.calculators.lj import LennardJones as AseLJ
    from ase.constraints import FixAtoms
    from ase.optimize import FIRE

    law = _law()
    a0 = law.lattice_parameter
    lam, mu, iso = lame_constants(law)
    nu = lam / (2 * (lam + mu))
    b = a0
    core = np.array([0.25 * a0, 0.25 * np.sqrt(3) * a0])
    n = int(np.ceil(radius / 0.8)) + 2
    ij = np.array([(i, j) for i in range(-2 * n, 2 * n + 1) for j in range(-n, n + 1)], dtype=float)
    ref = a0 * (ij[:, :1] * np.array([1.0, 0.0]) + ij[:, 1:] * np.array([0.5, np.sqrt(3) / 2]))
    x = ref - core
    keep = np.linalg.norm(x, axis=1) <= radius * a0
    ref, x = ref[keep], x[keep]
    r = np.linalg.norm(x, axis=1)
    u_v = volterra_edge(x, b, nu)
    start = ref + u_v
    held = r > radius * a0 - shell * RC
    big = 4 * radius * a0 + 10 * RC
    atoms = Atoms(f"Ar{len(ref)}", positions=np.hstack([start, np.zeros((len(ref), 1))]),
                  cell=[big, big, big], pbc=False)
    atoms.calc = AseLJ(sigma=1.0, epsilon=1.0, rc=RC, smooth=False)
    atoms.set_constraint(FixAtoms(mask=held))
    t0 = time.perf_counter()
    opt = FIRE(atoms, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    t_relax = time.perf_counter() - t0
    y = atoms.get_positions()[:, :2]
    free = np.flatnonzero(~held)
    # full first shells only: free atoms at least one r_c inside the held rim are measured
    inner = free[r[free] < radius * a0 - shell * RC - RC]
    xi_v = np.linalg.norm(y[inner] - start[inner], axis=1)
    f_rel, na_rel = local_affine_fit(y, a0, inner)
    _, na_vol = local_affine_fit(start, a0, inner)
    e_atoms = atoms.get_potential_energies()[inner]
    omega = law.lattice.cell_volume * a0**2
    ok = np.isfinite(na_rel)
    w_f = np.full(inner.size, np.nan)
    w_f[ok] = omega * law.strain_energy(f_rel[ok].reshape(-1, 4))
    w_i = omega * law.strain_energy(np.eye(2).reshape(1, 4))[0]
    e_err = np.abs(e_atoms - w_f)
    e_rel = e_err / np.maximum(w_f - w_i, 1e-300)
    rr = r[inner] / a0
    r_hi_all = rr.max()
    lo, hi = fit if fit is not None else (3.0, radius / 2)
    width = 0.5
    rb, m_na = _binned(rr, na_rel / b, width, 0.0, r_hi_all)
    _, m_na_v = _binned(rr, na_vol / b, width, 0.0, r_hi_all)
    _, m_xi = _binned(rr, xi_v / b, width, 0.0, r_hi_all)
    _, m_err = _binned(rr, e_err, width, 0.0, r_hi_all)
    _, m_rel = _binned(rr, e_rel, width, 0.0, r_hi_all)
    # ξ_V against the centre of dilatation in a disk with a held rim: |ξ| = A (1/r − r/R_h²), R_h the rim
    r_held = radius - shell * RC / a0
    sel = (rb >= lo) & (rb <= hi)
    model = 1 / rb - rb / r_held**2
    amp = float(np.sum(model[sel] * m_xi[sel]) / np.sum(model[sel] ** 2))
    misfit_dil = float(np.linalg.norm(m_xi[sel] - amp * model[sel]) / np.linalg.norm(m_xi[sel]))
    far = sel & np.isfinite(m_na_v)
    return {
        "radius_a0": radius, "atoms": len(ref), "free_atoms": int(free.size), "held_shell_rc": shell,
        "lattice_parameter": a0, "lame_lambda": lam, "lame_mu": mu, "poisson_plane_strain": nu,
        "isotropy_defect": iso, "burgers": b, "core": core.tolist(), "fmax": fmax, "converged": converged,
        "fire_steps": opt.nsteps, "relax_time_s": t_relax, "fit_window_a0": [lo, hi],
        "exponent_nonaffine": _exponent(rb, m_na, lo, hi),
        "exponent_nonaffine_volterra": _exponent(rb, m_na_v, lo, hi),
        "ratio_nonaffine_relaxed_to_volterra_in_window": [float(np.min(m_na[far] / m_na_v[far])),
                                                         float(np.max(m_na[far] / m_na_v[far]))],
        "exponent_deviation_from_volterra": _exponent(rb, m_xi, lo, hi),
        "dilatation_model_amplitude_a0": amp, "dilatation_model_misfit": misfit_dil,
        "exponent_cb_energy_error": _exponent(rb, m_err, lo, hi),
        "exponent_cb_energy_error_relative": _exponent(rb, m_rel, lo, hi),
        "breakdown_radius_nonaffine_1pct_b": _breakdown(rb, m_na, 0.01),
        "breakdown_radius_deviation_1pct_b": _breakdown(rb, m_xi, 0.01),
        "breakdown_radius_energy_1pct": _breakdown(rb, m_rel, 0.01),
        "bin_r_a0": rb.tolist(), "bin_nonaffine_b": m_na.tolist(), "bin_nonaffine_volterra_b": m_na_v.tolist(),
        "bin_deviation_b": m_xi.tolist(), "bin_cb_energy_error": m_err.tolist(),
        "bin_cb_energy_error_relative": m_rel.tolist(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--radius", type=float, default=30.0, help="disk radius in lattice constants a0")
    ap.add_argument("--shell", type=float, default=1.0, help="held rim width in cutoffs r_c")
    ap.add_argument("--fmax", type=float, default=1e-6)
    ap.add_argument("--json", type=str, default="")
    args = ap.parse_args()
    res = relaxed_dislocation(args.radius, shell=args.shell, fmax=args.fmax)
    short = {k: v for k, v in res.items() if not k.startswith("bin_")}
    print(json.dumps(short, indent=1))
    print("   r/a0    |xi_na|/b   volterra    |u-u_V|/b   |dE_CB|/eps  relative")
    for row in zip(res["bin_r_a0"], res["bin_nonaffine_b"], res["bin_nonaffine_volterra_b"], res["bin_deviation_b"],
                   res["bin_cb_energy_error"], res["bin_cb_energy_error_relative"], strict=True):
        print("  " + "  ".join(f"{v:9.3e}" if k else f"{v:6.2f}" for k, v in enumerate(row)))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
