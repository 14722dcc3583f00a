"""Box RVEs with circular (2D) or spherical (3D) inclusions, wrapped periodically.

An inclusion that crosses a box face is cut there and the parts outside the box
re-enter through the opposite face (edges and corners included), so the
microstructure, and the mesh, are periodic. Each inclusion carries its own
phase name; phases listed in ``void_phases`` are pores (cut out of the mesh).

Physical-group (= cell tag) ids are stable: the matrix is 1, then the solid
inclusion phases in order of first appearance in the inclusion list.

Lengths are in mesh units; centres and box corners are arrays of shape (dim,).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fe2.errors import GeometryError
from fe2.geometry import validation as val
from fe2.geometry._gmsh import mesh_and_distribute, mesh_options, set_box_periodicity
from fe2.geometry.base import RVEMesh

__all__ = [
    "Inclusion",
    "exact_volume_fractions",
    "hexagonal_array",
    "inclusion_rve",
    "periodic_shifts",
    "square_array",
]


@dataclass(frozen=True)
class Inclusion:
    """A circular (2D) or spherical (3D) inclusion.

    Attributes:
        center: centre coordinates, length dim (must lie in the closed box).
        radius: radius (> 0), mesh length units.
        phase: phase name of the inclusion material (or of a pore, if listed in
            the generator's ``void_phases``).
    """

    center: tuple[float, ...]
    radius: float
    phase: str = "inclusion"

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", tuple(float(c) for c in np.asarray(self.center).ravel()))
        object.__setattr__(self, "radius", float(self.radius))

    @property
    def dim(self) -> int:
        return len(self.center)

    @property
    def volume(self) -> float:
        """Area (2D) or volume (3D) of the whole inclusion."""
        return val.inclusion_volume(self.radius, self.dim)

    def to_dict(self) -> dict:
        return {"center": list(self.center), "radius": self.radius, "phase": self.phase}


def periodic_shifts(inc: Inclusion, box_min: np.ndarray, box_max: np.ndarray) -> list[np.ndarray]:
    """Translations ``s`` (shape (dim,)) whose image ``center + s`` intersects the box.

    Always contains the zero shift first. Per axis the candidates are 0 and
    ``+-L_d`` when the inclusion crosses the min/max face; all combinations are
    formed (corner/edge images) and those whose distance to the box is >= radius
    are dropped.
    """
    c = np.asarray(inc.center, dtype=float)
    lengths = box_max - box_min
    per_axis = []
    for d in range(c.size):
        opts = [0.0]
        if c[d] - inc.radius < box_min[d]:
            opts.append(lengths[d])
        if c[d] + inc.radius > box_max[d]:
            opts.append(-lengths[d])
        per_axis.append(opts)
    shifts = []
    for combo in itertools.product(*per_axis):
        s = np.array(combo)
        img = c + s
        nearest = np.clip(img, box_min, box_max)
        if np.linalg.norm(img - nearest) < inc.radius:
            shifts.append(s)
    return shifts


def exact_volume_fractions(
    inclusions: Sequence[Inclusion], lengths: np.ndarray, matrix_phase: str
) -> dict[str, float]:
    """Analytic volume fraction per phase (voids included); the matrix gets the rest.

    Exact because wrapped pieces of an inclusion add up to the whole inclusion.
    """
    vol = float(np.prod(lengths))
    out: dict[str, float] = {matrix_phase: 1.0}
    for inc in inclusions:
        out[inc.phase] = out.get(inc.phase, 0.0) + inc.volume / vol
        out[matrix_phase] -= inc.volume / vol
    return out


def _as_inclusion(obj) -> Inclusion:
    if isinstance(obj, Inclusion):
        return obj
    try:
        return Inclusion(*obj)
    except TypeError as exc:
        raise GeometryError(f"cannot interpret {obj!r} as an Inclusion(center, radius, phase)") from exc


def _build_model(g, dim, box_min, box_max, incs, matrix_phase, voids, phase_ids) -> dict:
    """gmsh builder (runs on the mesh rank): CAD, fragment, periodicity, physical groups, mesh."""
    occ = g.model.occ
    lengths = box_max - box_min
    if dim == 2:
        box = occ.addRectangle(box_min[0], box_min[1], 0.0, lengths[0], lengths[1])
    else:
        box = occ.addBox(*box_min, *lengths)
    tools: list[tuple[int, int]] = []
    owner: list[int] = []
    for k, inc in enumerate(incs):
        for s in periodic_shifts(inc, box_min, box_max):
            c = np.asarray(inc.center) + s
            if dim == 2:
                tag = occ.addDisk(c[0], c[1], 0.0, inc.radius, inc.radius)
            else:
                tag = occ.addSphere(c[0], c[1], c[2], inc.radius)
            tools.append((dim, tag))
            owner.append(k)
    piece_owner: dict[int, int] = {}  # in-box piece tag -> inclusion index (-1: matrix)
    if tools:
        _, out_map = occ.fragment([(dim, box)], tools)
        inside = {t for _, t in out_map[0]}
        outside: set[int] = set()
        for j, children in enumerate(out_map[1:]):
            for _, t in children:
                if t not in inside:
                    outside.add(t)
                elif t in piece_owner and piece_owner[t] != owner[j]:
                    raise GeometryError(f"inclusions {piece_owner[t]} and {owner[j]} overlap")
                else:
                    piece_owner[t] = owner[j]
        for t in inside - set(piece_owner):
            piece_owner[t] = -1
        pieces = _count_pieces(piece_owner, incs, matrix_phase)
        drop = sorted(outside) + sorted(
            t for t, k in piece_owner.items() if k >= 0 and incs[k].phase in voids
        )
        if drop:
            occ.remove([(dim, t) for t in drop], recursive=True)
        piece_owner = {t: k for t, k in piece_owner.items() if t not in drop}
    else:
        piece_owner[box] = -1
        pieces = {matrix_phase: 1}
    occ.synchronize()
    npairs = set_box_periodicity(g, dim, box_min, box_max)
    piece_phase = {t: (incs[k].phase if k >= 0 else matrix_phase) for t, k in piece_owner.items()}
    for name, pid in phase_ids.items():
        tags = sorted(t for t, p in piece_phase.items() if p == name)
        if tags:
            g.model.addPhysicalGroup(dim, tags, tag=pid, name=name)
    g.model.mesh.generate(dim)
    node_tags = g.model.mesh.getNodes()[0]
    return {"num_gmsh_nodes": int(len(node_tags)), "cad_pieces": pieces, "periodic_pairs": npairs}


def _count_pieces(piece_owner: dict[int, int], incs, matrix_phase: str) -> dict[str, int]:
    """Number of CAD pieces inside the box per phase (a corner inclusion gives 2**dim)."""
    counts: dict[str, int] = {}
    for k in piece_owner.values():
        name = incs[k].phase if k >= 0 else matrix_phase
        counts[name] = counts.get(name, 0) + 1
    return counts


def inclusion_rve(
    comm,
    lengths: Sequence[float],
    inclusions: Sequence[Inclusion],
    mesh_size: float,
    *,
    matrix_phase: str = "matrix",
    void_phases: Sequence[str] = (),
    origin: Sequence[float] | None = None,
    element_order: int = 1,
    rank: int = 0,
    min_gap: float = 0.0,
    description: dict | None = None,
) -> RVEMesh:
    """Mesh the box ``[origin, origin + lengths]`` with periodically wrapped inclusions.

    Args:
        comm: MPI communicator of the resulting mesh (collective call).
        lengths: box edge lengths, shape (dim,), dim 2 (disks) or 3 (spheres).
        inclusions: the inclusions; centres inside the closed box.
        mesh_size: target element size (gmsh ``Mesh.MeshSizeMax``).
        matrix_phase: name of the matrix phase (tag 1).
        void_phases: inclusion phase names that are pores (removed from the mesh).
        origin: box corner ``box_min`` (default 0).
        element_order: geometry order, 1 or 2 (curved inclusion boundaries).
        rank: rank of ``comm`` on which gmsh builds the mesh.
        min_gap: minimum clearance between inclusions (periodic images included).
        description: extra provenance merged into ``RVEMesh.description``.

    Returns:
        A periodic :class:`RVEMesh`; ``description["volume_fractions"]`` holds the
        fractions measured on the mesh, ``description["exact_volume_fractions"]``
        the analytic ones.

    Raises:
        GeometryError: invalid input (overlap, centre outside box, radius <= 0,
            tangent to a face, bad sizes) or a phase without cells after meshing.
    """
    box_len = val.check_lengths(lengths)
    dim = box_len.size
    box_min = val.check_origin(origin, dim)
    box_max = box_min + box_len
    h = val.check_mesh_size(mesh_size, box_len)
    order = val.check_element_order(element_order)
    val.check_phase_name(matrix_phase, "matrix_phase")
    voids = val.check_voids(void_phases, matrix_phase)
    incs = [_as_inclusion(i) for i in inclusions]
    val.check_inclusions(incs, box_min, box_max, min_gap)
    for i, inc in enumerate(incs):
        if inc.phase == matrix_phase:
            raise GeometryError(f"inclusion {i} uses the matrix phase name '{matrix_phase}'")
    used = {inc.phase for inc in incs}
    for v in voids:
        if v not in used:
            raise GeometryError(f"void phase '{v}' is not the phase of any inclusion")

    phase_ids: dict[str, int] = {matrix_phase: 1}
    for inc in incs:
        if inc.phase not in voids and inc.phase not in phase_ids:
            phase_ids[inc.phase] = len(phase_ids) + 1

    def builder(g):
        return _build_model(g, dim, box_min, box_max, incs, matrix_phase, voids, phase_ids)

    data, info = mesh_and_distribute(
        comm, rank, dim, builder, prefix="fe2_inclusion_rve", options=mesh_options(h, order),
        what="the inclusion RVE",
    )
    measured = val.phase_fractions(data.mesh, data.cell_tags, phase_ids, float(np.prod(box_len)))
    exact = exact_volume_fractions(incs, box_len, matrix_phase)
    void_vf = {v: exact[v] for v in voids}
    desc = {
        "generator": "inclusion_rve",
        "lengths": box_len.tolist(),
        "origin": box_min.tolist(),
        "mesh_size": h,
        "element_order": order,
        "matrix_phase": matrix_phase,
        "void_phases": list(voids),
        "min_gap": float(min_gap),
        "inclusions": [inc.to_dict() for inc in incs],
        "volume_fractions": measured,
        "exact_volume_fractions": exact,
        "num_gmsh_nodes": info["num_gmsh_nodes"],
        "cad_pieces": info["cad_pieces"],
    }
    if description:
        desc.update(description)
    return RVEMesh(
        mesh=data.mesh,
        cell_tags=data.cell_tags,
        phases=dict(phase_ids),
        box_min=box_min,
        box_max=box_max,
        void_phases=voids,
        void_volume_fractions=void_vf,
        periodic=True,
        description=desc,
    )


def _radius_from(radius: float | None, volume_fraction: float | None, area: float, count: int, dim: int,
                 f_max: float, what: str) -> float:
    """Radius of ``count`` equal inclusions in a cell of measure ``area``."""
    if (radius is None) == (volume_fraction is None):
        raise GeometryError(f"{what}: give exactly one of radius and volume_fraction")
    if radius is not None:
        return float(radius)
    assert volume_fraction is not None  # exactly one of the two is given (checked above)
    f = float(volume_fraction)
    if not (0.0 < f < f_max):
        raise GeometryError(f"{what}: volume_fraction must lie in (0, {f_max:.6g}), got {f:.6g}")
    v = f * area / count
    return math.sqrt(v / math.pi) if dim == 2 else (3.0 * v / (4.0 * math.pi)) ** (1.0 / 3.0)


def square_array(
    comm,
    *,
    radius: float | None = None,
    volume_fraction: float | None = None,
    mesh_size: float | None = None,
    length: float = 1.0,
    dim: int = 2,
    inclusion_phase: str = "fibre",
    matrix_phase: str = "matrix",
    void: bool = False,
    element_order: int = 1,
    rank: int = 0,
) -> RVEMesh:
    """Square (2D) / simple-cubic (3D) array: one centred inclusion in a cube of edge ``length``.

    Give ``radius`` or the target ``volume_fraction`` (then ``r`` is exact:
    ``f L^2 = pi r^2`` or ``f L^3 = 4/3 pi r^3``). ``void=True`` makes the inclusion a
    pore. ``mesh_size`` defaults to ``length / 20``.
    """
    if dim not in (2, 3):
        raise GeometryError(f"square_array: dim must be 2 or 3, got {dim}")
    f_max = math.pi / 4 if dim == 2 else math.pi / 6
    r = _radius_from(radius, volume_fraction, length**dim, 1, dim, f_max, "square_array")
    h = length / 20 if mesh_size is None else mesh_size
    inc = Inclusion(tuple([length / 2] * dim), r, inclusion_phase)
    return inclusion_rve(
        comm, [length] * dim, [inc], h, matrix_phase=matrix_phase,
        void_phases=(inclusion_phase,) if void else (), element_order=element_order, rank=rank,
        description={"generator": "square_array", "target_volume_fraction": volume_fraction},
    )


def hexagonal_array(
    comm,
    *,
    radius: float | None = None,
    volume_fraction: float | None = None,
    mesh_size: float | None = None,
    spacing: float = 1.0,
    inclusion_phase: str = "fibre",
    matrix_phase: str = "matrix",
    void: bool = False,
    element_order: int = 1,
    rank: int = 0,
) -> RVEMesh:
    """Hexagonal fibre array (2D): rectangular cell ``a x a sqrt(3)``, ``a = spacing``.

    The cell holds a centred inclusion and one at the corner (0, 0), which wraps
    into the four corner quarters: two inclusions per cell, ``f = 2 pi r^2 / (sqrt(3) a^2)``
    (max ``pi / (2 sqrt 3)`` = 0.9069 when fibres touch). ``mesh_size`` defaults to ``a / 20``.
    """
    a = float(spacing)
    box = [a, a * math.sqrt(3.0)]
    f_max = math.pi / (2.0 * math.sqrt(3.0))
    r = _radius_from(radius, volume_fraction, box[0] * box[1], 2, 2, f_max, "hexagonal_array")
    h = a / 20 if mesh_size is None else mesh_size
    incs = [Inclusion((a / 2, box[1] / 2), r, inclusion_phase), Inclusion((0.0, 0.0), r, inclusion_phase)]
    return inclusion_rve(
        comm, box, incs, h, matrix_phase=matrix_phase,
        void_phases=(inclusion_phase,) if void else (), element_order=element_order, rank=rank,
        description={"generator": "hexagonal_array", "target_volume_fraction": volume_fraction},
    )
