"""Piecewise-constant (DG0) coefficient fields built from cell tags and per-region tissue data.

One DG0 field per coefficient (exchange C, source constant A, lymphatic and vascular
parts, K and K⁻¹ as (gdim, gdim) tensors), so every form has a single ``dx``
whatever the number of regions. A heterogeneous K given at quadrature points
(:class:`~fe2.quadrature.QuadratureFields`-style: a (gdim, gdim) quadrature-space
function and its measure) replaces the DG0 K and is used with its own measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.errors import ConfigError, MeshError
from fe2.physics.darcy.properties import TissueProperties


@dataclass
class QuadratureConductivity:
    """K = k/μ [m²/(Pa·s)] given at quadrature points: a quadrature function of shape (gdim, gdim).

    Attributes:
        K: the quadrature-space function (e.g. ``QuadratureFields.tangent`` with m = gdim,
            filled with the homogenized conductivity of the RVE at each owned point).
        dx: the measure whose rule matches those points (``QuadratureFields.dx``).
    """

    K: fem.Function
    dx: ufl.Measure

    @classmethod
    def from_fields(cls, fields) -> QuadratureConductivity:
        """From a :class:`fe2.quadrature.QuadratureFields` whose ``tangent`` holds K (m = gdim)."""
        return cls(K=fields.tangent, dx=fields.dx)


@dataclass
class RegionCoefficients:
    """DG0 fields of the per-region tissue data (all SI)."""

    C: fem.Function          # L_p S/V + L_pL S_L/V            [1/(Pa s)]
    A: fem.Function          # L_p S/V p_e + L_pL S_L/V p_L      [1/s]
    vascular: fem.Function   # L_p S/V                          [1/(Pa s)]
    p_e: fem.Function        # p_v − σ(π_v − π_i)               [Pa]
    lymph: fem.Function      # L_pL S_L/V                       [1/(Pa s)]
    p_L: fem.Function        # [Pa]
    K: fem.Function          # (gdim, gdim) DG0 tensor           [m²/(Pa s)]
    K_inv: fem.Function      # (gdim, gdim) DG0 tensor           [Pa s/m²]
    S: fem.Function          # specific storage                  [1/Pa]

    def source(self, p):
        """UFL s(p) = A − C p [1/s]: net fluid gain per tissue volume."""
        return self.A - self.C * p

    def vascular_inflow(self, p):
        """UFL J_v = L_p S/V (p_e − p) [1/s] (Starling filtration, > 0 into the tissue)."""
        return self.vascular * (self.p_e - p)

    def lymphatic_drainage(self, p):
        """UFL J_L = L_pL S_L/V (p − p_L) [1/s] (> 0 out of the tissue)."""
        return self.lymph * (p - self.p_L)


def _cell_region_index(msh: dmesh.Mesh, cell_tags: dmesh.MeshTags, regions: list[int]) -> np.ndarray:
    """Index into ``regions`` of every local cell (owned + ghost); MeshError if an owned cell is untagged."""
    tdim = msh.topology.dim
    imap = msh.topology.index_map(tdim)
    n_local = imap.size_local + imap.num_ghosts
    idx = np.full(n_local, -1, dtype=np.int64)
    tag_values = np.unique(cell_tags.values)
    unknown = sorted({int(t) for t in tag_values} - set(regions))
    unknown = msh.comm.allreduce(unknown, op=MPI.SUM)
    if unknown:
        raise ConfigError(
            f"cell tags {sorted(set(unknown))} have no tissue properties; given regions {sorted(regions)}"
        )
    for i, r in enumerate(regions):
        idx[cell_tags.find(r)] = i
    missing = int(np.count_nonzero(idx[: imap.size_local] < 0))
    missing = msh.comm.allreduce(missing, op=MPI.SUM)
    if missing:
        raise MeshError(f"{missing} cells carry no region tag; every cell needs one of {sorted(regions)}")
    return idx


def build_region_coefficients(
    msh: dmesh.Mesh, cell_tags: dmesh.MeshTags | None, tissue: dict[int, TissueProperties]
) -> RegionCoefficients:
    """DG0 coefficient fields from ``tissue`` (region tag -> properties).

    With ``cell_tags=None`` the tissue dict must have exactly one entry (uniform tissue).
    """
    if not tissue:
        raise ConfigError("tissue needs at least one region")
    for tag, given in tissue.items():
        if not isinstance(given, TissueProperties):
            raise ConfigError(f"tissue[{tag}] must be TissueProperties, got {type(given).__name__}")
    gdim = msh.geometry.dim
    regions = sorted(int(t) for t in tissue)
    tdim = msh.topology.dim
    imap = msh.topology.index_map(tdim)
    n_local = imap.size_local + imap.num_ghosts
    if cell_tags is None:
        if len(regions) != 1:
            raise ConfigError(f"{len(regions)} tissue regions given but no cell tags to place them")
        idx = np.zeros(n_local, dtype=np.int64)
    else:
        idx = _cell_region_index(msh, cell_tags, regions)
    props = [tissue[r] for r in regions]

    V0 = fem.functionspace(msh, ("DG", 0))
    T0 = fem.functionspace(msh, ("DG", 0, (gdim, gdim)))
    cells = np.arange(n_local, dtype=np.int32)
    known = idx >= 0
    dofs = V0.dofmap.list[cells, 0]
    tdofs = T0.dofmap.list[cells, 0]

    def scalar(name: str, values: list[float]) -> fem.Function:
        f = fem.Function(V0, name=name)
        f.x.array[dofs[known]] = np.asarray(values, dtype=float)[idx[known]]
        f.x.scatter_forward()
        return f

    def tensor(name: str, mats: list[np.ndarray]) -> fem.Function:
        f = fem.Function(T0, name=name)
        arr = f.x.array.reshape(-1, gdim * gdim)
        stack = np.stack([m.reshape(-1) for m in mats])
        arr[tdofs[known]] = stack[idx[known]]
        f.x.scatter_forward()
        return f

    Ks = [p.K_tensor(gdim) for p in props]
    return RegionCoefficients(
        C=scalar("exchange", [p.exchange for p in props]),
        A=scalar("source_constant", [p.source_constant for p in props]),
        vascular=scalar("vascular_exchange", [p.vascular_exchange for p in props]),
        p_e=scalar("p_e", [p.p_e for p in props]),
        lymph=scalar("lymphatic_exchange", [p.L_pL_SV for p in props]),
        p_L=scalar("p_L", [p.p_L for p in props]),
        K=tensor("K", Ks),
        K_inv=tensor("K_inv", [np.linalg.inv(K) for K in Ks]),
        S=scalar("storage", [p.storage for p in props]),
    )
