#!/usr/bin/env python3
"""Peer run: fedoo on the fe2 benchmark RVE (2D periodic, circular fibre, f = 0.3).

Usage (inside the bench venv, see setup_peers.sh):

    .venv-bench/bin/python bench/peers/fedoo_rve.py --resolutions 32 64 128 256 \
        [--elm-type quad4] [--solver direct] [--threads 1] [--repeat 3]

Discretisation: structured N x N mesh of the unit square (``fd.mesh.rectangle_mesh``,
quad4 by default, full 2x2 Gauss integration), plane strain (``ModelingSpace("2Dplane")``),
element-wise isotropic elasticity (``ElasticIsotrop`` with per-element E).
Phase rule: an element is fibre iff its centroid lies strictly inside the circle.

Homogenisation: ``fedoo.homogen.get_homogenized_stiffness`` -- periodic BCs through
fedoo's ``PeriodicBC("small_strain")`` constraint with macroscopic-strain virtual dofs
(E_xx, E_yy, E_xy with E_xy the engineering shear), one node pinned against rigid-body
motion, three unit macro-stress perturbations, C = inverse of the resulting strains.
The returned matrix is already in engineering-shear Voigt form [11, 22, 12].

Linear solver: fedoo's "direct" choice = pypardiso (MKL PARDISO) when installed (the
bench venv installs it, as fedoo recommends), else scipy's SuperLU ``spsolve``. The
backend actually used is recorded. ``--solver direct_scipy`` forces SuperLU.

Timing: ``wall_time_s`` covers mesh generation, phase assignment, assembly and the
homogenisation solves for that resolution; imports are excluded and an untimed warm-up
on a tiny mesh absorbs one-time initialisation (disable with --no-warmup).
Thread-count variables are set to --threads (default 1) before fedoo/MKL load.

Prints one JSON document on stdout; fedoo's own prints are redirected to stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _rve_common as rc


def parse():
    p = rc.base_parser(__doc__.splitlines()[1])
    p.add_argument("--elm-type", default="quad4", choices=["quad4", "quad9", "tri3", "tri6"],
                   help="element type of the structured mesh (default quad4)")
    p.add_argument("--solver", default="direct",
                   help="fedoo solver name passed to get_homogenized_stiffness (default 'direct')")
    return p.parse_args()


def main():
    args = parse()
    thread_env = rc.set_threads(args.threads)

    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no fast direct sparse solver" when pypardiso is absent
        import fedoo as fd
        import numpy as np
        from fedoo.core import base as fd_base
    from importlib.metadata import version as _dist_version

    if args.solver in ("direct", "pardiso") and fd_base.USE_PYPARDISO:
        backend = f"pypardiso {_dist_version('pypardiso')} (MKL PARDISO)"
    elif args.solver in ("direct", "mumps") and fd_base.USE_MUMPS:
        backend = "python-mumps"
    elif args.solver == "direct" and fd_base.USE_PETSC:
        backend = "petsc"
    elif args.solver in ("direct", "direct_scipy"):
        backend = "scipy.sparse.linalg.spsolve" + (" (umfpack)" if fd_base.USE_UMFPACK else " (SuperLU)")
    else:
        backend = args.solver

    def solve(n: int, tag: str):
        t0 = rc.time.perf_counter()
        fd.ModelingSpace("2Dplane")  # plane strain
        mesh = fd.mesh.rectangle_mesh(n + 1, n + 1, 0.0, 1.0, 0.0, 1.0, elm_type=args.elm_type,
                                      name=f"rve_{tag}_{n}")
        centroids = mesh.nodes[mesh.elements].mean(axis=1)
        inside = rc.fibre_mask_points(centroids)
        if not np.isclose(rc.NU_FIBRE, rc.NU_MATRIX):
            raise NotImplementedError("per-element nu not wired up")
        law = fd.constitutivelaw.ElasticIsotrop(np.where(inside, rc.E_FIBRE, rc.E_MATRIX), rc.NU_MATRIX,
                                                name=f"law_{tag}_{n}")
        wf = fd.weakform.StressEquilibrium(law, name=f"wf_{tag}_{n}")
        assemb = fd.Assembly.create(wf, mesh, name=f"assemb_{tag}_{n}")
        C = fd.homogen.get_homogenized_stiffness(assemb, meshperio=True, solver=args.solver)
        wall = rc.time.perf_counter() - t0
        nvar = 2
        extra = {
            "ndof": nvar * n * n,  # independent periodic displacement dofs
            "ndof_fedoo_total": int(nvar * mesh.n_nodes),
            "n_elements": int(mesh.n_elements),
            "fibre_fraction_discrete": float(inside.mean()),
        }
        return np.asarray(C), extra, wall

    def clear_registries():
        # fedoo keeps every mesh/assembly/problem/law in global registries: drop them so
        # memory does not pile up and the next run starts from a clean state
        for reg in (fd.Assembly, fd.Mesh, fd.Problem, fd.WeakForm, fd.ConstitutiveLaw):
            with contextlib.suppress(Exception):
                reg.get_all().clear()

    results = []
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not args.no_warmup:
            solve(4, "warmup")
            clear_registries()
        for n in args.resolutions:
            walls = []
            for _ in range(max(1, args.repeat)):
                C, extra, wall = solve(n, "run")
                walls.append(wall)
                clear_registries()
            wall = min(walls)
            rec = rc.result_entry(n, C, wall, wall_time_all_s=walls, **extra)
            results.append(rec)
            print(f"[fedoo] N={n}: C11={rec['C11']:.6f} C12={rec['C12']:.6f} C66={rec['C66']:.6f}  "
                  f"{wall:.3f} s", file=sys.stderr, flush=True)

    peer = {
        "peer": "fedoo",
        "package": "fedoo",
        "version": _dist_version("fedoo"),
        "method": f"structured {args.elm_type} mesh on the pixel grid, periodic BC "
                  f"(PeriodicBC small_strain, meshperio), fedoo.homogen.get_homogenized_stiffness",
        "settings": {"elm_type": args.elm_type, "solver": args.solver, "solver_backend": backend,
                     "warmup": not args.no_warmup},
        "problem": rc.PROBLEM,
        "results": results,
    }
    rc.emit({"script": "fedoo_rve.py", "machine": rc.machine_info(thread_env), "peers": [peer]},
            args.indent)


if __name__ == "__main__":
    main()
