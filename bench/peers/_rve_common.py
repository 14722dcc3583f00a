"""Shared pieces of the peer RVE scripts (muspectre_rve.py, fedoo_rve.py).

The RVE is the one of the fe2 benchmark: unit square cell, one centred circular
fibre of area fraction 0.3, isotropic linear elastic phases (fibre E = 10,
matrix E = 1, nu = 0.3 both), plane strain, small strain, periodic BCs.

Pixel/element phase rule used by every peer script: a pixel (voxel, element)
of an N x N grid on [0, 1]^2 is fibre when its centre ((i + 1/2)/N, (j + 1/2)/N)
lies strictly inside the circle.

This module must stay import-light (no numpy at import time): the scripts set
the thread-count environment variables *before* numpy and the peers load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

FIBRE_FRACTION = 0.3
RADIUS = math.sqrt(FIBRE_FRACTION / math.pi)  # 0.30901936...
CENTRE = (0.5, 0.5)
E_FIBRE, E_MATRIX = 10.0, 1.0
NU_FIBRE, NU_MATRIX = 0.3, 0.3

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

PROBLEM = {
    "cell": "unit square [0,1]^2",
    "fibre": {"shape": "circle", "centre": list(CENTRE), "radius": RADIUS,
              "area_fraction": FIBRE_FRACTION, "E": E_FIBRE, "nu": NU_FIBRE},
    "matrix": {"E": E_MATRIX, "nu": NU_MATRIX},
    "kinematics": "small strain, plane strain",
    "bc": "periodic, macroscopic strain prescribed (mean strain control)",
    "phase_assignment": "pixel/element is fibre iff its centre lies strictly inside the circle",
    "voigt": "[11, 22, 12] with engineering shear: C66 = sigma12 / gamma12, gamma12 = 2 eps12",
}


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--resolutions", type=int, nargs="+", required=True,
                   help="grid resolutions N (N x N pixels/elements per unit cell)")
    p.add_argument("--threads", type=int, default=1,
                   help="value written to OMP/MKL/OPENBLAS_NUM_THREADS before the peer loads "
                        "(default 1: single core, for a fair comparison); 0 leaves the environment as it is")
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the untimed warm-up solve on a tiny grid that absorbs one-time "
                        "library initialisation (FFT plans, solver library loading)")
    p.add_argument("--repeat", type=int, default=1,
                   help="solve each resolution R times from scratch and report the minimum wall time "
                        "(all times are kept in wall_time_all_s); default 1")
    p.add_argument("--indent", type=int, default=2, help="JSON indent (default 2)")
    return p


def set_threads(n: int) -> dict:
    """Set thread-count env vars (must run before numpy/peer import). Returns what is in force."""
    if n > 0:
        for v in THREAD_VARS:
            os.environ[v] = str(n)
    return {v: os.environ.get(v) for v in THREAD_VARS}


def fibre_mask(n: int):
    """Boolean (n, n) array, index [i, j] = pixel with centre ((i+.5)/n, (j+.5)/n)."""
    import numpy as np

    x = (np.arange(n) + 0.5) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    return (X - CENTRE[0]) ** 2 + (Y - CENTRE[1]) ** 2 < RADIUS ** 2


def fibre_mask_points(xy):
    """Boolean array: points (m, 2) strictly inside the fibre."""
    return (xy[:, 0] - CENTRE[0]) ** 2 + (xy[:, 1] - CENTRE[1]) ** 2 < RADIUS ** 2


def result_entry(resolution: int, C, wall: float, **extra) -> dict:
    """One per-resolution record. C is the 3x3 Voigt matrix [11, 22, 12] (engineering shear)."""
    C = [[float(c) for c in row] for row in C]
    rec = {
        "resolution": int(resolution),
        "C11": C[0][0], "C12": 0.5 * (C[0][1] + C[1][0]), "C66": C[2][2],
        "C22": C[1][1], "C16": C[0][2], "C26": C[1][2],
        "C": C,
        "wall_time_s": float(wall),
    }
    rec.update(extra)
    return rec


def machine_info(threads_env: dict) -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "thread_env": threads_env,
    }


def emit(doc: dict, indent: int) -> None:
    sys.stdout.write(json.dumps(doc, indent=indent or None) + "\n")
    sys.stdout.flush()


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.dt = time.perf_counter() - self.t0
        return False
