# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Homogenizing a fibre composite RVE with KUBC, periodic and TUBC conditions
#
# A unidirectional fibre composite seen in its cross-section: a hexagonal array of
# circular fibres (volume fraction 0.4, E_f / E_m = 10, plane strain). We compute
# its effective stiffness with the three classical RVE boundary conditions:
#
# * **KUBC** — kinematic uniform: u = E·x on the whole boundary (an upper bound),
# * **periodic** — u = E·x + w with w periodic (the "right" answer for a periodic medium),
# * **TUBC** — uniform traction t = Σ·n (a lower bound),
#
# check that they bracket each other (Voigt ⪰ KUBC ⪰ PBC ⪰ TUBC ⪰ Reuss), that
# every solve satisfies the Hill–Mandel condition, and that the periodic result lies
# inside the Hashin–Shtrikman bounds (a hexagonal array is transversely isotropic).
#
# Run it with `mpirun -n 2 python demos/rve_homogenization.py --out out/demo`
# (add `--quick` for the coarse mesh used by the smoke tests).

# %%
import argparse
import os
from pathlib import Path

import numpy as np
from mpi4py import MPI

import fe2  # noqa: F401  (imports dolfinx_solver before dolfinx where installed)
from fe2.analytic.bounds import hashin_shtrikman_bulk, hashin_shtrikman_shear
from fe2.geometry import hexagonal_array
from fe2.io.fields import gather_p1_field, write_rve_fields
from fe2.io.plots import plot_field_png
from fe2.io.results import write_json_atomic
from fe2.materials import IsotropicElastic
from fe2.micro.physics import Elasticity
from fe2.micro.rve_problem import RVEProblem

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--out", default="out/rve_homogenization")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("CI")))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
out = Path(args.out)


def say(*msg):
    if comm.rank == 0:
        print(*msg, flush=True)


# %% [markdown]
# ## Geometry and materials
# The hexagonal cell is a rectangle a × a√3 holding one centred fibre and four
# corner quarters (wrapped periodically by the generator). The mesh is periodic:
# opposite faces match node for node, which the periodic condition requires.

# %%
fraction = 0.4
mesh_size = 0.08 if args.quick else 0.025
rve = hexagonal_array(comm, volume_fraction=fraction, mesh_size=mesh_size)
matrix, fibre = IsotropicElastic(1.0, 0.3), IsotropicElastic(10.0, 0.3)
problem = RVEProblem(rve, Elasticity(2), {"matrix": matrix, "fibre": fibre})
info = problem.mesh_info()
say(f"RVE: {info['cells']} triangles, {info['dofs']} dofs on {comm.size} rank(s); "
    f"fibre fraction {problem.volume_fractions['fibre']:.4f} (target {fraction})")

# %% [markdown]
# ## Solve: three BCs, three unit load cases each
# Each BC builds its reduced operator and factorization once and reuses it for
# the three unit strains (KUBC, PBC) or unit stresses (TUBC).

# %%
result, fields = problem.homogenize(keep_fields=True)
labels = ("E11", "E22", "E12")
for bc, vecs in fields.items():
    for j, u in enumerate(vecs):
        write_rve_fields(out / "fields" / f"{bc}_{labels[j]}", problem.V, u, None if bc == "tubc" else problem.A[j],
                         rve.cell_tags)

# %% [markdown]
# ## Results (Voigt notation, engineering shear; 2D plane strain)

# %%
say(f"\n{'':10s}{'C1111':>10s}{'C2222':>10s}{'C1122':>10s}{'C1212':>10s}{'Hill-Mandel':>14s}")
rows = {"voigt": result.voigt_bound}
rows.update({bc: result.effective(bc) for bc in ("kubc", "periodic", "tubc")})
rows["reuss"] = result.reuss_bound
for name, C in rows.items():
    hm = f"{result.bcs[name].hill_mandel_max:14.1e}" if name in result.bcs else ""
    say(f"{name:10s}{C[0, 0]:10.5f}{C[1, 1]:10.5f}{C[0, 1]:10.5f}{C[2, 2]:10.5f}{hm}")

# 2D (plane-strain) bulk modulus kappa = (C11 + C12)/2 and in-plane shear mu = C66, against Hashin-Shtrikman.
lam_m, mu_m = matrix.lame
lam_f, mu_f = fibre.lame
f_fibre = problem.volume_fractions["fibre"]
phase_kappa, phase_mu, phase_f = (lam_m + mu_m, lam_f + mu_f), (mu_m, mu_f), (1.0 - f_fibre, f_fibre)
hs = {
    "bulk": hashin_shtrikman_bulk(phase_kappa, phase_mu, phase_f, dim=2),
    "shear": hashin_shtrikman_shear(phase_kappa, phase_mu, phase_f, dim=2),
}
C = result.effective("periodic")
kappa, mu = 0.5 * (C[0, 0] + C[0, 1]), C[2, 2]
say(f"\nperiodic kappa = {kappa:.5f} in HS [{hs['bulk'][0]:.5f}, {hs['bulk'][1]:.5f}]")
say(f"periodic mu    = {mu:.5f} in HS [{hs['shear'][0]:.5f}, {hs['shear'][1]:.5f}]")

# %% [markdown]
# ## A picture of the periodic fluctuation under E11
# The fibres strain less than the matrix, so the fluctuation w1 = u1 − E11 x1
# rises in the matrix gaps and falls across each fibre.
#
# ![periodic fluctuation w1 under a unit E11](../../images/rve_fluctuation_periodic_E11.png)
#
# *The figure this demo draws (a quick-mode run, copied to docs/images/);
# this page shows the code, not executed.*

# %%
w = fields["periodic"][0].copy()
w.axpy(-1.0, problem.A[0])
from dolfinx import fem  # noqa: E402
from petsc4py import PETSc  # noqa: E402

wf = fem.Function(problem.V)
w.copy(wf.x.petsc_vec)
wf.x.scatter_forward()
gathered = gather_p1_field(problem.V, wf.x.array.reshape(-1, 2)[:, 0])
scale = fields["periodic"][0].norm(PETSc.NormType.NORM_INFINITY)  # |u|: round-off is judged against it
if gathered is not None:
    plot_field_png(*gathered, out / "fluctuation_periodic_E11.png", "periodic: fluctuation w1 under unit E11",
                   label="w1 [length × applied E11]", scale=scale)
write_json_atomic(out / "result.json", result.to_dict(), comm)
say(f"\nParaView files: {out / 'fields'}/*.xdmf (pyvista: *.pvd)   picture: {out / 'fluctuation_periodic_E11.png'}")

# %% [markdown]
# ## Checks (this demo is also a test)

# %%
assert all(r.hill_mandel_max < 1e-10 for r in result.bcs.values())
Ck, Cp, Ct = (result.effective(bc) for bc in ("kubc", "periodic", "tubc"))
for upper, lower in ((result.voigt_bound, Ck), (Ck, Cp), (Cp, Ct), (Ct, result.reuss_bound)):
    assert np.linalg.eigvalsh(0.5 * (upper - lower + (upper - lower).T))[0] > -1e-10 * np.abs(Ck).max()
assert hs["bulk"][0] <= kappa <= hs["bulk"][1] and hs["shear"][0] <= mu <= hs["shear"][1]
say("demo checks passed")
