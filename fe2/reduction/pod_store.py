"""POD–Galerkin models on disk (``fe2 reduce`` with ``method = "pod"``), with their provenance and range.

``save_pod_model(dir, model, eigenvalues, arrays, meta)`` writes ``reduced_model.npz`` (basis V,
VᵀAV, VᵀB, CV, the lumped mass, every POD eigenvalue, and the caller's extra arrays) and
``reduced_model.json`` (format, order, the reaction as ``kind``/``parameters``/``expression``, the
caller's provenance), each to a temporary name renamed into place, the JSON last.
``load_pod_model(dir, expect)`` rebuilds the model (the reaction re-parsed from the JSON) and
refuses, with one line naming the key, a model whose recorded provenance differs from ``expect``
(another ``system`` or ``reaction``): a POD model is valid only for the operator and the rate it was
trained on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from fe2.errors import ConfigError
from fe2.reduction.nodal_reaction import law_expression, numeric_reaction
from fe2.reduction.pod import PODGalerkinModel
from fe2.reduction.store import JSON, NPZ, _same

FORMAT = "fe2 POD-Galerkin model 1"


def save_pod_model(directory: str | Path, model: PODGalerkinModel, eigenvalues: np.ndarray,
                   arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write the model; ``meta`` must hold ``reaction`` (kind, parameters, expression) and ``provenance``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / (NPZ + ".tmp.npz")
    named: dict[str, np.ndarray] = {"basis": model.basis, "A_r": model.A_r, "B_r": model.B_r, "C_r": model.C_r,
                                    "lumped": model.lumped, "eigenvalues": eigenvalues, **arrays}
    np.savez(tmp, **named)  # type: ignore[arg-type]
    os.replace(tmp, d / NPZ)
    tmp_j = d / (JSON + ".tmp")
    tmp_j.write_text(json.dumps({"format": FORMAT, "order": model.order, **meta}, indent=1))
    os.replace(tmp_j, d / JSON)


def load_pod_model(directory: str | Path, expect: dict | None = None) -> tuple[PODGalerkinModel, dict]:
    """The model and its metadata; ``expect`` (provenance keys → values) must match what was recorded."""
    d = Path(directory)
    if not (d / JSON).is_file() or not (d / NPZ).is_file():
        raise ConfigError(f"{d}: no reduced model here (need {NPZ} and {JSON})")
    meta = json.loads((d / JSON).read_text())
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{d}: not a POD-Galerkin model (format {meta.get('format')!r}, expected {FORMAT!r})")
    prov = meta.get("provenance", {})
    for key, value in (expect or {}).items():
        if key not in prov:
            raise ConfigError(f"{d}: POD model records no '{key}'; it cannot be checked for this use")
        if not _same(prov[key], value):
            raise ConfigError(f"{d}: POD model was trained for {key} = {prov[key]!r}, not {value!r}; reduce again")
    rx = meta["reaction"]
    reaction = numeric_reaction(law_expression(rx["kind"], rx["parameters"], rx.get("expression")))
    with np.load(d / NPZ) as z:
        model = PODGalerkinModel(z["basis"], z["A_r"], z["B_r"], z["C_r"], z["lumped"], reaction)
    return model, meta


__all__ = ["FORMAT", "load_pod_model", "save_pod_model"]
