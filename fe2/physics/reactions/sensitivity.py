"""Forward sensitivities of a reaction network's observables, from the sensitivity equations.

For ``dx/dt = f(x, p)``, ``x(0) = x0`` and observables ``y = h(x, p)``, the state sensitivities
``S = dx/dtheta`` (``theta``: the studied parameters, then the unknown initial concentrations)
obey the forward sensitivity equations

    dS/dt = J_x(x, p) S + J_p(x, p),      S(0) = [0 | E],

with ``J_x = df/dx`` and ``J_p = df/dp`` generated symbolically from the network (sympy, with
:func:`~fe2.physics.reactions.symbolic.derivative`) and ``E`` the unit columns of the species
whose initial value is a parameter. State and sensitivities are integrated together as one
system of ``n + n m`` equations by scipy's ``solve_ivp`` (BDF, Radau or LSODA) with the exact
symbolic Jacobian of the augmented system (its lower-left block needs the second derivatives
``d(J_x S + J_p)/dx``, also symbolic). The output sensitivities are
``dy/dtheta = dh/dx S + dh/dtheta``. No finite differences are used anywhere here (the tests
compare against central differences).

Parameters are given and returned in linear coordinates; callers that work in log coordinates
multiply the columns by ``theta`` (``dy/dln theta_j = theta_j dy/dtheta_j``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

from fe2.errors import ConfigError, SolverError
from fe2.physics.reactions.network import Network, _lambdify_list
from fe2.physics.reactions.symbolic import derivative

METHODS = ("BDF", "Radau", "LSODA")


def initial_name(species: str) -> str:
    """The parameter name of an unknown initial concentration: ``A(0)``."""
    return f"{species}(0)"


def observable_expressions(network: Network, observables: Mapping[str, str] | Sequence[str],
                           where: str = "observables") -> dict[str, sp.Expr]:
    """``{name: sympy expression}`` of the observables: species names, or formulas in species and
    parameter names (``{"y": "k2*A"}``); an unknown name is a one-line ConfigError naming ``where``.
    """
    ssym, psym = network.symbols
    allsyms = {**psym, **ssym}
    items = ({s: s for s in observables} if not isinstance(observables, Mapping) else dict(observables))
    if not items:
        raise ConfigError(f"{where}: give at least one observable")
    out: dict[str, sp.Expr] = {}
    for name, text in items.items():
        if not isinstance(text, str):
            raise ConfigError(f"{where}.{name}: expected a species name or a formula string")
        try:
            expr = sp.sympify(text, locals=dict(allsyms))
        except Exception:  # noqa: BLE001 -- sympy raises SympifyError, TokenError, TypeError ... on bad text
            raise ConfigError(f"{where}.{name}: cannot parse {text!r}") from None
        if not isinstance(expr, sp.Expr):
            raise ConfigError(f"{where}.{name}: {text!r} is not a formula")
        unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in allsyms)
        if unknown:
            raise ConfigError(f"{where}.{name}: unknown species or parameter {unknown[0]!r} in {text!r} "
                              f"(species: {', '.join(network.species_names)})")
        if not (expr.free_symbols & set(ssym.values())):
            raise ConfigError(f"{where}.{name}: {text!r} depends on no species")
        out[str(name)] = expr
    return out


@dataclass(frozen=True)
class Simulation:
    """Observables ``y`` (``(n_times, n_obs)``) and, when asked for, ``dy`` = dy/dtheta
    (``(n_times, n_obs, n_theta)``, linear coordinates) at ``times``; ``steps``: right-hand side evaluations.
    """

    times: np.ndarray
    y: np.ndarray
    dy: np.ndarray | None
    steps: int


class SensitivityModel:
    """A network, the parameters under study and its observables, ready to integrate.

    ``parameters``: names of network parameters under study (the others keep their network
    values); ``unknown_initial``: species whose initial concentration is a parameter too
    (named ``A(0)``); ``theta`` is ordered ``[*parameters, *unknown_initial]``.
    """

    def __init__(self, network: Network, parameters: Sequence[str],
                 observables: Mapping[str, str] | Sequence[str],
                 unknown_initial: Sequence[str] = ()):
        for p in parameters:
            if p not in network.parameters:
                raise ConfigError(f"parameters.{p}: unknown parameter (network parameters: "
                                  f"{', '.join(network.parameters) or 'none'})")
        for s in unknown_initial:
            if s not in network.species_names:
                raise ConfigError(f"initial.{s}: unknown species (species: {', '.join(network.species_names)})")
        if len(set(parameters)) != len(parameters) or len(set(unknown_initial)) != len(unknown_initial):
            raise ConfigError("parameters: a parameter is listed twice")
        self.network = network
        self.parameters = list(parameters)
        self.unknown_initial = list(unknown_initial)
        self.theta_names = [*self.parameters, *(initial_name(s) for s in self.unknown_initial)]
        self.observables = observable_expressions(network, observables)
        self.observable_names = list(self.observables)
        ssym, psym = network.symbols
        x = list(ssym.values())
        pall = list(psym.values())
        pstud = [psym[n] for n in self.parameters]
        n, m, mp = len(x), len(self.theta_names), len(pstud)
        self.n_species, self.n_theta = n, m
        f = network.rhs_expressions
        jx = [[derivative(fi, xj) for xj in x] for fi in f]
        jp = [[derivative(fi, pk) for pk in pstud] + [sp.Integer(0)] * (m - mp) for fi in f]
        sens = [[sp.Dummy(f"S{i}_{k}", real=True) for k in range(m)] for i in range(n)]
        g = [sp.Add(*[jx[i][j] * sens[j][k] for j in range(n) if jx[i][j] != 0]) + jp[i][k]
             for i in range(n) for k in range(m)]
        z = x + [sens[i][k] for i in range(n) for k in range(m)]
        big = list(f) + g
        args = [*z, *pall]
        self._f = _lambdify_list([*x, *pall], f)
        self._jx = _lambdify_list([*x, *pall], [e for row in jx for e in row])
        self._F = _lambdify_list(args, big)
        jz = [derivative(e, zi) for e in big for zi in z]
        self._JF_nz = [q for q, e in enumerate(jz) if e != 0]
        self._JF = _lambdify_list(args, [jz[q] for q in self._JF_nz]) if self._JF_nz else None
        hs = list(self.observables.values())
        self._h = _lambdify_list([*x, *pall], hs)
        hx = [derivative(h, xj) for h in hs for xj in x]
        hp = [derivative(h, pk) for h in hs for pk in pstud]
        self._hx = _lambdify_list([*x, *pall], hx)
        self._hp = _lambdify_list([*x, *pall], hp) if pstud else None
        self._pnames = list(psym)
        self._stud_index = [self._pnames.index(p) for p in self.parameters]
        self._init_index = [network.index(sp_) for sp_ in self.unknown_initial]

    # ----------------------------------------------------------------------------------------
    def nominal(self) -> np.ndarray:
        """theta at the network's values (parameters, then initial concentrations)."""
        x0 = self.network.initial
        return np.array([self.network.parameters[p] for p in self.parameters]
                        + [x0[i] for i in self._init_index], dtype=float)

    def _values(self, theta) -> tuple[np.ndarray, list[float]]:
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_theta,):
            raise ValueError(f"theta must have shape ({self.n_theta},), got {theta.shape}")
        pv = [self.network.parameters[nm] for nm in self._pnames]
        for k, idx in enumerate(self._stud_index):
            pv[idx] = float(theta[k])
        x0 = self.network.initial.copy()
        for k, idx in enumerate(self._init_index):
            x0[idx] = float(theta[len(self._stud_index) + k])
        return x0, pv

    def simulate(self, theta, times, sensitivities: bool = True, method: str = "LSODA",
                 rtol: float = 1e-10, atol: float = 1e-12) -> Simulation:
        """Integrate from t = 0 and return the observables (and dy/dtheta) at ``times`` (sorted, >= 0)."""
        if method not in METHODS:
            raise ConfigError(f"integrator.method: unknown method {method!r} (one of {', '.join(METHODS)})")
        times = np.asarray(times, dtype=float)
        if times.ndim != 1 or times.size == 0 or times[0] < 0 or np.any(np.diff(times) < 0):
            raise ConfigError("times must be a non-empty, sorted list of values >= 0")
        x0, pv = self._values(theta)
        n, m = self.n_species, self.n_theta
        if sensitivities:
            s0 = np.zeros((n, m))
            for k, idx in enumerate(self._init_index):
                s0[idx, len(self._stud_index) + k] = 1.0
            z0 = np.concatenate([x0, s0.ravel()])
            size = z0.size
            nz = self._JF_nz

            def fun(t, z):
                return np.asarray(self._F(*z, *pv), dtype=float)

            def jac(t, z):
                out = np.zeros(size * size)
                if self._JF is not None:
                    out[nz] = self._JF(*z, *pv)
                return out.reshape(size, size)
        else:
            z0 = x0

            def fun(t, z):
                return np.asarray(self._f(*z, *pv), dtype=float)

            def jac(t, z):
                return np.asarray(self._jx(*z, *pv), dtype=float).reshape(n, n)

        t_end = float(times[-1])
        if t_end == 0.0:
            zs = z0[:, None]
            steps = 0
        else:
            with np.errstate(all="ignore"):
                sol = solve_ivp(fun, (0.0, t_end), z0, method=method, t_eval=times, jac=jac,
                                rtol=rtol, atol=atol)
            if sol.status != 0 or not np.all(np.isfinite(sol.y)):
                raise SolverError(f"sensitivity integration failed at theta = {np.asarray(theta).tolist()}: "
                                  f"{sol.message}")
            zs, steps = sol.y, int(sol.nfev)
        nt = times.size
        X = zs[:n].T  # (nt, n)
        no = len(self.observable_names)
        y = np.empty((nt, no))
        dy = np.empty((nt, no, m)) if sensitivities else None
        for q in range(nt):
            y[q] = np.asarray(self._h(*X[q], *pv), dtype=float)
            if dy is not None:
                S = zs[n:, q].reshape(n, m)
                hx = np.asarray(self._hx(*X[q], *pv), dtype=float).reshape(no, n)
                d = hx @ S
                if self._hp is not None:
                    mp = len(self._stud_index)
                    d[:, :mp] += np.asarray(self._hp(*X[q], *pv), dtype=float).reshape(no, mp)
                dy[q] = d
        return Simulation(times, y, dy, steps)
