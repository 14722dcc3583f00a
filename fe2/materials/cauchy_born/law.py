"""The Cauchy–Born hyperelastic law: W(F) = lattice energy per reference volume, P and ∂P/∂F exact.

Cauchy–Born rule: under a homogeneous deformation F every reference bond D of a perfect lattice
becomes x = F D (+ p_β − p_α, the relative inner shift of its two basis atoms for a lattice with a
basis). With a pair potential φ the energy per reference volume is

    W(F, p) = 1/(2 Ω) Σ_bonds φ(|x_b|),     x_b = F D_b + p_β(b) − p_α(b),

the sum over the bonds of all basis atoms of one primitive cell (each pair counted from both ends,
hence 1/2) and Ω the reference cell volume (area in 2D). For a simple cubic lattice with first and
second neighbours this is W = a⁻³ [Σᵢ φ(a|cᵢ|) + Σ_{i<j} (φ(a|cᵢ+cⱼ|) + φ(a|cᵢ−cⱼ|))], cᵢ = F eᵢ.

Exact derivatives. With r = |x|, e = x/r, ∂r/∂x = e and ∂e/∂x = (I − e⊗e)/r, so per bond the
force g = φ′(r) e and the bond stiffness H = φ″ e⊗e + (φ′/r)(I − e⊗e) are exact, and by the chain
rule (x linear in F and p)

    P_iJ      = ∂W/∂F_iJ      = c Σ g_i D_J                      (c = 1/(2Ω))
    A_iJkL    = ∂²W/∂F_iJ∂F_kL = c Σ H_ik D_J D_L
    ∂W/∂p_γ   = c Σ g B_bγ,    ∂²W/∂p_γ∂p_η = c Σ H B_bγ B_bη,    ∂²W/∂F_iJ∂p_γk = c Σ H_ik D_J B_bγ

with the incidence B_bγ = δ_{β(b)γ} − δ_{α(b)γ} (atom 0 is held: translations are not shifts).
These are the derivatives of the very sum that gives W (no finite differences, no series): P and
A are exact to round-off wherever φ is twice differentiable at every bond length — i.e. except
when a bond length equals a truncation cutoff, where the force of a truncated-and-shifted φ
jumps (:mod:`~fe2.materials.cauchy_born.potentials`). The tests compare A with central
differences of P.

Inner relaxation (a lattice with a basis). For each F the shifts solve ∂W/∂p = 0 by Newton on the
(nb−1)·d unknowns per point (all points at once), started from the committed (or guessed) shift;
then P = ∂W/∂F at the relaxed p (the ∂W/∂p term vanishes) and the tangent is condensed
consistently, dp/dF = −W_pp⁻¹ W_pF:

    A_cond = W_FF − W_Fp W_pp⁻¹ W_pF.

Reference configuration. The lattice parameter a₀ is computed, not assumed: W along the isotropic
dilation F = λI is scanned and its minimum polished by Newton (dW/dλ = P : I, d²W/dλ² = I : A : I),
so P(I) = 0 to round-off; a basis is relaxed at F = I and its relaxed positions become the
reference ones (the reference shift is 0).

Bond list. Bonds are fixed in the reference (the Cauchy–Born convention): with a potential cutoff
r_c, every reference bond shorter than r_c / s_min (``min_stretch`` s_min, default 0.6) is kept,
so for any F whose smallest principal stretch is ≥ s_min the sum equals the truncated sum over the
*deformed* lattice (what an atomistic code computes); an F with a smaller stretch is inadmissible.
With ``shells`` (or a lattice's default, e.g. simple cubic: 2) the first shells are kept instead.

Diagnostics (point fields, :meth:`CauchyBornLaw.point_fields`): ``cb_ellipticity`` = min over N of
the smallest eigenvalue of the acoustic tensor Q(N) (:mod:`~fe2.materials.cauchy_born.ellipticity`)
and ``cb_ellipticity_lost_flag`` = 1 where it is ≤ 0; for a basis lattice also
``cb_inner_unconverged_flag`` (the Newton on the shifts did not converge or its Hessian W_pp is not
positive definite: the relaxed shift is no minimum), ``cb_inner_iterations`` and
``cb_shift_jump`` (|p − p_committed| / a₀; a jump between steps signals a basis instability).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from fe2.errors import MaterialError
from fe2.materials.cauchy_born.ellipticity import acoustic_min_eigenvalue
from fe2.materials.cauchy_born.lattices import Bonds, Lattice, bonds
from fe2.materials.cauchy_born.potentials import PairPotential
from fe2.materials.contract import BatchedState, InadmissibleDriverError, Kind, MicroModel, check_driver

__all__ = ["CauchyBornLaw", "CauchyBornState"]


@dataclasses.dataclass
class CauchyBornState(BatchedState):
    """Per point: the last F (row-major), the relaxed inner shift, and the relaxation diagnostics.

    No history: the stress depends on F only; the shift is kept as the start of the next relaxation
    and to detect jumps.
    """

    deformation: np.ndarray  # (n, d*d)
    shift: np.ndarray  # (n, (nb-1)*d)
    inner_iterations: np.ndarray  # (n,)
    inner_unconverged: np.ndarray  # (n,) 1.0 / 0.0
    shift_jump: np.ndarray  # (n,)


@dataclasses.dataclass
class _Sums:
    energy: np.ndarray  # (n,)
    stress: np.ndarray  # (n, d, d)
    tangent: np.ndarray  # (n, d, d, d, d)
    grad_p: np.ndarray  # (n, s)
    hess_pp: np.ndarray  # (n, s, s)
    hess_fp: np.ndarray  # (n, d, d, s)


class CauchyBornLaw(MicroModel[CauchyBornState]):
    """Cauchy–Born hyperelastic law of a pair potential on a lattice (``kind = "finite_strain"``).

    Args:
        potential: the pair potential.
        lattice: the lattice (its dimension is the law's; 2D lattices give a plane law: energy per
            area, stresses in energy/length²).
        shells: keep the first ``shells`` neighbour shells (default: the lattice's default, else
            all bonds within the potential's cutoff).
        min_stretch: smallest admissible principal stretch (the bond-list margin, see above).
        inner_tol: Newton tolerance on |∂W/∂p| relative to the stress scale / a₀.
        inner_max_it: Newton iterations of the inner relaxation.
    """

    kind: Kind = "finite_strain"
    uses_guess = True

    def __init__(self, potential: PairPotential, lattice: Lattice, *, shells: int | None = None,
                 min_stretch: float = 0.6, inner_tol: float = 1e-12, inner_max_it: int = 30) -> None:
        if shells is None:
            shells = lattice.default_shells if potential.cutoff is None else None
        if shells is None and potential.cutoff is None:
            raise MaterialError(f"the {lattice.name} lattice needs a potential cutoff or a number of shells")
        if not (0.0 < min_stretch <= 1.0):
            raise MaterialError(f"min_stretch must be in (0, 1], got {min_stretch}")
        self.potential, self.lattice, self.shells = potential, lattice, shells
        self.min_stretch = float(min_stretch)
        self.dim = lattice.dim
        self.n_shift = (lattice.n_basis - 1) * lattice.dim
        self.inner_tol, self.inner_max_it = float(inner_tol), int(inner_max_it)
        self.lattice_parameter = self._equilibrium_parameter()

    # ------------------------------------------------------------------ set-up
    def _build(self, a: float, lat: Lattice) -> None:
        radius = None if self.shells is not None else self.potential.cutoff / self.min_stretch  # type: ignore[operator]
        self.bonds: Bonds = bonds(lat, a, radius=radius, shells=self.shells)
        self._inc = self.bonds.incidence
        self._c = 0.5 / (lat.cell_volume * a**self.dim)
        self._a = a

    def _equilibrium_parameter(self) -> float:
        """a₀ minimizing W along F = λI (scan, then Newton), with the basis relaxed there."""
        lat, d = self.lattice, self.dim
        nn = min(np.linalg.norm(bonds(lat, 1.0, shells=1).d, axis=1))
        a = self.potential.length_scale / nn
        for _ in range(4):  # rebuilding the bond list at the new a changes it at most slightly
            self._build(a, lat)
            lam = np.linspace(max(self.min_stretch, 0.7), 1.3, 121)
            eye = np.eye(d).reshape(1, d * d)
            w = self._relaxed(lam[:, None] * eye, np.zeros((lam.size, self.n_shift)))[0].energy
            if np.argmin(w) in (0, lam.size - 1):
                raise MaterialError(
                    f"the {lat.name} lattice with this potential has no energy minimum along the dilation near "
                    f"a = {a:.4g} (within a factor {lam[0]:.2f} .. {lam[-1]:.2f}): it collapses or falls apart")
            x = float(lam[np.argmin(w)])
            for _ in range(50):
                s, p, _, _ = self._relaxed(x * eye, np.zeros((1, self.n_shift)))
                g = np.einsum("ii->", s.stress[0])
                h = np.einsum("iikk->", p[0])
                if not h > 0.0:
                    raise MaterialError(f"the {lat.name} lattice has no stable lattice parameter near a = {a * x:.4g}")
                step = g / h
                x -= step
                if abs(step) < 1e-15:
                    break
            a_new = a * x
            if lat.n_basis > 1:  # the relaxed basis at F = I becomes the reference one
                _, _, shift, _ = self._relaxed(x * eye, np.zeros((1, self.n_shift)))
                moved = lat.basis.copy()
                moved[1:] += shift.reshape(-1, d) / a_new
                lat = lat.with_basis(moved)
            if abs(a_new - a) < 1e-14 * a and self.bonds.d.shape[0] == bonds_count(self, lat, a_new):
                a = a_new
                break
            a = a_new
        self.lattice = lat
        self._build(a, lat)
        return a

    # ------------------------------------------------------------------ the bond sums
    def _sums(self, f: np.ndarray, p: np.ndarray, need_tangent: bool = True) -> _Sums:
        """Energy, stress, tangent and shift derivatives at F ``(n, d, d)``, shifts ``(n, s)``."""
        d, n = self.dim, f.shape[0]
        dvec, inc, c = self.bonds.d, self._inc, self._c
        x = np.einsum("nij,bj->nbi", f, dvec)
        if self.n_shift:
            x += np.einsum("bg,ngi->nbi", inc, p.reshape(n, -1, d))
        r = np.linalg.norm(x, axis=2)
        e = x / r[..., None]
        phi, d1 = self.potential.phi(r), self.potential.dphi(r)
        g = d1[..., None] * e
        energy = c * phi.sum(axis=1)
        stress = c * np.einsum("nbi,bj->nij", g, dvec)
        grad_p = c * np.einsum("nbi,bg->ngi", g, inc).reshape(n, -1)
        s = self.n_shift
        if not need_tangent:
            z = np.zeros((n, 0))
            return _Sums(energy, stress, z, grad_p, z, z)
        d2 = self.potential.d2phi(r)
        ee = np.einsum("nbi,nbk->nbik", e, e)
        h = (d2 - d1 / r)[..., None, None] * ee + (d1 / r)[..., None, None] * np.eye(d)
        tangent = c * np.einsum("nbik,bj,bl->nijkl", h, dvec, dvec)
        if s:
            hess_pp = c * np.einsum("nbik,bg,bh->ngihk", h, inc, inc).reshape(n, s, s)
            hess_fp = c * np.einsum("nbik,bj,bg->nijgk", h, dvec, inc).reshape(n, d, d, s)
        else:
            hess_pp, hess_fp = np.zeros((n, 0, 0)), np.zeros((n, d, d, 0))
        return _Sums(energy, stress, tangent, grad_p, hess_pp, hess_fp)

    def _relaxed(self, driver: np.ndarray, shift0: np.ndarray
                 ) -> tuple[_Sums, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Relax the shifts from ``shift0``; returns the sums there, the condensed tangent ``(n, d,d,d,d)``,
        the relaxed shifts ``(n, s)`` and the diagnostics (iterations, unconverged flag).
        """
        d = self.dim
        f = np.asarray(driver, dtype=float).reshape(-1, d, d)
        n, s = f.shape[0], self.n_shift
        shift = np.array(shift0, dtype=float).reshape(n, s)
        iters = np.zeros(n)
        bad = np.zeros(n)
        sums = self._sums(f, shift)
        if s:
            scale = self.inner_tol * max(float(np.abs(sums.stress).max(initial=0.0)), self._c * 1e-3) / self._a
            active = np.ones(n, dtype=bool)
            for _ in range(self.inner_max_it):
                res = np.linalg.norm(sums.grad_p, axis=1)
                active = res > scale
                if not active.any():
                    break
                step = np.linalg.solve(sums.hess_pp[active], sums.grad_p[active][..., None])[..., 0]
                shift[active] -= step
                iters[active] += 1
                sums = self._sums(f, shift)
            res = np.linalg.norm(sums.grad_p, axis=1)
            definite = np.linalg.eigvalsh(sums.hess_pp)[:, 0] > 0.0
            bad = ((res > scale) | ~definite).astype(float)
            kfp = sums.hess_fp.reshape(n, d * d, s)
            corr = kfp @ np.linalg.solve(sums.hess_pp, kfp.transpose(0, 2, 1))
            tangent = sums.tangent - corr.reshape(n, d, d, d, d)
        else:
            tangent = sums.tangent
        return sums, tangent, shift, {"iterations": iters, "unconverged": bad}

    # ------------------------------------------------------------------ the contract
    def initial_state(self, n_points: int, point_data=None) -> CauchyBornState:
        if point_data:
            raise MaterialError("the Cauchy-Born law takes no point data")
        d = self.dim
        return CauchyBornState(np.tile(np.eye(d).ravel(), (n_points, 1)), np.zeros((n_points, self.n_shift)),
                               np.zeros(n_points), np.zeros(n_points), np.zeros(n_points))

    def _check(self, driver: np.ndarray) -> np.ndarray:
        d = self.dim
        f = check_driver(self, driver).reshape(-1, d, d)
        finite = np.all(np.isfinite(f.reshape(-1, d * d)), axis=1)
        smin = np.zeros(f.shape[0])
        jac = np.zeros(f.shape[0])
        smin[finite] = np.linalg.svd(f[finite], compute_uv=False)[:, -1]
        jac[finite] = np.linalg.det(f[finite])
        bad = np.flatnonzero(~((jac > 0.0) & (smin >= self.min_stretch)))
        if bad.size:
            raise InadmissibleDriverError(
                f"Cauchy-Born: F with det F <= 0 or a principal stretch below min_stretch = {self.min_stretch}"
                f" (the bond list's margin) at {bad.size} of {f.shape[0]} point(s), first: point {bad[0]}"
                f" (det F = {jac[bad[0]]:.3e}, smallest stretch {smin[bad[0]]:.3e}); cut the load step", bad)
        return f

    def evaluate(self, driver: np.ndarray, state: CauchyBornState, guess: CauchyBornState | None = None
                 ) -> tuple[np.ndarray, np.ndarray, CauchyBornState]:
        """F ``(n, d*d)`` -> P ``(n, d*d)``, A = ∂P/∂F (condensed) ``(n, d*d, d*d)``, trial state."""
        d = self.dim
        f = self._check(driver)
        n = f.shape[0]
        start = guess.shift if guess is not None else state.shift
        sums, tangent, shift, diag = self._relaxed(f, start)
        jump = (np.linalg.norm(shift - state.shift, axis=1) / self._a if self.n_shift else np.zeros(n))
        trial = CauchyBornState(f.reshape(n, d * d).copy(), shift, diag["iterations"], diag["unconverged"], jump)
        return sums.stress.reshape(n, d * d), tangent.reshape(n, d * d, d * d), trial

    def energy_increment(self, driver_n: np.ndarray, driver: np.ndarray, state_n: CauchyBornState,
                         state: CauchyBornState):
        """Hyperelastic step (:func:`fe2.materials.energy.hyperelastic_increment`): no dissipation; the
        numerical part from the relaxed stress along the step (the inner shifts relaxed at every path
        point from the interpolated shift; P = ∂W/∂F at the relaxed shift, the envelope theorem), W at the
        two states' relaxed shifts.
        """
        from fe2.materials.energy import hyperelastic_increment

        d, n = self.dim, np.shape(driver)[0]
        s0 = np.asarray(state_n.shift, dtype=float).reshape(n, -1)
        s1 = np.asarray(state.shift, dtype=float).reshape(n, -1)

        def stress(f: np.ndarray, s: float, points: np.ndarray) -> np.ndarray:
            fm = f.reshape(-1, d, d)
            start = (1.0 - s) * s0[points] + s * s1[points]
            return self._relaxed(fm, start)[0].stress.reshape(fm.shape[0], d * d)

        def admissible(path: np.ndarray) -> np.ndarray:
            fm = path.reshape(-1, d, d)
            ok = (np.linalg.det(fm) > 0.0) & (np.linalg.svd(fm, compute_uv=False)[:, -1] >= self.min_stretch)
            return ok.reshape(path.shape[:2])

        energy_n = self.strain_energy(driver_n, s0 if self.n_shift else None)
        energy = self.strain_energy(driver, s1 if self.n_shift else None)
        return hyperelastic_increment(stress, energy_n, energy, admissible, driver_n, driver)

    # ------------------------------------------------------------------ direct use
    def strain_energy(self, driver: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
        """W(F) per reference volume at the relaxed shift (or at the given ``shift``), ``(n,)``."""
        f = self._check(driver)
        if shift is not None:
            return self._sums(f, np.asarray(shift, dtype=float).reshape(f.shape[0], -1), need_tangent=False).energy
        return self._relaxed(f, np.zeros((f.shape[0], self.n_shift)))[0].energy

    def relaxed_shift(self, driver: np.ndarray) -> np.ndarray:
        """The relaxed inner shifts ``(n, nb-1, d)`` of atoms 1..nb-1 relative to F X_α (length unit)."""
        f = self._check(driver)
        return self._relaxed(f, np.zeros((f.shape[0], self.n_shift)))[2].reshape(f.shape[0], -1, self.dim)

    def ellipticity(self, driver: np.ndarray, shift: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(λ_min of the acoustic tensor ``(n,)``, its direction N ``(n, d)``) of the condensed tangent at F."""
        f = self._check(driver)
        s0 = np.zeros((f.shape[0], self.n_shift)) if shift is None else np.asarray(shift, dtype=float)
        tangent = self._relaxed(f, s0.reshape(f.shape[0], -1))[1]
        return acoustic_min_eigenvalue(tangent.reshape(f.shape[0], -1, self.dim**2), self.dim)

    def point_fields(self, state: CauchyBornState) -> dict[str, np.ndarray]:
        """Breakdown diagnostics per point (see the module docstring), from the state's F and shift."""
        n = state.deformation.shape[0]
        lam = self.ellipticity(state.deformation, state.shift)[0] if n else np.zeros(0)
        out = {"cb_ellipticity": lam, "cb_ellipticity_lost_flag": (lam <= 0.0).astype(float)}
        if self.n_shift:
            out.update(cb_inner_unconverged_flag=state.inner_unconverged.copy(),
                       cb_inner_iterations=state.inner_iterations.copy(), cb_shift_jump=state.shift_jump.copy())
        return out

    def describe(self) -> dict:
        """What the law is, for result.json: lattice, a₀, bonds per cell, cutoff."""
        return {"lattice": self.lattice.name, "lattice_parameter": self.lattice_parameter,
                "bonds_per_cell": int(self.bonds.d.shape[0]), "shells": self.shells,
                "cutoff": self.potential.cutoff, "potential": type(self.potential).__name__,
                "basis_atoms": self.lattice.n_basis, "min_stretch": self.min_stretch}


def bonds_count(law: CauchyBornLaw, lat: Lattice, a: float) -> int:
    """Number of reference bonds the law would keep at lattice parameter ``a``."""
    radius = None if law.shells is not None else law.potential.cutoff / law.min_stretch  # type: ignore[operator]
    return int(bonds(lat, a, radius=radius, shells=law.shells).d.shape[0])
