"""Tests of the RVE geometry layer (fe2.geometry).

Run serially and as ``mpirun -n 2 python -m mpi4py -m pytest tests/geometry/test_geometry.py``:
every mesh is built by gmsh on rank 0 and distributed, every global quantity is
reduced over the communicator on all ranks, and every rank asserts the same thing.
Per-test teardown (gc + barrier) and ``shared_tmp_path`` come from ``conftest.py``.
"""

from __future__ import annotations

try:
    import dolfinx_solver  # noqa: F401
except ImportError:
    pass

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI
from scipy.spatial import cKDTree

from fe2.errors import GeometryError, MeshError
from fe2.geometry import (
    Inclusion,
    hexagonal_array,
    inclusion_rve,
    laminate_rve,
    packing_fraction,
    periodicity_mismatch,
    random_inclusions,
    random_rve,
    rve_from_msh,
    square_array,
)
from fe2.geometry import validation as val
from fe2.geometry.inclusions import periodic_shifts

COMM = MPI.COMM_WORLD
MESHES = Path(__file__).resolve().parents[2] / "meshes"

# Node coordinates of paired faces are copied by gmsh through the affine map:
# they agree to round-off (~1e-15 L). 1e-10 leaves room for that, nothing more.
PERIODIC_TOL = 1e-10


def chord_deficit(h: float, radius: float, dim: int) -> float:
    """Estimated volume missing from one inscribed polygon/polyhedron of mesh size h.

    2D: a chord of length h cuts a segment of area h^3/(12 r); 2 pi r / h chords
    give pi h^2 / 6, independent of r. 3D: a flat facet of size h lies on average
    h^2/(12 r) inside the sphere, over the area 4 pi r^2: pi r h^2 / 3.
    """
    return math.pi * h**2 / 6 if dim == 2 else math.pi * radius * h**2 / 3


def face_mismatch(rve) -> np.ndarray:
    """Independent node-for-node periodicity check, per axis (collective).

    Gathers all geometry nodes on each pair of opposite faces from all ranks,
    shifts the min face by L, and matches both ways with a KD-tree.
    """
    dim = rve.dim
    x = rve.mesh.geometry.x[:, :dim]
    lo, hi = rve.box_min, rve.box_max
    out = []
    for d in range(dim):
        def gather(value, d=d):
            pts = np.concatenate(COMM.allgather(x[np.isclose(x[:, d], value, atol=1e-9)]))
            return np.unique(pts, axis=0)

        a, b = gather(lo[d]), gather(hi[d])
        assert a.shape[0] > 0 and a.shape == b.shape, f"axis {d}: {a.shape[0]} vs {b.shape[0]} face nodes"
        a[:, d] += hi[d] - lo[d]
        out.append(max(cKDTree(b).query(a)[0].max(), cKDTree(a).query(b)[0].max()))
    return np.array(out)


def global_cell_count(rve) -> int:
    tdim = rve.dim
    return rve.mesh.topology.index_map(tdim).size_global


def midpoints_of_phase(rve, name: str) -> np.ndarray:
    """Centroids of the locally owned cells of one phase, shape (n, dim)."""
    tdim = rve.dim
    n_owned = rve.mesh.topology.index_map(tdim).size_local
    cells = rve.cell_tags.find(rve.phases[name])
    cells = cells[cells < n_owned]
    dofs = rve.mesh.geometry.dofmaps[0][cells]
    return rve.mesh.geometry.x[dofs][:, :, :tdim].mean(axis=1)


# ----------------------------------------------------------------------------- volume fractions


@pytest.mark.parametrize("order", [1, 2])
def test_square_array_volume_fraction_converges(order):
    """Fibre fraction of a meshed circle vs exact pi r^2 at h and h/2.

    Order 1: the inscribed polygon misses pi h^2/6 (see chord_deficit); gmsh's
    boundary edges are ~h, so the error lies in (0, 2 x estimate) and halves h
    quarter it (ratio in [3, 5]: O(h^2)). Order 2: quadratic arcs converge much
    faster (observed O(h^4)); 1e-4 at h = 0.1 is a loose bound on 5e-6.
    """
    f = 0.4
    errs = []
    for h in (0.1, 0.05):
        rve = square_array(COMM, volume_fraction=f, mesh_size=h, element_order=order)
        assert rve.phases == {"matrix": 1, "fibre": 2}
        meas = rve.description["volume_fractions"]
        assert meas["matrix"] + meas["fibre"] == pytest.approx(1.0, abs=1e-12)  # no hole, no overlap
        errs.append(f - meas["fibre"])
    if order == 1:
        for h, e in zip((0.1, 0.05), errs, strict=True):
            assert 0.0 < e < 2.0 * chord_deficit(h, 0.0, 2), (h, e)
        assert 3.0 < errs[0] / errs[1] < 5.0, errs
    else:
        assert abs(errs[0]) < 1e-4 and abs(errs[1]) < abs(errs[0]) / 8.0, errs


def test_hexagonal_array_volume_fraction_and_voids():
    """Hexagonal cell 1 x sqrt(3): centre fibre + corner fibre wrapped in 4 quarters.

    As a solid phase the fibre fraction is within the chord deficit of 2 circles;
    as a void the exact fraction is stored analytically and the mesh holds only
    the matrix, whose measured fraction is 1 - f plus the same deficit.
    """
    f, h = 0.5, 0.05
    rve = hexagonal_array(COMM, volume_fraction=f, mesh_size=h)
    assert rve.lengths == pytest.approx([1.0, math.sqrt(3.0)])
    assert rve.description["cad_pieces"] == {"matrix": 1, "fibre": 5}  # centre + 4 corner quarters
    err = f - rve.description["volume_fractions"]["fibre"]
    assert 0.0 < err < 2.0 * 2 * chord_deficit(h, 0.0, 2) / rve.volume
    pores = hexagonal_array(COMM, volume_fraction=f, mesh_size=h, void=True)
    assert pores.phases == {"matrix": 1}
    assert pores.void_phases == ("fibre",)
    assert pores.void_volume_fractions["fibre"] == pytest.approx(f, rel=1e-14)
    solid = pores.description["volume_fractions"]["matrix"]
    assert 0.0 < solid - (1.0 - f) < 2.0 * 2 * chord_deficit(h, 0.0, 2) / rve.volume
    assert face_mismatch(pores).max() < PERIODIC_TOL


@pytest.mark.parametrize("dim", [2, 3])
def test_corner_inclusion_wraps_into_pieces(dim):
    """An inclusion centred on a box corner becomes 2**dim pieces, one per corner.

    The phase volume equals the whole disk/sphere up to the facet deficit
    (0 < err < 2 x chord_deficit). Each piece is checked on the mesh: every
    phase cell centroid lies within r of a box corner, and every corner has cells.
    """
    r, h = 0.3, (0.05 if dim == 2 else 0.15)
    inc = Inclusion((0.0,) * dim, r, "a")
    assert len(periodic_shifts(inc, np.zeros(dim), np.ones(dim))) == 2**dim
    rve = inclusion_rve(COMM, [1.0] * dim, [inc], h)
    assert rve.description["cad_pieces"]["a"] == 2**dim
    exact = val.inclusion_volume(r, dim)
    err = exact - rve.description["volume_fractions"]["a"]
    assert 0.0 < err < 2.0 * chord_deficit(h, r, dim), (err, chord_deficit(h, r, dim))
    mids = midpoints_of_phase(rve, "a")
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=dim)))
    dist = np.linalg.norm(mids[:, None, :] - corners[None, :, :], axis=2)  # (n, 2**dim)
    assert np.all(dist.min(axis=1) < r + 1e-12)
    per_corner = np.zeros(2**dim, dtype=np.int64)
    np.add.at(per_corner, dist.argmin(axis=1), 1)
    per_corner = COMM.allreduce(per_corner, op=MPI.SUM)
    assert np.all(per_corner > 0), per_corner
    assert face_mismatch(rve).max() < PERIODIC_TOL


def test_edge_crossing_sphere_3d_fraction():
    """A sphere crossing one box edge (2 faces) gives 4 pieces; whole-sphere volume recovered."""
    r, h = 0.25, 0.12
    rve = inclusion_rve(COMM, [1.0, 1.0, 1.2], [Inclusion((0.1, 0.95, 0.6), r, "s")], h,
                        origin=(0.0, 0.0, -0.1))
    assert rve.description["cad_pieces"]["s"] == 4
    err = val.inclusion_volume(r, 3) - rve.description["volume_fractions"]["s"] * rve.volume
    assert 0.0 < err < 2.0 * chord_deficit(h, r, 3)
    assert face_mismatch(rve).max() < PERIODIC_TOL


# ----------------------------------------------------------------------------- periodicity


def _periodicity_cases():
    return {
        "random2d": lambda: random_rve(COMM, [1.0, 0.8], 0.1, 0.3, 0.05, seed=3, min_gap=0.02),
        "random3d": lambda: random_rve(COMM, [1.0, 1.0, 1.0], 0.2, 0.2, 0.15, seed=5, min_gap=0.03),
        "hex_order2": lambda: hexagonal_array(COMM, volume_fraction=0.4, mesh_size=0.1, element_order=2),
        "laminate3d": lambda: laminate_rve(COMM, [1.0, 1.0, 1.0], 2, [0.3, 0.7], ["a", "b"], 0.2),
        "voids3d": lambda: square_array(COMM, volume_fraction=0.2, dim=3, mesh_size=0.15, void=True),
    }


@pytest.mark.parametrize("case", list(_periodicity_cases()))
def test_opposite_faces_match_node_for_node(case):
    """Gather face nodes from all ranks, shift by L, KD-tree match both ways to 1e-10."""
    rve = _periodicity_cases()[case]()
    assert rve.periodic
    mism = face_mismatch(rve)
    assert np.all(mism < PERIODIC_TOL), mism
    # the library's own check agrees
    assert np.all(periodicity_mismatch(rve.mesh, rve.box_min, rve.box_max) < PERIODIC_TOL)
    json.dumps(rve.description)  # provenance is JSON-serialisable


def test_periodicity_check_detects_non_periodic_mesh(shared_tmp_path):
    """A disk cut by x = 0 only (no wrapping, no setPeriodic): the x faces differ."""
    path = shared_tmp_path / "nonperiodic.msh"
    if COMM.rank == 0:
        import gmsh

        gmsh.initialize(interruptible=False)
        try:
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.model.add("nonperiodic")
            occ = gmsh.model.occ
            box = occ.addRectangle(0, 0, 0, 1, 1)
            disk = occ.addDisk(0, 0.5, 0, 0.2, 0.2)
            occ.cut([(2, box)], [(2, disk)])
            occ.synchronize()
            gmsh.model.addPhysicalGroup(2, [s for _, s in gmsh.model.getEntities(2)], name="solid")
            gmsh.option.setNumber("Mesh.MeshSizeMax", 0.1)
            gmsh.model.mesh.generate(2)
            gmsh.write(str(path))
        finally:
            gmsh.finalize()
    COMM.barrier()
    rve = rve_from_msh(COMM, path)
    assert not rve.periodic
    mx = rve.description["periodicity_mismatch"][0]  # None: face node counts differ
    assert mx is None or mx > 1e-3
    assert rve.box_min == pytest.approx([0.0, 0.0]) and rve.box_max == pytest.approx([1.0, 1.0])


# ----------------------------------------------------------------------------- laminate


@pytest.mark.parametrize("dim", [2, 3])
def test_laminate_fractions_exact_and_interfaces_conforming(dim):
    """Planar layers are meshed exactly: fractions to 1e-12; no cell straddles an
    interface (each cell's nodes lie inside its own layer's slab), and nodes sit on
    every interface plane (conforming)."""
    axis, fr, ph = dim - 1, [0.2, 0.5, 0.3], ["a", "b", "a"]
    h = 0.1 if dim == 2 else 0.25
    rve = laminate_rve(COMM, [1.0] * dim, axis, fr, ph, h)
    assert rve.phases == {"a": 1, "b": 2}
    vf = rve.description["volume_fractions"]
    assert vf["a"] == pytest.approx(0.5, abs=1e-12) and vf["b"] == pytest.approx(0.5, abs=1e-12)
    bounds = np.array(rve.description["interfaces"])
    assert bounds == pytest.approx([0.0, 0.2, 0.7, 1.0])
    x = rve.mesh.geometry.x
    dofmap = rve.mesh.geometry.dofmaps[0]
    for name, slabs in (("a", [(0.0, 0.2), (0.7, 1.0)]), ("b", [(0.2, 0.7)])):
        cells = rve.cell_tags.find(rve.phases[name])
        z = x[dofmap[cells]][:, :, axis]
        inside = np.zeros(len(cells), dtype=bool)
        for lo, hi in slabs:
            inside |= np.all((z >= lo - 1e-12) & (z <= hi + 1e-12), axis=1)
        assert np.all(inside), name
    for s in (0.2, 0.7):
        n_on = COMM.allreduce(int(np.count_nonzero(np.isclose(x[:, axis], s, atol=1e-12))), op=MPI.SUM)
        assert n_on >= 2**(dim - 1)
    assert face_mismatch(rve).max() < PERIODIC_TOL


# ----------------------------------------------------------------------------- random packing


def _assert_no_overlap(incs, lengths, gap):
    """Brute force over all 3**dim periodic images (independent of the minimum image)."""
    c = np.array([i.center for i in incs])
    r = np.array([i.radius for i in incs])
    dim = c.shape[1]
    shifts = np.array(list(itertools.product([-1, 0, 1], repeat=dim))) * np.asarray(lengths)
    for i in range(len(incs)):
        for s in shifts:
            d = np.linalg.norm(c + s - c[i], axis=1)
            need = r + r[i] + gap
            if not s.any():
                d[i] = np.inf  # itself
            assert np.all(d >= need - 1e-12), (i, s)


@pytest.mark.parametrize("dim", [2, 3])
def test_rsa_reproducible_no_overlap_and_fraction(dim):
    """Same seed, same packing; other seed, other packing. No overlap with any
    periodic image. Count n = round(f|Y|/v): the achieved fraction is within half
    an inclusion volume of the target."""
    lengths, radius, f, gap = [1.0] * dim, (0.08 if dim == 2 else 0.15), (0.35 if dim == 2 else 0.25), 0.01
    a = random_inclusions(lengths, radius, f, seed=7, min_gap=gap)
    b = random_inclusions(lengths, radius, f, seed=7, min_gap=gap)
    c = random_inclusions(lengths, radius, f, seed=8, min_gap=gap)
    assert a == b and a != c
    v = val.inclusion_volume(radius, dim)
    assert len(a) == round(f / v)
    assert abs(packing_fraction(a, lengths) - f) <= v / 2
    _assert_no_overlap(a, lengths, gap)
    val.check_inclusions(a, np.zeros(dim), np.ones(dim), gap)  # validation accepts it


def test_rsa_polydisperse():
    """Radii cycle r0, r1, ...; count chosen to be closest to the target; largest placed first."""
    radii = [0.1, 0.06]
    incs = random_inclusions([1.0, 1.0], radii, 0.3, seed=1, min_gap=0.005)
    got = sorted({i.radius for i in incs})
    assert got == radii[::-1]
    assert [i.radius for i in incs] == sorted((i.radius for i in incs), reverse=True)
    vmax = math.pi * 0.1**2
    assert abs(packing_fraction(incs, [1.0, 1.0]) - 0.3) <= vmax / 2
    _assert_no_overlap(incs, [1.0, 1.0], 0.005)


def test_random_rve_mesh_matches_packing():
    """The meshed fraction of a random RVE is the achieved packing fraction minus the
    chord deficit of its n circles (0 < deficit < 2 n pi h^2 / 6)."""
    h = 0.04
    rve = random_rve(COMM, [1.0, 1.0], 0.1, 0.3, h, seed=11, min_gap=0.02)
    d = rve.description
    n = len(d["inclusions"])
    assert d["generator"] == "random_rve" and d["seed"] == 11
    deficit = d["achieved_volume_fraction"] - d["volume_fractions"]["inclusion"]
    assert 0.0 < deficit < 2.0 * n * chord_deficit(h, 0.1, 2)
    assert d["achieved_volume_fraction"] == pytest.approx(n * math.pi * 0.01)


def test_rsa_impossible_fraction_raises():
    pattern = r"cannot pack .* volume fraction 0\.75 .* reached 0\.\d+ .* after \d+ attempts"
    with pytest.raises(GeometryError, match=pattern):
        random_inclusions([1.0, 1.0], 0.1, 0.75, seed=0, min_gap=0.0, max_attempts=200)


# ----------------------------------------------------------------------------- MPI / comm handling


def test_comm_self_and_world_give_the_same_mesh():
    """The same RVE built on COMM_SELF (each rank alone) and on COMM_WORLD (distributed)
    has the same global cell count and phase volumes (to round-off)."""
    incs = [Inclusion((0.2, 0.3), 0.15, "a"), Inclusion((0.7, 0.95), 0.2, "b")]
    world = inclusion_rve(COMM, [1.0, 1.0], incs, 0.08)
    alone = inclusion_rve(MPI.COMM_SELF, [1.0, 1.0], incs, 0.08)
    assert global_cell_count(world) == global_cell_count(alone)
    vw = val.phase_volumes(world.mesh, world.cell_tags, world.phases)
    vs = val.phase_volumes(alone.mesh, alone.cell_tags, alone.phases)
    assert vw == pytest.approx(vs, rel=1e-12)
    assert world.phases == {"matrix": 1, "a": 2, "b": 3}


@pytest.mark.parametrize("rank", [0, 1])
def test_mesh_built_on_another_rank(rank):
    """``rank`` picks the gmsh rank; any valid rank gives the same mesh."""
    if rank >= COMM.size:
        pytest.skip("needs 2 ranks")
    rve = square_array(COMM, radius=0.2, mesh_size=0.1, rank=rank)
    assert rve.description["volume_fractions"]["fibre"] == pytest.approx(math.pi * 0.04, abs=2e-2)


def test_gmsh_session_of_caller_is_left_intact():
    """A caller's gmsh session, current model and options survive a generator call."""
    import gmsh

    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("callers_model")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.123)
        square_array(COMM, radius=0.2, mesh_size=0.1)
        assert gmsh.isInitialized()
        assert gmsh.option.getNumber("Mesh.MeshSizeMax") == pytest.approx(0.123)
        assert "callers_model" in gmsh.model.list()
        assert not any(m.startswith("fe2_") for m in gmsh.model.list())
    finally:
        gmsh.finalize()


# ----------------------------------------------------------------------------- .msh import


def test_msh_import_example_mesh():
    """meshes/two_phase_square.msh: phases from physical names, box from the global
    bounding box, periodic (declared in the .geo), fibre fraction pi 0.3^2 within the
    chord deficit of lc = 0.08."""
    rve = rve_from_msh(COMM, MESHES / "two_phase_square.msh")
    assert rve.phases == {"matrix": 1, "fibre": 2}
    assert rve.box_min == pytest.approx([0.0, 0.0]) and rve.box_max == pytest.approx([1.0, 1.0])
    assert rve.periodic
    err = math.pi * 0.09 - rve.description["volume_fractions"]["fibre"]
    assert 0.0 < err < 2.0 * chord_deficit(0.08, 0.3, 2)
    assert face_mismatch(rve).max() < PERIODIC_TOL
    boxed = rve_from_msh(COMM, MESHES / "two_phase_square.msh", box=([0.0, 0.0], [1.0, 1.0]))
    assert boxed.volume == pytest.approx(1.0) and boxed.periodic
    # a box larger than the mesh would count empty space as RVE volume (fractions summing to 1/2)
    with pytest.raises(MeshError, match=r"larger than the mesh"):
        rve_from_msh(COMM, MESHES / "two_phase_square.msh", box=([-0.5, 0.0], [1.5, 1.0]))


def test_msh_import_errors(shared_tmp_path):
    missing = shared_tmp_path / "does_not_exist.msh"
    with pytest.raises(MeshError, match=r"does_not_exist\.msh"):
        rve_from_msh(COMM, missing)
    with pytest.raises(MeshError, match="outside the given box"):
        rve_from_msh(COMM, MESHES / "two_phase_square.msh", box=([0.0, 0.0], [0.5, 1.0]))
    # a mesh whose only physical group is a curve: no 2D phase
    path = shared_tmp_path / "no_groups.msh"
    if COMM.rank == 0:
        import gmsh

        gmsh.initialize(interruptible=False)
        try:
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.model.add("nogroups")
            gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
            gmsh.model.occ.synchronize()
            gmsh.model.addPhysicalGroup(1, [1], name="edge")
            gmsh.option.setNumber("Mesh.MeshSizeMax", 0.5)
            gmsh.option.setNumber("Mesh.SaveAll", 1)
            gmsh.model.mesh.generate(2)
            gmsh.write(str(path))
        finally:
            gmsh.finalize()
    COMM.barrier()
    with pytest.raises(MeshError, match="no 2D physical groups"):
        rve_from_msh(COMM, path)
    # two surfaces, only one in a physical group, all elements saved: untagged cells
    partial = shared_tmp_path / "partial.msh"
    if COMM.rank == 0:
        import gmsh

        gmsh.initialize(interruptible=False)
        try:
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.model.add("partial")
            a = gmsh.model.occ.addRectangle(0, 0, 0, 0.5, 1)
            b = gmsh.model.occ.addRectangle(0.5, 0, 0, 0.5, 1)
            gmsh.model.occ.fragment([(2, a)], [(2, b)])
            gmsh.model.occ.synchronize()
            gmsh.model.addPhysicalGroup(2, [a], name="left")
            gmsh.option.setNumber("Mesh.MeshSizeMax", 0.3)
            gmsh.option.setNumber("Mesh.SaveAll", 1)
            gmsh.model.mesh.generate(2)
            gmsh.write(str(partial))
        finally:
            gmsh.finalize()
    COMM.barrier()
    with pytest.raises(MeshError, match="tagged once"):
        rve_from_msh(COMM, partial)
    garbage = shared_tmp_path / "garbage.msh"
    if COMM.rank == 0:
        garbage.write_text("this is not a mesh\n")
    COMM.barrier()
    with pytest.raises(MeshError, match=r"garbage\.msh"):
        rve_from_msh(COMM, garbage)


# ----------------------------------------------------------------------------- error paths

UNIT = [1.0, 1.0]
OK = [Inclusion((0.2, 0.2), 0.1), Inclusion((0.5, 0.5), 0.1), Inclusion((0.8, 0.2), 0.1)]


def _incl(*specs, **kw):
    """inclusion_rve on the unit square with inclusions given as (centre, radius[, phase])."""
    return lambda: inclusion_rve(COMM, UNIT, [Inclusion(*s) for s in specs], 0.1, **kw)


ERROR_CASES = {
    "overlap": (_incl(((0.3, 0.5), 0.2), ((0.6, 0.5), 0.2)), r"inclusions 0 and 1 overlap"),
    "overlap_through_image": (
        _incl(((0.05, 0.5), 0.1), ((0.95, 0.5), 0.1)),
        r"inclusions 0 and 1 overlap .*periodic centre distance 0\.1 ",
    ),
    "too_close_for_gap": (
        _incl(((0.3, 0.5), 0.1), ((0.55, 0.5), 0.1), min_gap=0.1),
        r"inclusions 0 and 1 overlap",
    ),
    "centre_outside": (
        lambda: inclusion_rve(COMM, UNIT, [*OK, Inclusion((1.2, 0.5), 0.1)], 0.1),
        r"^inclusion 3 centre \(1\.2, 0\.5\) lies outside the box \[0,1\]x\[0,1\]$",
    ),
    "radius_zero": (_incl(((0.5, 0.5), 0.0)), r"inclusion 0 has radius 0; the radius must be > 0"),
    "radius_negative": (
        lambda: random_inclusions(UNIT, -0.1, 0.2, seed=0, min_gap=0.0),
        r"radius must be > 0",
    ),
    "own_image": (_incl(((0.5, 0.5), 0.6)), r"overlaps its own periodic image along x"),
    "tangent_face": (_incl(((0.5, 0.2), 0.2)), r"tangent to the face y = 0"),
    "wrong_dim": (_incl(((0.5, 0.5, 0.5), 0.1)), r"has 3 coordinates, the box has 2"),
    "matrix_name": (_incl(((0.5, 0.5), 0.1, "matrix")), r"uses the matrix phase name"),
    "unknown_void": (
        lambda: inclusion_rve(COMM, UNIT, OK, 0.1, void_phases=("pore",)),
        r"void phase 'pore' is not the phase of any inclusion",
    ),
    "void_is_matrix": (
        lambda: inclusion_rve(COMM, UNIT, OK, 0.1, void_phases=("matrix",)),
        r"matrix phase 'matrix' cannot be a void phase",
    ),
    "length_zero": (
        lambda: inclusion_rve(COMM, [1.0, 0.0], OK, 0.1),
        r"box length along y must be positive",
    ),
    "length_count": (lambda: laminate_rve(COMM, [1.0], 0, [1.0], ["a"], 0.1), r"2 or 3 entries"),
    "mesh_size_zero": (
        lambda: square_array(COMM, radius=0.2, mesh_size=0.0),
        r"mesh_size must be positive",
    ),
    "mesh_size_big": (
        lambda: square_array(COMM, radius=0.2, mesh_size=2.0),
        r"larger than the smallest box edge",
    ),
    "laminate_zero_fraction": (
        lambda: laminate_rve(COMM, UNIT, 0, [0.5, 0.0, 0.5], ["a", "b", "a"], 0.1),
        r"layer 1 \('b'\) has fraction 0",
    ),
    "laminate_sum": (
        lambda: laminate_rve(COMM, UNIT, 0, [0.5, 0.4], ["a", "b"], 0.1),
        r"must sum to 1, got 0\.9",
    ),
    "laminate_counts": (
        lambda: laminate_rve(COMM, UNIT, 0, [0.5, 0.5], ["a"], 0.1),
        r"2 layer fractions but 1",
    ),
    "laminate_axis": (
        lambda: laminate_rve(COMM, UNIT, 2, [1.0], ["a"], 0.1),
        r"axis must be an integer in \[0, 1\]",
    ),
    "array_both": (lambda: square_array(COMM, radius=0.2, volume_fraction=0.1), r"exactly one of"),
    "array_fraction": (lambda: hexagonal_array(COMM, volume_fraction=0.95), r"must lie in \(0, 0\.9069"),
    "order": (lambda: square_array(COMM, radius=0.2, element_order=3), r"element_order must be 1 or 2"),
    "rsa_too_big": (
        lambda: random_inclusions(UNIT, 0.6, 0.5, seed=0, min_gap=0.0),
        r"does not fit in the box",
    ),
    "rsa_fraction": (
        lambda: random_inclusions(UNIT, 0.1, 1.5, seed=0, min_gap=0.0),
        r"volume_fraction must lie",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_paths_raise_typed_errors(case):
    """Each bad request raises GeometryError on every rank, before any gmsh or MPI work,
    with a one-line message naming the culprit."""
    make, pattern = ERROR_CASES[case]
    with pytest.raises(GeometryError, match=pattern) as info:
        make()
    assert "\n" not in str(info.value)


def test_empty_phase_after_meshing_is_detected():
    """check_phases_nonempty counts cells over all ranks: a phase with a tag that no
    cell carries is reported by name; present phases pass."""
    rve = square_array(COMM, radius=0.2, mesh_size=0.1)
    counts = val.check_phases_nonempty(rve.cell_tags, rve.phases, COMM)
    assert sum(counts.values()) == global_cell_count(rve)
    with pytest.raises(GeometryError, match=r"phase 'ghost' \(tag 7\) has no cells after meshing"):
        val.check_phases_nonempty(rve.cell_tags, {**rve.phases, "ghost": 7}, COMM)
