"""Explicit release of the PETSc objects a problem owns.

petsc4py destroys a dropped object on a communicator of size 1 at once, but one on a larger
communicator only at the next collective ``PETSc.garbage_cleanup`` of *that* communicator, and
until then it keeps MPI context ids (MPICH has 2048 per process). A dolfinx mesh duplicates the
communicator it is built on, so the objects of a problem on a mesh that is gone are never cleaned
up: a long process that builds many parallel problems (adaptive loops, test suites) runs out.
Every problem class that owns KSPs, matrices or vectors on its mesh's communicator therefore has
a ``destroy()`` (collective) built on :func:`destroy_petsc_attributes`.
"""

from __future__ import annotations

import gc

from petsc4py import PETSc

__all__ = ["destroy_petsc_attributes"]


def destroy_petsc_attributes(obj: object, comm=None) -> int:
    """Destroy every PETSc object held by an attribute of ``obj`` (directly or in a list/tuple/dict
    value) and set those attributes to ``None``; returns how many were destroyed. With ``comm`` (the
    problem's, i.e. its mesh's communicator) the temporaries the problem dropped during its life
    are destroyed too (``PETSc.garbage_cleanup(comm)`` after a ``gc.collect()``). Collective: the
    attributes are visited in insertion order, the same on every rank. Objects shared with another
    owner must not be reachable from ``obj``'s attributes (or must be destroyed only once).
    """
    if comm is not None and comm.size > 1:
        gc.collect()
        PETSc.garbage_cleanup(comm)
    count = 0
    for name, value in list(vars(obj).items()):
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else [value]
        found = False
        for item in items:
            if isinstance(item, PETSc.Object):
                item.destroy()
                count += 1
                found = True
        if found:
            setattr(obj, name, None)
    return count
