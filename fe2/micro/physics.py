"""Micro physics of a linear RVE — what the field is, its "strain" and "stress" — and the open registry.

Every physics is a frozen dataclass ``(dim)`` subclassing :class:`Physics` and
registered by name with :func:`register_physics`; :func:`make_physics` builds
one by name, :func:`physics_names` lists them (config validation checks
against it). A physics carries everything the RVE problem, its forms, results
and studies need to know about it, so adding one is one new module::

    @register_physics
    @dataclass(frozen=True)
    class MyPhysics(ScalarGradientPhysics):
        name: ClassVar[str] = "my_physics"
        phase_material: ClassVar[type] = MyPhaseMaterial
        ...  # flux, coefficient_names, coefficient_values, tensor_from_coefficients

What a physics declares:

* the field (``value_shape``), its driver ``strain(u)`` and ``flux(strain, coeffs)``
  (UFL), the boundary integrand of the driver average, the affine field of a
  macro driver and the rigid modes (TUBC, near null space);
* the driver basis (Mandel basis of symmetric tensors, or unit vectors) and
  the conversion of effective tensors for output (``to_voigt``: Mandel → Voigt,
  or the plain matrix), the labels of components, load cases and tensor
  entries, the notation record written with results;
* the contract ``kind`` of the effective tensor (:mod:`fe2.materials.contract`);
* the phase material it takes (``phase_material``), the names of the DG0
  coefficient fields the flux reads and how a phase material fills them; the
  tensor of given coefficient values (Reuss bounds, admissibility checks).

Two physics are built in:

* elasticity (small strain; 2D = plane strain): field u (vector), driver
  ε = sym ∇u, flux σ = λ tr(ε) I + 2 μ ε;
* conductivity / diffusion: field φ (scalar), driver g = ∇φ, flux J = k ∇φ
  (sign convention: J is *minus* the physical heat/mass flux, so that the
  effective tensor is positive, ⟨J⟩ = K_eff ⟨∇φ⟩).

Macro drivers and fluxes are stored in Mandel form (see :mod:`fe2.tensors`)
for elasticity and as plain vectors for conductivity. ``driver_basis`` gives
the tensors S_k of an orthonormal basis, so that a Mandel component is
``v_k = S_k : t``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import ufl
from dolfinx import fem

from fe2.errors import ConfigError, Fe2Error
from fe2.materials import IsotropicConductor, IsotropicElastic
from fe2.materials.contract import Kind
from fe2.tensors import (
    VOIGT_LABELS,
    isotropic_stiffness_mandel,
    mandel_basis,
    n_sym,
    stiffness_mandel_to_voigt,
)

_REGISTRY: dict[str, type[Physics]] = {}


def register_physics(cls: type[Physics]) -> type[Physics]:
    """Class decorator: make ``cls`` available by its ``name`` (a second class of the same name is an error)."""
    name = cls.name
    old = _REGISTRY.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"physics {name!r} is already registered by {old.__module__}.{old.__qualname__}")
    _REGISTRY[name] = cls
    return cls


def physics_names() -> tuple[str, ...]:
    """Names of the registered physics."""
    return tuple(_REGISTRY)


#: entry-point group of installed packages that register physics (``[project.entry-points."fe2.physics"]``)
ENTRY_POINT_GROUP = "fe2.physics"


def load_physics_plugins(modules: Sequence[str] = ()) -> None:
    """Import the modules that register more physics: every ``fe2.physics`` entry point, then ``modules``.

    Raises:
        ConfigError: a module that cannot be imported (one line, naming it).
    """
    import importlib
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as err:  # noqa: BLE001 -- a broken plugin is reported, whatever it raised
            raise ConfigError(f"physics plugin {ep.name!r} ({ep.value}) fails to load: "
                              f"{type(err).__name__}: {err}") from None
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 -- as above
            first = str(err).splitlines()[0] if str(err) else ""
            raise ConfigError(f"plugins: cannot import {name!r} ({type(err).__name__}: {first})") from None


def physics_class(name: str) -> type[Physics]:
    """The registered physics class of ``name``."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown physics {name!r}; expected one of {', '.join(repr(n) for n in _REGISTRY)}")
    return _REGISTRY[name]


def make_physics(name: str, dim: int) -> Physics:
    """Physics by name (see :func:`physics_names`), e.g. ``make_physics('elasticity', 2)``."""
    return physics_class(name)(dim)


def physics_for_material(material) -> type[Physics]:
    """The registered physics whose phase material ``material`` is (e.g. IsotropicElastic -> elasticity)."""
    for cls in _REGISTRY.values():
        if isinstance(material, cls.phase_material):
            return cls
    raise ConfigError(f"no registered physics takes {type(material).__name__} phases")


@dataclass(frozen=True)
class Physics:
    """Base class of a linear RVE physics (see the module docstring); ``dim`` is 2 or 3."""

    dim: int

    #: names of the built-in physics, whose config tables have their own schema (fe2/config/rve.py)
    BUILT_IN: ClassVar[tuple[str, ...]] = ("elasticity", "conductivity")

    name: ClassVar[str]
    #: contract kind of the effective tensor (:data:`fe2.materials.contract.KINDS`)
    kind: ClassVar[Kind]
    #: the phase-material class of this physics
    phase_material: ClassVar[type]
    #: names of the DG0 coefficient fields the flux reads
    coefficient_names: ClassVar[tuple[str, ...]]
    #: symbol of the effective tensor in labels and plots
    tensor_symbol: ClassVar[str] = "K"
    #: axis label of plotted effective entries
    tensor_description: ClassVar[str] = "effective K"
    #: how results of this physics are written (merged into result records)
    notation: ClassVar[dict[str, str]] = {}

    # ------------------------------------------------------------------ field and driver
    @property
    def value_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def n_driver(self) -> int:
        raise NotImplementedError

    @property
    def selector_shape(self) -> tuple[int, ...]:
        """Shape of the constant tensor S that selects one driver component in the forms."""
        raise NotImplementedError

    def driver_basis(self) -> np.ndarray:
        raise NotImplementedError

    def strain(self, u):
        raise NotImplementedError

    def flux(self, strain, coeffs: Mapping[str, fem.Function]):
        raise NotImplementedError

    def boundary_strain(self, u, n):
        raise NotImplementedError

    def boundary_rotation(self, u, n):
        """Integrand of the boundary average of the rigid rotation (TUBC gauge), or None (no rotations)."""
        return None

    def rotation_basis(self) -> np.ndarray:
        """Selector tensors of the rigid rotations, shape (n_rot, *selector_shape); none by default."""
        return np.zeros((0, *self.selector_shape))

    def affine(self, driver: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Affine field of a driver (d, d) or (d,) at points x (d, n)."""
        return driver @ x

    def rigid_modes(self, x: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def to_voigt(self, c_mandel: np.ndarray) -> np.ndarray:
        """Effective tensor as written to results (default: the matrix itself)."""
        return np.array(c_mandel, dtype=float)

    # ------------------------------------------------------------------ labels
    def component_labels(self) -> tuple[str, ...]:
        """Labels of the driver components in results ('11', '22', '12' … or '1', '2' …)."""
        return tuple(str(i + 1) for i in range(self.dim))

    def case_labels(self) -> tuple[str, ...]:
        """File labels of the unit load cases."""
        return tuple(f"G{i + 1}" for i in range(self.n_driver))

    def tensor_labels(self) -> list[str]:
        """Labels of the upper triangle of the effective tensor, e.g. C1111, C1122 … or K11, K12 …."""
        labels = self.component_labels()
        return [f"{self.tensor_symbol}{a}{b}" for i, a in enumerate(labels) for b in labels[i:]]

    # ------------------------------------------------------------------ phase materials and coefficients
    @classmethod
    def material_from_table(cls, table: Mapping[str, object]) -> object:
        """The phase material of a config table ``[materials.NAME]`` (its keys: the phase material's fields).

        Raises:
            ValueError: the table does not make a phase material (message without the key path).
        """
        try:
            return cls.phase_material(**table)
        except TypeError as err:
            raise ValueError(f"not a {cls.phase_material.__name__} table ({err})") from None
        except Fe2Error as err:
            raise ValueError(str(err)) from None

    def coefficient_values(self, material) -> dict[str, float]:
        """Coefficient values of a phase material (a ConfigError for a material of another physics)."""
        if not isinstance(material, self.phase_material):
            raise ConfigError(f"{self.name} needs {self.phase_material.__name__} phases, got {type(material).__name__}")
        return self._coefficient_values(material)

    def _coefficient_values(self, material) -> dict[str, float]:
        raise NotImplementedError

    def tensor_from_coefficients(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Tensors (n, n_driver, n_driver) (Mandel) of coefficient values given as arrays (n,)."""
        raise NotImplementedError

    def phase_tensor(self, material) -> np.ndarray:
        """The tensor (Mandel) of one phase material."""
        vals = self.coefficient_values(material)
        return self.tensor_from_coefficients({k: np.array([v]) for k, v in vals.items()})[0]

    def invalid_coefficients(self, values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, str]:
        """(mask of inadmissible entries, what admissible means) of coefficient arrays (n,)."""
        t = self.tensor_from_coefficients(values)
        finite = np.all(np.isfinite(t.reshape(t.shape[0], -1)), axis=1)
        ok = finite.copy()
        if np.any(finite):
            sym = 0.5 * (t[finite] + t[finite].transpose(0, 2, 1))
            ok[finite] = np.linalg.eigvalsh(sym)[:, 0] > 0
        return ~ok, "a positive definite tensor"

    def compliance_sum(self, values: Mapping[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        """Σ_c w_c T_c⁻¹ over cells with coefficient arrays (n,) and weights (n,) (the Reuss bound's sum)."""
        t = self.tensor_from_coefficients(values)
        return np.einsum("c,cij->ij", weights, np.linalg.inv(t)) if t.shape[0] else np.zeros((self.n_driver,) * 2)


@register_physics
@dataclass(frozen=True)
class Elasticity(Physics):
    """Small-strain linear elasticity (plane strain in 2D)."""

    name: ClassVar[str] = "elasticity"
    kind: ClassVar[Kind] = "small_strain"
    phase_material: ClassVar[type] = IsotropicElastic
    #: the (DG0) coefficient fields the flux reads: Lamé λ, μ
    coefficient_names: ClassVar[tuple[str, ...]] = ("lambda", "mu")
    tensor_symbol: ClassVar[str] = "C"
    tensor_description: ClassVar[str] = "effective C (Voigt, 11 22 12)"
    notation: ClassVar[dict[str, str]] = {
        "notation": "voigt",
        "shear": "engineering (gamma_12 = 2 eps_12)",
        "order_2d": "11 22 12",
        "order_3d": "11 22 33 23 13 12",
    }

    @property
    def value_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    @property
    def n_driver(self) -> int:
        """Number of independent driver components: 3 (2D) or 6 (3D)."""
        return n_sym(self.dim)

    @property
    def selector_shape(self) -> tuple[int, ...]:
        return (self.dim, self.dim)

    def driver_basis(self) -> np.ndarray:
        """Orthonormal (Mandel) basis of symmetric tensors, shape (n_driver, d, d)."""
        return mandel_basis(self.dim)

    def strain(self, u):
        return ufl.sym(ufl.grad(u))

    def flux(self, strain, coeffs: Mapping[str, fem.Function]):
        lam, mu = coeffs["lambda"], coeffs["mu"]
        return lam * ufl.tr(strain) * ufl.Identity(self.dim) + 2.0 * mu * strain

    def boundary_strain(self, u, n):
        """Integrand of the boundary average of the driver: sym(u ⊗ n)."""
        return ufl.sym(ufl.outer(u, n))

    def boundary_rotation(self, u, n):
        """Integrand of the boundary average of the rotation: skew(u ⊗ n)."""
        return ufl.skew(ufl.outer(u, n))

    def rotation_basis(self) -> np.ndarray:
        """Orthonormal skew tensors (e_i⊗e_j - e_j⊗e_i)/√2, one per rigid rotation: (1 or 3, d, d)."""
        pairs = [(0, 1)] if self.dim == 2 else [(1, 2), (0, 2), (0, 1)]
        basis = np.zeros((len(pairs), self.dim, self.dim))
        for k, (i, j) in enumerate(pairs):
            basis[k, i, j], basis[k, j, i] = 1.0 / np.sqrt(2.0), -1.0 / np.sqrt(2.0)
        return basis

    def affine(self, driver: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Affine field E·x for E (d, d) at points x (d, n) -> (d, n)."""
        return driver @ x

    def rigid_modes(self, x: np.ndarray) -> list[np.ndarray]:
        """Rigid-body modes at nodes x (n, d): list of arrays (n, d)."""
        n = x.shape[0]
        modes = []
        for i in range(self.dim):
            m = np.zeros((n, self.dim))
            m[:, i] = 1.0
            modes.append(m)
        pairs = [(0, 1)] if self.dim == 2 else [(0, 1), (1, 2), (0, 2)]
        for i, j in pairs:
            m = np.zeros((n, self.dim))
            m[:, i] = -x[:, j]
            m[:, j] = x[:, i]
            modes.append(m)
        return modes

    def to_voigt(self, c_mandel: np.ndarray) -> np.ndarray:
        """Effective stiffness Mandel -> Voigt (engineering shear strain)."""
        return stiffness_mandel_to_voigt(c_mandel)

    def component_labels(self) -> tuple[str, ...]:
        return VOIGT_LABELS[self.dim]

    def case_labels(self) -> tuple[str, ...]:
        return tuple("E" + s for s in VOIGT_LABELS[self.dim])

    def _coefficient_values(self, material) -> dict[str, float]:
        lam, mu = material.lame
        return {"lambda": lam, "mu": mu}

    def tensor_from_coefficients(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.stack([isotropic_stiffness_mandel(lam, mu, self.dim)
                         for lam, mu in zip(values["lambda"], values["mu"], strict=False)])

    def phase_tensor(self, material) -> np.ndarray:
        vals = self.coefficient_values(material)
        return isotropic_stiffness_mandel(vals["lambda"], vals["mu"], self.dim)

    def invalid_coefficients(self, values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, str]:
        lam, mu = values["lambda"], values["mu"]
        bulk = lam + (1.0 if self.dim == 2 else 2.0 / 3.0) * mu
        return ~(np.isfinite(bulk) & (mu > 0) & (bulk > 0)), "mu > 0 and a positive bulk modulus"

    def compliance_sum(self, values: Mapping[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        # isotropic compliance in Mandel form, per cell: 1/(2μ) I - λ/(2μ(dλ + 2μ)) 1⊗1 on the normal block
        lam, mu, w, d = values["lambda"], values["mu"], weights, self.dim
        comp = (w / (2.0 * mu)).sum() * np.eye(self.n_driver)
        comp[:d, :d] -= (w * lam / (2.0 * mu * (d * lam + 2.0 * mu))).sum()
        return comp


@dataclass(frozen=True)
class ScalarGradientPhysics(Physics):
    """Base of scalar-field physics with driver ∇φ and a flux linear in it (conductivity, diffusion …)."""

    kind: ClassVar[Kind] = "conductivity"
    notation: ClassVar[dict[str, str]] = {
        "notation": "vector",
        "convention": "J = K grad(phi); J is minus the physical flux",
        "order_2d": "1 2",
        "order_3d": "1 2 3",
    }

    @property
    def value_shape(self) -> tuple[int, ...]:
        return ()

    @property
    def n_driver(self) -> int:
        return self.dim

    @property
    def selector_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    def driver_basis(self) -> np.ndarray:
        """Unit vectors, shape (d, d)."""
        return np.eye(self.dim)

    def strain(self, u):
        return ufl.grad(u)

    def boundary_strain(self, u, n):
        return u * n

    def rigid_modes(self, x: np.ndarray) -> list[np.ndarray]:
        return [np.ones((x.shape[0], 1))]


@register_physics
@dataclass(frozen=True)
class Conductivity(ScalarGradientPhysics):
    """Steady scalar conductivity / diffusion with isotropic phases."""

    name: ClassVar[str] = "conductivity"
    phase_material: ClassVar[type] = IsotropicConductor
    #: the (DG0) coefficient field the flux reads: conductivity k
    coefficient_names: ClassVar[tuple[str, ...]] = ("k",)

    def flux(self, strain, coeffs: Mapping[str, fem.Function]):
        return coeffs["k"] * strain

    def _coefficient_values(self, material) -> dict[str, float]:
        return {"k": material.conductivity}

    def tensor_from_coefficients(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(values["k"], dtype=float)[:, None, None] * np.eye(self.dim)[None]

    def phase_tensor(self, material) -> np.ndarray:
        return self.coefficient_values(material)["k"] * np.eye(self.dim)

    def invalid_coefficients(self, values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, str]:
        k = values["k"]
        return ~(np.isfinite(k) & (k > 0)), "k > 0"

    def compliance_sum(self, values: Mapping[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        return (weights / values["k"]).sum() * np.eye(self.n_driver)
