"""Compiled kernels: a network's rates, Jacobian and a Rodas4 loop in C, built once per model.

Why C through sympy's C printer (and not numba): the per-model code is generated text anyway
(sympy expressions); printed as C99 and compiled with the system C compiler (``$CC``, default
``cc``: the compiler DOLFINx's form JIT already needs) it costs ~0.1-0.3 s once per model and
nothing afterwards, since the shared object is cached on disk under a hash of its source
(``$FE2_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/fe2/kernels`` or ``~/.cache/fe2/kernels``) and
reused by every later call and process. numba would need a JIT warm-up of the whole
integrator on first use (seconds, against the 2 s import + load + first-run target) and its disk
cache does not cover functions generated at run time. The library is loaded with ``ctypes``
(standard library): no new dependency.

The integrator loop itself (:mod:`.ckernel_source`) is compiled in the same translation unit as
the rates, so a one-node solve makes no Python call per step. A model that cannot be printed as
C (an unsupported function), a missing compiler, or more than :data:`MAX_SPECIES` species
makes :func:`kernel_for` raise :class:`KernelUnavailable` with the reason; the caller falls back
to the numpy path (``backend = "auto"``) or reports it (``backend = "c"``).

Under MPI (:func:`resolve_backend` / :func:`agreed_kernel` with the communicator of the
integration) the kernel is compiled by one rank per kernel cache directory (the lowest rank
naming it; the others wait for its outcome, then load the file) and the ranks agree on the
outcome (one allgather): ``"auto"`` runs the same backend on every rank, ``"c"`` raises the same
one-line error on every rank when the kernel is unavailable on any.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import sympy as sp

from fe2.physics.reactions.ckernel_source import integrator_source

MAX_SPECIES = 200  # per-node work arrays live on the C stack (NS^2 doubles)
CFLAGS = ("-O2", "-std=c99", "-fPIC", "-shared", "-fno-math-errno")
STATUS = {1: "a non-finite rate or Jacobian entry", 2: "step size underflow",
          3: "too many steps", 4: "a singular iteration matrix", 5: "a non-finite state"}


class KernelUnavailable(RuntimeError):
    """The network cannot be compiled to C here (the message says why)."""


def cache_dir() -> Path:
    if env := os.environ.get("FE2_KERNEL_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fe2" / "kernels"


def _c_body(exprs: list[sp.Expr], target: str, index) -> str:
    """C statements assigning ``target[index(k)] = exprs[k]`` with common subexpressions shared."""
    repl, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("t_"))
    lines = [f"    const double {sp.ccode(s)} = {sp.ccode(e, standard='C99')};" for s, e in repl]
    lines += [f"    {target}[{index(k)}] = {sp.ccode(e, standard='C99')};" for k, e in enumerate(reduced)]
    return "\n".join(lines)


def model_source(network, jac_nz, jac_exprs) -> str:
    """C text of ``model_rhs`` / ``model_jac`` for a :class:`~.network.Network`."""
    ssym, psym = network.symbols
    ns, npar = len(ssym), len(psym)
    sub = {s: sp.Symbol(f"c[{i}]", real=True) for i, s in enumerate(ssym.values())}
    sub.update({s: sp.Symbol(f"p[{i}]", real=True) for i, s in enumerate(psym.values())})
    known = set(sub)
    exprs = list(network.rhs_expressions) + list(jac_exprs)
    for e in exprs:
        if extra := e.free_symbols - known:
            raise KernelUnavailable(f"symbol(s) {', '.join(sorted(map(str, extra)))} are not species "
                                    f"or parameters")
    rhs = [e.xreplace(sub) for e in network.rhs_expressions]
    jac = [e.xreplace(sub) for e in jac_exprs]
    try:
        rhs_body = _c_body(rhs, "f", lambda k: k)
        jac_body = _c_body(jac, "J", lambda k: jac_nz[k][0] * ns + jac_nz[k][1]) if jac else ""
    except Exception as err:  # noqa: BLE001 -- sympy's printers raise several types on unsupported nodes
        raise KernelUnavailable(f"cannot print the rates as C ({type(err).__name__}: "
                                f"{str(err).splitlines()[0] if str(err) else ''})") from None
    return (f"#include <math.h>\n#define NS {ns}\n#define NP {npar}\n"
            f"static void model_rhs(const double *c, const double *p, double *f) {{\n"
            f"    (void)c; (void)p;\n{rhs_body}\n}}\n"
            f"static void model_jac(const double *c, const double *p, double *J) {{\n"
            f"    (void)c; (void)p;\n    for (int k = 0; k < NS * NS; k++) J[k] = 0.0;\n{jac_body}\n}}\n")


def _so_path(source: str) -> Path:
    """Where the shared object of ``source`` is cached (a hash of the source, compiler and flags)."""
    cc = os.environ.get("CC", "cc")
    key = hashlib.sha256("\0".join([source, cc, platform.machine(), *CFLAGS]).encode()).hexdigest()[:24]
    return cache_dir() / f"fe2_rx_{key}.so"


def _compile(source: str, so: Path) -> None:
    """Run the C compiler on ``source`` and rename the result to ``so`` (KernelUnavailable on failure)."""
    cc = os.environ.get("CC", "cc")
    d = so.parent
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KernelUnavailable(f"cannot create the kernel cache {d}: {err.strerror}") from None
    # compile into a private file, then rename: concurrent processes (MPI ranks) never see half a file
    with tempfile.TemporaryDirectory(dir=d) as tmp:
        src = Path(tmp) / "kernel.c"
        src.write_text(source)
        out = Path(tmp) / "kernel.so"
        try:
            p = subprocess.run([cc, *CFLAGS, "-o", str(out), str(src), "-lm"], capture_output=True,
                               text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise KernelUnavailable(f"C compiler {cc!r} not usable: {err}") from None
        if p.returncode != 0:
            lines = p.stderr.strip().splitlines()
            # gcc's first line is "file: In function ...": show the first line that says "error"
            first = next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else "(no message)")
            raise KernelUnavailable(f"C compiler {cc!r} failed: {first}")
        os.replace(out, so)


def _build(source: str) -> Path:
    """The cached shared object of ``source``, compiled first when the cache does not hold it (any
    file-system error on the way, e.g. a full disk, is a KernelUnavailable: the ranks agree on it).
    """
    so = _so_path(source)
    try:  # exists() itself raises PermissionError for an unsearchable cache folder (Python <= 3.13)
        if not so.exists():
            _compile(source, so)
    except OSError as err:
        raise KernelUnavailable(f"cannot write the kernel into {so.parent}: {err.strerror or err}") from None
    return so


_dbl = ctypes.POINTER(ctypes.c_double)
_long = ctypes.c_long


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(_dbl)


class CKernel:
    """The compiled functions of one network (see :mod:`.ckernel_source` for their contracts)."""

    def __init__(self, path: Path, n_species: int, n_params: int):
        self.path = path
        self.n_species, self.n_params = n_species, n_params
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as err:  # e.g. a foreign .so in a shared cache
            raise KernelUnavailable(f"cannot load the compiled kernel {path}: {err}") from None
        self._lib = lib
        if missing := [n for n in ("fe2_rhs", "fe2_jac", "fe2_rodas4") if not hasattr(lib, n)]:
            raise KernelUnavailable(f"the compiled kernel {path} lacks {', '.join(missing)}")
        for name in ("fe2_rhs", "fe2_jac"):
            fn = getattr(lib, name)
            fn.restype = _long
            fn.argtypes = [_long, _dbl, _dbl, _long, _dbl]
        lib.fe2_rodas4.restype = _long
        lib.fe2_rodas4.argtypes = [_long, _dbl, _dbl, _long, _long, _dbl, _dbl, ctypes.c_double,
                                   ctypes.c_double, ctypes.c_double, ctypes.c_double, _long,
                                   ctypes.POINTER(_long)]

    def params_array(self, pvals: list, n: int) -> tuple[np.ndarray, int]:
        """``(P, pstride)``: one row when every value is a scalar, else ``(n, n_params)``."""
        if all(np.ndim(v) == 0 for v in pvals):
            return np.array([float(v) for v in pvals] or [0.0], dtype=float), 0
        P = np.empty((n, max(self.n_params, 1)))
        for k, v in enumerate(pvals):
            P[:, k] = v
        return P, self.n_params

    def rhs(self, C: np.ndarray, pvals: list) -> np.ndarray:
        """``f`` at node-major states ``C`` ``(n, s)``, shape ``(n, s)``."""
        C = np.ascontiguousarray(C, dtype=float)
        P, ps = self.params_array(pvals, C.shape[0])
        F = np.empty_like(C)
        self._lib.fe2_rhs(C.shape[0], _ptr(C), _ptr(P), ps, _ptr(F))
        return F

    def jac(self, C: np.ndarray, pvals: list) -> np.ndarray:
        """``df/dc`` at node-major states, shape ``(n, s, s)``."""
        C = np.ascontiguousarray(C, dtype=float)
        P, ps = self.params_array(pvals, C.shape[0])
        J = np.empty((C.shape[0], self.n_species, self.n_species))
        self._lib.fe2_jac(C.shape[0], _ptr(C), _ptr(P), ps, _ptr(J))
        return J

    def rodas4(self, C0: np.ndarray, pvals: list, tout: np.ndarray, *, rtol: float, atol: float,
               hfix: float = 0.0, h0: float = 0.0, max_steps: int = 10_000_000):
        """Integrate every node; returns ``(Cout (n, nout, s), stats (n, 3), failed node or -1)``."""
        C0 = np.ascontiguousarray(C0, dtype=float)
        n, s = C0.shape
        tout = np.ascontiguousarray(tout, dtype=float)
        P, ps = self.params_array(pvals, n)
        Cout = np.empty((n, tout.size, s))
        stats = np.zeros((n, 3), dtype=np.int_)
        bad = self._lib.fe2_rodas4(n, _ptr(C0), _ptr(P), ps, tout.size, _ptr(tout), _ptr(Cout),
                                   float(rtol), float(atol), float(hfix), float(h0), int(max_steps),
                                   stats.ctypes.data_as(ctypes.POINTER(_long)))
        return Cout, stats, int(bad)


def kernel_source(compiled_network) -> str:
    """The C text of a :class:`~.network.CompiledNetwork`'s kernel (KernelUnavailable where there is none)."""
    net = compiled_network.network
    if net.n_species > MAX_SPECIES:
        raise KernelUnavailable(f"{net.n_species} species (the compiled path takes at most {MAX_SPECIES})")
    J = compiled_network.jacobian_expressions
    nz = compiled_network._jac_nz
    return model_source(net, nz, [J[i, j] for i, j in nz]) + integrator_source()


def kernel_for(compiled_network) -> CKernel:
    """Build (or load from the disk cache) the C kernel of a :class:`~.network.CompiledNetwork`."""
    net = compiled_network.network
    return CKernel(_build(kernel_source(compiled_network)), net.n_species, len(net.parameters))


def _build_on_leaders(cn, comm) -> CKernel | str:
    """This rank's kernel, or why it has none; collective over ``comm`` (two allgathers).

    The lowest rank of each cache directory compiles (a cache hit compiles nothing); the other ranks
    of that directory wait for its outcome (the allgather is the barrier) and then load its shared
    object. A rank that still finds no file (a node-local directory under the same name) compiles
    for itself; a rank whose directory's compile failed does not try again.
    """
    source, so, failure = None, None, None
    try:
        source = kernel_source(cn)
        so = _so_path(source)
    except KernelUnavailable as err:
        failure = str(err)
    where = str(so.parent) if so is not None else None
    dirs = comm.allgather(where)
    leader = dirs.index(where) if where is not None else comm.rank
    if leader == comm.rank and source is not None:
        try:
            _build(source)
        except KernelUnavailable as err:
            failure = str(err)
    built = comm.allgather(failure if leader == comm.rank else None)
    if failure is not None:
        return failure
    assert source is not None
    if built[leader] is not None:
        return f"not compiled here: the compile on rank {leader} (same kernel cache) failed"
    net = cn.network
    try:
        return CKernel(_build(source), net.n_species, len(net.parameters))
    except KernelUnavailable as err:
        return str(err)


def agreed_kernel(cn, comm) -> CKernel:
    """The C kernel of ``cn`` on every rank of ``comm``, or the same KernelUnavailable on every rank
    (naming the lowest rank where it could not be built or loaded). Collective over ``comm``.

    Compiled once per shared kernel cache (:func:`_build_on_leaders`), then agreed, so that
    ``backend = "auto"`` runs the same backend on every rank and ``"c"`` fails on all or none.
    Each rank keeps its own outcome in ``cn`` (a later call on ``COMM_SELF`` sees this rank's).
    """
    from mpi4py import MPI

    from fe2.collective import first_failure

    if comm.allreduce(cn._kernel is None, op=MPI.LOR):  # some rank has no outcome yet: build
        mine = _build_on_leaders(cn, comm)  # every rank takes part (a cache hit compiles nothing)
        if cn._kernel is None:
            cn._kernel = mine
    mine = cn._kernel
    first = first_failure(comm, mine if isinstance(mine, str) else None)
    if first is not None:
        rank, text = first
        raise KernelUnavailable(text if comm.size == 1 else f"{text} (rank {rank} of {comm.size})")
    return mine


def resolve_backend(cn, backend: str, comm=None) -> tuple[str, str | None]:
    """``("c" | "numpy", why not C or None)`` for a Rodas4 integration of ``cn``, the same on every
    rank of ``comm`` (collective when ``comm`` has several ranks; None: this process alone).
    ``backend = "c"`` where the kernel is unavailable on any rank raises the same one-line
    ConfigError on every rank.
    """
    from fe2.errors import ConfigError

    if backend == "numpy":
        return "numpy", None
    try:
        if comm is not None and comm.size > 1:
            agreed_kernel(cn, comm)
        else:
            cn.c_kernel()
    except KernelUnavailable as err:
        if backend == "c":
            failure = ConfigError(f"backend: the C kernel is unavailable: {err}")
            failure.collective = comm is not None and comm.size > 1
            raise failure from None
        return "numpy", str(err)
    return "c", None


def run_rodas4(cn, C0: np.ndarray, pvals: list, times: np.ndarray, *, dt: float | None, rtol: float,
               atol: float, h0: float | None, max_steps: int):
    """Compiled Rodas4 on node-major ``C0`` through ``times`` (``times[0]`` the start); returns
    ``(Cout (n, len(times), s), stats (n, 3))``. A failing node raises a one-line
    :class:`~fe2.errors.ConvergenceError` naming the node, the time interval and the cause (the
    non-finite rate or Jacobian entry by name, as the numpy path does).
    """
    from fe2.errors import ConvergenceError

    k = cn.c_kernel()
    Cout, stats, bad = k.rodas4(C0, pvals, times, rtol=rtol, atol=atol, hfix=dt or 0.0,
                                h0=h0 or 0.0, max_steps=max_steps)
    if bad >= 0:
        state = Cout[bad, -1][:, None]
        pv = [float(v[bad]) if np.ndim(v) else float(v) for v in pvals]
        code = int(stats[bad, 2])
        where = f"node {bad}, between t = {times[0]:g} and {times[-1]:g}"
        if code in (1, 2, 4) and (msg := cn.nonfinite_report(state, pv)) is not None:
            raise ConvergenceError(f"rodas4: {msg} ({where})")
        hint = f" with the fixed dt = {dt:g}; reduce dt" if dt else ""
        raise ConvergenceError(f"rodas4: {STATUS.get(code, f'status {code}')} at {where}{hint}")
    return Cout, stats


def integrate_compiled(cn, C0, pvals, times, outs, *, one, dt, rtol, atol, h0, max_steps, strict, res,
                       comm=None) -> bool:
    """Fill ``res`` (an :class:`~.integrators.IntegrationResult`) by the compiled Rodas4 and return
    True (``one``: a single state was given, drop the node axis); where the kernel is unavailable
    (on any rank of ``comm``: :func:`resolve_backend`) return False (the caller runs the numpy path)
    with the reason in ``res.extra["backend_fallback"]``, or raise a ConfigError naming it when
    ``strict``.
    """
    backend, why = resolve_backend(cn, "c" if strict else "auto", comm)
    if backend != "c":
        res.extra["backend_fallback"] = why
        return False
    Cout, stats = run_rodas4(cn, C0, pvals, times, dt=dt, rtol=rtol, atol=atol, h0=h0, max_steps=max_steps)
    res.extra["backend"] = "c"
    res.node_steps, res.rejected = int(stats[:, 0].sum()), int(stats[:, 1].sum())
    res.sweeps = int((stats[:, 0] + stats[:, 1]).max())
    res.c = Cout[:, -1].copy()
    if outs is not None:
        res.t_eval = outs
        res.c_eval = np.moveaxis(Cout[:, np.searchsorted(times, outs)], 1, 0).copy()
    if one:
        res.c = res.c[0]
        if res.c_eval is not None:
            res.c_eval = res.c_eval[:, 0]
    return True
