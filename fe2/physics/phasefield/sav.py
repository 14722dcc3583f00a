"""Linear, energy-stable second-order Cahn–Hilliard: the scalar auxiliary variable (SAV) scheme, BDF2.

Split F[c] = L[c] + E₁[c] with the quadratic part L = ∫ κ/2|∇c|² + S/2 (c − c_m)² (S ≥ 0, c_m the
mid-point of the wells) and the rest E₁ = ∫ f₁(c), f₁ = f − S/2 (c − c_m)², bounded below (exactly,
for a double well) so that E₁ + C₀ > 0. With r = √(E₁ + C₀) the energy is L[c] + r² − C₀.

BDF2-SAV (Shen, Xu & Yang 2018) at a constant Δt, c̄ = 2cⁿ − cⁿ⁻¹, b = f₁'(c̄)/√(E₁[c̄] + C₀):

    (3cⁿ⁺¹ − 4cⁿ + cⁿ⁻¹, q) + 2Δt M(∇μ, ∇q) = 0
    (μ, v) = κ(∇cⁿ⁺¹, ∇v) + S(cⁿ⁺¹ − c_m, v) + rⁿ⁺¹ (b, v)
    3rⁿ⁺¹ − 4rⁿ + rⁿ⁻¹ = ½ (b, 3cⁿ⁺¹ − 4cⁿ + cⁿ⁻¹).

Testing with q = μ, v = 3cⁿ⁺¹ − 4cⁿ + cⁿ⁻¹ and 2(a, 3a − 4b + c) = |a|² + |2a − b|² − |b|² − |2b − c|²
+ |a − 2b + c|² gives Ẽⁿ⁺¹ − Ẽⁿ ≤ −Δt M∫|∇μⁿ⁺¹|² for the modified energy

    Ẽⁿ⁺¹ = ½(L[cⁿ⁺¹] + L[2cⁿ⁺¹ − cⁿ]) + ½((rⁿ⁺¹)² + (2rⁿ⁺¹ − rⁿ)²) − C₀     (≈ F[cⁿ⁺¹]),

for every Δt. The first step (no cⁿ⁻¹), and the first step after a change of Δt, is the
backward-Euler SAV step (cⁿ⁻¹ → cⁿ, 3/2 → 1, c̄ = cⁿ), local error O(Δt²), for which
Ẽ_BE = L[c] + r² − C₀ satisfies the same inequality; so a run at piecewise-constant Δt with a
bounded number of changes keeps order 2. Every inequality holds exactly in the discrete setting:
each term is one of the assembled bilinear forms and the test functions lie in the trial space.

**Relaxation** (``relaxation`` = η, Jiang, Zhang, Zhao & Shen's relaxed SAV): plain SAV lets r
drift from √(E₁[c] + C₀), so Ẽ (which decreases) and F part. After each step r is moved towards
the consistent value as far as the law allows: the r-part of Ẽ may grow by at most η times the
step's decrease of Ẽ, so Ẽ still falls by ≥ (1 − η)·(its decrease) ≥ 0 — unconditional stability is
kept and Ẽ tracks F.

Each step is **linear with a constant operator**: eliminating rⁿ⁺¹ leaves (A − ½ B Cᵀ) x = R with
A the (c, μ) block matrix (mass, Δt' M stiffness, κ stiffness, S mass; Δt' = 2Δt/3, or Δt for a
backward-Euler step: constant for fixed Δt and M), B = (0, b) and C = (b, 0) vectors;
Sherman–Morrison solves it with two back-substitutions A y = R, A z = B on one factorization (sparse
LU of PᵀAP with periodic boundaries, :func:`ksp_defaults`). The factorizations are cached per Δt': a
run at fixed Δt factorizes twice in all (the start-up step and the BDF2 steps); the cache keeps the
last ``CACHE_SIZE``.

**Cost of a step**: two back-substitutions, one vector assembly (b) and two scalar assemblies
(E₁[c̄], E₁[cⁿ⁺¹]); the quadratic energies L[·] and the mass are matrix–vector products with
matrices assembled once (L is quadratic, so these equal the quadrature of its form to round-off),
and F[cⁿ⁺¹] = E₁[cⁿ⁺¹] + L[cⁿ⁺¹] is handed to the time loop (:meth:`SAVSystem.trial_monitors`).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2.errors import ConfigError, ConvergenceError, SolverError
from fe2.physics.phasefield.energies import BulkEnergy, DoubleWell
from fe2.solvers import ConstrainedSystem, create_ksp

#: the linear solver of each cached operator: one sparse LU, reused for every back-substitution —
#: MUMPS on several ranks and for large systems; on one rank, up to SERIAL_LU_MAX unknowns, PETSc's own
#: LU in nested-dissection order, whose triangular solves are faster than MUMPS's on this (c, μ) system
#: while its factorization grows faster (PFHub 1a, SAV steps of Δt = 1, one rank; per step / the two
#: factorizations, PETSc vs MUMPS: 100² (2·10⁴ unknowns) 13.1 vs 17.3 ms / 0.60 vs 0.27 s; 200²
#: (8·10⁴) 51 vs 73 ms / 5.3 vs 1.4 s; 400² (3.2·10⁵) 0.20 vs 0.33 s / 51 vs 10 s: PETSc's LU pays off
#: after ≈ 80 / 180 / 320 steps). PETSc's LU does not pivot, and its zero-pivot test is absolute
#: (2.2e-14 by default), while the c-rows scale like h² — a problem posed in metres on sub-micrometre
#: cells would be refused — so that test is off (``pc_factor_zeropivot`` 0); instead the first solve
#: with each factorization is checked (normwise backward error ≤ RESIDUAL_CHECK), so a bad
#: factorization is a SolverError (not a step the time loop retries at a smaller Δt), never a wrong step.
KSP_DEFAULTS_SERIAL = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "petsc",
                       "pc_factor_mat_ordering_type": "nd", "pc_factor_zeropivot": 0.0}
KSP_DEFAULTS_PARALLEL = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
#: the normwise backward error ‖A y − R‖∞ / (‖A‖∞ ‖y‖∞ + ‖R‖∞) the first back-substitution of every
#: factorization must reach (independent of the scaling of the c- and μ-rows; a backward-stable LU gives
#: ≈ 1e-16)
RESIDUAL_CHECK = 1e-10


#: the largest system (global unknowns of the factorized operator) PETSc's LU takes by default on one rank
SERIAL_LU_MAX = 50_000


def ksp_defaults(comm: MPI.Comm, prefix: str, size: int) -> dict:
    """The SAV KSP defaults for an operator of ``size`` global unknowns on ``comm`` (under ``prefix`` the
    user's options win; a user's ``pc_factor_mat_solver_type`` other than petsc also drops the nested-
    dissection ordering, which MUMPS would otherwise be handed as its ordering).
    """
    opts, key = PETSc.Options(), prefix + "pc_factor_mat_solver_type"
    user = opts.getString(key) if opts.hasName(key) else None
    petsc_lu = user == "petsc" or (user is None and comm.size == 1 and size <= SERIAL_LU_MAX)
    return KSP_DEFAULTS_SERIAL if petsc_lu else KSP_DEFAULTS_PARALLEL


def sav_constants(energy: BulkEnergy, stabilization: float | None) -> tuple[float, float, float]:
    """(S, c_m, f₁_min) for a double well: S = ρ(cβ − cα)² by default (half of f'' at the wells,
    2ρ(cβ − cα)²; smaller S blew up on PFHub 1a at Δt = 2), c_m = (cα + cβ)/2, and the minimum of
    f₁ = f − S/2 (c − c_m)², −S h²/2 − S²/(16ρ) with h = (cβ − cα)/2 (exact: f₁ = ρ(x² − h²)² − S x²/2).
    """
    if not isinstance(energy, DoubleWell):
        raise ConfigError(f"scheme 'sav' needs a DoubleWell energy (its lower bound is exact), "
                          f"got {type(energy).__name__}")
    h = 0.5 * (energy.c_beta - energy.c_alpha)
    S = 4.0 * energy.rho * h * h if stabilization is None else float(stabilization)
    if not (math.isfinite(S) and S >= 0):
        raise ConfigError(f"sav_stabilization must be finite and >= 0, got {stabilization}")
    c_m = 0.5 * (energy.c_alpha + energy.c_beta)
    f1_min = -S * h * h / 2.0 - S * S / (16.0 * energy.rho)
    return S, c_m, f1_min


class SAVSystem:
    """The operators, factorizations and step of the CN-SAV Cahn–Hilliard scheme (module docstring).

    Args:
        W: the blocked (c, μ) P_k space; ``u`` (trial), ``u0`` (cⁿ), ``u_prev`` (cⁿ⁻¹) live on it.
        dx: the measure (one quadrature rule for operator, right-hand side and energies).
        kappa, mobility: κ > 0 and a constant M > 0.
        energy: a DoubleWell; ``stabilization``: S (None: ρ(cβ − cα)²).
        P: periodic prolongation (full → reduced) or None (no-flux).
        prefix: options prefix of the KSPs (``fe2_ch_``).
    """

    CACHE_SIZE = 4

    def __init__(self, W, u: fem.Function, u0: fem.Function, u_prev: fem.Function, dx, kappa: float,
                 mobility: float, energy: BulkEnergy, stabilization: float | None, P: PETSc.Mat | None,
                 prefix: str, relaxation: float | None = 0.9) -> None:
        self.comm: MPI.Comm = W.mesh.comm
        self.u, self.u0, self.u_prev, self.P, self.prefix = u, u0, u_prev, P, prefix
        S, c_m, f1_min = sav_constants(energy, stabilization)
        self.S, self.c_m = S, c_m
        trial, test = ufl.TrialFunction(W), ufl.TestFunction(W)
        c, mu, q, v = trial[0], trial[1], test[0], test[1]
        # m = (1, q): the mass functional; |Ω| = Σ m_i summed exactly per rank (math.fsum): a plain
        # running sum of ~10⁴ near-equal cell terms drifts by ~n·ε (1.9e-12 relative on 100², one rank),
        # which would shift L and F by a partition-dependent constant
        self._m = fem_petsc.assemble_vector(fem.form(1.0 * q * dx))
        self._m.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        vol = self.comm.allreduce(math.fsum(self._m.getArray(readonly=True)), op=MPI.SUM)
        # E₁ + C₀ ≥ |Ω|·(f₁_min + C₀/|Ω|) > 0: C₀ = |Ω|(−f₁_min + ρh⁴), the barrier height ρh⁴ as margin
        assert isinstance(energy, DoubleWell)  # sav_constants checked it
        h = 0.5 * (energy.c_beta - energy.c_alpha)
        self.C0 = vol * (-f1_min + energy.rho * h**4)
        mesh = W.mesh
        self.dt = fem.Constant(mesh, PETSc.ScalarType(1.0))  # Δt' of the operator being assembled
        k = float(kappa)
        S_c = fem.Constant(mesh, PETSc.ScalarType(S))  # a Constant, so that S = 0 leaves the forms' shape
        self._a = fem.form(c * q * dx + self.dt * float(mobility) * ufl.inner(ufl.grad(mu), ufl.grad(q)) * dx
                           + mu * v * dx - k * ufl.inner(ufl.grad(c), ufl.grad(v)) * dx
                           - S_c * c * v * dx)
        # the right-hand side's mass matrix, acting on the c part of ĉ (its μ columns are empty)
        self._n = fem.form(c * q * dx)
        self._const = fem.form(-S_c * c_m * v * dx)
        self.c_bar = fem.Function(W, name="c_bar")
        cb = self.c_bar[0]
        self._f1 = lambda z: energy.f(z) - 0.5 * S * (z - c_m) ** 2
        zb = ufl.variable(cb)
        df1 = ufl.diff(self._f1(zb), zb)
        self._b_form = fem.form(df1 * (q + v) * dx)
        self._E1_bar = fem.form(self._f1(cb) * dx)
        self._E1_u = fem.form(self._f1(u[0]) * dx)
        # L[z] = ½ zᵀ K z − S c_m (m, z) + ½ S c_m² |Ω| with K the c-block of κ(∇·,∇·) + S(·,·) and m = (1, q)
        self._K = fem_petsc.assemble_matrix(fem.form((k * ufl.inner(ufl.grad(c), ufl.grad(q)) + S_c * c * q) * dx))
        self._K.assemble()
        self._L_const = 0.5 * S * c_m * c_m * vol
        self._Kz, self._z2 = self._m.duplicate(), self._m.duplicate()
        self._la_lb: tuple[float, float] | None = None  # (L[cⁿ⁺¹], L[2cⁿ⁺¹ − cⁿ]) of the trial state
        self._e1_trial: float | None = None  # E₁[cⁿ⁺¹] of the trial state
        self._c_hat = fem.Function(W, name="c_hat")
        bs = W.dofmap.index_map_bs
        n_owned = W.dofmap.index_map.size_local * bs
        self._c_rows = np.arange(0, n_owned, bs)  # owned c entries of a blocked (c, μ) vector
        self._mu_rows = np.arange(1, n_owned, bs)
        self._cache: OrderedDict[float, tuple] = OrderedDict()
        self._mass = fem_petsc.assemble_matrix(self._n)
        self._mass.assemble()
        self._cvec = fem_petsc.assemble_vector(self._const)
        self._cvec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        self._bvec = fem_petsc.assemble_vector(self._b_form)
        self._B, self._C, self._R = (self._bvec.duplicate() for _ in range(3))
        self.factorizations = 0
        self.relaxation = _check_relaxation(relaxation)
        self.r: float | None = None  # rⁿ (accepted)
        self.r_prev: float | None = None  # rⁿ⁻¹
        # Ẽ of the accepted state in both forms: backward Euler L[cⁿ] + (rⁿ)² − C₀, and BDF2 (with cⁿ⁻¹)
        self.e_be: float | None = None
        self.e_bdf2: float | None = None
        self.r_trial: float | None = None
        self.e_before: float | None = None  # Ẽ of the step's start, in the form of the step taken
        self.e_mod_trial: float | None = None  # Ẽ of the trial state, same form
        self._trial_forms: tuple[float, float] | None = None

    # ---- the scalar variable and the modified energy ------------------------------------------
    def _scalar(self, form) -> float:
        return self.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)

    def r_of_state(self) -> float:
        """√(E₁[c] + C₀) of the trial state ``u`` (the consistent r; collective)."""
        e1 = self._scalar(self._E1_u)
        self._e1_trial = e1
        e = e1 + self.C0
        if not e > 0:
            raise ConvergenceError(f"SAV: E1 + C0 = {e:g} <= 0 (c far outside the wells)")
        return math.sqrt(e)

    def _quadratic(self, z: PETSc.Vec) -> float:
        """L[z] for a (c, μ) vector z (its μ entries do not enter; collective)."""
        self._K.mult(z, self._Kz)
        return 0.5 * self._Kz.dot(z) - self.S * self.c_m * self._m.dot(z) + self._L_const

    def _trial_quadratics(self) -> tuple[float, float]:
        """(L[cⁿ⁺¹], L[2cⁿ⁺¹ − cⁿ]) of the trial state ``u`` with ``u0`` the level before (collective)."""
        u = self.u.x.petsc_vec
        self._z2.waxpy(-1.0, self.u0.x.petsc_vec, u)  # u − u0
        self._z2.axpy(1.0, u)  # 2u − u0
        return self._quadratic(u), self._quadratic(self._z2)

    def _energies(self, r: float, r_old: float) -> tuple[float, float]:
        """(Ẽ_BE, Ẽ_BDF2) of the trial state ``u`` (with ``u0`` as the level before) for scalars r, r_old;
        L[·] of the trial state once per step (``_la_lb``).
        """
        if self._la_lb is None:
            self._la_lb = self._trial_quadratics()
        la, lb = self._la_lb
        return la + r * r - self.C0, 0.5 * (la + lb + r * r + (2 * r - r_old) ** 2) - self.C0

    def trial_monitors(self) -> tuple[float, float]:
        """(F[cⁿ⁺¹], ∫cⁿ⁺¹) of the trial state after :meth:`solve`: E₁ + L, and (m, u) (collective)."""
        if self._e1_trial is None:
            self.r_of_state()
        assert self._e1_trial is not None and self._la_lb is not None
        return self._e1_trial + self._la_lb[0], self._m.dot(self.u.x.petsc_vec)

    # ---- operators ----------------------------------------------------------------------------
    def _operator(self, dt_eff: float):
        if dt_eff in self._cache:
            self._cache.move_to_end(dt_eff)
            return self._cache[dt_eff]
        self.dt.value = dt_eff
        A = fem_petsc.assemble_matrix(self._a)
        A.assemble()
        system = None if self.P is None else ConstrainedSystem(A, self.P)
        op = A if system is None else system.reduced
        ksp = create_ksp(self.comm, self.prefix, ksp_defaults(self.comm, self.prefix, op.getSize()[0]), (op,),
                         setup=True)
        self.factorizations += 1
        x, y, z, rhs = op.createVecRight(), op.createVecRight(), op.createVecRight(), op.createVecLeft()
        entry = (A, system, ksp, x, y, z, rhs, [False])  # last: the factorization passed its residual check
        self._cache[dt_eff] = entry
        while len(self._cache) > self.CACHE_SIZE:
            _destroy(self._cache.popitem(last=False)[1])
        return entry

    def _restrict(self, system, full: PETSc.Vec, red: PETSc.Vec) -> None:
        if system is None:
            full.copy(red)
        else:
            system.restrict(full, red)

    # ---- one step -----------------------------------------------------------------------------
    def solve(self, dt: float, restart: bool) -> None:
        """uⁿ⁺¹ (into ``u``), r_trial, Ẽ (``e_before``, ``e_mod_trial``) from uⁿ = ``u0``, uⁿ⁻¹ = ``u_prev``:
        a BDF2 step, or with ``restart`` (no usable cⁿ⁻¹ at this Δt) a backward-Euler step. Collective;
        raises ConvergenceError on a failed solve.
        """
        if self.r is None or self.e_be is None:
            raise RuntimeError("SAVSystem.solve before the scalar variable was initialised (set_r)")
        if not restart and (self.r_prev is None or self.e_bdf2 is None):
            restart = True
        u0, up = self.u0.x.array, self.u_prev.x.array
        self._la_lb, self._e1_trial = None, None  # the trial state's energies, computed once below
        if restart:  # backward Euler: Δt' = Δt, ĉ = cⁿ, r̂ = rⁿ, c̄ = cⁿ
            dt_eff, r_hat, self.e_before = dt, self.r, self.e_be
            self._c_hat.x.array[:] = u0
            self.c_bar.x.array[:] = u0
        else:  # BDF2: Δt' = 2Δt/3, ĉ = (4cⁿ − cⁿ⁻¹)/3, r̂ = (4rⁿ − rⁿ⁻¹)/3, c̄ = 2cⁿ − cⁿ⁻¹
            assert self.r_prev is not None
            dt_eff, r_hat, self.e_before = 2.0 * dt / 3.0, (4.0 * self.r - self.r_prev) / 3.0, self.e_bdf2
            self._c_hat.x.array[:] = (4.0 * u0 - up) / 3.0
            self.c_bar.x.array[:] = 2.0 * u0 - up
        _, system, ksp, x, y, z, rhs, checked = self._operator(dt_eff)
        s2 = self._scalar(self._E1_bar) + self.C0
        if not s2 > 0:
            raise ConvergenceError(f"SAV: E1 + C0 = {s2:g} <= 0 at the extrapolated state")
        with self._bvec.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(self._bvec, self._b_form)
        self._bvec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        self._bvec.scale(1.0 / math.sqrt(s2))
        bv = self._bvec.getArray(readonly=True)
        B, C = self._B.getArray(), self._C.getArray()
        B[:], C[:] = 0.0, 0.0
        B[self._mu_rows], C[self._c_rows] = bv[self._mu_rows], bv[self._c_rows]
        del B, C, bv
        c_hat = self._c_hat.x.petsc_vec
        bc_hat = self._C.dot(c_hat)  # (b, ĉ)
        # R = mass ĉ + const + (r̂ − ½(b, ĉ)) B
        self._mass.mult(c_hat, self._R)
        self._R.axpy(1.0, self._cvec)
        self._R.axpy(r_hat - 0.5 * bc_hat, self._B)
        self._restrict(system, self._R, rhs)
        ksp.solve(rhs, y)
        ok_y = ksp.getConvergedReason() > 0
        if not checked[0]:  # the first solve with a new factorization: its backward error
            op = ksp.getOperators()[0]
            res = rhs.duplicate()
            op.mult(y, res)
            res.axpy(-1.0, rhs)
            inf = PETSc.NormType.NORM_INFINITY
            rel = res.norm(inf) / max(op.norm(inf) * y.norm(inf) + rhs.norm(inf), 1e-300)
            res.destroy()
            if not rel <= RESIDUAL_CHECK:  # the same norms on every rank: all raise together
                reason = self.comm.allreduce(int(ksp.getConvergedReason()), op=MPI.MIN)
                raise SolverError(f"SAV: the LU back-substitution has backward error {rel:.3g} > "
                                  f"{RESIDUAL_CHECK:g} (Δt' = {dt_eff:g}, PETSc reason {reason}); check the "
                                  f"-{self.prefix}* solver options")
            checked[0] = True
        self._restrict(system, self._B, rhs)
        ksp.solve(rhs, z)
        ok = self.comm.allreduce(int(ok_y and ksp.getConvergedReason() > 0), op=MPI.MIN) == 1
        if not ok:
            raise ConvergenceError(f"SAV: the linear solve failed (PETSc reason {ksp.getConvergedReason()})")
        self._restrict(system, self._C, rhs)  # Ĉ (= PᵀC) in rhs: the reduced c-part functional
        cy, cz = rhs.dot(y), rhs.dot(z)
        denom = 1.0 - 0.5 * cz
        if not (math.isfinite(denom) and denom > 0):
            raise ConvergenceError(f"SAV: Sherman–Morrison denominator {denom:g} is not positive")
        y.copy(x)
        x.axpy(0.5 * cy / denom, z)
        bc_new = rhs.dot(x)  # (b, cⁿ⁺¹)
        if system is None:
            x.copy(self.u.x.petsc_vec)
        else:
            system.expand(x, self.u.x.petsc_vec, ghosts=False)
        self.u.x.scatter_forward()
        r_sav = r_hat + 0.5 * (bc_new - bc_hat)
        self.r_trial = r_sav if self.relaxation is None else self._relaxed(r_sav, restart)
        e_be, e_bdf2 = self._energies(self.r_trial, self.r)
        self._trial_forms = (e_be, e_bdf2)
        self.e_mod_trial = e_be if restart else e_bdf2

    def _relaxed(self, r_sav: float, restart: bool) -> float:
        """r moved from r_sav towards √(E₁[cⁿ⁺¹] + C₀) while its part of Ẽ grows by at most η·D, D ≥ 0 the
        step's decrease of Ẽ (in the form of the step: r² for backward Euler, ½(r² + (2r − rⁿ)²) for BDF2).
        """
        assert self.e_before is not None and self.relaxation is not None and self.r is not None
        rn = self.r
        e_be, e_bdf2 = self._energies(r_sav, rn)
        decrease = max(self.e_before - (e_be if restart else e_bdf2), 0.0)
        # the r-part as α r² + β r + γ: r² (BE), (5r² − 4 r rⁿ + (rⁿ)²)/2 (BDF2)
        al, be, ga = (1.0, 0.0, 0.0) if restart else (2.5, -2.0 * rn, 0.5 * rn * rn)
        bound = al * r_sav * r_sav + be * r_sav + ga + self.relaxation * decrease
        disc = max(be * be - 4.0 * al * (ga - bound), 0.0)
        lo, hi = (-be - math.sqrt(disc)) / (2 * al), (-be + math.sqrt(disc)) / (2 * al)
        return min(max(self.r_of_state(), lo), hi)  # r_sav lies in [lo, hi]

    def commit(self) -> None:
        """The trial state's scalar variable and modified energies become the accepted ones."""
        assert self._trial_forms is not None
        self.r_prev, self.r = self.r, self.r_trial
        self.e_be, self.e_bdf2 = self._trial_forms

    def set_r(self, r: float, r_prev: float | None = None) -> None:
        """rⁿ (and rⁿ⁻¹ if known) of the accepted state ``u0`` (with ``u_prev`` the level before); a start
        passes √(E₁ + C₀), a restart the checkpoint's values. Collective.
        """
        self.u.x.array[:] = self.u0.x.array
        self.r, self.r_prev = float(r), (None if r_prev is None else float(r_prev))
        self.e_be = self._quadratic(self.u.x.petsc_vec) + self.r * self.r - self.C0
        self.e_bdf2 = None
        self._la_lb = None
        if self.r_prev is not None:
            # Ẽ_BDF2 at (cⁿ, cⁿ⁻¹): the forms see u as the new and u0 as the old level
            self.u.x.array[:] = self.u_prev.x.array
            keep = self.u0.x.array.copy()
            self.u0.x.array[:] = self.u_prev.x.array
            self.u.x.array[:] = keep
            _, self.e_bdf2 = self._energies(self.r, self.r_prev)
            self._la_lb = None
            self.u0.x.array[:] = keep

    @property
    def modified_energy(self) -> float:
        """Ẽ of the accepted state in the form of the last step (BDF2 once a BDF2 step was taken)."""
        e = self.e_bdf2 if self.e_bdf2 is not None else self.e_be
        assert e is not None
        return e

    def destroy(self) -> None:
        """Release the cached operators, KSPs and vectors (collective)."""
        while self._cache:
            _destroy(self._cache.popitem()[1])
        self._mass.destroy()
        self._K.destroy()
        for v in (self._cvec, self._bvec, self._B, self._C, self._R, self._m, self._Kz, self._z2):
            v.destroy()


def _check_relaxation(eta: float | None) -> float | None:
    if eta is not None and not (math.isfinite(eta) and 0.0 <= eta <= 1.0):
        raise ConfigError(f"sav_relaxation must lie in [0, 1] (or None: no relaxation), got {eta}")
    return None if eta is None else float(eta)


def _destroy(entry) -> None:
    A, system, ksp, *vecs, _checked = entry
    ksp.destroy()
    if system is not None:
        system.destroy()
    A.destroy()
    for v in vecs:
        v.destroy()
