"""Energy bookkeeping of one step n → n+1 at a batch of points: what the energy audit reads.

A micro model that declares :meth:`~fe2.materials.contract.MicroModel.energy_increment`
returns, per point and per unit volume (flux unit × driver unit: with stresses in
GPa and strains, GJ/m³),

* ``work`` — the work of the step by the backward rule, ``flux_{n+1} · (driver_{n+1} − driver_n)``
  (for an RVE: its volume average ⟨σ_{n+1} : Δε⟩ over the micro points);
* ``stored`` — ψ_{n+1} − ψ_n, the change of the free energy (elastic and hardening);
* ``dissipated`` — the physical dissipation increment of the constitutive law
  (σ_y0 Δα for J2 with the hardening energy stored; 0 for an elastic law);
* ``numerical`` — the algorithmic dissipation of the backward-Euler step in closed
  form (half the squared increments in the energy norms: the backward-Euler
  return map is dissipative, Simo & Hughes 1998, *Computational Inelasticity*,
  ch. 6), ≥ 0 and O(Δ²);
* ``min_dissipated`` / ``min_numerical`` — the smallest value of the two at any
  (micro) point behind each point: both must be ≥ 0 at every point, not only on average
  (the numerical part of a hyperelastic law with a non-convex W may be negative on large steps,
  see :mod:`fe2.materials.neo_hookean`; the audit's verdict reads the physical dissipation).

For a step that the integrator took consistently (every evaluation of the step
started from the committed state n) the balance

    work = stored + dissipated + numerical

holds per point to round-off: it is an identity of the discrete algorithm, not an
approximation, so its residual audits the state handling of the coupling. A model
evaluated from the wrong state (e.g. the previous iteration's trial state) breaks it.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class EnergyIncrement:
    """Per-point energy increments of one step (arrays of shape ``(n,)``; see the module docstring)."""

    work: np.ndarray
    stored: np.ndarray
    dissipated: np.ndarray
    numerical: np.ndarray
    min_dissipated: np.ndarray
    min_numerical: np.ndarray

    @classmethod
    def of_points(cls, work, stored, dissipated, numerical) -> EnergyIncrement:
        """Increments of single points: the minima are the values themselves."""
        dissipated = np.asarray(dissipated, dtype=float)
        numerical = np.asarray(numerical, dtype=float)
        return cls(np.asarray(work, dtype=float), np.asarray(stored, dtype=float), dissipated, numerical,
                   dissipated.copy(), numerical.copy())

    @property
    def residual(self) -> np.ndarray:
        """work − stored − dissipated − numerical, per point."""
        return self.work - self.stored - self.dissipated - self.numerical

    @classmethod
    def averaged(cls, parts: list[tuple[EnergyIncrement, np.ndarray]], n: int, volume: float) -> EnergyIncrement:
        """Volume averages over groups of micro points: ``parts`` are (increments of ``n × k`` micro points,
        macro-point-major, and their ``(k,)`` integration volumes); points not in any part (pores) count zero.
        """
        sums = {f: np.zeros(n) for f in ("work", "stored", "dissipated", "numerical")}
        mins = {f: np.full(n, np.inf) for f in ("min_dissipated", "min_numerical")}
        for inc, vol in parts:
            k = vol.size
            for f in sums:
                sums[f] += getattr(inc, f).reshape(n, k) @ vol / volume
            for f in mins:
                mins[f] = np.minimum(mins[f], getattr(inc, f).reshape(n, k).min(axis=1, initial=np.inf))
        return cls(**sums, **mins)


def quadratic_form(a: np.ndarray, c: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Per row ``a_i · C · b_i`` (``b = a`` when not given) of ``(n, m)`` arrays with one ``(m, m)`` C."""
    b = a if b is None else b
    return np.einsum("pi,ij,pj->p", a, c, b)


def linear_elastic_increment(c: np.ndarray, driver_n: np.ndarray, driver: np.ndarray) -> EnergyIncrement:
    """σ = C ε, ψ = ½ ε·C·ε, no dissipation: the backward rule's work σ_{n+1}·Δε exceeds Δψ by
    ½ Δε·C·Δε, the numerical part (exactly, for a symmetric C).
    """
    de = driver - driver_n
    return EnergyIncrement.of_points(np.einsum("pi,pi->p", driver @ c.T, de),
                                     0.5 * (quadratic_form(driver, c) - quadratic_form(driver_n, c)),
                                     np.zeros(driver.shape[0]), 0.5 * quadratic_form(de, c))


#: Gauss–Legendre points of the path integral of :func:`hyperelastic_increment` (exact for polynomial
#: integrands of degree 15; the integrand is analytic in s, so the error falls like |ΔF|^16)
PATH_POINTS = 8


def hyperelastic_increment(stress, energy_n: np.ndarray, energy: np.ndarray, admissible, driver_n: np.ndarray,
                           driver: np.ndarray) -> EnergyIncrement:
    """A hyperelastic step F_n → F_{n+1}: work P_{n+1}:ΔF, stored W_{n+1} − W_n, no dissipation, and the
    numerical part P_{n+1}:ΔF − ∫₀¹ P(F_n + sΔF):ΔF ds by Gauss–Legendre (:data:`PATH_POINTS`) — computed
    from the stress alone, so that work − ΔW − numerical checks that P is the derivative of W.

    Args:
        stress: ``(F (k, m), s, points (k,)) -> P (k, m)`` at the path parameter s ∈ [0, 1] for the given
            point indices (a law with inner variables may start their relaxation from an interpolated
            state); called at s = 1 with all points for the work.
        energy_n, energy: W at F_n and F_{n+1}, ``(n,)``.
        admissible: ``F (g, n, m) -> bool (g, n)``: where the path may be evaluated; at points whose
            straight path leaves the admissible set the numerical part is work − ΔW (no check there).
    """
    f0 = np.asarray(driver_n, dtype=float)
    f1 = np.asarray(driver, dtype=float)
    df = f1 - f0
    work = np.einsum("pi,pi->p", stress(f1, 1.0, np.arange(f1.shape[0])), df)
    stored = np.asarray(energy, dtype=float) - np.asarray(energy_n, dtype=float)
    s, w = np.polynomial.legendre.leggauss(PATH_POINTS)
    s, w = 0.5 * (s + 1.0), 0.5 * w
    path = f0[None] + s[:, None, None] * df[None]
    ok = np.all(admissible(path), axis=0)
    integral = np.zeros(f0.shape[0])
    points = np.flatnonzero(ok)
    if points.size:
        for sg, fg, wg in zip(s, path, w, strict=True):
            integral[points] += wg * np.einsum("pi,pi->p", stress(fg[points], float(sg), points), df[points])
    numerical = np.where(ok, work - integral, work - stored)
    return EnergyIncrement.of_points(work, stored, np.zeros_like(work), numerical)


__all__ = ["PATH_POINTS", "EnergyIncrement", "hyperelastic_increment", "linear_elastic_increment", "quadratic_form"]
