"""Reaction-network ensembles on the batched path: a rank's samples as the nodes of one integration.

A study whose base is ``fe2 reactions`` in ``well_mixed`` mode with a batched deterministic
integrator (``ros2`` or ``be``), one node (no ``nodes``, no ``sweep``) and an inline ``[network]``
table, and whose uncertain inputs (and ``split.scan`` key) are all network parameters
(``network.parameters.<name>``) or initial values (``network.species.<name>``), has samples that
differ only in parameter and initial values. Each rank then integrates its share, ``batch.samples``
at a time, as the nodes of one call of :func:`~fe2.physics.reactions.integrators.integrate` with
per-node parameter arrays and initial states, instead of one ``fe2 reactions`` run (parse, compile,
integrate, CSV, PNG) per sample: the network is compiled once per rank.

Each sample's config is still built and validated by ``fe2 reactions``' own loader (a negative rate
constant is the same error), and its QoIs are read from a ``result.json`` view built as the
``fe2 reactions`` runner builds it for one node — ``final``, ``time_scales``, ``moiety_drift``,
``node_steps`` and ``rejected`` (per node), ``config`` … — and from its ``timeseries.csv`` rows
(``csv = "timeseries.csv"``) kept in memory. Only ``wall_time`` has no per-sample value: a QoI on
it keeps the per-sample path. The integrator's step control is per node, so a node's trajectory
does not depend on the other nodes of its batch (tests/uq/test_uq_batched.py: equal to the
per-sample path to the integrator tolerance, and the same on 1 and 2 ranks).

SSA, tau-leaping and hybrid bases (``stochastic`` mode), the scipy integrators (``bdf``, ``radau``)
and the spatial mode keep one run per sample.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from fe2.apps.uq.bases import Base, csv_cell
from fe2.apps.uq.paths import number_at
from fe2.config.uq import UQConfig
from fe2.io.results import _default

#: key-path prefixes of the inputs the batched path takes: a parameter or an initial value
_NODE_KEYS = (("network", "parameters"), ("network", "species"))


def _node_key(steps: tuple) -> bool:
    return len(steps) == 3 and tuple(steps[:2]) in _NODE_KEYS and isinstance(steps[2], str)


def batched_path_reason(cfg: UQConfig, base: Base) -> str | None:
    """None when the study takes the batched path; otherwise why not (a phrase for result.json)."""
    if base.command != "reactions":
        return f"the base is fe2 {base.command}" if base.command != "python" else "the base is a Python function"
    if not cfg.batch.enabled:
        return "batch.enabled = false"
    data = base.base_data
    if data.get("mode") != "well_mixed":
        return f"mode = {data.get('mode')!r} (stochastic and spatial runs are one run per sample)"
    wm = data.get("well_mixed", {})
    if wm.get("method", "ros2") not in ("ros2", "be"):
        return f"well_mixed.method = {wm.get('method')!r} (the scipy integrators loop over nodes anyway)"
    if wm.get("nodes", 1) != 1 or "sweep" in wm:
        return "the base has several nodes (well_mixed.nodes or sweep)"
    if not isinstance(data.get("network"), dict):
        return "the network is not an inline [network] table"
    keys = [base.key_paths[i.key] for i in cfg.inputs]
    if cfg.method == "split" and cfg.split.scan is not None:
        keys.append(base.scan_path)
    if not all(_node_key(k) for k in keys):
        return "an input is not a network parameter or initial value (network.parameters.*, network.species.*)"
    if cfg.keep_sample_outputs:
        return "keep_sample_outputs = true (each run's own files)"
    for q in cfg.qoi:
        if q.path is not None and base.qoi_paths[q.name][0] == "wall_time":
            return f"qoi.{q.name} reads wall_time (only a run of its own has one)"
        if q.csv is not None and q.csv != "timeseries.csv":
            return f"qoi.{q.name} reads {q.csv} (the batched path keeps timeseries.csv only)"
    return None


class BatchedReactions:
    """``evaluate(ids, values, scan_values)``: the QoIs of many samples from one batched integration."""

    def __init__(self, cfg: UQConfig, base: Base) -> None:
        assert base.base_path is not None
        self.cfg = cfg
        self.base = base
        (base_cfg, network), _ = base.load_sample({})
        self.network = network
        self.cn = network.compile()
        self.wm = base_cfg.well_mixed
        self.times = np.linspace(0.0, self.wm.t_end, self.wm.n_out)

    def describe(self) -> str:
        return (f"batched: each rank's samples as the nodes of one {self.wm.method} integration, "
                f"{self.cfg.batch.samples} at a time")

    def evaluate(self, ids: list[int], values: list[dict[str, Any]], scan_values: list[Any]) -> list[dict[str, float]]:
        """The QoIs of the samples ``ids`` (an Fe2Error of any sample's config or of the integration is
        raised as it is; the caller reruns the block one sample at a time to name the failing one).
        """
        return [self._qoi(view, node) for view, node in self.results(values, scan_values)]

    def results(self, values: list[dict[str, Any]], scan_values: list[Any]) -> list[tuple[dict, np.ndarray]]:
        """Per sample: (its result.json view, its time series ``(n_out, species)``), from one integration."""
        from fe2.physics.reactions.integrators import integrate, moiety_drift

        loaded = [self.base.load_sample(v, s)[0] for v, s in zip(values, scan_values, strict=True)]
        for (_cfg, net) in loaded:  # the eligibility rule guarantees it: only values differ
            assert net.reactions == self.network.reactions and net.species_names == self.network.species_names
        c0 = np.array([net.initial for _cfg, net in loaded])
        pnames = list(self.network.parameters)
        params = {p: np.array([net.parameters[p] for _cfg, net in loaded]) for p in pnames}
        wm = self.wm
        r = integrate(self.cn, c0, (0.0, wm.t_end), method=wm.method, dt=wm.dt, rtol=wm.rtol, atol=wm.atol,
                      t_eval=self.times, params=params or None)
        assert r.c_eval is not None and r.steps_by_node is not None and r.rejected_by_node is not None
        out = []
        for k, (cfg_k, net_k) in enumerate(loaded):
            node = r.c_eval[:, k, :]
            drift = moiety_drift(self.cn.W, c0[k:k + 1], node[-1:])
            p_k = {p: float(params[p][k]) for p in pnames}
            out.append((self._result_view(cfg_k, net_k, node, p_k, int(r.steps_by_node[k]),
                                          int(r.rejected_by_node[k]), drift), node))
        return out

    def _result_view(self, cfg, network, node: np.ndarray, params: dict, steps: int, rejected: int,
                     drift: float) -> dict:
        """What ``fe2 reactions`` writes to result.json for this one-node run (its ``wall_time`` aside)."""
        from fe2.apps.reactions.runner import NOTATION, _scales, _units, reaction_units

        names = network.species_names
        header = ["time", *names]
        res = {"method": self.wm.method, "n_nodes": 1, "t_end": self.wm.t_end, "node_steps": steps,
               "rejected": rejected, "moiety_drift": drift,
               "time_scales": {"initial": _scales(self.cn, node[0], params),
                               "final": _scales(self.cn, node[-1], params)},
               "final": {nm: [node[-1, i]] for i, nm in enumerate(names)},
               "timeseries": {"file": "timeseries.csv", "columns": header, "units": _units(cfg, header, names)},
               "files": ["timeseries.csv", "trajectories.png", "result.json"],
               "mode": cfg.mode, "ranks": 1, "species": names, "moieties": network.moiety_names(),
               "units": reaction_units(cfg), "notation": NOTATION[cfg.mode], "config": cfg.model_dump(mode="json")}
        return json.loads(json.dumps(res, default=_default))

    def _qoi(self, view: dict, node: np.ndarray) -> dict[str, float]:
        what = "result.json of fe2 reactions"
        qoi = {n: number_at(view, p, what, f"qoi.{n}.path") for n, p in self.base.qoi_paths.items()}
        header = ["time", *self.network.species_names]
        body = [[t, *node[j]] for j, t in enumerate(self.times)]
        for q in self.cfg.qoi:
            if q.csv is not None:
                assert q.column is not None
                qoi[q.name] = csv_cell(q.csv, header, body, q.column, q.row, f"qoi.{q.name}")
        return qoi


def batched_reactions(cfg: UQConfig, base: Base) -> tuple[BatchedReactions | None, str]:
    """(the batched evaluator or None, how the samples run — for result.json)."""
    reason = batched_path_reason(cfg, base)
    if reason is not None:
        return None, f"one run per sample ({reason})"
    b = BatchedReactions(cfg, base)
    return b, b.describe()


__all__ = ["BatchedReactions", "batched_path_reason", "batched_reactions"]
