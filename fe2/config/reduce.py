"""TOML schema of ``fe2 reduce`` (train a reduced RVE; see docs/reduced_rve.md).

``[rve]`` is the ``fe2 run`` RVE table (geometry, bc, materials: small-strain phases, or all
neo-Hookean for a finite-strain reduced RVE, whose amplitude is ‖F̄ − I‖);
``[training]`` the strain paths (:class:`fe2.micro.reduced.TrainingDesign`); ``[reduction]`` the
POD energy tolerance and the hyper-reduction.

``[reduction] method = "balanced_truncation"`` instead reduces a linear reaction–diffusion system
(docs/reduction.md): ``[system]`` gives the domain, the operator, the inputs and the outputs
(:class:`SystemSpec`), ``reduction.order`` or ``reduction.tol`` the reduced order; no ``[rve]``.
``[reduction] method = "pod"`` reduces the same ``[system]`` (one species) with a nodal nonlinear
reaction by POD–Galerkin: ``[reaction]``, ``[time]``, ``[training_input.NAME]`` and
``[test_input.NAME]`` of :mod:`fe2.config.reduce_pod`, ``reduction.pod_tol`` the discarded energy.
Unknown keys and out-of-range values are one-line :class:`~fe2.errors.ConfigError` messages naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, model_validator

from fe2.config.base import CommandConfig, _Strict, load_toml, parse_config, resolve_file
from fe2.config.reduce_pod import MIN_POD_TOL, InputSignal, ReactionLaw, TimeSpan
from fe2.config.run import RVEConfig
from fe2.config.rve import MshGeometry


class TrainingSpec(_Strict):
    """Sobol directions on the unit sphere of Mandel strain space, each a ramp and a reversal."""

    n_directions: int = Field(default=16, ge=1, le=4096)
    max_amplitude: PositiveFloat = 0.02
    n_steps: int = Field(default=6, ge=1, le=200)
    reversal_fraction: float = Field(default=0.5, ge=0.0, le=1.0)
    seed: int = Field(default=0, ge=0)


class ReductionSpec(_Strict):
    """``pod_tol``: 1 − Σ_kept σ²/Σ σ² ≤ pod_tol; ``ecm_tol``: relative integration error of the cubature.

    ``method``: ``"pod_ecm"`` (a reduced RVE, the default) or ``"balanced_truncation"`` (a linear
    system of ``[system]``, reduced to ``order`` states or to the smallest order whose H∞ bound
    2 Σ_{k>r} σ_k is ≤ ``tol``) or ``"pod"`` (POD–Galerkin of ``[system]`` with ``[reaction]``:
    ``pod_tol`` the discarded energy fraction, in [1e-12, 1), ``max_modes`` a cap).
    """

    method: Literal["pod_ecm", "balanced_truncation", "pod"] = "pod_ecm"
    pod_tol: float = Field(default=1e-5, ge=0.0, lt=1.0)
    max_modes: int | None = Field(default=None, ge=1)
    hyper_reduction: Literal["ecm", "none"] = "ecm"
    ecm_tol: float = Field(default=1e-2, gt=0.0, lt=1.0)
    order: int | None = Field(default=None, ge=1, le=4000)
    tol: PositiveFloat | None = None


class IntervalDomain(_Strict):
    """[0, length] in ``n`` cells; boundaries ``left`` (x = 0), ``right`` (x = length)."""

    kind: Literal["interval"]
    n: int = Field(ge=2, le=3999)
    length: PositiveFloat = 1.0


class RectangleDomain(_Strict):
    """[0, width] x [0, height], ``nx`` x ``ny`` squares cut in triangles; boundaries left, right, bottom, top."""

    kind: Literal["rectangle"]
    nx: int = Field(ge=1, le=200)
    ny: int = Field(ge=1, le=200)
    width: PositiveFloat = 1.0
    height: PositiveFloat = 1.0


class LTIInput(_Strict):
    """``kind = "flux"``: influx density through ``boundary``; ``"source"``: a volume source everywhere."""

    name: str
    kind: Literal["flux", "source"]
    boundary: Literal["left", "right", "bottom", "top"] | None = None
    species: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _boundary(self):
        if (self.kind == "flux") != (self.boundary is not None):
            raise ValueError(f"input {self.name!r}: a flux input needs a boundary, a source input none")
        return self


class LTIOutput(_Strict):
    """``kind = "average"``: the domain average; ``"sensor"``: the value at the mesh vertex ``point``."""

    name: str
    kind: Literal["average", "sensor"]
    point: list[float] | None = None
    species: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _point(self):
        if (self.kind == "sensor") != (self.point is not None):
            raise ValueError(f"output {self.name!r}: a sensor output needs a point, an average none")
        return self


class SystemSpec(_Strict):
    """M x' = A x + B u, y = C x of :func:`fe2.reduction.assemble_diffusion_reaction` (P1, serial, dense).

    ``jacobian``: the reaction Jacobian J (a number for one species, −k is decay; else S x S rows);
    ``robin``: boundary name → α > 0 (−D∇c·n = α c); other boundaries no-flux.
    """

    domain: Annotated[IntervalDomain | RectangleDomain, Field(discriminator="kind")]
    diffusivity: list[Annotated[float, Field(ge=0.0)]] = Field(min_length=1)
    jacobian: float | list[list[float]]
    robin: dict[Literal["left", "right", "bottom", "top"], PositiveFloat] = {}
    inputs: list[LTIInput] = Field(min_length=1)
    outputs: list[LTIOutput] = Field(min_length=1)
    frequencies: int = Field(default=200, ge=2, le=10000)  # log points of the H∞ error grid

    @model_validator(mode="after")
    def _boundaries_exist(self):
        sides = ["left", "right"] + (["bottom", "top"] if self.domain.kind == "rectangle" else [])
        for key, name in [("inputs", i.boundary) for i in self.inputs] + [("robin", r) for r in self.robin]:
            if name is not None and name not in sides:
                raise ValueError(f"system.{key}: boundary {name!r} is not one of the {self.domain.kind}'s {sides}")
        return self


class ReduceConfig(CommandConfig):
    """``fe2 reduce`` input."""

    rve: RVEConfig | None = None
    system: SystemSpec | None = None
    training: TrainingSpec = TrainingSpec()
    reduction: ReductionSpec = ReductionSpec()
    reaction: ReactionLaw | None = None
    time: TimeSpan | None = None
    training_input: dict[str, InputSignal] = {}
    test_input: dict[str, InputSignal] = {}

    @model_validator(mode="after")
    def _one_problem(self):
        pod_tables = [k for k in ("reaction", "time", "training_input", "test_input") if getattr(self, k)]
        if self.reduction.method == "pod":
            return self._pod_checks()
        if pod_tables:
            raise ValueError(f"{pod_tables[0]}: only for reduction.method = 'pod', not {self.reduction.method!r}")
        if self.reduction.method == "balanced_truncation":
            if self.system is None or self.rve is not None:
                raise ValueError("reduction.method = 'balanced_truncation' needs a [system] table and no [rve]")
            if (self.reduction.order is None) == (self.reduction.tol is None):
                raise ValueError("reduction: give exactly one of order (1..4000) or tol (> 0) for balanced truncation")
        elif self.rve is None or self.system is not None:
            raise ValueError("reduction.method = 'pod_ecm' (a reduced RVE) needs an [rve] table and no [system]")
        return self

    def _pod_checks(self):
        from fe2.errors import ConfigError
        from fe2.reduction.nodal_reaction import law_expression

        r = self.reduction
        if self.system is None or self.rve is not None:
            raise ValueError("reduction.method = 'pod' needs a [system] table and no [rve]")
        for key in ("reaction", "time"):
            if getattr(self, key) is None:
                raise ValueError(f"{key}: required by reduction.method = 'pod' (see fe2 init reduce pod)")
        if len(self.system.diffusivity) != 1:
            raise ValueError(f"system.diffusivity: method = 'pod' takes one species (a nodal reaction r(c)), "
                             f"got {len(self.system.diffusivity)}")
        if not MIN_POD_TOL <= r.pod_tol < 1.0:
            raise ValueError(f"reduction.pod_tol: must be in [{MIN_POD_TOL:g}, 1) for method = 'pod' (the discarded "
                             f"POD energy fraction), got {r.pod_tol:g}")
        for key in ("order", "tol"):
            if getattr(r, key) is not None:
                raise ValueError(f"reduction.{key}: not used by method = 'pod' (give pod_tol and max_modes)")
        names = [i.name for i in self.system.inputs]
        for table in ("training_input", "test_input"):
            given = getattr(self, table)
            extra = [k for k in given if k not in names]
            if extra:
                raise ValueError(f"{table}.{extra[0]}: not an input of [system] (inputs: {', '.join(names)})")
            missing = [k for k in names if k not in given]
            if missing:
                raise ValueError(f"{table}.{missing[0]}: give a signal for every input of [system] (offset, steps, "
                                 "sines)")
        if self.training_input == self.test_input:
            raise ValueError("test_input: must differ from training_input (the reduced model is tested on an input "
                             "it was not trained on)")
        assert self.reaction is not None
        try:
            law_expression(self.reaction.kind, self.reaction.parameters, self.reaction.expression)
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return self

    @model_validator(mode="after")
    def _reducible_laws(self):
        if self.rve is None:
            return self
        for name, spec in self.rve.materials.items():
            if getattr(spec, "model", None) == "cauchy_born":
                raise ValueError(f"rve.materials.{name}: cauchy_born phases are not reduced (their potential is "
                                 "not part of the checked parameters); use j2, elastic or neo_hookean")
        return self

    def size_estimates(self) -> list[tuple[str, float | None]]:
        from fe2.config.limits import rve_cells

        return [] if self.rve is None else [("rve.geometry.mesh_size", rve_cells(self.rve.geometry))]


def load_reduce_config(path: str | Path) -> ReduceConfig:
    """Load and validate an ``fe2 reduce`` TOML file (relative RVE mesh paths resolve against the file)."""
    p = Path(path)
    cfg = parse_config(load_toml(p), ReduceConfig, str(p))
    g = cfg.rve.geometry if cfg.rve is not None else None
    if cfg.rve is not None and isinstance(g, MshGeometry):
        mesh_path = resolve_file(p, g.path, "rve.geometry.path", "mesh file")
        rve = cfg.rve.model_copy(update={"geometry": g.model_copy(update={"path": str(mesh_path)})})
        cfg = cfg.model_copy(update={"rve": rve})
    return cfg
