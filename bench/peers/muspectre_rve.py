#!/usr/bin/env python3
"""Peer run: muSpectre on the fe2 benchmark RVE (2D periodic, circular fibre, f = 0.3).

Usage (inside the bench venv, see setup_peers.sh):

    .venv-bench/bin/python bench/peers/muspectre_rve.py --resolutions 33 65 129 257 \
        [--methods fft fe fe_q1] [--tol 1e-6] [--threads 1] [--repeat 3]

Methods (each reported as its own peer):

* ``fft``   -> peer ``muspectre_fft``: spectral (Fourier-derivative) discretisation,
  Newton-CG with the Fourier Green projection (one quadrature point per pixel).
  muSpectre's Fourier derivative needs an odd number of grid points, and the wheel's
  FFT (pocketfft) is ~3x slower on sizes with a large prime factor (257 is prime:
  1.9 s against 0.57 s for 275). ``--fft-grid smooth`` (default) therefore runs the
  smallest odd 11-smooth N' >= N (32 -> 33, 64 -> 75, 128 -> 135, 256 -> 275,
  512 -> 525, 1024 -> 1029); ``plus1`` runs N + 1 for even N; ``exact`` refuses
  even N. The record keeps ``requested_resolution``.
* ``fe``    -> peer ``muspectre_fe``: muSpectre's linear finite elements
  (``muFFT.Stencils2D.linear_finite_elements``: two linear triangles per pixel,
  two quadrature points), solved by Newton-CG with the discrete FE projection
  (FFT-preconditioned FE, Leute et al. 2022).
* ``fe_q1`` -> peer ``muspectre_fe_q1``: bilinear quadrangles on the pixel grid
  (``FEMStencil.bilinear_quadrangle``, 4 Gauss points), Newton-PCG with the
  Fourier reference-material preconditioner. Same discretisation as fedoo's quad4
  run (fedoo_rve.py), so the two must agree to solver tolerance.

Phase rule: a pixel is fibre iff its centre lies strictly inside the circle.
Homogenised stiffness: three strain-controlled load cases (eps11 = 1; eps22 = 1;
eps12 = eps21 = 1/2, i.e. gamma12 = 1), C[:, k] = volume average of
(sigma11, sigma22, sigma12) for case k (engineering-shear Voigt notation).

Timing: ``wall_time_s`` covers everything done for that resolution (cell and
material creation, pixel assignment, solver set-up, the three solves and the
averaging); Python and library import time is excluded, and an untimed warm-up
on a tiny grid absorbs one-time initialisation (disable with --no-warmup).
Thread-count variables are set to --threads (default 1) before muSpectre loads.

Prints one JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _rve_common as rc

PEER_NAMES = {"fft": "muspectre_fft", "fe": "muspectre_fe", "fe_q1": "muspectre_fe_q1"}
DESCRIPTIONS = {
    "fft": "spectral (Fourier derivative) discretisation, Newton-CG with Fourier Green projection; "
           "odd grids only (see settings.fft_grid)",
    "fe": "linear triangles (2 per pixel, muFFT Stencils2D.linear_finite_elements), "
          "Newton-CG with discrete FE projection (FFT-accelerated FE)",
    "fe_q1": "bilinear quadrangles on the pixel grid (FEMStencil.bilinear_quadrangle, 4 Gauss points), "
             "Newton-PCG with Fourier reference-material preconditioner",
}


def parse():
    p = rc.base_parser(__doc__.splitlines()[1])
    p.add_argument("--methods", nargs="+", choices=sorted(PEER_NAMES), default=["fft", "fe", "fe_q1"],
                   help="discretisations to run (default: all three)")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="relative tolerance of the Krylov (CG/PCG) solver and of the Newton step "
                        "(default 1e-6: changes C by < 1e-5 relative against 1e-12, far below the "
                        "0.1%% target)")
    p.add_argument("--fft-grid", choices=["smooth", "plus1", "exact"], default="smooth",
                   help="grid size used by the fft method for a requested N (needs odd sizes): "
                        "smooth = smallest odd 11-smooth N' >= N (default), plus1 = N+1 if N even, "
                        "exact = N (odd only)")
    p.add_argument("--maxiter", type=int, default=20000, help="max Krylov iterations per solve")
    return p.parse_args()


def odd_smooth_at_least(n: int) -> int:
    """Smallest odd m >= n whose prime factors are all in {3, 5, 7, 11}."""
    m = n if n % 2 else n + 1
    while True:
        r = m
        for p in (3, 5, 7, 11):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 2


def fft_grid(n: int, policy: str) -> int:
    if policy == "smooth":
        return odd_smooth_at_least(n)
    if policy == "plus1":
        return n + 1 if n % 2 == 0 else n
    if n % 2 == 0:
        raise SystemExit(f"--fft-grid exact: N={n} is even; muSpectre's Fourier derivative needs odd N")
    return n


def main():
    args = parse()
    thread_env = rc.set_threads(args.threads)

    from importlib.metadata import version as _dist_version

    import muSpectre as msp
    import numpy as np
    from muFFT import Stencils2D

    version = _dist_version("muSpectre")

    def solve(method: str, n: int):
        """Build and solve one RVE; returns (C 3x3, extra dict). Everything here is timed."""
        t0 = rc.time.perf_counter()
        cell = msp.cell.CellData.make([n, n], [1.0, 1.0])
        if method == "fft":
            cell.nb_quad_pts = 1
        elif method == "fe":
            cell.nb_quad_pts = 2
        else:  # fe_q1: the FEM stencil sets the number of quadrature points (4)
            stencil = msp.FEMStencil.bilinear_quadrangle(cell)
            discretisation = msp.Discretisation(stencil)
        Mat = msp.material.MaterialLinearElastic1_2d
        fibre = Mat.make(cell, "fibre", rc.E_FIBRE, rc.NU_FIBRE)
        matrix = Mat.make(cell, "matrix", rc.E_MATRIX, rc.NU_MATRIX)
        mask = rc.fibre_mask(n)
        # muSpectre's pixel index k is pixel (i, j) = (k % n, k // n): i runs fastest
        # (checked on small grids, e.g. the warm-up; the centred circle is symmetric anyway).
        if n <= 16:
            pix = np.array([tuple(p) for p in cell.pixels])
            assert (pix[:, 0] == np.arange(n * n) % n).all() and (pix[:, 1] == np.arange(n * n) // n).all()
        flat = mask.ravel(order="F")
        for k in np.flatnonzero(flat).tolist():
            fibre.add_pixel(k)
        for k in np.flatnonzero(~flat).tolist():
            matrix.add_pixel(k)

        verb = msp.Verbosity.Silent
        if method == "fe_q1":
            krylov = msp.solvers.KrylovSolverPCG(args.tol, args.maxiter, verb)
            solver = msp.solvers.SolverFEMNewtonPCG(discretisation, krylov, verb, args.tol, 0.0, 50)
        else:
            krylov = msp.solvers.KrylovSolverCG(args.tol, args.maxiter, verb)
            if method == "fft":
                solver = msp.solvers.SolverNewtonCG(cell, krylov, verb, args.tol, 0.0, 50)
            else:
                solver = msp.solvers.SolverNewtonCG(cell, krylov, verb, args.tol, 0.0, 50,
                                                    gradient=Stencils2D.linear_finite_elements,
                                                    weights=[1.0, 1.0])
        solver.formulation = msp.Formulation.small_strain
        solver.initialise_cell()
        if method == "fe_q1":
            solver.evaluate_stress_tangent()
            solver.set_reference_material(solver.tangent.map.mean())
        t_setup = rc.time.perf_counter() - t0

        C = np.zeros((3, 3))
        cases = (np.array([[1.0, 0.0], [0.0, 0.0]]),
                 np.array([[0.0, 0.0], [0.0, 1.0]]),
                 np.array([[0.0, 0.5], [0.5, 0.0]]))  # gamma12 = 1
        newton_its = []
        for col, eps in enumerate(cases):
            res = solver.solve_load_increment(eps)
            if not res.success:
                raise RuntimeError(f"muSpectre {method} N={n} load case {col}: {res.message}")
            newton_its.append(int(res.nb_it))
            s = np.asarray(res.stress).reshape(4, -1).mean(axis=1)  # [s11, s21, s12, s22]
            C[:, col] = (s[0], s[3], 0.5 * (s[1] + s[2]))
        wall = rc.time.perf_counter() - t0
        extra = {
            "setup_time_s": t_setup,
            "solve_time_s": wall - t_setup,
            "krylov_iterations_total": int(krylov.counter),
            "newton_iterations": newton_its,
            "fibre_fraction_discrete": float(mask.mean()),
        }
        return C, extra, wall

    peers = []
    for method in args.methods:
        if not args.no_warmup:
            solve(method, 9)
        results = []
        for req in args.resolutions:
            n = fft_grid(req, args.fft_grid) if method == "fft" else req
            walls = []
            for _ in range(max(1, args.repeat)):
                C, extra, wall = solve(method, n)
                walls.append(wall)
            wall = min(walls)
            rec = rc.result_entry(n, C, wall, wall_time_all_s=walls, requested_resolution=req,
                                  ndof=2 * n * n, n_voxels=n * n, **extra)
            results.append(rec)
            print(f"[{PEER_NAMES[method]}] N={n}: C11={rec['C11']:.6f} C12={rec['C12']:.6f} "
                  f"C66={rec['C66']:.6f}  {wall:.3f} s  (CG its {extra['krylov_iterations_total']})",
                  file=sys.stderr, flush=True)
        peers.append({
            "peer": PEER_NAMES[method],
            "package": "muSpectre",
            "version": version,
            "method": DESCRIPTIONS[method],
            "settings": {"krylov_tol": args.tol, "newton_tol": args.tol, "maxiter": args.maxiter,
                         "fft_engine": "pocketfft (only engine in the PyPI wheel)",
                         "fft_grid": args.fft_grid if method == "fft" else None,
                         "warmup": not args.no_warmup},
            "problem": rc.PROBLEM,
            "results": results,
        })

    rc.emit({"script": "muspectre_rve.py", "machine": rc.machine_info(thread_env), "peers": peers},
            args.indent)


if __name__ == "__main__":
    main()
