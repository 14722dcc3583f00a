"""Training design of a reduced RVE and the snapshots of the full RVE along it.

Design (small strain, Mandel strain space of dimension m = 3 in 2D / 6 in 3D): ``n_directions``
unit directions n_k on the sphere S^{m-1}, quasi-uniform — a scrambled Sobol sequence in [0, 1)^m
mapped through the normal inverse CDF and normalized (a Gaussian vector divided by its norm is
uniform on the sphere; Sobol points make the cover more even than pseudo-random ones). Along each
direction one strain path E(t) = a(t) n_k: a monotone ramp 0 → ``max_amplitude`` in ``n_steps``
equal steps, then (``reversal_fraction`` > 0) a load reversal down to −reversal_fraction·max_amplitude
in ``n_steps`` steps, so that the snapshots contain elastic unloading and reverse plastic flow
(Bauschinger). Every converged step of the full RVE gives one snapshot: the periodic fluctuation
w (dofs of the full RVE) and the micro stress at every quadrature point (for the cubature).

The declared range of the reduced model is ‖E‖_Mandel ≤ max_amplitude (the Mandel norm equals
the Frobenius norm of the strain tensor). At finite strain (driver F̄, row-major, m = d²) the
directions live in the space of displacement gradients H̄ = F̄ − I and the paths are F̄(t) = I + a(t) n_k;
the range is ‖F̄ − I‖_F ≤ max_amplitude.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm, qmc

from fe2.errors import ConfigError
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial


@dataclass(frozen=True)
class TrainingDesign:
    """Strain paths of the training set (see the module docstring).

    Args:
        n_directions: number of directions on the unit sphere of Mandel strain space (≥ 1).
        max_amplitude: largest Mandel norm of the training strains (> 0), the declared range.
        n_steps: steps of the monotone ramp (and of the reversal), ≥ 1.
        reversal_fraction: reversal end point as a fraction of max_amplitude, in [0, 1].
        seed: seed of the scrambled Sobol sequence.
    """

    n_directions: int = 16
    max_amplitude: float = 0.02
    n_steps: int = 6
    reversal_fraction: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_directions < 1:
            raise ConfigError(f"training n_directions must be >= 1, got {self.n_directions}")
        if not (self.max_amplitude > 0.0):
            raise ConfigError(f"training max_amplitude must be > 0, got {self.max_amplitude}")
        if self.n_steps < 1:
            raise ConfigError(f"training n_steps must be >= 1, got {self.n_steps}")
        if not (0.0 <= self.reversal_fraction <= 1.0):
            raise ConfigError(f"training reversal_fraction must be in [0, 1], got {self.reversal_fraction}")

    def as_dict(self) -> dict:
        return asdict(self)


def sphere_directions(n: int, m: int, seed: int = 0) -> np.ndarray:
    """``n`` quasi-uniform unit vectors in R^m (scrambled Sobol → normal inverse CDF → normalized)."""
    with warnings.catch_warnings():  # n need not be a power of 2: the points are still well spread
        warnings.filterwarnings("ignore", "The balance properties", UserWarning)
        u = qmc.Sobol(d=m, scramble=True, seed=seed).random(n)
    g = norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def driver_origin(kind: str, m: int) -> np.ndarray:
    """The undeformed driver: 0 (small strain, Mandel ε) or the identity (finite strain, F row-major)."""
    if kind == "finite_strain":
        d = int(round(np.sqrt(m)))
        return np.eye(d).ravel()
    return np.zeros(m)


def training_paths(design: TrainingDesign, m: int, kind: str = "small_strain") -> list[np.ndarray]:
    """The driver paths, each ``(n_points_on_path, m)`` (the first point is the first step, not the origin)."""
    amp_up = design.max_amplitude * np.arange(1, design.n_steps + 1) / design.n_steps
    amps = list(amp_up)
    if design.reversal_fraction > 0.0:
        lo = -design.reversal_fraction * design.max_amplitude
        amps += list(np.linspace(design.max_amplitude, lo, design.n_steps + 1)[1:])
    a = np.asarray(amps)
    origin = driver_origin(kind, m)
    return [origin + a[:, None] * n[None, :] for n in sphere_directions(design.n_directions, m, design.seed)]


@dataclass
class Snapshots:
    """Converged full-RVE steps of the training paths.

    Attributes:
        drivers: ``(n_snap, m)`` macro strains.
        fluctuations: ``(n_snap, n_w)`` fluctuation dofs w.
        micro_flux: ``(n_snap, n_qp, m)`` micro stress at every quadrature point.
        macro_flux: ``(n_snap, m)`` homogenized stress of the full RVE.
        path_index: ``(n_snap,)`` which path each snapshot belongs to.
        time_s: seconds of the full solves.
    """

    drivers: np.ndarray
    fluctuations: np.ndarray
    micro_flux: np.ndarray
    macro_flux: np.ndarray
    path_index: np.ndarray
    time_s: float


def run_path(full: NonlinearRVEMaterial, path: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drive one full RVE along ``path`` (committing every step): (macro flux, fluctuations, micro flux)."""
    state = full.initial_state(1)
    guess = None
    flux, ws, micro = [], [], []
    for E in path:
        s, _, trial = full.evaluate(E[None, :], state, guess=guess)
        flux.append(s[0])
        ws.append(trial.fluctuation[0].copy())
        micro.append(full.quad.values()[0])  # the laws at the converged iterate
        state, guess = trial, trial
    return np.asarray(flux), np.asarray(ws), np.asarray(micro)


def collect_snapshots(full: NonlinearRVEMaterial, paths: list[np.ndarray],
                      on_path: Callable[[int], None] | None = None) -> Snapshots:
    """Run the full RVE along every path (serial, the RVE's communicator) and stack the snapshots;
    ``on_path(k)`` after the k-th path (1-based; progress, no collectives).
    """
    import time

    t0 = time.perf_counter()
    out = []
    for k, p in enumerate(paths, start=1):
        out.append(run_path(full, p))
        if on_path is not None:
            on_path(k)
    return Snapshots(
        drivers=np.concatenate(paths),
        fluctuations=np.concatenate([o[1] for o in out]),
        micro_flux=np.concatenate([o[2] for o in out]),
        macro_flux=np.concatenate([o[0] for o in out]),
        path_index=np.concatenate([np.full(len(p), k) for k, p in enumerate(paths)]),
        time_s=time.perf_counter() - t0,
    )


__all__ = ["Snapshots", "TrainingDesign", "collect_snapshots", "driver_origin", "run_path", "sphere_directions",
           "training_paths"]
