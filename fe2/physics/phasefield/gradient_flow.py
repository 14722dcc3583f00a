"""The time loop, step control, monitors and solver set-up shared by Cahn–Hilliard and Allen–Cahn.

A model builds its residual form and calls :meth:`_GradientFlow._build_solver`: with no-flux
boundaries dolfinx's SNES (``NonlinearProblem``), with periodic ones the own Newton of
:mod:`fe2.physics.phasefield.periodic`. Schemes, energy law and step control: the package
docstring (:mod:`fe2.physics.phasefield`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import NonlinearProblem
from mpi4py import MPI
from petsc4py import PETSc

from fe2.errors import ConfigError, ConvergenceError
from fe2.physics.phasefield.energies import BulkEnergy
from fe2.physics.phasefield.periodic import PeriodicNewton
from fe2.physics.phasefield.sav import SAVSystem
from fe2.physics.phasefield.stepping import Scheme, StepRecord, TimeStepping
from fe2.solvers import configure_from_defaults


def _snes_options(rtol: float, atol: float, max_it: int) -> dict:
    return {
        "snes_type": "newtonls",
        "snes_linesearch_type": "basic",
        "snes_rtol": rtol,
        "snes_atol": atol,
        "snes_stol": 0.0,
        "snes_max_it": max_it,
        "snes_error_if_not_converged": False,
        "ksp_type": "preonly",
        "pc_type": "lu",
        "pc_factor_mat_solver_type": "mumps",
        "ksp_error_if_not_converged": False,
    }


class _GradientFlow:
    """Time loop, step control and monitors shared by both models."""

    #: the options prefix of the model's solvers (one of fe2.solvers.PREFIXES), set by the subclass
    prefix_base = ""

    # set by the subclass: the state being solved for (trial), the accepted state and the one before
    u: fem.Function
    u0: fem.Function
    u_prev: fem.Function
    #: interpolate c(x) (a callable on a (gdim, n) array) into the c part of ``u``; set by the subclass
    _interpolate_c: Callable[[Callable[[np.ndarray], np.ndarray]], None]

    #: the schemes the model offers (Cahn–Hilliard adds 'sav')
    schemes: tuple[str, ...] = ("split_euler", "secant_cn")

    def _setup_common(self, mesh, energy: BulkEnergy, kappa: float, quadrature_degree: int | None,
                      scheme: Scheme = "secant_cn"):
        if not kappa > 0:
            raise ConfigError(f"kappa must be > 0, got {kappa}")
        if scheme not in self.schemes:
            raise ConfigError(f"{type(self).__name__}: scheme must be one of "
                              f"{', '.join(repr(s) for s in self.schemes)}, got {scheme!r}")
        self.scheme: Scheme = scheme
        if not isinstance(energy, BulkEnergy):
            raise ConfigError(f"energy must be a BulkEnergy, got {type(energy).__name__}")
        self.mesh = mesh
        self.comm: MPI.Comm = mesh.comm
        self.energy = energy
        self.kappa = float(kappa)
        qd = 4 if quadrature_degree is None else int(quadrature_degree)
        # One rule for residual *and* energy: the energy-stability argument is pointwise
        # at quadrature points, so both must see the same points.
        self.dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": qd})
        self.dt_c = fem.Constant(mesh, PETSc.ScalarType(1.0))
        self.t_c = fem.Constant(mesh, PETSc.ScalarType(0.0))  # time of the new level tⁿ⁺¹
        # time at which sources/fluxes are evaluated: tⁿ⁺¹ (split Euler) or tⁿ⁺¹ᐟ² (secant CN)
        self.t_src = fem.Constant(mesh, PETSc.ScalarType(0.0))
        # mobility lag: M(cⁿ + e (cⁿ − cⁿ⁻¹)), e = Δt/(2Δt_prev) for secant CN (midpoint
        # extrapolation, second order), 0 for split Euler and for the first step
        self.extrap_c = fem.Constant(mesh, PETSc.ScalarType(0.0))
        self.dt_prev: float | None = None  # last accepted step (None: no history yet)
        self._dissipative = True  # False when an MMS source/flux feeds energy in
        # secant CN only: 1 → this step is a split-Euler step (start-up), 0 → secant CN
        self.startup = fem.Constant(mesh, PETSc.ScalarType(0.0))
        self.t = 0.0
        self.step_count = 0
        self.prefix = self.prefix_base
        # energy of the prescribed initial field and the energy its periodic closure added
        # (set_initial_condition; None when the state was set otherwise)
        self.initial_energy: float | None = None
        self.seam_energy: float | None = None
        # the linear SAV scheme (Cahn–Hilliard, scheme = 'sav'): its operators and scalar variable
        self._sav: SAVSystem | None = None
        self._periodic: PeriodicNewton | None = None

    def _blend(self, mu_cn, grad_cn, mu_be, grad_be):
        """(1 − s)·CN + s·split-Euler terms, s = self.startup ∈ {0, 1} (one compiled form)."""
        s = self.startup
        return (1 - s) * mu_cn + s * mu_be, (1 - s) * grad_cn + s * grad_be

    def _build_monitors(self, c):
        k = self.kappa
        self._energy_form = fem.form((self.energy.f(c) + 0.5 * k * ufl.inner(ufl.grad(c), ufl.grad(c))) * self.dx)
        self._mass_form = fem.form(c * self.dx)

    def _build_solver(self, F: ufl.Form, u: fem.Function, boundary: str, rtol: float, atol: float,
                      max_it: int, periodic_axes: tuple[int, ...] | None = None, held=None) -> None:
        if boundary not in ("noflux", "periodic"):
            raise ConfigError(f"{type(self).__name__}: boundary must be 'noflux' or 'periodic', got {boundary!r}")
        if boundary == "noflux" and (periodic_axes is not None or held is not None):
            raise ConfigError(f"{type(self).__name__}: periodic_axes and held nodes need boundary = 'periodic'")
        self.boundary = boundary
        self._periodic = None
        if boundary == "noflux":
            # fe2's SNES settings are defaults around the setFromOptions that NonlinearProblem runs
            # (for any petsc_options dict, empty included). Not through dolfinx's petsc_options:
            # it writes them under a pushed prefix and its `del opts[k]` then misses them (petsc4py
            # deletes without the pushed prefix), so they would stay in the database under the
            # stable prefix and pass for user options in every later solver.
            with configure_from_defaults(self.prefix, _snes_options(rtol, atol, max_it)):
                self.problem = NonlinearProblem(F, u, petsc_options_prefix=self.prefix, petsc_options={})
            self.snes = self.problem.solver
            return
        # Periodic: u = P û on a mesh whose opposite faces match node for node (a box mesh
        # from dolfinx.mesh.create_rectangle/create_box does). Own Newton on PᵀF(P û) = 0.
        self._periodic = PeriodicNewton(F, u, self.prefix, rtol, atol, max_it, axes=periodic_axes, held=held)
        self.problem = None
        self.snes = None

    @property
    def factorizations(self) -> int:
        """LU factorizations so far: of the periodic Newton (0 with no-flux boundaries), or of the SAV
        scheme's cached operators (one per step size and step kind seen).
        """
        if self._sav is not None:
            return self._sav.factorizations
        return 0 if self._periodic is None else self._periodic.factorizations

    # ---- monitors -------------------------------------------------------------------
    def free_energy(self) -> float:
        return self.comm.allreduce(fem.assemble_scalar(self._energy_form), op=MPI.SUM)

    def mass(self) -> float:
        return self.comm.allreduce(fem.assemble_scalar(self._mass_form), op=MPI.SUM)

    def _trial_monitors(self) -> tuple[float, float]:
        """(F, mass) of the trial state ``u`` after a converged attempt (SAV: from its step, no assembly)."""
        if self._sav is not None:
            return self._sav.trial_monitors()
        return self.free_energy(), self.mass()

    def record(self, dt: float = 0.0, its: int = 0, rejected: int = 0) -> StepRecord:
        return StepRecord(self.step_count, self.t, dt, self.free_energy(), self.mass(), its, rejected)

    # ---- stepping -------------------------------------------------------------------
    def _c_part(self, arr: np.ndarray) -> np.ndarray:
        """The c entries of a state array (all of it for Allen–Cahn)."""
        idx = getattr(self, "_c_dofs", None)
        return arr if idx is None else arr[idx]

    def predictor(self, dt: float) -> np.ndarray:
        """Linear extrapolation cⁿ + (Δt/Δt_prev)(cⁿ − cⁿ⁻¹) of the whole state (local array,
        ghosts included); cⁿ itself before the first accepted step.
        """
        u0 = self.u0.x.array
        if self.dt_prev is None:
            return u0.copy()
        return u0 + (dt / self.dt_prev) * (u0 - self.u_prev.x.array)

    def local_error(self, pred: np.ndarray) -> float:
        """max over nodes of |c − c_pred| for the current trial state (collective)."""
        d = self._c_part(self.u.x.array) - self._c_part(pred)
        return self.comm.allreduce(float(np.abs(d).max()) if d.size else 0.0, op=MPI.MAX)

    def _try_step(self, dt: float, guess: np.ndarray | None = None) -> tuple[bool, int]:
        """One attempt from the stored old state; True when Newton converged to finite values."""
        cn = self.scheme == "secant_cn"
        self.dt_c.value = dt
        self.t_c.value = self.t + dt
        # CN needs a history: its first step is a split-Euler step (L-stable start-up, which
        # damps the stiff modes CN would carry undamped; local error O(Δt²), so order 2 stays)
        first = self.dt_prev is None
        self.startup.value = 1.0 if (cn and first) else 0.0
        self.t_src.value = self.t + (0.5 * dt if (cn and not first) else dt)
        self.extrap_c.value = 0.5 * dt / self.dt_prev if (cn and self.dt_prev is not None) else 0.0
        self._before_solve()
        # initial Newton guess: the old state, or a given predictor
        self.u.x.array[:] = self.u0.x.array if guess is None else guess
        if self._sav is not None:  # linear: two back-substitutions on a cached factorization, no Newton
            try:
                # BDF2 needs the last step at this Δt; after a change of Δt (or at the start) a
                # backward-Euler SAV step restarts it
                restart = self.dt_prev is None or abs(dt - self.dt_prev) > 1e-12 * dt
                self._sav.solve(dt, restart)
                conv, its = True, 0
            except ConvergenceError:
                conv, its = False, 0
        elif self._periodic is not None:
            conv, its = self._periodic.solve()
        else:
            self.problem.solve()
            conv = self.snes.getConvergedReason() > 0
            its = self.snes.getIterationNumber()
        finite = bool(np.isfinite(self.u.x.array).all())
        ok = self.comm.allreduce(int(conv and finite), op=MPI.MIN) == 1
        return ok, its

    def _before_solve(self):
        """Hook: update time-dependent data (none by default)."""

    def _law_pair(self, F_old: float, F_new: float) -> tuple[float, float]:
        """(before, after) of the energy the scheme's law bounds for the trial step: F itself, or for SAV
        the modified energy Ẽ (in the form of the step taken, see :mod:`.sav`).
        """
        if self._sav is None:
            return F_old, F_new
        assert self._sav.e_before is not None and self._sav.e_mod_trial is not None
        return self._sav.e_before, self._sav.e_mod_trial

    def modified_energy(self) -> float:
        """SAV only: Ẽ of the accepted state (collective values computed at the step)."""
        if self._sav is None:
            raise ConfigError(f"{type(self).__name__}: modified_energy() exists for scheme 'sav' only")
        return self._sav.modified_energy

    def _quantize_dt(self, dt: float, dt0: float) -> float:
        """SAV: round a proposed step down onto the ladder dt0·2^(k/4) (k integer), so an adaptive run
        reuses a few cached factorizations; the others take any Δt.
        """
        if self._sav is None or dt <= 0:
            return dt
        k = math.floor(4.0 * math.log2(dt / dt0) + 1e-9)
        return dt0 * 2.0 ** (k / 4.0)

    def _commit(self, dt: float) -> None:
        if self._sav is not None:
            self._sav.commit()
        self.u_prev.x.array[:] = self.u0.x.array
        self.u0.x.array[:] = self.u.x.array
        self.t += dt
        self.dt_prev = dt
        self.step_count += 1

    def step(self, dt: float) -> tuple[bool, int]:
        """Attempt one step of size dt (no step control); on success the new state becomes current."""
        guess = self.predictor(dt) if self.scheme == "secant_cn" else None
        ok, its = self._try_step(dt, guess)
        if ok:
            self._commit(dt)
        else:
            self.u.x.array[:] = self.u0.x.array
        return ok, its

    def run(
        self,
        t_end: float,
        stepping: TimeStepping | None = None,
        *,
        max_steps: int = 100_000,
        callback: Callable[[_GradientFlow, StepRecord], None] | None = None,
        t_stops: list[float] | tuple[float, ...] = (),
    ) -> list[StepRecord]:
        """Integrate to ``t_end``, landing exactly on every time in ``t_stops`` (output times);
        return the monitor records, initial state first.

        Step control (``stepping.adaptive``): a failed Newton solve (or NaN) is retried with
        Δt·cut; with ``energy_increase_rtol`` a step that raised F beyond it is rejected the same
        way (dissipative problems only); with ``error_tol`` a step whose local-error estimate
        exceeds it is rejected and retried with the controller's smaller Δt, and accepted steps
        set the next Δt by the controller. Without ``error_tol`` the Newton-iteration (and
        ``energy_rtol``) heuristics of the module docstring decide.
        """
        ts = stepping or TimeStepping()
        dt = ts.dt
        # the step-0 record is the state the first step starts from (for a periodic run from a
        # non-periodic field: the periodically closed one, initial_energy + seam_energy)
        history = [self.record()] if self.step_count == 0 else []
        E_old = history[0].energy if history else self.free_energy()
        if self.step_count == 0 and callback is not None:
            callback(self, history[0])
        tol = 1e-12 * max(1.0, abs(t_end))
        stops = sorted({float(s) for s in t_stops if s < t_end - tol} | {float(t_end)})
        cn = self.scheme == "secant_cn"
        n_new = 0
        while self.t < t_end - tol and n_new < max_steps:
            t_next = next(s for s in stops if s > self.t + tol)
            dt = min(dt, ts.dt_max)
            dt_try = min(dt, t_next - self.t)
            clipped = dt_try < dt * (1 - 1e-12)
            rejected = 0
            while True:
                p = 2 if self.dt_prev is not None else 1  # order of the estimate (see TimeStepping)
                pred = self.predictor(dt_try)
                ok, its = self._try_step(dt_try, pred if cn else None)
                why, err, E_new, mass_new = None, None, None, math.nan
                if not ok:
                    why = "Newton failed"
                else:
                    E_new, mass_new = self._trial_monitors()
                    law_old, law_new = self._law_pair(E_old, E_new)  # SAV: its modified energy
                    if ts.error_tol is not None:
                        err = self.local_error(pred)
                    rise = ts.energy_increase_rtol
                    rose = rise is not None and self._dissipative and law_new - law_old > rise * abs(law_old)
                    if ts.adaptive and rose:
                        why = f"free energy rose by {law_new - law_old:.3g}"
                    elif ts.adaptive and err is not None and ts.error_tol is not None and err > ts.error_tol:
                        why = "error"
                if why is None:
                    break
                self.u.x.array[:] = self.u0.x.array
                rejected += 1
                if not ts.adaptive:
                    raise ConvergenceError(f"{type(self).__name__}: {why} at t = {self.t:g} "
                                           f"with fixed dt = {dt_try:g}")
                if why == "error":
                    assert err is not None and ts.error_tol is not None  # why is "error" only with both
                    dt_try *= max(ts.ratio_min, ts.safety * (ts.error_tol / err) ** (1.0 / p))
                else:
                    dt_try *= ts.cut
                dt_try = self._quantize_dt(dt_try, ts.dt)
                if dt_try < ts.dt_min:
                    raise ConvergenceError(f"{type(self).__name__}: dt fell below dt_min = {ts.dt_min:g} "
                                           f"at t = {self.t:g} ({why})")
                dt, clipped = dt_try, False
            # the attempt that ended the loop converged: its energy (and error estimate, with error_tol) exist
            assert E_new is not None
            self._commit(dt_try)
            n_new += 1
            rec = StepRecord(self.step_count, self.t, dt_try, E_new, mass_new, its, rejected)
            history.append(rec)
            dE = abs(E_new - E_old) / max(abs(E_old), 1e-300)
            E_old = E_new
            if not ts.adaptive:
                pass
            elif ts.error_tol is not None:
                assert err is not None
                fac = ts.safety * (ts.error_tol / err) ** (1.0 / p) if err > 0 else ts.ratio_max
                dt_new = dt_try * min(max(fac, ts.ratio_min), ts.ratio_max)
                dt = max(dt_new, dt) if clipped else dt_new
                dt = min(max(dt, ts.dt_min), ts.dt_max)
            elif ts.energy_rtol is not None and dE > ts.energy_rtol:
                dt = max(dt_try * ts.shrink, ts.dt_min)
            elif not clipped:
                if its <= ts.fast_its:
                    dt = min(dt_try * ts.grow, ts.dt_max)
                elif its > ts.slow_its:
                    dt = max(dt_try * ts.shrink, ts.dt_min)
                else:
                    dt = dt_try
            dt = self._quantize_dt(dt, ts.dt)
            # the callback sees the step taken and the next proposed step (a checkpoint saves dt_next)
            self.dt_next = dt
            if callback is not None:
                callback(self, rec)
        self.dt_next = dt
        return history

    # ---- state --------------------------------------------------------------------------
    def set_initial_condition(self, c0: Callable[[np.ndarray], np.ndarray] | float) -> None:
        """Interpolate c(x) (callable on a (gdim, n) array, or a constant) as the current state.

        Periodic boundaries: an initial field that is not periodic (e.g. the PFHub BM1 cosines
        on [0, 200]²) is made periodic first — every group of nodes identified by the periodic
        map gets the mean of its interpolated values (û = (PᵀP)⁻¹Pᵀu, u = Pû) — so the first
        step starts from a state of the periodic space, as a constrained FE code would.

        ``initial_energy`` is F of the field as prescribed (interpolated on the box, before the
        closure; it converges to ∫ over the open box of f(c) + κ/2|∇c|², O(h²) for P1);
        ``seam_energy`` is what the closure added (zero for a periodic field; for a non-periodic
        one it grows like 1/h). The closed state is the one the first step starts from, the one
        the step-0 record of :meth:`run` holds and the one its energy law bounds.
        """
        func = c0 if callable(c0) else (lambda x, v=float(c0): np.full(x.shape[1], v))
        self._interpolate_c(func)
        # F of the field as prescribed: its interpolant on the box, every cell (a jump of a
        # non-periodic field across the periodic seam lies on boundary facets, in no cell)
        self.initial_energy = self.free_energy()
        if self.boundary == "periodic":
            self._make_periodic(self.u)
        # the energy the periodic closure added (0 for a periodic field, and for no-flux):
        # ≈ κ/(4h)∮|[c]|² ds over the seam for P1 — it grows like 1/h, the discrete image of the
        # unbounded gradient energy of the jump (docs/phasefield.md, "F(0) on periodic lattices")
        self.seam_energy = self.free_energy() - self.initial_energy
        self.u0.x.array[:] = self.u.x.array
        self.u_prev.x.array[:] = self.u.x.array
        self.dt_prev = None
        self.t = 0.0
        self.step_count = 0

    def _make_periodic(self, u: fem.Function) -> None:
        """u ← the mean over each group of periodically identified nodes (the periodic Newton's map)."""
        assert self._periodic is not None  # _build_solver made the periodic Newton
        self._periodic.make_periodic(u)

    def close(self):
        """Release the SNES / KSP and their matrices (collective)."""
        self.problem = None
        self.snes = None
        if getattr(self, "_periodic", None) is not None:
            self._periodic.destroy()
            self._periodic = None
        if getattr(self, "_sav", None) is not None:
            self._sav.destroy()
            self._sav = None
