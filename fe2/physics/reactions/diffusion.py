"""Reaction–diffusion on a dolfinx mesh: operator splitting or a monolithic implicit scheme.

``dc_a/dt = div(D_a grad c_a) + f_a(c)`` for every species ``a`` of a :class:`Network`, P1
Lagrange per species. Boundary conditions per species on named boundary parts
(:mod:`.rd_boundary`: Dirichlet, outward flux, Robin ``-D grad c . n = alpha (c - c_ext)``);
a boundary without condition is no-flux. A species with ``D = 0`` is immobile (membrane-bound,
matrix-bound): it has no diffusion solve and changes only by reaction, node by node.

Semi-discrete system (the same for every scheme)::

    Mt dc_a/dt + A_a c_a = b_a + Mt R_a(c),   A_a = D_a K + sum_Robin alpha M_ds

with ``Mt`` the consistent mass matrix (``mass="consistent"``, default) or the lumped one
(``mass="lumped"``, vertex quadrature: diagonal, row sums of the consistent one, so every
reaction term is purely nodal), ``R(c)`` the reaction rates evaluated at the nodes (a P1 dof is a
vertex value), ``b_a`` the Robin/flux load; Dirichlet nodes are held at their value.

Schemes (``step(dt, scheme)``):

* ``"godunov"`` — ``R(dt)`` then ``D(dt)``, first order; ``"strang"`` — ``R(dt/2) D(dt) R(dt/2)``,
  second order. ``R(h)``: the reaction ODEs at every owned dof at once with the batched ROS2
  integrator (``reaction_substeps`` fixed steps); ``D(h)``: each mobile species alone by
  Crank–Nicolson (``theta = 1/2``) or backward Euler (``theta = 1``):
  ``(Mt + theta h A_a) c+ = (Mt - (1 - theta) h A_a) c + h b_a``; one matrix and KSP (prefix
  ``fe2_rd_``, LU by default) per distinct (diffusivity, boundary conditions), refactored only
  when ``dt`` changes.
* ``"monolithic"`` — backward Euler on the fully coupled system, Newton (PETSc SNES, prefix
  ``fe2_rd_mono_``) with the analytic reaction Jacobian (:mod:`.rd_monolithic`), first order;
  ``"bdf2"`` — the same with BDF2 (second order; started by one backward-Euler step, and
  restarted whenever ``dt`` changes or another scheme was used in between).

Conservation (no-flux boundaries): diffusion keeps ``1^T Mt c_a``; the reactions change each node
by a vector ``d`` with ``w^T d = 0`` for every moiety ``w``; so the integral of every conserved
moiety is constant up to round-off / solver tolerance (:meth:`ReactionDiffusion.moiety_totals`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from fe2._compat import create_petsc_vector
from fe2.errors import ConfigError, SolverError
from fe2.physics.reactions.integrators import integrate
from fe2.physics.reactions.network import Network
from fe2.physics.reactions.rd_boundary import (
    Dirichlet,
    Flux,
    Robin,
    check_conditions,
    resolve_boundaries,
)
from fe2.physics.reactions.rd_monolithic import MonolithicStepper
from fe2.solvers import create_ksp

SCHEMES = ("godunov", "strang", "monolithic", "bdf2")
MASS = ("consistent", "lumped")

__all__ = ["MASS", "SCHEMES", "Dirichlet", "Flux", "RDResult", "ReactionDiffusion", "Robin"]


@dataclass
class RDResult:
    scheme: str
    dt: float
    t: float
    steps: int
    moiety_totals_initial: list[float]
    moiety_totals_final: list[float]
    moiety_drift: float  # max relative change of the integral of a conserved moiety
    history: list[dict] = field(default_factory=list)
    newton_iterations: int = 0  # monolithic schemes: total SNES iterations of the run
    closed: bool = True  # no boundary exchange: only then is moiety_drift a conservation check

    def to_dict(self) -> dict:
        return asdict(self)


class _Operator:
    """Diffusion operator of one (D, boundary conditions) group of mobile species.

    Forms (compiled once): ``k`` = ``D K + Robin`` (bilinear), ``l`` = Robin/flux load, and the
    theta-step pair ``a = Mt + theta h k``, ``L = Mt w - (1 - theta) h k w + h l``.
    """

    def __init__(self, rd: ReactionDiffusion, D: float, conds: tuple):
        V, mesh, parts = rd.V, rd.mesh, rd.parts
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        const = lambda val: fem.Constant(mesh, PETSc.ScalarType(val))  # noqa: E731
        k = const(D) * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
        load = []
        self.bcs = []
        self._values: list[float] = []
        fdim = mesh.topology.dim - 1
        for bc in conds:
            ds = parts.measure(bc.boundary)
            if isinstance(bc, Robin):
                k = k + const(bc.alpha) * u * v * ds
                load.append(const(bc.alpha * bc.c_ext) * v * ds)
            elif isinstance(bc, Flux):
                load.append(-const(bc.flux) * v * ds)
            else:
                dofs = fem.locate_dofs_topological(V, fdim, parts.facets[bc.boundary])
                self.bcs.append(fem.dirichletbc(PETSc.ScalarType(bc.value), dofs, V))
                self._values.append(float(bc.value))
        self.k_ufl = k
        self.l_ufl = sum(load[1:], load[0]) if load else None
        w = rd._w
        self.a = fem.form(rd._m_ufl + rd._hth * k)
        L = w * v * rd._dxm - rd._hom * ufl.action(k, w)
        if self.l_ufl is not None:
            L = L + rd._hstep * self.l_ufl
        self.L = fem.form(L)
        self.A: PETSc.Mat | None = None
        self.ksp: PETSc.KSP | None = None

    def dirichlet_owned(self, n_owned: int) -> list[tuple[np.ndarray, float]]:
        out = []
        for bc, g in zip(self.bcs, self._values, strict=False):
            dofs = bc.dof_indices()[0]
            out.append((dofs[dofs < n_owned], g))
        return out

    def destroy(self) -> None:
        for obj in (self.ksp, self.A):
            if obj is not None:
                obj.destroy()
        self.A = self.ksp = None


class ReactionDiffusion:
    """Reaction–diffusion for ``network`` on ``mesh`` (communicator: the mesh's).

    Args:
        mesh: dolfinx mesh.
        network: the reactions (its parameters; ``params`` may override them, scalars or arrays
            of shape ``(n_owned,)``).
        diffusivity: ``{species: D}``; species left out do not diffuse (D = 0, immobile).
        theta: diffusion sub-step of the splitting schemes, 0.5 (Crank–Nicolson) or 1 (BE).
        reaction_substeps: fixed ROS2 steps per reaction sub-step (splitting schemes).
        petsc_options: KSP/PC defaults of the splitting's diffusion solves (default: direct LU), prefix
            ``fe2_rd_``; options the user set under that prefix win.
        boundaries: ``{name: marker}``, a marker a callable ``x -> bool`` on exterior facets or an
            integer tag of ``facet_tags``.
        facet_tags: dolfinx meshtags of facets, for integer markers.
        bcs: ``{species: [Dirichlet | Flux | Robin, ...]}``; the rest of the boundary is no-flux.
        mass: ``"consistent"`` or ``"lumped"`` mass matrix (every scheme uses the same).
        snes_options: SNES/KSP/PC options of the monolithic schemes (prefix ``fe2_rd_mono_``;
            default Newton with basic line search, rtol 1e-10, direct LU); options the user set under
            that prefix win.
    """

    def __init__(self, mesh, network: Network, diffusivity: dict[str, float], *, theta: float = 0.5,
                 reaction_substeps: int = 4, params: dict | None = None, petsc_options: dict | None = None,
                 boundaries: dict | None = None, facet_tags=None, bcs: dict | None = None,
                 mass: str = "consistent", snes_options: dict | None = None):
        names = network.species_names
        unknown = set(diffusivity) - set(names)
        if unknown:
            raise ConfigError(f"diffusivity: unknown species {', '.join(sorted(unknown))}")
        if any(not (d >= 0) for d in diffusivity.values()):
            raise ConfigError("diffusivity: values must be >= 0")
        if theta not in (0.5, 1.0):
            raise ConfigError("theta: 0.5 (Crank–Nicolson) or 1 (backward Euler)")
        if reaction_substeps < 1:
            raise ConfigError("reaction_substeps: must be >= 1")
        if mass not in MASS:
            raise ConfigError(f"mass: {mass!r} is not one of {', '.join(MASS)}")
        self.mesh = mesh
        self.comm = mesh.comm
        self.network = network
        self.compiled = network.compile()
        self.params = params
        self.theta = float(theta)
        self.reaction_substeps = int(reaction_substeps)
        self.mass = mass
        self.V = fem.functionspace(mesh, ("Lagrange", 1))
        self.c = [fem.Function(self.V, name=n) for n in names]
        self.D = np.array([float(diffusivity.get(n, 0.0)) for n in names])
        self.n_owned = self.V.dofmap.index_map.size_local
        self.t = 0.0
        self.parts = resolve_boundaries(mesh, boundaries, facet_tags)
        self.bcs = check_conditions(
            bcs or {}, names, {n: d > 0 for n, d in zip(names, self.D, strict=False)}, self.parts
        )
        # forms, compiled once
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        self._dxm = ufl.dx if mass == "consistent" else \
            ufl.dx(metadata={"quadrature_rule": "vertex", "quadrature_degree": 1})
        self._m_ufl = u * v * self._dxm
        self._w = fem.Function(self.V)
        self._hth = fem.Constant(mesh, PETSc.ScalarType(0.0))  # theta * h
        self._hom = fem.Constant(mesh, PETSc.ScalarType(0.0))  # (1 - theta) * h
        self._hstep = fem.Constant(mesh, PETSc.ScalarType(0.0))  # h
        self._one = fem.form(self._w * ufl.dx)
        self._ops: dict[tuple, _Operator] = {}
        self._op_of: list[_Operator | None] = []
        for n, D in zip(names, self.D, strict=False):
            if D == 0:
                self._op_of.append(None)
                continue
            key = (float(D), self.bcs[n])
            if key not in self._ops:
                self._ops[key] = _Operator(self, float(D), self.bcs[n])
            self._op_of.append(self._ops[key])
        self._b = create_petsc_vector(self.V)
        self._x = create_petsc_vector(self.V)
        self._h: float | None = None  # step size the operators are assembled for
        self._opts = petsc_options or {"ksp_type": "preonly", "pc_type": "lu"}
        self._snes_options = snes_options
        self.prefix = "fe2_rd_"
        self._mono: MonolithicStepper | None = None
        self._prev: tuple[np.ndarray, float] | None = None  # (c^{n-1}, dt) for BDF2
        self._newton_its = 0

    @property
    def closed(self) -> bool:
        """True when no species exchanges mass through the boundary (no Dirichlet, no nonzero
        flux, no Robin with alpha > 0).
        """
        return all((isinstance(bc, Flux) and bc.flux == 0) or (isinstance(bc, Robin) and bc.alpha == 0)
                   for conds in self.bcs.values() for bc in conds)

    # -- state -----------------------------------------------------------------------------
    def set_initial(self, values: dict[str, float | Callable]) -> None:
        """``{species: constant or callable x -> array}``; others keep the network's initial value."""
        if unknown := set(values) - set(self.network.species_names):
            raise ConfigError(f"initial values: unknown species {', '.join(sorted(unknown))}")
        for i, sp_ in enumerate(self.network.species):
            val = values.get(sp_.name, sp_.initial)
            if callable(val):
                self.c[i].interpolate(val)
            else:
                self.c[i].x.array[:] = float(val)
            self.c[i].x.scatter_forward()
        self.t = 0.0
        self._prev = None

    def values(self) -> np.ndarray:
        """Owned dof values, shape ``(n_owned, n_species)``."""
        return np.stack([f.x.array[: self.n_owned] for f in self.c], axis=1)

    def _set_values(self, c: np.ndarray) -> None:
        for i, f in enumerate(self.c):
            f.x.array[: self.n_owned] = c[:, i]
            f.x.scatter_forward()

    def integrals(self) -> np.ndarray:
        """``int c_i dx`` for every species (collective)."""
        out = []
        for f in self.c:
            self._w.x.array[:] = f.x.array
            out.append(fem.assemble_scalar(self._one))
        return self.comm.allreduce(np.array(out), op=MPI.SUM)

    def moiety_totals(self) -> np.ndarray:
        """Integral of every conserved moiety ``w^T c`` (collective)."""
        return self.compiled.W @ self.integrals()

    # -- splitting sub-steps -----------------------------------------------------------------
    def _react(self, h: float) -> None:
        c = self.values()
        if c.shape[0]:
            res = integrate(self.compiled, c, (0.0, h), method="ros2", dt=h / self.reaction_substeps,
                            params=self.params)
            c = res.c
        self._set_values(c)

    def _setup(self, h: float) -> None:
        if self._h == h:
            return
        self._hth.value = self.theta * h
        self._hom.value = (1.0 - self.theta) * h
        self._hstep.value = h
        for op in self._ops.values():
            op.destroy()
            op.A = fem_petsc.assemble_matrix(op.a, bcs=op.bcs)
            op.A.assemble()
            op.ksp = create_ksp(self.comm, self.prefix, self._opts)
            op.ksp.setOperators(op.A)
        self._h = h

    def _diffuse(self, h: float) -> None:
        self._setup(h)
        for i, f in enumerate(self.c):
            op = self._op_of[i]
            if op is None:  # immobile: no diffusion solve
                continue
            self._w.x.array[:] = f.x.array
            with self._b.localForm() as loc:
                loc.set(0.0)
            fem_petsc.assemble_vector(self._b, op.L)
            if op.bcs:
                fem_petsc.apply_lifting(self._b, [op.a], bcs=[op.bcs])
            self._b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            if op.bcs:
                fem_petsc.set_bc(self._b, op.bcs)
            assert op.ksp is not None  # created by _setup
            op.ksp.solve(self._b, self._x)
            if op.ksp.getConvergedReason() < 0:
                raise SolverError(f"diffusion solve of {self.network.species_names[i]} failed "
                                  f"(KSP reason {op.ksp.getConvergedReason()})")
            f.x.array[: self.n_owned] = self._x.array_r[: self.n_owned]
            f.x.scatter_forward()

    # -- monolithic ------------------------------------------------------------------------
    def _monolithic(self) -> MonolithicStepper:
        if self._mono is not None:
            return self._mono
        M = fem_petsc.assemble_matrix(fem.form(self._m_ufl))
        M.assemble()
        stiffness: list[PETSc.Mat | None] = []
        load: list[np.ndarray | None] = []
        dirichlet: list[list[tuple[np.ndarray, float]]] = []
        built: dict[int, tuple[PETSc.Mat, np.ndarray | None]] = {}
        for op in self._op_of:
            if op is None:
                stiffness.append(None)
                load.append(None)
                dirichlet.append([])
                continue
            if id(op) not in built:
                K = fem_petsc.assemble_matrix(fem.form(op.k_ufl))
                K.assemble()
                b = None
                if op.l_ufl is not None:
                    bv = fem_petsc.assemble_vector(fem.form(op.l_ufl))
                    bv.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
                    b = bv.array_r[: self.n_owned].copy()
                    bv.destroy()
                built[id(op)] = (K, b)
            K, b = built[id(op)]
            stiffness.append(K)
            load.append(b)
            dirichlet.append(op.dirichlet_owned(self.n_owned))
        self._mono = MonolithicStepper(self.comm, self.V.dofmap.index_map, self.compiled, self.params,
                                       M, stiffness, load, dirichlet, "fe2_rd_mono_",
                                       self._snes_options)
        M.destroy()
        for K, _ in built.values():
            K.destroy()
        return self._mono

    def _implicit(self, dt: float, bdf2: bool) -> None:
        stepper = self._monolithic()
        c = self.values()
        prev = self._prev[0] if (bdf2 and self._prev is not None and self._prev[1] == dt) else None
        cnew, its = stepper.step(c, dt, prev)
        self._newton_its += its
        self._set_values(cnew)
        self._prev = (c, dt)

    # -- time stepping -----------------------------------------------------------------------
    def step(self, dt: float, scheme: str = "strang") -> None:
        """Advance one step of size ``dt`` by ``scheme`` (one of :data:`SCHEMES`)."""
        if scheme == "godunov":
            self._react(dt)
            self._diffuse(dt)
        elif scheme == "strang":
            self._react(0.5 * dt)
            self._diffuse(dt)
            self._react(0.5 * dt)
        elif scheme in ("monolithic", "bdf2"):
            self._implicit(dt, scheme == "bdf2")
        else:
            raise ConfigError(f"scheme: unknown scheme {scheme!r} (one of {', '.join(SCHEMES)})")
        if scheme in ("godunov", "strang"):
            self._prev = None
        self.t += dt

    def run(self, t_end: float, dt: float, scheme: str = "strang") -> RDResult:
        """Advance from the current time to ``t_end`` in equal steps (``dt`` must divide the interval)."""
        if scheme not in SCHEMES:
            raise ConfigError(f"scheme: unknown scheme {scheme!r} (one of {', '.join(SCHEMES)})")
        n = int(round((t_end - self.t) / dt))
        if n < 1 or abs(n * dt - (t_end - self.t)) > 1e-9 * max(1.0, t_end):
            raise ConfigError(f"dt = {dt:g} does not divide [{self.t:g}, {t_end:g}]")
        m0 = self.moiety_totals()
        its0 = self._newton_its
        for _ in range(n):
            self.step(dt, scheme)
        m1 = self.moiety_totals()
        scale = np.maximum(np.abs(m0), 1e-300)
        drift = float(np.max(np.abs(m1 - m0) / scale)) if m0.size else 0.0
        return RDResult(scheme, dt, self.t, n, m0.tolist(), m1.tolist(), drift,
                        newton_iterations=self._newton_its - its0, closed=self.closed)

    def close(self) -> None:
        """Release matrices, KSPs and the SNES (collective)."""
        for op in self._ops.values():
            op.destroy()
        self._h = None
        if self._mono is not None:
            self._mono.destroy()
            self._mono = None
        for name in ("_b", "_x"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.destroy()
                setattr(self, name, None)
