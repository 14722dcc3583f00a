"""Initial conditions of the phase-field examples.

The PFHub benchmark 1 field and partition-independent smooth noise.
"""

from __future__ import annotations

import numpy as np


def pfhub_bm1_initial_condition(c0: float = 0.5, eps: float = 0.01):
    """PFHub benchmark 1 initial condition c0 + ε[cos(0.105x)cos(0.11y) + (cos(0.13x)cos(0.087y))²
    + cos(0.025x − 0.15y) cos(0.07x − 0.02y)] as a callable on (gdim, n) coordinates.
    """

    def ic(x):
        X, Y = x[0], x[1]
        return c0 + eps * (
            np.cos(0.105 * X) * np.cos(0.11 * Y)
            + (np.cos(0.13 * X) * np.cos(0.087 * Y)) ** 2
            + np.cos(0.025 * X - 0.15 * Y) * np.cos(0.07 * X - 0.02 * Y)
        )

    return ic


def smooth_noise(c0: float, amplitude: float, length: float, n_modes: int = 12, seed: int = 0):
    """A partition-independent 'random' field: c0 + amplitude × sum of random-phase cosines
    (wavelengths down to ~length/8), normalized to max |noise| ≤ amplitude. Being a function of
    x only, it is identical on any number of ranks.
    """
    rng = np.random.default_rng(seed)
    kv = rng.uniform(-8, 8, size=(n_modes, 3)) * 2 * np.pi / length
    ph = rng.uniform(0, 2 * np.pi, size=n_modes)

    def ic(x):
        s = np.zeros(x.shape[1])
        for kk, p in zip(kv, ph, strict=False):
            s += np.cos(kk[0] * x[0] + kk[1] * x[1] + kk[2] * x[2] + p)
        return c0 + amplitude * s / n_modes

    return ic
