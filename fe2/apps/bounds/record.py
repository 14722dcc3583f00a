"""One finished record of a bound-convergence study as a typed object.

A :class:`BoundsRecord` is one realization of one material case: the apparent
tensors under every BC and what was measured alongside. :meth:`BoundsRecord.to_json`
gives the dict written as one line of ``realizations.rank<r>.jsonl`` (the same
keys and values as ever, so the files stay byte-identical), and
:meth:`BoundsRecord.from_json` reads such a line back.

The record does not store its case name: the case is identified by the
materials in ``spec`` (:func:`fe2.apps.bounds.plan.case_label`), which are
part of the key.

Notation: ``effective`` tensors are Voigt with engineering shear, order
``11 22 12`` (2D) / ``11 22 33 23 13 12`` (3D); conductivity tensors are plain
``d x d`` matrices with ``<J> = K <grad φ>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["BoundsRecord", "MeshInfo", "RecordTimings"]


@dataclass(frozen=True)
class MeshInfo:
    """Size of the RVE mesh a record was solved on (global counts; dofs include the block size)."""

    cells: int
    dofs: int
    h_min: float
    h_max: float

    def to_json(self) -> dict:
        return {"cells": self.cells, "dofs": self.dofs, "h_min": self.h_min, "h_max": self.h_max}

    @classmethod
    def from_json(cls, data: Mapping) -> MeshInfo:
        return cls(data["cells"], data["dofs"], data["h_min"], data["h_max"])


@dataclass(frozen=True)
class RecordTimings:
    """Wall times in seconds: ``mesh`` (charged to the first record of a task, 0 for the others)
    and ``solve`` (forms, assembly and the solves of every BC).
    """

    mesh: float
    solve: float

    @property
    def total(self) -> float:
        return self.mesh + self.solve

    def to_json(self) -> dict:
        return {"mesh": self.mesh, "solve": self.solve}

    @classmethod
    def from_json(cls, data: Mapping) -> RecordTimings:
        return cls(data["mesh"], data["solve"])


@dataclass(frozen=True, eq=False)
class BoundsRecord:
    """One realization of one material case, solved under every BC.

    Attributes:
        key: hash of the record spec (:func:`fe2.apps.bounds.plan.record_spec`).
        geometry_key: hash of the geometry (the mesh this record shares with other cases).
        size: RVE size L/ℓ.
        realization: realization index at this size.
        seed: the realization's seed (:func:`~fe2.apps.bounds.plan.realization_seed`).
        packing_seed: the seed of the packing actually meshed (``seed`` unless redrawn).
        packing_redraws: how many times a jammed packing was redrawn.
        spec: the record spec the key hashes (geometry, physics, materials, BCs, solver), as JSON.
        effective: BC -> apparent tensor (Voigt; read-only arrays).
        hill_mandel: BC -> largest Hill–Mandel residual of the solve.
        ordering: ``"kubc-periodic"`` / ``"periodic-tubc"`` / ``"kubc-tubc"`` -> smallest eigenvalue of
            the difference (internal form) over the largest entry of the upper tensor.
        volume_fractions: phase -> measured fraction of the box volume (voids included).
        mesh: mesh size information.
        timings: wall times (JSON key ``timings_s``).
        rank: the rank that solved it; ``ranks``: the size of the communicator it was solved on.
    """

    key: str
    geometry_key: str
    size: float
    realization: int
    seed: int
    packing_seed: int
    packing_redraws: int
    spec: Mapping
    effective: Mapping[str, np.ndarray]
    hill_mandel: Mapping[str, float]
    ordering: Mapping[str, float]
    volume_fractions: Mapping[str, float]
    mesh: MeshInfo
    timings: RecordTimings
    rank: int
    ranks: int

    def __post_init__(self) -> None:
        eff = {}
        for bc, C in self.effective.items():
            a = np.array(C, dtype=float)
            a.setflags(write=False)
            eff[bc] = a
        object.__setattr__(self, "effective", eff)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BoundsRecord):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # unhashable (dicts, arrays); typeshed: __hash__ a method

    def to_json(self) -> dict:
        """The JSON dict of one line of the record files (write it with ``sort_keys=True``)."""
        return {
            "key": self.key,
            "geometry_key": self.geometry_key,
            "size": self.size,
            "realization": self.realization,
            "seed": self.seed,
            "packing_seed": self.packing_seed,
            "packing_redraws": self.packing_redraws,
            "spec": self.spec,
            "effective": {bc: C.tolist() for bc, C in self.effective.items()},
            "hill_mandel": dict(self.hill_mandel),
            "ordering": dict(self.ordering),
            "volume_fractions": self.volume_fractions,
            "mesh": self.mesh.to_json(),
            "timings_s": self.timings.to_json(),
            "rank": self.rank,
            "ranks": self.ranks,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> BoundsRecord:
        """Inverse of :meth:`to_json`. Raises KeyError/TypeError/ValueError on a malformed dict."""
        return cls(
            key=data["key"],
            geometry_key=data["geometry_key"],
            size=data["size"],
            realization=data["realization"],
            seed=data["seed"],
            packing_seed=data["packing_seed"],
            packing_redraws=data["packing_redraws"],
            spec=data["spec"],
            effective=data["effective"],
            hill_mandel=data["hill_mandel"],
            ordering=data["ordering"],
            volume_fractions=data["volume_fractions"],
            mesh=MeshInfo.from_json(data["mesh"]),
            timings=RecordTimings.from_json(data["timings_s"]),
            rank=data["rank"],
            ranks=data["ranks"],
        )
