"""Rodas4 (batched numpy and compiled C) and the compiled kernels: observed orders, stiff accuracy,
agreement of the two paths, caching, bad input.

Orders are measured by fixed-step convergence on problems with closed-form solutions; the
observed order is ``log2(e(dt) / e(dt/2))`` on the last halving, taken where the error is far
above round-off (>= 1e-12) and the method is in its asymptotic regime.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fe2.errors import ConfigError, ConvergenceError
from fe2.physics.reactions import Network, Reaction, Species, integrate, load_sbml, solve_ivp_reference
from fe2.physics.reactions.examples import robertson
from fe2.physics.reactions.integrators import _step_rodas4

DATA = Path(__file__).resolve().parents[2] / "data" / "sbml"
ROOT = Path(__file__).resolve().parents[3]


def _logistic() -> Network:
    """A -> 2A (k = 1), 2A -> A (k = 1): dA/dt = A - A^2, A(t) = 1 / (1 + (1/A0 - 1) e^{-t})."""
    return Network([Species("A", 0.1)], [Reaction.parse("A -> 2 A", k="k"), Reaction.parse("2 A -> A", k="k")],
                   {"k": 1.0})


def _logistic_exact(t, a0=0.1):
    return 1.0 / (1.0 + (1.0 / a0 - 1.0) * np.exp(-t))


def _exchange() -> Network:
    """A <-> B (k = 3, k_reverse = 1), linear: A(t) = A_eq + (A0 - A_eq) e^{-4t}, A_eq = (A0 + B0)/4."""
    return Network([Species("A", 1.0), Species("B", 0.0)], [Reaction.parse("A <-> B", k="k", k_reverse="kr")],
                   {"k": 3.0, "kr": 1.0})


def _orders(errors):
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_rodas4_fixed_step_order_4(backend):
    """Global error of fixed-step Rodas4 falls as dt^4 on a nonlinear (logistic) and a linear
    (exchange) problem. Halvings from dt = T/8 to T/64: observed order within 3.7-4.4
    (the asymptotic constant is reached from dt ~ 0.25 on; higher-order error terms make the
    first ratios deviate by a few tenths)."""
    T = 2.0
    for net, exact in ((_logistic(), lambda t: np.array([_logistic_exact(t)])),
                       (_exchange(), lambda t: np.array([0.25 + 0.75 * np.exp(-4 * t),
                                                         0.75 - 0.75 * np.exp(-4 * t)]))):
        errs = []
        for n in (8, 16, 32, 64):
            r = integrate(net, net.initial, (0.0, T), method="rodas4", dt=T / n, backend=backend)
            assert r.extra["backend"] == backend
            errs.append(np.max(np.abs(r.c - exact(T))))
        assert min(errs) > 1e-12
        p = _orders(errs)
        assert np.all((p[-2:] > 3.7) & (p[-2:] < 4.4)), (errs, p)


def test_rodas4_embedded_order_3():
    """The embedded solution (y_new - error estimate), propagated on its own, converges with
    order 3 (observed 2.8-3.3 on the last two halvings) on the logistic problem: the error
    estimate is that of a (4, 3) pair, hence the controller exponent -1/4."""
    cn = _logistic().compile()
    T, errs = 2.0, []
    for n in (8, 16, 32, 64):
        y = np.array([[0.1]])
        for _ in range(n):
            ynew, est, _ok = _step_rodas4(cn, y, T / n, [1.0])
            y = ynew - est
        errs.append(abs(y[0, 0] - _logistic_exact(T)))
    p = _orders(errs)
    assert np.all((p[-2:] > 2.8) & (p[-2:] < 3.3)), (errs, p)


def test_rodas4_robertson_stiff_accuracy():
    """Robertson (stiffness ~1e9 as B relaxes) on [0, 4e5] in log-spaced outputs, against
    scipy's Radau at rtol 1e-12: compiled and numpy Rodas4 at rtol 1e-6 / atol 1e-10 both
    within 2e-5 relative to each species' peak (measured ~1e-6; global error accumulates over
    ~200 steps, a few rtol) and the conserved total A + B + C to 1e-12. (The two paths choose
    their first step differently, so their step sequences differ; at fixed steps they agree to
    round-off, see test_rodas4_paths_agree_at_fixed_steps.)"""
    net = robertson()
    times = np.concatenate([[0.0], np.logspace(-5, np.log10(4e5), 12)[:-1], [4e5]])
    ref = solve_ivp_reference(net, net.initial, (0.0, 4e5), method="Radau", rtol=1e-12, atol=1e-16,
                              t_eval=times).c_eval
    scale = ref.max(axis=0)
    out = {}
    for backend in ("c", "numpy"):
        r = integrate(net, net.initial, (0.0, 4e5), method="rodas4", rtol=1e-6, atol=1e-10, t_eval=times,
                      backend=backend)
        assert np.max(np.abs(r.c_eval - ref) / scale) < 2e-5
        assert r.moiety_drift < 1e-12
        out[backend] = r
    assert min(out["c"].node_steps, out["numpy"].node_steps) > 100  # a real adaptive run


def test_rodas4_paths_agree_at_fixed_steps():
    """Same method in C and numpy: at the same fixed steps on Robertson (dt = 1e-3, 400 steps;
    stiff: k2 dt = 3e4) the states agree to 1e-12 relative to each species' peak (round-off)."""
    net = robertson()
    times = np.linspace(0.0, 0.4, 5)
    r = {b: integrate(net, net.initial, (0.0, 0.4), method="rodas4", dt=1e-3, t_eval=times, backend=b)
         for b in ("c", "numpy")}
    scale = r["numpy"].c_eval.max(axis=0)
    assert np.max(np.abs(r["c"].c_eval - r["numpy"].c_eval) / scale) < 1e-12


def test_compiled_rates_match_numpy_and_nodes_are_independent():
    """The C rates and Jacobian equal the numpy (lambdify) ones to round-off on the repressilator
    (Hill functions, a species at zero, an assignment rule); per-node parameters over 3 nodes
    give each node exactly its single-node trajectory (per-node step control in the C loop)."""
    net = load_sbml(DATA / "repressilator.xml")
    cn = net.compile()
    rng = np.random.default_rng(0)
    C = rng.uniform(0.0, 3.0, (5, net.n_species))
    C[0] = 0.0
    k = cn.c_kernel()
    pv = cn._pvals(None)
    np.testing.assert_allclose(k.rhs(C, pv), cn.rhs(C), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(k.jac(C, pv), cn.jacobian(C), rtol=1e-13, atol=1e-13)
    beta = np.array([1.0, 5.0, 20.0])
    times = np.linspace(0.0, 10.0, 6)
    allr = integrate(net, np.tile(net.initial, (3, 1)), (0.0, 10.0), method="rodas4", t_eval=times,
                     params={"beta": beta})
    for i, b in enumerate(beta):
        one = integrate(net, net.initial, (0.0, 10.0), method="rodas4", t_eval=times, params={"beta": b})
        np.testing.assert_array_equal(allr.c_eval[:, i], one.c_eval)


def test_compile_once_per_model():
    """integrate(Network) reuses the compiled network (it regenerated code on every call)."""
    net = _exchange()
    assert net.compile() is net.compile()
    assert net.compile().c_kernel() is net.compile().c_kernel()


@pytest.mark.serial
def test_kernel_disk_cache_across_processes(tmp_path, monkeypatch):
    """A fresh process finds the shared object built here (same file, nothing rebuilt): the C
    source is generated again (cheap) but its hash names the cached library."""
    monkeypatch.setenv("FE2_KERNEL_CACHE", str(tmp_path))
    built = Network(robertson().species, robertson().reactions, robertson().parameters).compile().c_kernel().path
    stamp = built.stat().st_mtime_ns
    code = ("from fe2.physics.reactions.examples import robertson; "
            "print(robertson().compile().c_kernel().path)")
    env = {"FE2_KERNEL_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert Path(run.stdout.strip()) == built
    assert [p.name for p in tmp_path.iterdir()] == [built.name] and built.stat().st_mtime_ns == stamp


def test_no_compiler_falls_back_or_says_why(tmp_path, monkeypatch):
    """Without a usable compiler 'auto' runs the numpy path (and says so), 'c' is a one-line
    ConfigError naming the compiler."""
    monkeypatch.setenv("FE2_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    net = _exchange()
    r = integrate(net, net.initial, (0.0, 1.0), method="rodas4")
    assert r.extra["backend"] == "numpy" and "no-such-cc" in r.extra["backend_fallback"]
    assert r.c[0] == pytest.approx(0.25 + 0.75 * np.exp(-4.0), rel=1e-5)
    with pytest.raises(ConfigError, match=r"^backend: the C kernel is unavailable: .*no-such-cc") as err:
        integrate(_logistic(), [0.1], (0.0, 1.0), method="rodas4", backend="c")
    assert "\n" not in str(err.value)


def test_bad_method_and_backend_one_line():
    net = _exchange()
    with pytest.raises(ConfigError, match=r"^method: unknown integrator 'rodas5' \(one of be, ros2, rodas4\)$"):
        integrate(net, net.initial, (0.0, 1.0), method="rodas5")
    with pytest.raises(ConfigError, match=r"^backend: unknown backend 'gpu'"):
        integrate(net, net.initial, (0.0, 1.0), method="rodas4", backend="gpu")
    with pytest.raises(ConfigError, match=r"^backend: 'c' is for method = 'rodas4'"):
        integrate(net, net.initial, (0.0, 1.0), method="ros2", backend="c")


def test_nonfinite_jacobian_named_by_compiled_path():
    """sqrt(A) at A = 0: infinite slope. The C loop stops and the error names the Jacobian entry,
    the reaction and the state, as the numpy path does."""
    net = Network([Species("A", 0.0)], [Reaction.parse("-> A", law="expression", rate="1 + sqrt(A)"),
                                        Reaction.parse("A ->", k="d")], {"d": 1.0})
    with pytest.raises(ConvergenceError) as err:
        integrate(net, net.initial, (0.0, 1.0), method="rodas4", backend="c")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("rodas4: ") and "d(dA/dt)/dA is inf" in msg and "A = 0" in msg
