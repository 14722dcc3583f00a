"""The RVE problem's forms: compiled once, attached to any mesh of the same kind.

A study over many RVE meshes (sizes, random realizations) compiles the forms of
one kind — physics, cell type, geometry degree, field degree — once with
``dolfinx.fem.compile_form`` and attaches them to each mesh with
``dolfinx.fem.create_form``, so JIT time does not grow with the number of meshes.
Pass one :class:`RVEForms` to every :class:`~fe2.micro.rve_problem.RVEProblem`
of the study.

Forms (v test, u trial, S a constant selector tensor, ds(1) the box faces):

    a(u, v)    = ∫ flux(strain(u)) : strain(v) dx                stiffness K
    g(v)       = ∫ flux(strain(v)) : S dx                         G_S
    voigt      = ∫ flux(S) : T dx                                 <C> (T a second selector)
    h(v)       = ∫_{∂Y∩Ω} sym(v ⊗ n) : S ds                       H_S
    rot(v)     = ∫_{∂Y∩Ω} skew(v ⊗ n) : S ds                      R_S (physics with rotations only)
    box_area   = ∫_{∂Y∩Ω} 1 ds                                    boundary coverage
    indicator  = ∫ χ dx                                           phase volumes

The volume forms a, g and voigt share one quadrature rule (the degree UFL
estimates for a). The discrete identities the averages rely on, such as
K·A_k = G_k for an affine field A_k in the space, hold only when both sides are
integrated with the same points: on a curved cell whose Jacobian changes sign
(a tangled order-2 cell) |det J| is not a polynomial and two rules of different
degree give different integrals (Hill–Mandel residuals of 1e-5 seen in 3D).
"""

from __future__ import annotations

from dataclasses import dataclass

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from fe2.errors import ConfigError
from fe2.micro.physics import Physics

BOX_FACETS = 1
_FORM_NAMES = ("a", "g", "voigt", "h", "rot", "box_area", "indicator")


def _estimated_degree(form: ufl.Form) -> int:
    """The quadrature degree FFCx would choose for a one-integral form (UFL's estimate after pull-backs)."""
    from ufl.algorithms import compute_form_data

    fd = compute_form_data(
        form, do_apply_function_pullbacks=True, do_apply_integral_scaling=True,
        do_apply_geometry_lowering=True, preserve_geometry_types=(ufl.classes.Jacobian,),
        do_apply_restrictions=True, do_append_everywhere_integrals=False, do_estimate_degrees=True,
    )
    return max(int(itg.metadata()["estimated_polynomial_degree"]) for d in fd.integral_data for itg in d.integrals)


@dataclass(frozen=True)
class FormKey:
    """What a compiled form depends on: meshes of equal keys share compiled forms."""

    physics: str
    dim: int
    cell: str
    geometry_degree: int
    geometry_variant: int
    degree: int


def form_key(physics: Physics, msh: dmesh.Mesh, degree: int) -> FormKey:
    cmap = msh.geometry.cmaps[0] if hasattr(msh.geometry, "cmaps") else msh.geometry.cmap
    return FormKey(
        physics.name, msh.geometry.dim, msh.topology.cell_name(), int(cmap.degree), int(cmap.variant), int(degree)
    )


class RVEForms:
    """Compiled RVE forms for one :class:`FormKey` (compile on construction, attach per mesh)."""

    def __init__(self, comm: MPI.Comm, physics: Physics, key: FormKey) -> None:
        self.key = key
        self.physics = physics
        cell, d = key.cell, key.dim
        coord = basix.ufl.element(
            "Lagrange", cell, key.geometry_degree, basix.LagrangeVariant(key.geometry_variant),
            shape=(d,), dtype=np.float64,
        )
        domain = ufl.Mesh(coord)
        V = ufl.FunctionSpace(domain, basix.ufl.element("Lagrange", cell, key.degree, shape=physics.value_shape))
        Q = ufl.FunctionSpace(domain, basix.ufl.element("DG", cell, 0))
        self._coeffs = {n: ufl.Coefficient(Q) for n in physics.coefficient_names}
        self._indicator = ufl.Coefficient(Q)
        self._selector = ufl.Constant(domain, shape=physics.selector_shape)
        self._selector2 = ufl.Constant(domain, shape=physics.selector_shape)
        self._one = ufl.Constant(domain)
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        ds = ufl.Measure("ds", domain=domain)(BOX_FACETS)
        n = ufl.FacetNormal(domain)
        ph, c, S, T = physics, self._coeffs, self._selector, self._selector2
        a_integrand = ufl.inner(ph.flux(ph.strain(u), c), ph.strain(v))
        #: one quadrature degree for every volume form that enters an identity (see the module docstring)
        self.volume_degree = _estimated_degree(a_integrand * ufl.dx)
        dx = ufl.Measure("dx", domain=domain, metadata={"quadrature_degree": self.volume_degree})
        ufl_forms = {
            "a": a_integrand * dx,
            "g": ufl.inner(ph.flux(ph.strain(v), c), S) * dx,
            "voigt": ufl.inner(ph.flux(S, c), T) * dx,
            "h": ufl.inner(ph.boundary_strain(v, n), S) * ds,
            "box_area": self._one * ds,
            "indicator": self._indicator * ufl.dx,
        }
        rot = ph.boundary_rotation(v, n)
        if rot is not None:
            ufl_forms["rot"] = ufl.inner(rot, S) * ds
        self._compiled = {name: fem.compile_form(comm, f) for name, f in ufl_forms.items()}

    @classmethod
    def for_mesh(cls, physics: Physics, msh: dmesh.Mesh, degree: int) -> RVEForms:
        """Compile the forms of the kind of ``msh`` (JIT cache on disk makes repeats cheap)."""
        return cls(msh.comm, physics, form_key(physics, msh, degree))

    def attach(
        self,
        V: fem.FunctionSpace,
        coefficients: dict[str, fem.Function],
        indicator: fem.Function,
        selector: fem.Constant,
        box_facets: np.ndarray,
        selector2: fem.Constant,
    ) -> dict[str, fem.Form]:
        """Concrete forms on V's mesh. ``box_facets``: owned+ghost facet indices on the box faces.

        ``selector2``: the second selector T of the voigt form. Physics without rotations have no "rot" form.
        """
        msh = V.mesh
        key = form_key(self.physics, msh, V.ufl_element().basix_element.degree)
        if key != self.key:
            raise ConfigError(f"compiled RVE forms are for {self.key}, not for a mesh of kind {key}")
        fdim = msh.topology.dim - 1
        msh.topology.create_connectivity(fdim, msh.topology.dim)
        msh.topology.create_connectivity(msh.topology.dim, fdim)
        facet_domain = fem.compute_integration_domains(fem.IntegralType.exterior_facet, msh.topology, box_facets)
        facet_sub = {fem.IntegralType.exterior_facet: [(BOX_FACETS, facet_domain)]}
        one = fem.Constant(msh, 1.0)
        coeff_map = {self._coeffs[n]: coefficients[n] for n in self._coeffs}
        coeff_map[self._indicator] = indicator
        const_map = {self._selector: selector, self._selector2: selector2, self._one: one}
        spaces = {"a": [V, V], "g": [V], "voigt": [], "h": [V], "rot": [V], "box_area": [], "indicator": []}
        out = {}
        for name in _FORM_NAMES:
            if name not in self._compiled:
                continue
            compiled = self._compiled[name]
            used_c = {k: w for k, w in coeff_map.items() if k in compiled.ufl_form.coefficients()}
            used_k = {k: w for k, w in const_map.items() if k in compiled.ufl_form.constants()}
            sub = facet_sub if name in ("h", "rot", "box_area") else {}
            out[name] = fem.create_form(compiled, spaces[name], msh, sub, used_c, used_k)
        return out
