"""TOML schema of ``fe2 reduce`` (train a reduced RVE; see docs/reduced_rve.md).

``[rve]`` is the ``fe2 run`` RVE table (geometry, bc, materials: small-strain phases, or all
neo-Hookean for a finite-strain reduced RVE, whose amplitude is ‖F̄ − I‖);
``[training]`` the strain paths (:class:`fe2.micro.reduced.TrainingDesign`); ``[reduction]`` the
POD energy tolerance and the hyper-reduction. Unknown keys and out-of-range values are one-line
:class:`~fe2.errors.ConfigError` messages naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, model_validator

from fe2.config.base import CommandConfig, _Strict, load_toml, parse_config, resolve_file
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
    """``pod_tol``: 1 − Σ_kept σ²/Σ σ² ≤ pod_tol; ``ecm_tol``: relative integration error of the cubature."""

    pod_tol: float = Field(default=1e-5, ge=0.0, lt=1.0)
    max_modes: int | None = Field(default=None, ge=1)
    hyper_reduction: Literal["ecm", "none"] = "ecm"
    ecm_tol: float = Field(default=1e-2, gt=0.0, lt=1.0)


class ReduceConfig(CommandConfig):
    """``fe2 reduce`` input."""

    rve: RVEConfig
    training: TrainingSpec = TrainingSpec()
    reduction: ReductionSpec = ReductionSpec()

    @model_validator(mode="after")
    def _reducible_laws(self):
        for name, spec in self.rve.materials.items():
            if getattr(spec, "model", None) == "cauchy_born":
                raise ValueError(f"rve.materials.{name}: cauchy_born phases are not reduced (their potential is "
                                 "not part of the checked parameters); use j2, elastic or neo_hookean")
        return self

    def size_estimates(self) -> list[tuple[str, float | None]]:
        from fe2.config.limits import rve_cells

        return [("rve.geometry.mesh_size", rve_cells(self.rve.geometry))]


def load_reduce_config(path: str | Path) -> ReduceConfig:
    """Load and validate an ``fe2 reduce`` TOML file (relative RVE mesh paths resolve against the file)."""
    p = Path(path)
    cfg = parse_config(load_toml(p), ReduceConfig, str(p))
    g = cfg.rve.geometry
    if isinstance(g, MshGeometry):
        mesh_path = resolve_file(p, g.path, "rve.geometry.path", "mesh file")
        rve = cfg.rve.model_copy(update={"geometry": g.model_copy(update={"path": str(mesh_path)})})
        cfg = cfg.model_copy(update={"rve": rve})
    return cfg
