"""Offline stage of a reduced RVE: snapshots → POD → ECM → a :class:`ReducedRVEData`, stored as a file.

A reduced RVE is two files in one directory: ``reduced_rve.npz`` (the arrays: modes Φ, the strain
modes G_s = B_s Φ and weights ω_s at the selected cubature points, their phases) and
``reduced_rve.json`` (provenance: kind, dimension, RVE volume, boundary condition, the phase laws
and their parameters, the training design, the POD tolerance and number of modes with the
truncation error, the cubature points and their integration error). Both are written atomically
(temporary file + rename), the JSON last: a directory with a JSON has a complete npz.

Range checks when a reduced RVE is used (:meth:`ReducedRVEData.check_laws` and the online model):
the dimension, the phase names, the law classes and every scalar parameter must equal the trained
ones (a one-line :class:`~fe2.errors.ConfigError` naming the mismatch), and the macro strain's
Mandel norm must not exceed the trained ``max_amplitude`` (beyond it the online model hands the
point to the full RVE when it has one, and refuses with one line otherwise).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from scipy import sparse

from fe2.errors import ConfigError
from fe2.materials.contract import MicroModel
from fe2.micro.nonlinear_rve import NonlinearRVEMaterial
from fe2.micro.reduced.basis import empirical_cubature, pod_basis
from fe2.micro.reduced.training import Snapshots, TrainingDesign, collect_snapshots, training_paths

FORMAT = "fe2-reduced-rve/1"


def law_fingerprint(law: MicroModel) -> dict:
    """Class name and scalar parameters (and a constant stiffness) of a phase law: what must match."""
    params: dict = {k: v for k, v in sorted(vars(law).items())
                    if isinstance(v, bool | int | float | str) and not k.startswith("_")}
    c = getattr(law, "c_mandel", None)
    if c is not None:
        params["c_mandel"] = np.asarray(c).tolist()
    return {"class": type(law).__name__, "params": params}


def strain_modes(full: NonlinearRVEMaterial, modes: np.ndarray) -> np.ndarray:
    """G ``(n_qp, m, k)``: the micro strain of mode j at every quadrature point (ε = E + G q is linear in q)."""
    full.E.value[:] = 0.0
    cols = []
    for j in range(modes.shape[1]):
        full.w.x.array[:] = modes[:, j]
        cols.append(full.quad.evaluate(full.strain_expr))
    return np.stack(cols, axis=-1)


def residual_map(full: NonlinearRVEMaterial) -> sparse.csr_matrix:
    """R ``(n_reduced_dofs, n_qp·m)``: the restricted full residual Pᵀ r(σ) = R σ.ravel() of a flux σ
    ``(n_qp, m)`` at the full RVE's quadrature points (its order; KUBC boundary dofs dropped, as Pᵀ does).

    Assembled once as the bilinear form ∫ σ_h · variation(v) over the blocked quadrature space of the
    flux (same rule as the residual form) and multiplied by Pᵀ. Serial RVEs only (ConfigError otherwise).
    """
    if full.comm.size > 1:
        raise ConfigError(f"residual_map needs an RVE on one process, this one is on {full.comm.size}")
    Qv = full.quad.flux.function_space
    form = fem.form(ufl.inner(ufl.TrialFunction(Qv), full.kinematics.variation(ufl.TestFunction(full.V)))
                    * full.quad.dx)
    B = fem_petsc.assemble_matrix(form)
    B.assemble()
    P = full.P
    mats = []
    for mat in (B, P):
        indptr, indices, values = mat.getValuesCSR()
        mats.append(sparse.csr_matrix((values, indices, indptr), shape=mat.getSize()))
    B.destroy()
    m = full.m
    blocks = Qv.dofmap.list[: full.quad.owned_cells.size].ravel()  # quadrature block of each point, in order
    columns = (blocks[:, None] * m + np.arange(m)[None, :]).ravel()  # point-major, as flux.ravel()
    return sparse.csr_matrix(mats[1].T @ mats[0][:, columns])


def training_integrands(G: np.ndarray, micro_flux: np.ndarray, volumes: np.ndarray) -> np.ndarray:
    """The ECM integrands ``(n_qp, n_snap·(k + m))`` of the snapshots, scaled per snapshot.

    Per snapshot t: its reduced-force integrand G_pᵀσ_p (k columns) divided by the block's L² norm
    (√Σ_p V_p ‖G_pᵀσ_p‖²), and its stress σ_p (m columns) divided by its own. Every snapshot and both
    blocks then weigh the same, while within a block the columns keep their relative sizes: an
    integration error of ``ecm_tol`` in the (Frobenius) sense of :func:`empirical_cubature` means
    force and stress of a snapshot integrated to ~``ecm_tol`` of that snapshot's own magnitude. (A
    unit norm per *column*, the former scaling, made a force component 1e-3 of its snapshot's size as
    important as the largest one, so the integrand basis kept almost full rank and the cubature almost
    every point: 1682 of 1857 on the 3D bench RVE.) Snapshots whose block is zero (the undeformed
    state) are left out.
    """
    forces = np.einsum("pmk,tpm->ptk", G, micro_flux)
    stresses = np.transpose(micro_flux, (1, 0, 2))
    blocks = []
    for block in (forces, stresses):
        norms = np.sqrt(np.einsum("p,ptk->t", volumes, block**2))
        keep = norms > 1e-14 * norms.max()
        blocks.append((block[:, keep] / norms[keep][None, :, None]).reshape(volumes.size, -1))
    return np.column_stack(blocks)


@dataclass
class ReducedRVEData:
    """Everything the online reduced RVE needs (arrays) plus its provenance (``meta``)."""

    modes: np.ndarray  # Φ (n_w, k)
    point_strain_modes: np.ndarray  # G_s (n_s, m, k) at the cubature points
    weights: np.ndarray  # ω_s (n_s,)
    points: np.ndarray  # indices of the cubature points among the RVE's quadrature points (n_s,)
    point_phase: np.ndarray  # phase index of each cubature point (n_s,), into meta["phases"]
    phase_local_index: np.ndarray  # index of each cubature point among its phase's points (n_s,)
    meta: dict = field(default_factory=dict)

    @property
    def n_modes(self) -> int:
        return int(self.modes.shape[1])

    @property
    def max_amplitude(self) -> float:
        return float(self.meta["training"]["max_amplitude"])

    def check_laws(self, laws: Mapping[str, MicroModel]) -> None:
        """One-line ConfigError unless ``laws`` (and their dimension) are the trained ones (module docstring)."""
        dims = sorted({int(law.dim) for law in laws.values()})
        if dims != [self.meta["dim"]]:
            raise ConfigError(f"reduced RVE was trained in {self.meta['dim']}D, the laws given are {dims}D")
        trained = self.meta["laws"]
        if sorted(laws) != sorted(trained):
            raise ConfigError(f"reduced RVE phases {sorted(trained)} differ from the given {sorted(laws)}")
        for ph, law in laws.items():
            fp = law_fingerprint(law)
            want = trained[ph]
            if fp["class"] != want["class"]:
                raise ConfigError(f"phase {ph!r}: reduced RVE trained with {want['class']}, given {fp['class']}")
            for k, v in want["params"].items():
                got = fp["params"].get(k)
                same = (got == v if isinstance(v, str | bool) or got is None or isinstance(got, str | bool)
                        else bool(np.allclose(got, v, rtol=1e-12, atol=0.0)))
                if not same:
                    raise ConfigError(f"phase {ph!r}: parameter {k} = {fp['params'].get(k)} differs from the "
                                      f"trained {v}")

    # ------------------------------------------------------------------ storage
    def save(self, directory: str | Path) -> Path:
        """Write ``reduced_rve.npz`` then ``reduced_rve.json`` atomically into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        arrays = {k: getattr(self, k) for k in ("modes", "point_strain_modes", "weights", "points", "point_phase",
                                                 "phase_local_index")}
        fd, tmp = tempfile.mkstemp(dir=out, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, out / "reduced_rve.npz")
        fd, tmp = tempfile.mkstemp(dir=out, suffix=".json.tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(self.meta, fh, indent=2)
        os.replace(tmp, out / "reduced_rve.json")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> ReducedRVEData:
        """Read a directory written by :meth:`save` (ConfigError in one line if it is not one)."""
        d = Path(directory)
        try:
            meta = json.loads((d / "reduced_rve.json").read_text())
            with np.load(d / "reduced_rve.npz") as z:
                arrays = {k: np.array(z[k]) for k in z.files}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{d} is not a reduced RVE directory ({exc})") from None
        if meta.get("format") != FORMAT:
            raise ConfigError(f"{d}: reduced RVE format {meta.get('format')!r}, expected {FORMAT!r}")
        return cls(meta=meta, **arrays)


def build_reduced_rve(full: NonlinearRVEMaterial, design: TrainingDesign | None = None, *,
                      snapshots: Snapshots | None = None, pod_tol: float = 1e-6, max_modes: int | None = None,
                      hyper_reduction: str = "ecm", ecm_tol: float = 1e-6) -> ReducedRVEData:
    """Train a reduced RVE of ``full`` (small strain): snapshots along ``design`` (or the given ones),
    POD at the energy tolerance ``pod_tol``, and ECM at ``ecm_tol`` (``hyper_reduction="none"``: all
    quadrature points with their exact weights, plain POD-Galerkin).
    """
    if full.kind not in ("small_strain", "finite_strain"):
        raise ConfigError(f"reduced RVEs are trained for mechanics, the RVE is {full.kind}")
    if hyper_reduction not in ("ecm", "none"):
        raise ConfigError(f"hyper_reduction must be 'ecm' or 'none', got {hyper_reduction!r}")
    design = design or TrainingDesign()
    t0 = time.perf_counter()
    snaps = snapshots or collect_snapshots(full, training_paths(design, full.m, full.kind))
    basis = pod_basis(snaps.fluctuations, pod_tol, max_modes)
    G = strain_modes(full, basis.modes)
    vol = full.point_volume
    n_qp = vol.size
    if hyper_reduction == "ecm":
        rule = empirical_cubature(training_integrands(G, snaps.micro_flux, vol), vol, tol=ecm_tol,
                                  svd_tol=ecm_tol)
        pts, w = rule.points, rule.weights
        ecm_info = {"tol": ecm_tol, "n_points": int(pts.size), "integration_residual": rule.residual,
                    "n_integrands": rule.n_integrands,
                    "volume_error": float(abs(w.sum() - vol.sum()) / vol.sum())}
    else:
        pts, w = np.arange(n_qp), vol.copy()
        ecm_info = {"tol": 0.0, "n_points": int(n_qp), "integration_residual": 0.0, "n_integrands": 0,
                    "volume_error": 0.0}
    phases = list(full.phase_points)
    point_phase = np.full(n_qp, -1)
    local = np.full(n_qp, -1)
    for k, ph in enumerate(phases):
        pp = full.phase_points[ph]
        point_phase[pp] = k
        local[pp] = np.arange(pp.size)
    meta = {
        "format": FORMAT, "kind": full.kind, "dim": full.dim, "m": full.m, "volume": full.volume, "bc": full.bc,
        "n_dofs": int(full.n_w), "n_quadrature_points": int(n_qp), "phases": phases,
        "laws": {ph: law_fingerprint(full.laws[ph]) for ph in phases},
        "training": {**design.as_dict(), "n_snapshots": int(snaps.drivers.shape[0]),
                     "full_solve_time_s": snaps.time_s},
        "pod": {"energy_tol": pod_tol, "n_modes": basis.n_modes, "truncation_error": basis.truncation_error,
                "singular_values": basis.singular_values[: min(50, basis.singular_values.size)].tolist()},
        "hyper_reduction": hyper_reduction, "ecm": ecm_info,
        "offline_time_s": time.perf_counter() - t0,
        "units": {"strain": "1 (Mandel)", "stress": "user's modulus unit", "weights": "RVE length^dim"},
    }
    return ReducedRVEData(basis.modes, G[pts], np.asarray(w, float), np.asarray(pts, np.int64),
                          point_phase[pts], local[pts], meta)


__all__ = ["FORMAT", "ReducedRVEData", "build_reduced_rve", "law_fingerprint", "residual_map", "strain_modes",
           "training_integrands"]
