"""Reaction–diffusion on a dolfinx mesh by operator splitting.

``dc_i/dt = div(D_i grad c_i) + f_i(c)`` for every species of a :class:`Network`, no-flux
(homogeneous Neumann) boundaries, P1 Lagrange per species. One time step of size ``dt``:

* **Godunov** (Lie) splitting: ``R(dt)`` then ``D(dt)`` — first order in ``dt``;
* **Strang** splitting: ``R(dt/2) D(dt) R(dt/2)`` — second order in ``dt``.

``R(h)``: the reaction ODEs at every owned degree of freedom (a P1 dof is a vertex value), all
at once with the batched ROS2 integrator (``reaction_substeps`` fixed steps, second order, so the
Strang step stays second order); ghost values then come from a scatter. ``D(h)``: each species
diffuses alone by Crank–Nicolson (``theta = 1/2``, second order; ``theta = 1`` backward Euler)
with the consistent mass matrix: ``(M + theta h D_i K) c^+ = (M - (1 - theta) h D_i K) c``.

The forms are compiled once (diffusivity and ``theta h`` are ``fem.Constant``); one matrix and
KSP (prefix ``fe2_rd_N_``, LU by default) per distinct diffusivity, refactored only when
``dt`` changes. Conservation: diffusion keeps ``1^T M c_i`` (Neumann); the reaction step changes
each node by a vector ``d`` with ``w^T d = 0`` for every moiety ``w``, so the integral of every
conserved moiety is constant up to round-off (checked by :meth:`ReactionDiffusion.moiety_totals`).
"""

from __future__ import annotations

import itertools
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

SCHEMES = ("godunov", "strang")
_ids = itertools.count()


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

    def to_dict(self) -> dict:
        return asdict(self)


class ReactionDiffusion:
    """Operator-split reaction–diffusion for ``network`` on ``mesh`` (communicator: the mesh's).

    Args:
        mesh: dolfinx mesh.
        network: the reactions (its parameters; ``params`` may override them).
        diffusivity: ``{species: D}``; species left out do not diffuse (D = 0).
        theta: diffusion scheme, 0.5 (Crank–Nicolson) or 1 (backward Euler).
        reaction_substeps: fixed ROS2 steps per reaction sub-step.
        petsc_options: KSP/PC options for the diffusion solves (default: direct LU).
    """

    def __init__(self, mesh, network: Network, diffusivity: dict[str, float], *, theta: float = 0.5,
                 reaction_substeps: int = 4, params: dict | None = None, petsc_options: dict | None = None):
        unknown = set(diffusivity) - set(network.species_names)
        if unknown:
            raise ConfigError(f"diffusivity: unknown species {', '.join(sorted(unknown))}")
        if any(not (d >= 0) for d in diffusivity.values()):
            raise ConfigError("diffusivity: values must be >= 0")
        if theta not in (0.5, 1.0):
            raise ConfigError("theta: 0.5 (Crank–Nicolson) or 1 (backward Euler)")
        if reaction_substeps < 1:
            raise ConfigError("reaction_substeps: must be >= 1")
        self.mesh = mesh
        self.comm = mesh.comm
        self.network = network
        self.compiled = network.compile()
        self.params = params
        self.theta = float(theta)
        self.reaction_substeps = int(reaction_substeps)
        self.V = fem.functionspace(mesh, ("Lagrange", 1))
        self.c = [fem.Function(self.V, name=n) for n in network.species_names]
        self.D = np.array([float(diffusivity.get(n, 0.0)) for n in network.species_names])
        self.n_owned = self.V.dofmap.index_map.size_local
        self.t = 0.0
        # forms, compiled once
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        self._w = fem.Function(self.V)
        self._Dc = fem.Constant(mesh, PETSc.ScalarType(0.0))
        self._hth = fem.Constant(mesh, PETSc.ScalarType(0.0))  # theta * h
        self._hom = fem.Constant(mesh, PETSc.ScalarType(0.0))  # (1 - theta) * h
        dx = ufl.dx
        self._a = fem.form(u * v * dx + self._hth * self._Dc * ufl.inner(ufl.grad(u), ufl.grad(v)) * dx)
        self._L = fem.form(self._w * v * dx
                           - self._hom * self._Dc * ufl.inner(ufl.grad(self._w), ufl.grad(v)) * dx)
        self._one = fem.form(self._w * dx)
        self._b = create_petsc_vector(self.V)
        self._x = create_petsc_vector(self.V)
        self._solvers: dict[float, tuple] = {}  # D -> (A, ksp)
        self._h = None
        self._opts = petsc_options or {"ksp_type": "preonly", "pc_type": "lu"}
        self.prefix = f"fe2_rd_{next(_ids)}_"

    # -- state -----------------------------------------------------------------------------
    def set_initial(self, values: dict[str, float | Callable]) -> None:
        """``{species: constant or callable x -> array}``; others keep the network's initial value."""
        for i, sp_ in enumerate(self.network.species):
            val = values.get(sp_.name, sp_.initial)
            if callable(val):
                self.c[i].interpolate(val)
            else:
                self.c[i].x.array[:] = float(val)
            self.c[i].x.scatter_forward()
        if unknown := set(values) - set(self.network.species_names):
            raise ConfigError(f"initial values: unknown species {', '.join(sorted(unknown))}")
        self.t = 0.0

    def values(self) -> np.ndarray:
        """Owned dof values, shape ``(n_owned, n_species)``."""
        return np.stack([f.x.array[: self.n_owned] for f in self.c], axis=1)

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

    # -- sub-steps ---------------------------------------------------------------------------
    def _react(self, h: float) -> None:
        c = self.values()
        if c.shape[0]:
            res = integrate(self.compiled, c, (0.0, h), method="ros2", dt=h / self.reaction_substeps,
                            params=self.params)
            c = res.c
        for i, f in enumerate(self.c):
            f.x.array[: self.n_owned] = c[:, i]
            f.x.scatter_forward()

    def _setup(self, h: float) -> None:
        if self._h == h:
            return
        for A, ksp in self._solvers.values():
            ksp.destroy()
            A.destroy()
        self._solvers = {}
        self._hth.value = self.theta * h
        self._hom.value = (1.0 - self.theta) * h
        for D in sorted(set(self.D[self.D > 0])):
            self._Dc.value = D
            A = fem_petsc.assemble_matrix(self._a)
            A.assemble()
            ksp = PETSc.KSP().create(self.comm)
            ksp.setOptionsPrefix(self.prefix)
            opts = PETSc.Options()
            opts.prefixPush(self.prefix)
            for k, v in self._opts.items():
                opts[k] = v
            ksp.setFromOptions()
            for k in self._opts:
                del opts[k]
            opts.prefixPop()
            ksp.setOperators(A)
            self._solvers[D] = (A, ksp)
        self._h = h

    def _diffuse(self, h: float) -> None:
        self._setup(h)
        for i, f in enumerate(self.c):
            D = self.D[i]
            if D == 0:
                continue
            self._Dc.value = D
            self._w.x.array[:] = f.x.array
            with self._b.localForm() as loc:
                loc.set(0.0)
            fem_petsc.assemble_vector(self._b, self._L)
            self._b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            A, ksp = self._solvers[D]
            ksp.solve(self._b, self._x)
            if ksp.getConvergedReason() < 0:
                raise SolverError(f"diffusion solve of {self.network.species_names[i]} failed "
                                  f"(KSP reason {ksp.getConvergedReason()})")
            f.x.array[: self.n_owned] = self._x.array_r[: self.n_owned]
            f.x.scatter_forward()

    def step(self, dt: float, scheme: str = "strang") -> None:
        if scheme == "godunov":
            self._react(dt)
            self._diffuse(dt)
        elif scheme == "strang":
            self._react(0.5 * dt)
            self._diffuse(dt)
            self._react(0.5 * dt)
        else:
            raise ConfigError(f"scheme: unknown splitting {scheme!r} (one of {', '.join(SCHEMES)})")
        self.t += dt

    def run(self, t_end: float, dt: float, scheme: str = "strang") -> RDResult:
        """Advance from the current time to ``t_end`` in equal steps (``dt`` must divide the interval)."""
        n = int(round((t_end - self.t) / dt))
        if n < 1 or abs(n * dt - (t_end - self.t)) > 1e-9 * max(1.0, t_end):
            raise ConfigError(f"dt = {dt:g} does not divide [{self.t:g}, {t_end:g}]")
        m0 = self.moiety_totals()
        for _ in range(n):
            self.step(dt, scheme)
        m1 = self.moiety_totals()
        scale = np.maximum(np.abs(m0), 1e-300)
        drift = float(np.max(np.abs(m1 - m0) / scale)) if m0.size else 0.0
        return RDResult(scheme, dt, self.t, n, m0.tolist(), m1.tolist(), drift)

    def close(self) -> None:
        """Release matrices and KSPs (collective)."""
        for A, ksp in self._solvers.values():
            ksp.destroy()
            A.destroy()
        self._solvers = {}
        for name in ("_b", "_x"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.destroy()
                setattr(self, name, None)
