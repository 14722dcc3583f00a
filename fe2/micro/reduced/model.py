"""The online reduced RVE: POD-Galerkin fluctuation, laws only at the cubature points.

For a macro strain E the micro strain at cubature point s is ε_s = E + G_s q (G_s = B_s Φ, q ∈ R^k
the reduced coordinates of the fluctuation w = Φ q). The reduced equilibrium and its Newton are

    r(q) = Σ_s ω_s G_sᵀ σ_s = 0,      K(q) = Σ_s ω_s G_sᵀ C_s G_s,

with σ_s, C_s from the phase law at s and its committed history (history only at the cubature
points). Then, as for the full RVE (static condensation of the reduced problem),

    σ̄ = (1/|Y|) Σ_s ω_s σ_s,   C̄ = (1/|Y|) [Σ_s ω_s C_s − Hᵀ K⁻¹ H],   H = Σ_s ω_s G_sᵀ C_s,

the exact derivative dσ̄/dE of the reduced model. Hill–Mandel of the reduced problem,
|⟨σ·ε⟩ − σ̄·E| / |σ̄·E| with ⟨σ·ε⟩ = Σ_s ω_s σ_s·ε_s/|Y|, equals |q·r|/|σ̄·E|: zero to the Newton
tolerance, reported as for the full RVE.

Fallback and error control (``full`` given; ``track_full_history``, default True with ``full``).
The state then also tracks the full history of every micro point: after each reduced solve the laws
are evaluated once at all points at the reconstructed strain E + ε(Φ q) from their committed history
and the restricted full residual is formed (no matrix factorization, no solve), which gives the indicator

    η = ‖Pᵀ r_full(Φ q)‖ / (max_p |σ_p| · |Y|^((d−1)/d)),

the full-order residual of the reconstructed fluctuation in the units of the full Newton's
criterion (dimensionless: 1e-11 is a converged full solve), reported as ``indicator_max``. A point
with η > ``indicator_threshold`` (when set), or with ‖E‖ above the trained amplitude, or whose
reduced Newton fails, is solved by the full RVE from the tracked history; its reduced coordinates and
cubature history are then the projection q = Φᵀ w and the full history at the cubature points.
Without tracking (no ``full``, or ``track_full_history=False``) the online cost is independent of
the RVE mesh, but a fallback solve starts from the virgin history (exact only for history-free
phases); with it, each point costs one vectorized law evaluation at all the full RVE's points more.
On a serial RVE (FE²'s case) that is array work only: ε = E + G_full q with the strain modes at all
points precomputed, and Pᵀ r = R σ with R the sparse flux-to-restricted-residual map assembled once
(:func:`~fe2.micro.reduced.offline.residual_map`); a distributed RVE evaluates and assembles through
dolfinx as the full RVE does (the same η).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

import numpy as np

from fe2.errors import ConfigError, ConvergenceError, MaterialError, SolverError
from fe2.materials.contract import MicroModel, MicroStatistics
from fe2.materials.energy import EnergyIncrement
from fe2.materials.state import BatchedState
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial, RVEState
from fe2.micro.reduced.offline import ReducedRVEData, residual_map, strain_modes
from fe2.micro.reduced.training import driver_origin


@dataclasses.dataclass
class ReducedRVEState(BatchedState):
    """Per macro point: reduced coordinates and cubature-point history (``reduced``: an RVEState whose
    ``fluctuation`` holds q, shape (n_macro, k)), and under error control the full history (``full``).
    """

    reduced: RVEState
    full: RVEState | None = None

    @property
    def n_points(self) -> int:
        return self.reduced.n_points

    @property
    def coordinates(self) -> np.ndarray:
        return self.reduced.fluctuation

    def copy(self) -> ReducedRVEState:
        return ReducedRVEState(self.reduced.copy(), None if self.full is None else self.full.copy())

    def take(self, points: np.ndarray) -> ReducedRVEState:
        return ReducedRVEState(self.reduced.take(points), None if self.full is None else self.full.take(points))

    def put(self, points: np.ndarray, other: ReducedRVEState) -> None:
        self.reduced.put(points, other.reduced)
        if self.full is not None and other.full is not None:
            self.full.put(points, other.full)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {f"reduced.{k}": v for k, v in self.reduced.to_arrays().items()}
        if self.full is not None:
            out.update({f"full.{k}": v for k, v in self.full.to_arrays().items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ReducedRVEState:
        raise MaterialError("a reduced RVE state is restored from a template: use state.restored(arrays)")

    def restored(self, arrays: Mapping[str, np.ndarray]) -> ReducedRVEState:
        def sub(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

        full = None if self.full is None else self.full.restored(sub("full."))
        return ReducedRVEState(self.reduced.restored(sub("reduced.")), full)

    def allclose(self, other: BatchedState, rtol: float = 0.0, atol: float = 0.0) -> bool:
        if type(other) is not ReducedRVEState or (self.full is None) != (other.full is None):
            return False
        ok = self.reduced.allclose(other.reduced, rtol, atol)
        return ok and (self.full is None or other.full is None or self.full.allclose(other.full, rtol, atol))


@dataclasses.dataclass
class ReducedStatistics(MicroStatistics):
    """MicroStatistics plus the split of the solves: ``reduced_solves`` (answered by the reduced model),
    ``full_solves`` (handed to the full RVE), ``out_of_range`` (of those, because ‖E‖ > trained
    maximum) and ``indicator_max`` (largest error indicator η of the reduced solves, 0 without control).
    """

    reduced_solves: int = 0
    full_solves: int = 0
    out_of_range: int = 0
    indicator_max: float = 0.0

    def reduce(self, comm) -> ReducedStatistics:
        from mpi4py import MPI

        base = MicroStatistics.reduce(self, comm)
        return ReducedStatistics(**dataclasses.asdict(base), reduced_solves=comm.allreduce(self.reduced_solves),
                                 full_solves=comm.allreduce(self.full_solves),
                                 out_of_range=comm.allreduce(self.out_of_range),
                                 indicator_max=comm.allreduce(float(self.indicator_max), op=MPI.MAX))


class ReducedRVEMaterial(MicroModel[ReducedRVEState]):
    """A trained reduced RVE (:class:`ReducedRVEData`) behind the micro–macro contract (small or finite
    strain, as trained: at finite strain ε → ∇, σ → P, C → dP/dF in the formulas of the module docstring).

    Args:
        data: the offline result (:func:`~fe2.micro.reduced.offline.build_reduced_rve` or ``ReducedRVEData.load``).
        laws: phase name -> law; must equal the trained laws (one-line ConfigError otherwise).
        full: the full RVE of the same mesh and laws, for the fallback (out-of-range strains, failed
            reduced Newton, η above the threshold).
        indicator_threshold: η above which a point is re-solved by the full RVE (needs the tracking).
        track_full_history: keep the full history of every micro point for the fallback and η
            (default: True when ``full`` is given).
        tol: reduced Newton, converged when ‖r‖ ≤ tol · max_s|σ_s| · |Y|^((d−1)/d).
        max_it: reduced Newton iterations at most.
    """

    has_history = True
    uses_guess = True

    def __init__(self, data: ReducedRVEData, laws: Mapping[str, MicroModel], *,
                 full: NonlinearRVEMaterial | None = None, indicator_threshold: float | None = None,
                 track_full_history: bool | None = None, tol: float = 1e-11, max_it: int = 30) -> None:
        if data.meta.get("kind") not in ("small_strain", "finite_strain"):
            raise ConfigError(f"reduced RVE kind {data.meta.get('kind')!r} is not supported")
        self.kind = data.meta["kind"]
        self.dim = int(data.meta["dim"])
        data.check_laws(laws)
        self.tracks_full = full is not None and (track_full_history is None or track_full_history)
        if indicator_threshold is not None and not self.tracks_full:
            raise ConfigError("the error indicator needs the full RVE (full=...) and its tracked history")
        if full is not None and (full.n_w != data.modes.shape[0] or full.point_volume.size
                                 != data.meta["n_quadrature_points"]):
            raise ConfigError("the full RVE given for the fallback is not the mesh the reduced RVE was trained on")
        self.data, self.laws, self.full = data, dict(laws), full
        self.indicator_threshold = indicator_threshold
        self.tol, self.max_it = tol, max_it
        self.m = int(data.meta["m"])
        self.volume = float(data.meta["volume"])
        self.max_amplitude = data.max_amplitude
        self.origin = driver_origin(self.kind, self.m)  # ‖driver − origin‖ is the amplitude checked
        self.phases = list(data.meta["phases"])
        # cubature points grouped by phase (in stored order)
        self.phase_sel = {ph: np.flatnonzero(data.point_phase == k) for k, ph in enumerate(self.phases)}
        self.G, self.omega = data.point_strain_modes, data.weights
        self._weighted_G = self.omega[:, None, None] * self.G
        # the indicator as arrays (serial RVE): ε = E + G_full q at all points, Pᵀ r = R σ.ravel()
        self._full_G = self._full_G_flat = self._full_R = None
        if self.tracks_full and full is not None and full.comm.size == 1:
            self._full_G = strain_modes(full, data.modes)  # (n_qp, m, k)
            self._full_G_flat = self._full_G.reshape(-1, data.n_modes)  # one matrix-vector product per call
            self._full_R = residual_map(full)
        self.reset_stats()

    # ---------------------------------------------------------------- statistics
    def reset_stats(self) -> None:
        self.stats = ReducedStatistics()
        # the full RVE's counters from here on count as this model's fallback work
        self._full_baseline = self.full.statistics() if self.full is not None else MicroStatistics()

    @property
    def hill_mandel_max(self) -> float:
        return self.stats.hill_mandel_max

    def statistics(self) -> ReducedStatistics:
        s = dataclasses.replace(self.stats)
        if self.full is not None:  # the full RVE's own work of the fallback solves since reset_stats
            fs, b = self.full.statistics(), self._full_baseline
            s.iterations += fs.iterations - b.iterations
            s.time_s += fs.time_s - b.time_s
            if fs.solves > b.solves:
                s.hill_mandel_max = max(s.hill_mandel_max, fs.hill_mandel_max)
            s.factorizations = fs.factorizations - b.factorizations
            s.factorizations_reused = fs.factorizations_reused - b.factorizations_reused
        return s

    # ---------------------------------------------------------------- contract
    def initial_state(self, n_points: int, point_data: Mapping[str, np.ndarray] | None = None) -> ReducedRVEState:
        phases = {ph: self.laws[ph].initial_state(n_points * sel.size) for ph, sel in self.phase_sel.items()}
        reduced = RVEState(phases, np.zeros((n_points, self.data.n_modes)))
        full = self.full.initial_state(n_points) if self.tracks_full and self.full is not None else None
        return ReducedRVEState(reduced, full)

    def evaluate(self, driver: np.ndarray, state: ReducedRVEState, guess: ReducedRVEState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, ReducedRVEState]:
        n = driver.shape[0]
        flux, tangent = np.empty((n, self.m)), np.empty((n, self.m, self.m))
        trial = state.copy()
        for i in range(n):
            E = np.asarray(driver[i], float)
            idx = np.array([i])
            committed = state.take(idx)
            starts = [committed.coordinates[0]]
            if guess is not None:
                starts.insert(0, guess.coordinates[i])
            flux[i], tangent[i], new = self._solve_point(E, committed, starts)
            trial.put(idx, new)
        return flux, tangent, trial

    def _solve_point(self, E: np.ndarray, committed: ReducedRVEState, starts: list[np.ndarray]):
        amplitude = float(np.linalg.norm(E - self.origin))
        if amplitude > self.max_amplitude * (1.0 + 1e-9):
            if self.full is None:
                raise MaterialError(f"macro strain norm {amplitude:.4g} is above the reduced RVE's trained maximum "
                                    f"{self.max_amplitude:.4g} (no full RVE to fall back to)")
            self.stats.out_of_range += 1
            return self._full_solve(E, committed, self.data.modes @ starts[0])
        t0 = time.perf_counter()
        local = {ph: committed.reduced.phase_states[ph] for ph in self.phases}
        result = None
        for q0 in starts:
            try:
                result = self._reduced_newton(E, local, q0)
                break
            except (ConvergenceError, MaterialError):
                continue
        if result is None:
            self.stats.time_s += time.perf_counter() - t0
            if self.full is None:
                raise ConvergenceError(f"reduced micro Newton did not converge for macro strain {E}")
            return self._full_solve(E, committed, self.data.modes @ starts[-1])
        sigma, c_bar, q, trials = result
        new = ReducedRVEState(RVEState(trials, q[None, :]), None)
        if self.tracks_full and self.full is not None and committed.full is not None:
            try:
                eta, full_trials = self._indicator(E, q, committed.full)
            except MaterialError:  # the reconstruction is inadmissible somewhere (e.g. det F <= 0): not trusted
                eta, full_trials = np.inf, {}
            self.stats.time_s += time.perf_counter() - t0
            if not np.isfinite(eta) or (self.indicator_threshold is not None and eta > self.indicator_threshold):
                return self._full_solve(E, committed, self.data.modes @ q)
            self.stats.indicator_max = max(self.stats.indicator_max, eta)
            new.full = RVEState(full_trials, (self.data.modes @ q)[None, :])
        else:
            self.stats.time_s += time.perf_counter() - t0
        self.stats.solves += 1
        self.stats.reduced_solves += 1
        return sigma, c_bar, new

    def _evaluate_laws(self, eps: np.ndarray, local: Mapping[str, BatchedState]):
        sigma = np.empty_like(eps)
        C = np.empty((eps.shape[0], self.m, self.m))
        trials = {}
        for ph, sel in self.phase_sel.items():
            s, c, tr = self.laws[ph].evaluate(eps[sel], local[ph])
            sigma[sel], C[sel], trials[ph] = s, c, tr
        return sigma, C, trials

    def _reduced_newton(self, E: np.ndarray, local: Mapping[str, BatchedState], q0: np.ndarray):
        """Reduced Newton; returns (σ̄, C̄, q, trial cubature states)."""
        G, w = self.G, self.omega
        WG = self._weighted_G  # ω_s G_s, (n_s, m, k)
        n_s, m, k = G.shape
        q = np.array(q0, float)
        scale_len = self.volume ** ((self.dim - 1) / self.dim)
        for it in range(self.max_it + 1):
            eps = E[None, :] + G @ q
            sigma, C, trials = self._evaluate_laws(eps, local)
            r = WG.reshape(n_s * m, k).T @ sigma.reshape(-1)
            CG = C @ G  # (n_s, m, k)
            K = WG.reshape(n_s * m, k).T @ CG.reshape(n_s * m, k)
            if np.linalg.norm(r) <= self.tol * np.max(np.abs(sigma), initial=0.0) * scale_len:
                break
            if it == self.max_it:
                raise ConvergenceError(f"reduced micro Newton: |r| = {np.linalg.norm(r):.2e} after {it} iterations")
            q -= np.linalg.solve(K, r)
        self.stats.iterations += it
        H = WG.reshape(n_s * m, k).T @ C.reshape(n_s * m, m)  # Σ ω_s G_sᵀ C_s, (k, m)
        c_bar = (np.tensordot(w, C, axes=1) - H.T @ np.linalg.solve(K, H)) / self.volume
        sig_bar = w @ sigma / self.volume
        energy = float(w @ np.einsum("sm,sm->s", sigma, eps)) / self.volume
        work = float(sig_bar @ E)
        if abs(work) > 0:
            self.stats.hill_mandel_max = max(self.stats.hill_mandel_max, abs(energy - work) / abs(work))
        return sig_bar, c_bar, q, trials

    def _indicator(self, E: np.ndarray, q: np.ndarray, full_state: RVEState):
        """η of the reconstructed fluctuation Φ q and the full laws' trial states there (module docstring):
        ε = E + G_full q at all points, the laws from the committed full history, ‖R σ‖ (serial RVE);
        on a distributed RVE through the full RVE's own evaluation and assembly.
        """
        full = self.full
        assert full is not None
        if self._full_G_flat is None or self._full_R is None:
            return self._indicator_assembled(E, q, full_state)
        eps = E[None, :] + (self._full_G_flat @ q).reshape(-1, self.m)
        flux = np.empty_like(eps)
        trials = {}
        for ph, pts in full.phase_points.items():
            flux[pts], _, trials[ph] = full.laws[ph].evaluate(eps[pts], full_state.phase_states[ph])
        rnorm = float(np.linalg.norm(self._full_R @ flux.ravel()))
        return self._eta(rnorm, flux), trials

    def _indicator_assembled(self, E: np.ndarray, q: np.ndarray, full_state: RVEState):
        """:meth:`_indicator` by the full RVE's law evaluation and residual assembly (any communicator)."""
        full = self.full
        assert full is not None
        full.E.value[:] = E
        full.w.x.array[:] = self.data.modes @ q
        local = {ph: full_state.phase_states[ph] for ph in full.phase_points}
        _, flux, _, trials = full._evaluate_laws(local)
        return self._eta(full._reduced_residual(), flux), trials

    def _eta(self, rnorm: float, flux: np.ndarray) -> float:
        scale = np.max(np.abs(flux), initial=0.0) * self.volume ** ((self.dim - 1) / self.dim)
        return float(rnorm / scale) if scale > 0 else 0.0

    def _full_solve(self, E: np.ndarray, committed: ReducedRVEState, w_guess: np.ndarray):
        """The full RVE for this point from the tracked full history (virgin history when untracked)."""
        full = self.full
        assert full is not None
        if committed.full is not None:
            full_state, w_n = committed.full, committed.full.fluctuation[0]
        else:
            full_state, w_n = full.initial_state(1), np.zeros(full.n_w)
        local = {ph: full_state.phase_states[ph] for ph in full.phase_points}
        try:
            sigma, c_bar, trials, w = full.solve_point(E, local, w_guess, w_n)
        except (ConvergenceError, SolverError) as exc:
            raise ConvergenceError(f"full-RVE fallback failed: {exc}") from exc
        q = self.data.modes.T @ w
        cub = {ph: trials[ph].take(self.data.phase_local_index[sel]) for ph, sel in self.phase_sel.items()}
        new = ReducedRVEState(RVEState(cub, q[None, :]),
                              RVEState(trials, w[None, :]) if committed.full is not None else None)
        self.stats.solves += 1
        self.stats.full_solves += 1
        return sigma, c_bar, new

    # ---------------------------------------------------------------- outputs
    def _cubature_strains(self, driver: np.ndarray, state: ReducedRVEState) -> np.ndarray:
        """ε at the cubature points, (n_macro, n_s, m)."""
        return driver[:, None, :] + np.einsum("smk,nk->nsm", self.G, state.coordinates)

    def energy_increment(self, driver_n: np.ndarray, driver: np.ndarray, state_n: ReducedRVEState,
                         state: ReducedRVEState) -> EnergyIncrement | None:
        """Cubature averages (weights ω) of the phase laws' increments at the cubature points."""
        n = driver.shape[0]
        e0, e1 = self._cubature_strains(driver_n, state_n), self._cubature_strains(driver, state)
        parts = []
        for ph, sel in self.phase_sel.items():
            inc = self.laws[ph].energy_increment(e0[:, sel].reshape(-1, self.m), e1[:, sel].reshape(-1, self.m),
                                                 state_n.reduced.phase_states[ph], state.reduced.phase_states[ph])
            if inc is None:
                return None
            parts.append((inc, self.omega[sel]))
        return EnergyIncrement.averaged(parts, n, self.volume)

    def point_fields(self, state: ReducedRVEState) -> dict[str, np.ndarray]:
        """Cubature averages of the phases' scalar fields (e.g. equivalent plastic strain), each (n_macro,)."""
        out: dict[str, np.ndarray] = {}
        n = state.n_points
        for ph, sel in self.phase_sel.items():
            for name, vals in self.laws[ph].point_fields(state.reduced.phase_states[ph]).items():
                out[name] = out.get(name, 0.0) + vals.reshape(n, sel.size) @ self.omega[sel] / self.volume
        return out


__all__ = ["ReducedRVEMaterial", "ReducedRVEState", "ReducedStatistics"]
