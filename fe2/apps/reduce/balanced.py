"""``fe2 reduce`` with ``[reduction] method = "balanced_truncation"``: a linear reaction–diffusion system
from ``[system]`` reduced by square-root balanced truncation (:mod:`fe2.reduction.balanced`).

Dense and serial by design (≤ :data:`fe2.reduction.lti.MAX_DENSE_STATES` states): every rank builds
and reduces the same system on ``MPI.COMM_SELF``; rank 0 writes ``OUT/reduced_model.npz``,
``OUT/reduced_model.json`` (the model with its provenance: the config's ``[system]`` and
``[reduction]``, the Hankel singular values, the bound, the measured error), ``OUT/hsv.png`` (Hankel
singular values, the bound 2 Σ_{k>r} σ_k against r, and the measured frequency-grid H∞ error of the
chosen order) and, last, ``OUT/result.json``. The H∞ error is the largest singular value of
G(iω) − G_r(iω) on ω = 0 and ``system.frequencies`` log points in [1e-4, 1e4] (in 1 / the config's
time unit): a lower estimate of the H∞ norm, checked against σ_{r+1} ≤ ‖G − G_r‖_∞ ≤ 2 Σ_{k>r} σ_k.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fe2.collective import on_root
from fe2.config.reduce import ReduceConfig, SystemSpec
from fe2.io.results import write_json_atomic
from fe2.reduction import (
    AverageOutput,
    FluxInput,
    LTISystem,
    SensorOutput,
    SourceInput,
    assemble_diffusion_reaction,
    balanced_truncation,
    save_reduced,
)

BOUNDARY_TAGS = {"left": 1, "right": 2, "bottom": 3, "top": 4}


def build_system(spec: SystemSpec) -> LTISystem:
    """The P1 system of ``spec`` on ``MPI.COMM_SELF`` (boundaries tagged by :data:`BOUNDARY_TAGS`)."""
    from dolfinx import mesh

    d = spec.domain
    if d.kind == "interval":
        msh = mesh.create_interval(MPI.COMM_SELF, d.n, [0.0, d.length])
        ext = [d.length]
    else:
        msh = mesh.create_rectangle(MPI.COMM_SELF, [[0.0, 0.0], [d.width, d.height]], [d.nx, d.ny])
        ext = [d.width, d.height]
    fdim = msh.topology.dim - 1
    sides = {"left": (0, 0.0), "right": (0, ext[0])}
    if len(ext) == 2:
        sides.update({"bottom": (1, 0.0), "top": (1, ext[1])})
    idx, tags = [], []
    for name, (axis, value) in sides.items():
        facets = mesh.locate_entities_boundary(msh, fdim, lambda x, a=axis, v=value: np.isclose(x[a], v))
        idx.append(facets)
        tags.append(np.full(facets.size, BOUNDARY_TAGS[name], dtype=np.int32))
    all_idx, all_tags = np.concatenate(idx), np.concatenate(tags)
    _, first = np.unique(all_idx, return_index=True)  # a corner vertex (1D) belongs to one side only
    order = first[np.argsort(all_idx[first])]
    ft = mesh.meshtags(msh, fdim, all_idx[order], all_tags[order])
    inputs = [FluxInput(i.name, BOUNDARY_TAGS[i.boundary], i.species) if i.kind == "flux" and i.boundary
              else SourceInput(i.name, None, i.species) for i in spec.inputs]
    outputs = [AverageOutput(o.name, None, o.species) if o.kind == "average" or o.point is None
               else SensorOutput(o.name, tuple(o.point), o.species) for o in spec.outputs]
    robin = {BOUNDARY_TAGS[k]: v for k, v in spec.robin.items()}
    return assemble_diffusion_reaction(msh, spec.diffusivity, np.asarray(spec.jacobian, dtype=float), inputs,
                                       outputs, facet_tags=ft, robin=robin)


def _figure(out: Path, sig: np.ndarray, order: int, hinf: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = min(sig.size, max(4 * order, 40))
    tails = 2.0 * np.cumsum(sig[::-1])[::-1]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(np.arange(1, k + 1), sig[:k], "o-", ms=3, label="Hankel singular values σ_k")
    ax.semilogy(np.arange(k), tails[:k], "--", label="bound 2 Σ_{k>r} σ_k (at r)")
    ax.semilogy([order], [max(hinf, 1e-300)], "r*", ms=10, label=f"measured H∞ error, r = {order}")
    ax.set_xlabel("k  /  reduced order r")
    ax.set_ylabel("input–output units")
    ax.legend()
    fig.tight_layout()
    tmp = out / "hsv.tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out / "hsv.png")


def run_balanced_truncation(cfg: ReduceConfig, comm: MPI.Comm, out_dir: str | Path, *, progress=None) -> dict:
    """Reduce the ``[system]`` of ``cfg``; returns the result dict written to OUT/result.json."""
    assert cfg.system is not None
    say = progress or (lambda msg: None)
    out = Path(out_dir)
    t0 = time.perf_counter()
    sys_ = build_system(cfg.system)
    say(f"balanced truncation of a {sys_.n}-state system ({len(sys_.input_names)} inputs, "
        f"{len(sys_.output_names)} outputs)")
    red = balanced_truncation(sys_, order=cfg.reduction.order, tol=cfg.reduction.tol)
    offline_s = time.perf_counter() - t0
    omega = np.concatenate([[0.0], np.logspace(-4, 4, cfg.system.frequencies)])
    diff = sys_.transfer(omega) - red.as_system().transfer(omega)
    hinf = float(max(np.linalg.svd(d, compute_uv=False)[0] for d in diff))
    sig = red.hankel_singular_values
    lower = float(sig[red.order]) if red.order < sig.size else 0.0  # every HSV kept: no lower bound
    result = {
        "command": "reduce", "method": "balanced_truncation", "full_states": sys_.n, "order": red.order,
        "hinf_error_grid": hinf, "hinf_bound": red.bound, "hinf_lower_bound": lower,
        "within_bound": bool(hinf <= red.bound), "hankel_singular_values": sig[:min(sig.size, 50)].tolist(),
        "inputs": sys_.input_names, "outputs": sys_.output_names, "offline_s": offline_s,
        "files": {"model": "reduced_model.npz", "provenance": "reduced_model.json", "figure": "hsv.png"},
        "units": {"hinf": "output unit / input unit", "offline_s": "s"},
    }
    provenance = {"system": cfg.system.model_dump(), "reduction": cfg.reduction.model_dump(),
                  "hinf_error_grid": hinf, "frequency_grid": [0.0, 1e-4, 1e4, cfg.system.frequencies]}

    def write() -> None:  # rank 0 only; a write error (unwritable folder, full disk) raised on every rank
        out.mkdir(parents=True, exist_ok=True)
        save_reduced(out, red, provenance)
        _figure(out, sig, red.order, hinf)
        write_json_atomic(out / "result.json", result)

    say(f"order {red.order}: H∞ error on the grid {hinf:.3e} <= bound 2Σσ {red.bound:.3e}")
    on_root(comm, write, f"writing the reduced model to {out}")
    return result


__all__ = ["BOUNDARY_TAGS", "build_system", "run_balanced_truncation"]
