"""``fe2 darcy`` configuration: TOML → validated model (see docs/darcy.md).

Every number is SI (m, Pa, s; K in m²/(Pa·s)); presets in the literature units
of Baxter & Jain (1989) are converted in :mod:`fe2.physics.darcy.units` only.

Example::

    formulation = "mixed"            # or "primal"
    degree = 1

    [domain]
    kind = "tumour_in_host"          # or "msh" (file = "tissue.msh": physical groups name regions/boundaries)
    dim = 2
    tumour_radius = 5e-3             # m
    host_radius = 1.5e-2             # m; omit for an isolated tumour
    mesh_size = 1e-3                 # m
    tumour_mesh_size = 5e-4          # m (optional)

    [tissue.tumour]
    preset = "baxter_jain_tumour"    # every field below overrides the preset
    [tissue.host]
    preset = "baxter_jain_normal"
    # K = 6.4e-15  L_p = 2.7e-12  S_V = 7000.0  p_v = 2080.0  pi_v = 2666.0  pi_i = 1333.0
    # sigma = 0.91  L_pL_SV = 1e-7  p_L = 0.0

    [[boundary]]
    name = "outer"                   # a boundary of the domain
    pressure = 0.0                   # Pa

    [permeability]                   # optional: K from micro Stokes cells instead of tissue K
    fibre_radius = 2e-8              # m
    viscosity = 1e-3                 # Pa s
    arrangement = "square"           # or "hexagonal" (2D)
    cell_mesh_size = 0.05            # element size of the unit cell
    mode = "exact"                   # or "interpolate" (c_range, n_nodes)
    fibre_fraction = { tumour = 0.1, host = { values = [0.3, 0.2], radii = [5e-3, 1.5e-2] } }

    [solute]                         # optional: transport on the Darcy velocity
    D = 1e-10                        # m²/s
    uptake = 1e-4                    # 1/s
    PS_V = 1e-4                      # 1/s
    sigma_f = 0.9
    c_vessel = 1.0                   # concentration in the vessels (any unit; c is in the same)
    dt = 60.0                        # s
    n_steps = 30

    [transient]                      # optional: time steps instead of the steady state
    dt = 10.0                        # s (backward Euler); tissue regions then need storage = S [1/Pa]
    n_steps = 30
    initial_pressure = 0.0           # Pa

    [output]
    profile_points = 101             # radial profile samples (tumour_in_host only)
    fields_every = 1                 # a frame of fields.bp/.pvd every n-th transient/solute step (the last always)

    [solver]                         # optional: goal-oriented (DWR) error estimate of one QoI (primal, steady)
    error_estimate = true
    qoi = "outflow"                  # or "starling_inflow"
    qoi_boundary = "outer"           # a pressure boundary (default: the first one)
    target_error = 1e-3              # optional: refine adaptively until |eta| / |J_h + eta| <= this
    max_refinements = 10
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from fe2.config.base import CommandConfig, GoalErrorOptions, _Strict, load_toml, parse_config, resolve_file

PRESETS = ("baxter_jain_tumour", "baxter_jain_normal")


class TumourDomainSpec(_Strict):
    kind: Literal["tumour_in_host"]
    dim: Literal[2, 3] = 2
    tumour_radius: PositiveFloat
    host_radius: PositiveFloat | None = None
    mesh_size: PositiveFloat
    tumour_mesh_size: PositiveFloat | None = None
    geometry_order: Literal[1, 2] = 1

    @model_validator(mode="after")
    def _radii(self):
        if self.host_radius is not None and self.host_radius <= self.tumour_radius:
            raise ValueError(f"host_radius {self.host_radius} must exceed tumour_radius {self.tumour_radius}")
        return self


class MshDomainSpec(_Strict):
    kind: Literal["msh"]
    file: str


class TissueSpec(_Strict):
    """One region's perfusion data, SI; ``preset`` fills the rest, explicit fields override it."""

    preset: Literal["baxter_jain_tumour", "baxter_jain_normal"] | None = None
    K: PositiveFloat | list[list[float]] | None = None
    L_p: NonNegativeFloat | None = None
    S_V: NonNegativeFloat | None = None
    p_v: float | None = None
    pi_v: float | None = None
    pi_i: float | None = None
    sigma: float | None = Field(default=None, ge=0.0, le=1.0)
    L_pL_SV: NonNegativeFloat | None = None
    p_L: float | None = None
    storage: NonNegativeFloat | None = None   # 1/Pa, for [transient] runs

    @model_validator(mode="after")
    def _complete(self):
        if self.preset is None and self.K is None:
            raise ValueError("give a preset or at least K (m^2/(Pa s))")
        return self


class BoundarySpec(_Strict):
    name: str
    pressure: float | None = None   # Pa
    flux: float | None = None       # m/s, outward normal Darcy flux (primal only when non-zero)

    @model_validator(mode="after")
    def _one(self):
        if (self.pressure is None) == (self.flux is None):
            raise ValueError(f"boundary {self.name!r}: give exactly one of pressure (Pa) or flux (m/s)")
        return self


class RadialFraction(_Strict):
    """Fibre fraction linear in r = |x| between radii[0] (values[0]) and radii[1] (values[1]), constant beyond."""

    values: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(min_length=2, max_length=2)
    radii: list[NonNegativeFloat] = Field(min_length=2, max_length=2)

    @model_validator(mode="after")
    def _ordered(self):
        if not self.radii[1] > self.radii[0]:
            raise ValueError(f"radii must increase, got {self.radii}")
        return self


class PermeabilitySpec(_Strict):
    fibre_radius: PositiveFloat
    viscosity: PositiveFloat = 1e-3
    arrangement: Literal["square", "hexagonal"] = "square"
    cell_mesh_size: PositiveFloat = 0.05
    mode: Literal["exact", "interpolate"] = "exact"
    c_range: list[PositiveFloat] | None = None
    n_nodes: PositiveInt = 7
    fibre_fraction: dict[str, Annotated[float, Field(gt=0.0, lt=1.0)] | RadialFraction]

    @model_validator(mode="after")
    def _range(self):
        if self.mode == "exact" and self.c_range is not None:
            raise ValueError("c_range is for mode = 'interpolate' (mode 'exact' solves every distinct fraction)")
        if self.mode == "interpolate":
            if self.c_range is None or len(self.c_range) != 2 or not self.c_range[0] < self.c_range[1]:
                raise ValueError("mode 'interpolate' needs c_range = [c_min, c_max] with c_min < c_max")
            if self.n_nodes < 2:
                raise ValueError("n_nodes must be >= 2")
        return self


class SoluteSpec(_Strict):
    D: PositiveFloat
    uptake: NonNegativeFloat = 0.0
    PS_V: NonNegativeFloat = 0.0
    sigma_f: float = Field(default=1.0, ge=0.0, le=1.0)
    c_vessel: float = 1.0
    dt: PositiveFloat
    n_steps: PositiveInt
    theta: float = Field(default=1.0, ge=0.5, le=1.0)


class TransientSpec(_Strict):
    """Backward-Euler steps of S ∂p/∂t + ∇·u = s(p) from a uniform initial pressure (instead of the steady solve)."""

    dt: PositiveFloat            # s
    n_steps: PositiveInt
    initial_pressure: float = 0.0  # Pa


class OutputSpec(_Strict):
    """Radial profile samples; a frame of the fields time series every ``fields_every``-th time step."""

    profile_points: PositiveInt = 101
    fields_every: PositiveInt = 1


class DarcySolverSpec(GoalErrorOptions):
    """``[solver]``: the goal-oriented (dual-weighted residual) error estimate of one quantity of interest
    (:mod:`fe2.physics.darcy.goal_error`); ``target_error`` (relative, implies the estimate) refines the mesh
    adaptively (:mod:`fe2.physics.darcy.adaptivity`) until |η| / |J_h + η| <= target_error.
    """

    qoi: Literal["outflow", "starling_inflow"] = "outflow"
    qoi_boundary: str | None = None
    max_refinements: PositiveInt = 10


class DarcyConfig(CommandConfig):
    formulation: Literal["mixed", "primal"] = "mixed"
    degree: Literal[1, 2] = 1
    domain: TumourDomainSpec | MshDomainSpec = Field(discriminator="kind")
    tissue: dict[str, TissueSpec]
    boundary: list[BoundarySpec] = Field(default_factory=list)
    permeability: PermeabilitySpec | None = None
    solute: SoluteSpec | None = None
    transient: TransientSpec | None = None
    output: OutputSpec = Field(default_factory=OutputSpec)
    solver: DarcySolverSpec = Field(default_factory=DarcySolverSpec)

    @model_validator(mode="after")
    def _consistent(self):
        if not self.tissue:
            raise ValueError("[tissue] needs at least one region")
        if self.transient is not None and not any((t.storage or 0.0) > 0 for t in self.tissue.values()):
            raise ValueError("[transient] needs a positive tissue storage (1/Pa) in at least one region")
        if self.permeability is not None:
            extra = sorted(set(self.permeability.fibre_fraction) - set(self.tissue))
            if extra:
                raise ValueError(f"permeability.fibre_fraction names regions without [tissue] data: {extra}")
        names = [b.name for b in self.boundary]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"boundary: {twice[0]!r} is given twice (one [[boundary]] per boundary name)")
        if self.formulation == "mixed":
            for b in self.boundary:
                if b.flux not in (None, 0.0):
                    raise ValueError(f"boundary {b.name!r}: a non-zero flux needs formulation = 'primal'")
        self._check_solver()
        return self

    def _check_solver(self) -> None:
        sol = self.solver
        if not sol.estimates:
            return
        if self.formulation != "primal":
            raise ValueError("solver.error_estimate / target_error need formulation = 'primal'")
        if self.permeability is not None or self.transient is not None:
            raise ValueError("solver.error_estimate / target_error: steady runs with tissue K only "
                             "(no [permeability], no [transient])")
        pressure = [b.name for b in self.boundary if b.pressure is not None]
        if sol.qoi == "outflow":
            if not pressure:
                raise ValueError("solver.qoi = 'outflow' needs a [[boundary]] with a pressure")
            if sol.qoi_boundary is not None and sol.qoi_boundary not in pressure:
                raise ValueError(f"solver.qoi_boundary must be one of the pressure boundaries {pressure}, "
                                 f"got {sol.qoi_boundary!r}")
        if (sol.target_error is not None and isinstance(self.domain, TumourDomainSpec)
                and self.domain.geometry_order != 1):
            raise ValueError("solver.target_error (adaptive refinement) needs domain.geometry_order = 1")

    def qoi_boundary_name(self) -> str | None:
        """The boundary of the outflow QoI: ``solver.qoi_boundary`` or the first pressure boundary."""
        if self.solver.qoi != "outflow":
            return None
        return self.solver.qoi_boundary or next(b.name for b in self.boundary if b.pressure is not None)

    def size_estimates(self) -> list[tuple[str, float | None]]:
        """The disc/ball of the domain at ``mesh_size`` (the tumour at ``tumour_mesh_size``), the Stokes cell."""
        import math

        from fe2.config.limits import unstructured_cells

        out: list[tuple[str, float | None]] = []
        d = self.domain
        if isinstance(d, TumourDomainSpec):
            def ball(r: float) -> float:
                return math.pi * r**2 if d.dim == 2 else 4.0 / 3.0 * math.pi * r**3

            R = d.host_radius or d.tumour_radius
            n = unstructured_cells(ball(R), d.mesh_size, d.dim)
            if d.tumour_mesh_size is not None:
                n += unstructured_cells(ball(d.tumour_radius), d.tumour_mesh_size, d.dim)
            out.append(("domain.mesh_size", n))
        if self.permeability is not None:
            out.append(("permeability.cell_mesh_size", unstructured_cells(1.0, self.permeability.cell_mesh_size, 2)))
        return out


def load_darcy_config(path: str | Path, data: dict | None = None) -> DarcyConfig:
    """Read and validate a ``fe2 darcy`` TOML file (ConfigError with one line naming the problem).

    ``data``: the TOML as already read (default: read ``path``); ``path`` still names the file in
    errors and anchors relative paths (``fe2 uq`` passes modified copies of a base config).
    """
    data = load_toml(path) if data is None else data
    cfg = parse_config(data, DarcyConfig, str(path))
    if cfg.domain.kind == "msh":
        p = resolve_file(path, cfg.domain.file, "domain.file", "mesh file")
        cfg = cfg.model_copy(update={"domain": cfg.domain.model_copy(update={"file": str(p)})})
    return cfg
