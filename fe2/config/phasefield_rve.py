"""The optional ``[homogenize]`` table of an ``fe2 phasefield`` config (see docs/phasefield.md).

Example::

    [homogenize]
    times = [0.0, 50.0, 200.0]      # phase-field times at which the microstructure is homogenized
    property = "conductivity"        # or "elasticity" (plane strain in 2D)
    alpha = 1.0                      # k (or Young's modulus E) of the alpha phase, c = c_alpha
    contrast = 10.0                  # beta / alpha
    poisson = 0.3                    # elasticity only: nu of both phases
    bcs = ["kubc", "periodic", "tubc"]
    # c_alpha = 0.3                  # optional; default: the double well's c_alpha / c_beta
    # c_beta = 0.7                   #   (0 and 1 for Flory–Huggins)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, model_validator

from fe2.config.base import _Strict


class PhaseFieldHomogenizeSpec(_Strict):
    times: list[float] = Field(min_length=1)
    property: Literal["conductivity", "elasticity"] = "conductivity"
    alpha: PositiveFloat = 1.0
    contrast: PositiveFloat = 10.0
    poisson: float = Field(default=0.3, gt=-1.0, lt=0.5)
    bcs: list[Literal["kubc", "periodic", "tubc"]] = Field(default=["kubc", "periodic", "tubc"], min_length=1)
    c_alpha: float | None = None
    c_beta: float | None = None

    @model_validator(mode="after")
    def _check(self):
        if any(t < 0 for t in self.times):
            raise ValueError("times must be >= 0")
        if (self.c_alpha is None) != (self.c_beta is None):
            raise ValueError("give both c_alpha and c_beta, or neither")
        if self.c_alpha is not None and not self.c_beta > self.c_alpha:
            raise ValueError("need c_beta > c_alpha")
        if len(set(self.bcs)) != len(self.bcs):
            raise ValueError("bcs must not repeat")
        return self
