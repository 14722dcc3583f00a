"""Reduced models on disk, with their provenance and the range they may be applied in.

``save_reduced(dir, model, provenance)`` writes ``reduced_model.npz`` (A_r, B_r, C_r, D_r and the
Hankel singular values) and ``reduced_model.json`` (order, full states, bound, input/output
names, and the caller's provenance: physics, mesh, coefficients, training inputs, tolerance),
each to a temporary name renamed into place, the JSON last. ``load_reduced(dir, expect)``
refuses, with one line naming the key, a model whose recorded provenance differs from ``expect``
(another physics, mesh size, dimension or coefficient): a reduced model is valid only for the
operator it was reduced from.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from fe2.errors import ConfigError
from fe2.reduction.balanced import ReducedLTI

NPZ, JSON = "reduced_model.npz", "reduced_model.json"


def save_reduced(directory: str | Path, model: ReducedLTI, provenance: dict) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / (NPZ + ".tmp.npz")
    np.savez(tmp, A=model.A, B=model.B, C=model.C, D=model.D, hsv=model.hankel_singular_values)
    os.replace(tmp, d / NPZ)
    meta = {"format": "fe2 reduced LTI model 1", "order": model.order, "full_states": model.full_states,
            "hinf_bound": model.bound, "inputs": model.input_names, "outputs": model.output_names,
            "method": "square-root balanced truncation", "provenance": provenance}
    tmp_j = d / (JSON + ".tmp")
    tmp_j.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_j, d / JSON)


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def load_reduced(directory: str | Path, expect: dict | None = None) -> tuple[ReducedLTI, dict]:
    """The model and its metadata; ``expect`` (provenance keys → values) must match what was recorded."""
    d = Path(directory)
    if not (d / JSON).is_file() or not (d / NPZ).is_file():
        raise ConfigError(f"{d}: no reduced model here (need {NPZ} and {JSON})")
    meta = json.loads((d / JSON).read_text())
    prov = meta.get("provenance", {})
    for key, value in (expect or {}).items():
        if key not in prov:
            raise ConfigError(f"{d}: reduced model records no '{key}'; it cannot be checked for this use")
        if not _same(prov[key], value):
            raise ConfigError(f"{d}: reduced model was built for {key} = {prov[key]!r}, not {value!r}; "
                              "reduce this operator again")
    with np.load(d / NPZ) as z:
        model = ReducedLTI(z["A"], z["B"], z["C"], z["D"], z["hsv"], float(meta["hinf_bound"]),
                           int(meta["full_states"]), list(meta["inputs"]), list(meta["outputs"]))
    return model, meta


__all__ = ["load_reduced", "save_reduced"]
