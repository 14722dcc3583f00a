"""Random periodic packings of disks/spheres by random sequential addition (RSA).

:func:`random_inclusions` is pure numpy: candidates are drawn uniformly in the
box and accepted when their minimum-image distance to every placed inclusion is
at least ``r_i + r_j + min_gap`` (so wrapped inclusions never overlap each
other's periodic images). The number of inclusions is fixed up front from the
target fraction, ``n = round(f |Y| / v)``, so the achieved fraction
``n v / |Y|`` (see :func:`packing_fraction`) is the closest one reachable with
whole inclusions. The same seed gives the same packing on every machine and MPI
rank (numpy ``default_rng``/PCG64).

:func:`random_rve` meshes such a packing with :func:`~fe2.geometry.inclusions.inclusion_rve`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import numpy as np

from fe2.errors import GeometryError
from fe2.geometry import validation as val
from fe2.geometry.base import RVEMesh
from fe2.geometry.inclusions import Inclusion, inclusion_rve

__all__ = ["packing_fraction", "radii_for_fraction", "random_inclusions", "random_rve"]

_BATCH = 64


def packing_fraction(inclusions: Sequence[Inclusion], lengths: Sequence[float]) -> float:
    """Total inclusion volume over box volume (wrapped pieces count once: whole inclusions)."""
    box = np.asarray(lengths, dtype=float)
    return float(sum(inc.volume for inc in inclusions) / np.prod(box))


def radii_for_fraction(radius: float | Sequence[float], volume_fraction: float, box_volume: float,
                       dim: int) -> list[float]:
    """Radii of the inclusions to place, largest first.

    Monodisperse (``radius`` a number): ``n = round(f |Y| / v)`` copies. Polydisperse
    (``radius`` a sequence): the radii are taken cyclically, ``r0, r1, ..., r0, ...``,
    and the count is the one whose total volume is closest to ``f |Y|``.
    """
    target = volume_fraction * box_volume
    if np.ndim(radius) == 0:
        r = float(cast(float, radius))  # ndim 0: the float member of the union
        n = int(round(target / val.inclusion_volume(r, dim)))
        return [r] * n
    cycle = [float(r) for r in cast("Sequence[float]", radius)]
    if not cycle:
        raise GeometryError("the radius list is empty")
    radii: list[float] = []
    total = 0.0
    while True:
        nxt = cycle[len(radii) % len(cycle)]
        v = val.inclusion_volume(nxt, dim)
        if abs(total + v - target) >= abs(total - target):
            break
        radii.append(nxt)
        total += v
    return sorted(radii, reverse=True)


def random_inclusions(
    lengths: Sequence[float],
    radius: float | Sequence[float],
    volume_fraction: float,
    seed: int,
    min_gap: float,
    max_attempts: int = 20_000,
    *,
    origin: Sequence[float] | None = None,
    phase: str = "inclusion",
    face_gap: float | None = None,
    wrap: bool = True,
) -> list[Inclusion]:
    """Place non-overlapping periodic inclusions at random (RSA).

    Args:
        lengths: box edge lengths, shape (dim,).
        radius: one radius, or a list of radii for a polydisperse packing
            (see :func:`radii_for_fraction`).
        volume_fraction: target inclusion volume fraction in (0, 1).
        seed: seed of ``numpy.random.default_rng``; same seed, same packing.
        min_gap: minimum clearance between inclusion surfaces (periodic images included).
        max_attempts: random trials allowed per inclusion before giving up.
        origin: box corner (default 0).
        phase: phase name given to every inclusion.
        face_gap: an inclusion surface must not pass within ``face_gap`` of being
            tangent to a box face (avoids sliver pieces when wrapping); default
            ``min_gap``, and at least the validation tolerance.
        wrap: ``True`` (default): inclusions may cross the box faces and wrap
            periodically (a stationary random medium). ``False``: every inclusion
            lies inside the box, its surface at least ``face_gap`` from every face
            (centres drawn in ``[r + face_gap, L - r - face_gap]``); needed for pores
            under traction (TUBC) conditions, which want material on the whole boundary.

    Returns:
        The inclusions, largest first; ``packing_fraction(result, lengths)`` is the
        achieved fraction.

    Raises:
        GeometryError: impossible request (fraction out of range, radius too large
            for the box) or the RSA could not place every inclusion
            (``"cannot pack ... reached 0.52 after N attempts"``).
    """
    box_len = val.check_lengths(lengths)
    dim = box_len.size
    box_min = val.check_origin(origin, dim)
    f = float(volume_fraction)
    if not (0.0 < f < 1.0):
        raise GeometryError(f"volume_fraction must lie in (0, 1), got {f:.6g}")
    if not math.isfinite(min_gap) or min_gap < 0.0:
        raise GeometryError(f"min_gap must be >= 0, got {min_gap:.6g}")
    if int(max_attempts) < 1:
        raise GeometryError(f"max_attempts must be >= 1, got {max_attempts!r}")
    val.check_phase_name(phase, "phase")
    for r in np.atleast_1d(np.asarray(radius, dtype=float)):
        if not math.isfinite(r) or r <= 0.0:
            raise GeometryError(f"inclusion radius must be > 0, got {r:.6g}")
        if 2.0 * r + min_gap > float(box_len.min()):
            raise GeometryError(
                f"radius {r:.6g} with min_gap {min_gap:.6g} does not fit in the box "
                f"(2 r + min_gap > smallest edge {float(box_len.min()):.6g})"
            )
    vol = float(np.prod(box_len))
    radii = radii_for_fraction(radius, f, vol, dim)
    if not radii:
        raise GeometryError(
            f"volume fraction {f:.6g} is less than half of one inclusion (radius {radius}) "
            f"in a box of volume {vol:.6g}"
        )
    tol = val.TOUCH_RTOL * float(box_len.max())
    fgap = max(min_gap if face_gap is None else float(face_gap), 2.0 * tol)
    pair_gap = max(min_gap, 2.0 * tol)

    if not wrap:
        for r in set(radii):
            if float(box_len.min()) <= 2.0 * (r + fgap):
                raise GeometryError(
                    f"radius {r:.6g} with face_gap {fgap:.6g} does not fit inside the box without "
                    f"crossing a face (2 (r + face_gap) >= smallest edge {float(box_len.min()):.6g})"
                )

    rng = np.random.default_rng(seed)
    centres = np.zeros((len(radii), dim))
    placed = np.zeros(len(radii))
    attempts = 0
    for k, r in enumerate(radii):
        ok = False
        tried = 0
        while tried < max_attempts and not ok:
            m = min(_BATCH, max_attempts - tried)
            if wrap:
                cand = box_min + rng.random((m, dim)) * box_len
                # no near-tangency with the box faces
                dist_lo = cand - box_min
                dist_hi = box_min + box_len - cand
                good = np.all((np.abs(dist_lo - r) >= fgap) & (np.abs(dist_hi - r) >= fgap), axis=1)
            else:  # wholly inside, clear of every face by fgap
                cand = box_min + (r + fgap) + rng.random((m, dim)) * (box_len - 2.0 * (r + fgap))
                good = np.ones(m, dtype=bool)
            tried += m
            if k:
                delta = cand[:, None, :] - centres[None, :k, :]
                delta -= box_len * np.round(delta / box_len)
                dist = np.sqrt(np.einsum("mkd,mkd->mk", delta, delta))
                good &= np.all(dist >= placed[:k] + r + pair_gap, axis=1)
            hits = np.flatnonzero(good)
            if hits.size:
                first = int(hits[0])
                attempts += tried - m + first + 1
                centres[k] = cand[first]
                placed[k] = r
                ok = True
        if not ok:
            attempts += tried
            reached = float(sum(val.inclusion_volume(q, dim) for q in placed[:k]) / vol)
            rtxt = f"{radius:.6g}" if np.ndim(radius) == 0 else f"radii {sorted(set(radii), reverse=True)}"
            raise GeometryError(
                f"cannot pack {len(radii)} inclusions to volume fraction {f:.6g} with radius {rtxt} "
                f"and min_gap {min_gap:.6g}, reached {reached:.4g} ({k} placed) after {attempts} attempts"
            )
    return [Inclusion(tuple(c), float(r), phase) for c, r in zip(centres, placed, strict=True)]


def random_rve(
    comm,
    lengths: Sequence[float],
    radius: float | Sequence[float],
    volume_fraction: float,
    mesh_size: float,
    *,
    seed: int,
    min_gap: float,
    max_attempts: int = 20_000,
    face_gap: float | None = None,
    inclusion_phase: str = "inclusion",
    matrix_phase: str = "matrix",
    void: bool = False,
    origin: Sequence[float] | None = None,
    element_order: int = 1,
    rank: int = 0,
    wrap: bool = True,
) -> RVEMesh:
    """Mesh a random RSA packing (collective; every rank draws the same packing from ``seed``).

    ``void=True`` makes the inclusions pores. ``wrap=False`` keeps every inclusion
    inside the box, ``face_gap`` clear of the faces (see :func:`random_inclusions`).
    ``description`` records the seed, the target and the achieved (whole-inclusion)
    volume fraction.
    """
    incs = random_inclusions(
        lengths, radius, volume_fraction, seed, min_gap, max_attempts,
        origin=origin, phase=inclusion_phase, face_gap=face_gap, wrap=wrap,
    )
    achieved = packing_fraction(incs, lengths)
    return inclusion_rve(
        comm, lengths, incs, mesh_size, matrix_phase=matrix_phase,
        void_phases=(inclusion_phase,) if void else (), origin=origin, element_order=element_order,
        rank=rank, min_gap=min_gap,
        description={
            "generator": "random_rve",
            "seed": int(seed),
            "radius": (float(cast(float, radius)) if np.ndim(radius) == 0
                       else [float(r) for r in cast("Sequence[float]", radius)]),
            "target_volume_fraction": float(volume_fraction),
            "achieved_volume_fraction": achieved,
            "max_attempts": int(max_attempts),
            "wrap": bool(wrap),
        },
    )
