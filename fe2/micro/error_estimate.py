"""Goal-oriented a-posteriori error estimates of an RVE's effective tensor (solution verification).

Notation of exported tensors: Voigt with engineering shear, order 11 22 12 (2D) /
11 22 33 23 13 12 (3D); conductivity: the plain d x d matrix. Internally Mandel.

The quantity of interest and its dual problem
---------------------------------------------
For load case j the QoI is the averaged energy, ``<σ:ε>_j``. The RVE problems
are linear, symmetric and coercive, and the QoI is the energy of the primal
solution, so the dual (adjoint) problem of the energy QoI *is the primal
problem*: no extra dual solve, and the dual-weighted residual reduces to the
energy norm of the error. With ``a`` the bilinear form, V_h the discrete space
and e_j = u_j - u_{h,j}:

* KUBC / periodic (displacement-driven, u = E_j·(x - x_c) + w, w ∈ V_0):
  u_h minimizes the energy over a subset of the exact admissible set and
  ``a(u_j, v) = 0`` for all v ∈ V_0 (Galerkin orthogonality, since e_j ∈ V_0), so

      C_h,ij - C_ij = a(e_i, e_j) / |Y|

  a Gram matrix: C_h - C is positive semi-definite. The diagonal entries (and
  every energy E:C_h:E) approach the exact ones *from above*; off-diagonal errors
  obey |ΔC_ij| <= sqrt(ΔC_ii ΔC_jj) and follow from the diagonal ones by
  polarization, 4 a(e_i, e_j) = ‖e_i + e_j‖²_a - ‖e_i - e_j‖²_a.
* TUBC (stress-driven, Σ_j): the QoI is the mean compliance energy Σ_j:S:Σ_j,
  and the discrete solution is too stiff: ``S_ij - S_h,ij = a(e_i, e_j) / |Y|``,
  S_h ⪯ S, hence C_h = S_h⁻¹ ⪰ C as well.

Both identities need the forms to be integrated exactly; the affine part E·(x − x_c) enters
exactly for every BC (the solution is the exact affine field plus a fluctuation in V_h), so
V_h itself need not contain it. They hold on straight-sided cells for every degree (DG0
coefficients, polynomial integrands, exact quadrature): ``nested`` is True. On curved
(order-2) cells the integrands are rational, so the quadrature of V_p and V_{p+1} differ and
the identity below holds up to quadrature error only (``nested`` is False;
``identity_residual`` measures the discrepancy).

The estimator: hierarchical, p -> p+1 on the same mesh
------------------------------------------------------
The run is repeated with degree p+1 on the same mesh and coefficients, and with
δ_j = u_{p+1,j} - u_{p,j} = (w_{p+1,j} − w_{p,j}) + (Ē_{p+1,j} − Ē_{p,j})·(x − x_c), the
fluctuation difference (w_p interpolated exactly into V_{p+1}) plus, for TUBC, the exact affine
field of the difference of the two mean strains (zero for KUBC/PBC, whose mean strain is the
driver) — not the difference of the two *interpolated* total fields, which on curved cells adds
the interpolation error of the affine field (P1 ≈ 10 % of the estimate at h = 0.1):

    estimated C_h - C  =  C_p - C_{p+1}          (KUBC, PBC; = Gram(δ)/|Y| up to solver tolerance)
    estimated S - S_h  =  Gram(δ)/|Y| = S_{p+1} - S_p   (TUBC; tensor error C_p - C_{p+1})
    cell indicators    η_K,ij = a_K(δ_i, δ_j) / |Y|  (sum over K = the Gram matrix)

Why this estimator: it is the exact energy identity above applied to the
nearest computable better solution, its cell indicators are additive and
localize the QoI error (they drive :mod:`fe2.micro.adaptivity`), it needs no
recovery or jump terms (which for discontinuous coefficients and curved
interfaces need care), and it works for every physics of the registry and
every BC with one more solve. Because V_p ⊂ V_{p+1}, C_{p+1} lies between C_p
and C, so the estimate is a guaranteed *lower* bound of the true error in the
PSD sense (diagonal effectivity indices in [0, 1]); it tends to 1 when the
p+1 solution converges faster (saturation). Measured effectivities are in
docs/verification.md ("Solution verification").
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import ufl
from dolfinx import fem
from petsc4py import PETSc

from fe2.errors import ConfigError
from fe2.micro.results import BCResult, HomogenizationResult
from fe2.micro.rve_problem import RVEProblem, progress_line

MAX_DEGREE = 3


@dataclass
class ErrorEstimate:
    """The estimated discretization error of one BC's effective tensor.

    Attributes:
        bc: 'kubc', 'periodic' or 'tubc'.
        degree, enriched_degree: p of the run and p+1 of the enriched solve.
        error_voigt: estimated C_h - C (Voigt) = C_p - C_{p+1}.
        enriched_voigt: C_{p+1} (Voigt), the better value of the same mesh.
        energy_gram: Gram(δ)/|Y| in Mandel form: the estimated C_h - C (KUBC, PBC) or S - S_h (TUBC).
        relative_energy_error: Gram_jj / <σ:ε>_j per load case: the estimated relative
            error of the energy QoI of load case j.
        identity_residual: |Gram - (C_p - C_{p+1})| / |C| (KUBC, PBC) or
            |Gram - (S_{p+1} - S_p)| / |S| (TUBC), max norm: 0 up to solver
            tolerance when the spaces are nested.
        nested: straight-sided cells: V_p contains the exact affine field, V_p ⊂ V_{p+1} and
            the forms are integrated exactly, so the identities of the module doc are exact.
        cell_indicators: (owned cells, n) array, η_K,jj = a_K(δ_j, δ_j)/|Y|.
    """

    bc: str
    degree: int
    enriched_degree: int
    error_voigt: np.ndarray
    enriched_voigt: np.ndarray
    energy_gram: np.ndarray
    relative_energy_error: np.ndarray
    identity_residual: float
    nested: bool
    cell_indicators: np.ndarray = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def relative_error(self) -> float:
        """max |estimated C_h - C| / max |C_h| (Voigt entries)."""
        return float(np.max(np.abs(self.error_voigt)) / max(np.max(np.abs(self.enriched_voigt)), 1e-300))

    @property
    def max_relative_energy_error(self) -> float:
        return float(np.max(self.relative_energy_error))

    def to_dict(self) -> dict:
        return {
            "method": f"hierarchical p+1 (degree {self.degree} -> {self.enriched_degree}, same mesh)",
            "qoi": "mean energy per load case; dual problem = primal (symmetric linear problem)",
            "sign": _SIGN[self.bc],
            "error": self.error_voigt.tolist(),
            "enriched_effective": self.enriched_voigt.tolist(),
            "relative_error": self.relative_error,
            "relative_energy_error": self.relative_energy_error.tolist(),
            "energy_gram_mandel": self.energy_gram.tolist(),
            "identity_residual": self.identity_residual,
            "nested": self.nested,
            "timings_s": self.timings,
        }


_SIGN = {
    "kubc": "C_h - C is positive semi-definite (diagonal entries too large); estimate is a lower bound",
    "periodic": "C_h - C is positive semi-definite (diagonal entries too large); estimate is a lower bound",
    "tubc": "S - S_h is positive semi-definite (compliance too small, C_h too stiff); estimate is a lower bound",
}


def _nested(problem: RVEProblem) -> bool:
    """Straight-sided cells: affine fields in V_p, V_p ⊂ V_{p+1}, forms integrated exactly."""
    msh = problem.rve.mesh
    cmap = msh.geometry.cmaps[0] if hasattr(msh.geometry, "cmaps") else msh.geometry.cmap
    return int(cmap.degree) == 1


class ErrorEstimator:
    """The p+1 companion of an RVE problem: one enriched problem, compiled indicator forms, reused per BC.

    Args:
        problem: the RVE problem of the run (degree p <= 2).
    """

    def __init__(self, problem: RVEProblem) -> None:
        t0 = time.perf_counter()
        p = problem.degree
        if p + 1 > MAX_DEGREE:
            raise ConfigError(f"error estimate needs degree p+1 <= {MAX_DEGREE}, got p = {p}")
        self.problem = problem
        coeffs = problem.coefficients if problem.field_coefficients else None
        self.enriched = RVEProblem(
            problem.rve, problem.physics, problem.materials, degree=p + 1,
            solver=problem.solver, coefficients=coeffs,
        )
        ph = problem.physics
        V2 = self.enriched.V
        self._d1, self._d2 = fem.Function(V2), fem.Function(V2)
        self._u1 = fem.Function(problem.V)
        self._Q = fem.functionspace(problem.rve.mesh, ("DG", 0))
        # indicators are assembled per DG0 dof; reported per owned cell (cell c's dof: dofmap.list[c, 0])
        n_cells = problem.rve.mesh.topology.index_map(problem.rve.mesh.topology.dim).size_local
        self._cell_dofs = self._Q.dofmap.list[:n_cells, 0].copy()
        q = ufl.TestFunction(self._Q)
        c = self.enriched.coefficients
        # the exact affine part of δ (TUBC: (Ē_{p+1} − Ē_p)·(x − x_c)) enters through its constant strain
        msh = problem.rve.mesh
        self._s1 = fem.Constant(msh, np.zeros(ph.selector_shape, dtype=PETSc.ScalarType))
        self._s2 = fem.Constant(msh, np.zeros(ph.selector_shape, dtype=PETSc.ScalarType))
        e1, e2 = ph.strain(self._d1) + self._s1, ph.strain(self._d2) + self._s2
        self._eta_form = fem.form(ufl.inner(ph.flux(e1, c), e2) * q * ufl.dx)
        self.timings = {"enriched_setup_s": time.perf_counter() - t0}

    def _to_function(self, vec: PETSc.Vec, f: fem.Function) -> fem.Function:
        n = vec.getLocalSize()
        f.x.petsc_vec.array[:n] = vec.array_r[:n]
        f.x.scatter_forward()
        return f

    @staticmethod
    def _fluctuation(prob: RVEProblem, u: PETSc.Vec, strain: np.ndarray) -> PETSc.Vec:
        """w = u − Σ_k strain_k A_k: the returned field minus the interpolated affine field it was built with."""
        w = u.copy()
        for k, sk in enumerate(strain):
            if sk != 0.0:
                w.axpy(-float(sk), prob.A[k])
        return w

    def _differences(self, fields_p: list[PETSc.Vec], fields_q: list[PETSc.Vec], strains_p: list[np.ndarray],
                     strains_q: list[np.ndarray]) -> list[np.ndarray]:
        """w_{p+1,j} − I w_{p,j} as arrays of V_{p+1} (owned + ghosts); the affine difference is apart."""
        out = []
        tmp = fem.Function(self.enriched.V)
        for up, uq, sp, sq in zip(fields_p, fields_q, strains_p, strains_q, strict=True):
            wp, wq = self._fluctuation(self.problem, up, sp), self._fluctuation(self.enriched, uq, sq)
            tmp.interpolate(self._to_function(wp, self._u1))
            d = self._to_function(wq, fem.Function(self.enriched.V))
            out.append(d.x.array - tmp.x.array)
            wp.destroy()
            wq.destroy()
        return out

    def _cell_gram(self, i: int, j: int, deltas: list[np.ndarray], affine: list[np.ndarray]) -> np.ndarray:
        self._d1.x.array[:] = deltas[i]
        self._d2.x.array[:] = deltas[j]
        self._s1.value[...] = affine[i]
        self._s2.value[...] = affine[j]
        b = fem.assemble_vector(self._eta_form)
        return b.array[: self._Q.dofmap.index_map.size_local] / self.problem.volume

    def estimate(self, result: BCResult, fields: list[PETSc.Vec]) -> ErrorEstimate:
        """Solve the BC of ``result`` with degree p+1 and estimate the error of ``result``'s tensor."""
        t0 = time.perf_counter()
        prob = self.problem
        bc = result.bc
        res_q, fields_q = self.enriched.solve(bc)
        t1 = time.perf_counter()
        # the mean strain each field was built with: the driver (KUBC/PBC) or Ē_j (TUBC)
        strains_p = [lc.driver if bc != "tubc" else lc.mean_strain for lc in result.load_cases]
        strains_q = [lc.driver if bc != "tubc" else lc.mean_strain for lc in res_q.load_cases]
        deltas = self._differences(fields, fields_q, strains_p, strains_q)
        basis = prob.physics.driver_basis()
        affine = [np.tensordot(sq - sp, basis, axes=1) for sp, sq in zip(strains_p, strains_q, strict=True)]
        n = prob.physics.n_driver
        eta = np.zeros((self._Q.dofmap.index_map.size_local, n))
        gram = np.zeros((n, n))
        for i in range(n):
            for j in range(i, n):
                cells = self._cell_gram(i, j, deltas, affine)
                gram[i, j] = gram[j, i] = prob.comm.allreduce(float(np.sum(cells)))
                if i == j:
                    eta[:, j] = cells
        for vec in fields_q:
            vec.destroy()
        Cp, Cq = result.effective_mandel, res_q.effective_mandel
        if bc == "tubc":
            Sp, Sq = np.linalg.inv(Cp), np.linalg.inv(Cq)
            ident = np.max(np.abs(gram - (Sq - Sp))) / max(np.max(np.abs(Sq)), 1e-300)
        else:
            ident = np.max(np.abs(gram - (Cp - Cq))) / max(np.max(np.abs(Cq)), 1e-300)
        energies = np.array([lc.mean_energy for lc in result.load_cases])
        t2 = time.perf_counter()
        return ErrorEstimate(
            bc=bc,
            degree=prob.degree,
            enriched_degree=prob.degree + 1,
            error_voigt=prob.physics.to_voigt(Cp - Cq),
            enriched_voigt=res_q.effective_voigt,
            energy_gram=gram,
            relative_energy_error=np.diag(gram) / np.maximum(np.abs(energies), 1e-300),
            identity_residual=float(ident),
            nested=_nested(prob),
            cell_indicators=eta[self._cell_dofs],
            timings={"enriched_solve_s": t1 - t0, "indicators_s": t2 - t1, **self.timings},
        )


def homogenize_with_estimates(
    problem: RVEProblem, bcs: Iterable[str], *, keep_fields: bool = False, progress=None
):
    """Like :meth:`RVEProblem.homogenize`, with an :class:`ErrorEstimate` on every BCResult.

    Returns:
        HomogenizationResult, or (HomogenizationResult, {bc: [u_j]}) when keep_fields.
    """
    estimator = ErrorEstimator(problem)
    results: dict[str, BCResult] = {}
    kept: dict[str, list[PETSc.Vec]] = {}
    for bc in bcs:
        res, fields = problem.solve(bc)
        res.error_estimate = estimator.estimate(res, fields)
        results[bc] = res
        if progress is not None:
            progress(progress_line(res) + f"  est. rel. error {res.error_estimate.relative_error:.2e}")
        if keep_fields:
            kept[bc] = fields
        else:
            for vec in fields:
                vec.destroy()
    out: HomogenizationResult = problem.collect(results)
    return (out, kept) if keep_fields else out
