"""A linear system under linear constraints ``x = P x̂``, solved in the reduced space.

Periodicity, KUBC (w = 0 on the box faces), no-slip walls of a Stokes cell and
the periodic phase field are all written as a prolongation ``P`` (full x
reduced, 0/1 entries; see :mod:`fe2.micro.constraints`). The reduced operator
is ``Â = PᵀAP`` (PETSc ``Mat.PtAP``), right-hand sides are restricted with
``Pᵀ``, solutions expanded with ``P``. No ``dolfinx_mpc`` is needed, and the
same object serves one rank and a distributed mesh.

Typical use::

    sys = ConstrainedSystem(K, P)           # forms PᵀKP once
    ksp = create_ksp(comm, "fe2_rve_", defaults); ksp.setOperators(sys.reduced)
    sys.restrict(f, b_hat); solve_checked(ksp, b_hat, x_hat, "...")
    sys.expand(x_hat, x)                    # full vector, ghosts updated
    ...                                      # K changed values, same pattern:
    sys.update()                            # PᵀKP into the same reduced matrix
"""

from __future__ import annotations

from petsc4py import PETSc


class ConstrainedSystem:
    """``A`` (full) under ``x = P x̂``: the reduced operator and the two maps.

    Args:
        A: the assembled full operator.
        P: the prolongation (full x reduced).

    Attributes:
        reduced: ``PᵀAP``, allocated once; :meth:`update` refills it in place.
    """

    def __init__(self, A: PETSc.Mat, P: PETSc.Mat) -> None:
        self.A = A
        self.P = P
        self.reduced: PETSc.Mat = A.PtAP(P)

    def update(self) -> None:
        """Recompute ``PᵀAP`` after ``A`` changed its values (same sparsity), in place."""
        self.A.PtAP(self.P, result=self.reduced)

    def reduced_vectors(self) -> tuple[PETSc.Vec, PETSc.Vec]:
        """``(x̂, b̂)``: a solution and a right-hand-side vector of the reduced system."""
        return self.reduced.createVecRight(), self.reduced.createVecLeft()

    def restrict(self, b: PETSc.Vec, b_hat: PETSc.Vec) -> PETSc.Vec:
        """``b̂ = Pᵀ b`` (``b`` with its ghost contributions already summed)."""
        self.P.multTranspose(b, b_hat)
        return b_hat

    def expand(self, x_hat: PETSc.Vec, x: PETSc.Vec, *, ghosts: bool = True) -> PETSc.Vec:
        """``x = P x̂``; with ``ghosts`` the ghost entries of ``x`` are updated (forward scatter)."""
        self.P.mult(x_hat, x)
        if ghosts:
            x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        return x

    def destroy(self) -> None:
        """Free the reduced operator (``A`` and ``P`` belong to the caller)."""
        self.reduced.destroy()
