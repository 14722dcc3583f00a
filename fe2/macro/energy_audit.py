"""Energy and dissipation audit of a quasi-static macro problem, one converged load step at a time.

For the step n → n+1 (displacement increment Δu, macro drivers E_n → E_{n+1} at the quadrature
points, states committed at n and n+1) the audit compares four independently computed energies,
each summed over the mesh (stress unit × length^d in the user's consistent units: GPa·mm³ = J in
3D, GPa·mm² = J per mm of thickness in 2D plane strain):

* ``external`` — the work of the boundary: reactions on the Dirichlet dofs times their
  increments plus the applied tractions times Δu, both at n+1 (the backward rule);
* ``macro`` — Σ_q w_q σ̄_{n+1}(q) · ΔE(q), the macro stress power of the step;
* ``micro_work`` — Σ_q w_q ⟨σ_{n+1} : Δε⟩(q) from the micro model's own fields (for an RVE
  its micro average, for a law its stress);
* ``stored`` + ``dissipated`` + ``numerical`` — Σ_q w_q of the micro model's free-energy change,
  physical dissipation and backward-Euler algorithmic dissipation
  (:class:`~fe2.materials.energy.EnergyIncrement`).

The gaps between them locate a defect: ``external − macro`` is the equilibrium residual of the
macro Newton (its tolerance), ``macro − micro_work`` is Hill–Mandel in increments (the micro
Newton tolerance), ``micro_work − (stored + dissipated + numerical)`` is the constitutive
identity (round-off when every evaluation of the step started from the committed state). The
``balance`` residual is external − (stored + dissipated + numerical), reported relative to
|external|. The dissipation increments must be ≥ 0 at every micro and macro point
(``min_dissipated``, ``min_numerical``: their minima over all points, ranks included). The
verdict ``within_tolerance`` reads the balance and the *physical* dissipation: the numerical
part of a hyperelastic law with a non-convex W can be negative on a large step
(:mod:`fe2.materials.neo_hookean`), which is an error of the backward work rule, not a
violation of the second law; it is reported (``min_numerical``) but does not fail the audit.
"""

from __future__ import annotations

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2._compat import create_petsc_vector

#: the balance residual (relative to the step's work) a consistent run keeps: the macro and micro Newton
#: tolerances (1e-10 relative, 1e-11) leave it below 1e-12 on the examples; above this it is reported as a defect
BALANCE_TOL = 1e-8

#: energy fields of a step record (sums over the mesh), in the order of energy_balance.csv
FIELDS = ("external", "macro", "micro_work", "stored", "dissipated", "numerical")


class EnergyAudit:
    """The audit of one :class:`~fe2.macro.small_strain.QuasiStaticMacroProblem` (see the module docstring).

    Call :meth:`begin` at the committed state (before the first step and after a restart), then
    :meth:`step` after every converged step (after its commit); ``available`` is False when the
    material declares no energy (``energy_increment`` returns None): :meth:`step` then returns None.
    """

    def __init__(self, solver) -> None:
        self.solver = solver
        self.comm = solver.comm
        quad = solver.quad
        msh = solver.mesh
        Qs = fem.functionspace(msh, basix.ufl.quadrature_element(msh.topology.cell_name(), (), "default",
                                                                 quad.degree))
        wvec = fem.assemble_vector(fem.form(ufl.TestFunction(Qs) * quad.dx))
        #: integration weight (quadrature weight × |det J|) of every owned point
        self.weights = wvec.array[Qs.dofmap.list[quad.owned_cells].ravel()]
        self._internal = fem.form(solver._internal)
        n_owned = solver.V.dofmap.index_map.size_local * solver.dim
        dofs = [d for d, _ in solver._bc_targets]
        constrained = np.unique(np.concatenate(dofs)) if dofs else np.zeros(0, dtype=np.int64)
        self._constrained = constrained[constrained < n_owned]
        self._n_owned = n_owned
        self.available = True
        self.begin()

    def begin(self) -> None:
        """Remember the committed state of the solver as the start n of the next step."""
        s = self.solver
        self._u_n = s.u.x.array.copy()
        self._driver_n = s.quad.evaluate(s.strain_expr)
        self._state_n = s.store.committed

    def _assemble(self, form) -> np.ndarray:
        vec = create_petsc_vector(self.solver.V)
        with vec.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(vec, form)
        vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        out = vec.getArray(readonly=True)[: self._n_owned].copy()
        vec.destroy()
        return out

    def step(self) -> dict | None:
        """The energies of the step just committed (sums over all ranks) and its residuals; None if unavailable."""
        s = self.solver
        driver = s.quad.evaluate(s.strain_expr)
        flux, _ = s.quad.values()
        state = s.store.committed
        inc = s.material.energy_increment(self._driver_n, driver, self._state_n, state)
        if self.comm.allreduce(inc is None, op=MPI.LOR):
            self.available = False
            self.begin()
            return None
        assert inc is not None
        du = (s.u.x.array - self._u_n)[: self._n_owned]
        f_int = self._assemble(self._internal)
        f_res = self._assemble(s.residual_form)  # f_int − f_ext
        f_ext = f_int - f_res
        c = self._constrained
        external = float(f_res[c] @ du[c]) + float(f_ext @ du)  # reactions' work + applied loads' work
        w = self.weights
        macro_density = np.einsum("pi,pi->p", flux, driver - self._driver_n)
        local = np.array([external, float(w @ macro_density), float(w @ inc.work), float(w @ inc.stored),
                          float(w @ inc.dissipated), float(w @ inc.numerical)])
        sums = np.empty_like(local)
        self.comm.Allreduce(local, sums, op=MPI.SUM)
        scale_pt = np.maximum(np.abs(macro_density), np.abs(inc.work))
        hm_local = float(np.max(np.abs(macro_density - inc.work) / np.where(scale_pt > 0, scale_pt, 1.0),
                                initial=0.0))
        mins = np.empty(2)
        self.comm.Allreduce(np.array([np.min(inc.min_dissipated, initial=np.inf),
                                      np.min(inc.min_numerical, initial=np.inf)]), mins, op=MPI.MIN)
        self.begin()
        rec = dict(zip(FIELDS, (float(x) for x in sums), strict=True))
        ref = abs(rec["external"]) or max(abs(x) for x in sums) or 1.0
        rec["balance_residual"] = (rec["external"] - rec["stored"] - rec["dissipated"] - rec["numerical"]) / ref
        rec["equilibrium_residual"] = (rec["external"] - rec["macro"]) / ref
        rec["hill_mandel_residual"] = (rec["macro"] - rec["micro_work"]) / ref
        rec["constitutive_residual"] = (rec["micro_work"] - rec["stored"] - rec["dissipated"] - rec["numerical"]) / ref
        rec["hill_mandel_point_max"] = self.comm.allreduce(hm_local, op=MPI.MAX)
        rec["min_dissipated"] = float(mins[0])
        rec["min_numerical"] = float(mins[1])
        return rec


#: the columns of energy_balance.csv after step and load factor: the sums, the relative residuals, the minima
COLUMNS = (*FIELDS, "balance_residual", "equilibrium_residual", "hill_mandel_residual", "constitutive_residual",
           "hill_mandel_point_max", "min_dissipated", "min_numerical")


def csv_header(dim: int) -> list[str]:
    """energy_balance.csv's header, each name with its unit (the user's stress and length units)."""
    unit = {**dict.fromkeys(FIELDS, f"stress*length^{dim}"), "min_dissipated": "stress", "min_numerical": "stress"}
    return ["step", "load_factor [1]", *(f"{c} [{unit.get(c, '1')}]" for c in COLUMNS)]


def summarize(records: list[dict]) -> dict:
    """The run's audit from its step records (``record["energy"]``): totals and the worst residuals."""
    steps = [r["energy"] for r in records if r.get("energy")]
    if not steps:
        return {"available": False, "reason": "the micro model declares no energy (energy_increment)"}
    out: dict = {"available": True, "steps": len(steps)}
    out["totals"] = {f: float(sum(e[f] for e in steps)) for f in FIELDS}
    for key in ("balance_residual", "equilibrium_residual", "hill_mandel_residual", "constitutive_residual",
                "hill_mandel_point_max"):
        out[f"max_abs_{key}"] = float(max(abs(e[key]) for e in steps))
    out["min_dissipated"] = float(min(e["min_dissipated"] for e in steps))
    out["min_numerical"] = float(min(e["min_numerical"] for e in steps))
    out["tolerance"] = BALANCE_TOL
    out["within_tolerance"] = bool(out["max_abs_balance_residual"] <= BALANCE_TOL and out["min_dissipated"] >= 0.0)
    return out


__all__ = ["BALANCE_TOL", "COLUMNS", "FIELDS", "EnergyAudit", "csv_header", "summarize"]
