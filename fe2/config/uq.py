"""``fe2 uq`` study config: a base command, uncertain inputs, quantities of interest, one method.

The schema (every key, with examples) is documented in ``docs/uq.md``. Bad distribution
parameters, unknown methods and malformed paths are one-line :class:`~fe2.errors.ConfigError`
naming the key (``study.toml: inputs.1.std: ...``); a key path that is not in the base config
and a QoI path that is not in the base command's result are reported the same way once the base
config has been read (:mod:`fe2.apps.uq.bases`) or the first sample has finished.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fe2.config.base import CommandConfig, _Strict, load_toml, parse_config

#: the fe2 commands a study can drive (``base = "<command>:<config.toml>"``)
BASE_COMMANDS = ("homogenize", "bounds", "run", "darcy", "phasefield", "reactions")

Distribution = Literal["uniform", "normal", "lognormal", "truncnormal"]

#: the parameters each distribution needs (and admits)
DISTRIBUTION_PARAMETERS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "normal": ("mean", "std"),
    "lognormal": ("mu", "sigma"),
    "truncnormal": ("mean", "std", "low", "high"),
}


class UQInput(_Strict):
    """``[[inputs]]``: one uncertain input.

    ``key``: where the value goes — a key path into the base config (``materials.fibre.young``,
    ``geometry.lengths[0]``) or, for a Python base, the name the function receives.
    ``distribution`` and its parameters: ``uniform`` (low, high), ``normal`` (mean, std),
    ``lognormal`` (mu, sigma of ln X: median e^mu), ``truncnormal`` (mean, std of the parent
    normal, cut to [low, high]). ``integer = true`` (uniform only): the integers low..high, each
    equally likely (a random seed). ``kind``: ``epistemic`` (lack of knowledge: a modulus, a rate
    constant) or ``aleatory`` (inherent randomness: a microstructure seed, an SSA seed).
    """

    key: str = Field(min_length=1)
    distribution: Distribution
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    std: float | None = None
    mu: float | None = None
    sigma: float | None = None
    integer: bool = False
    kind: Literal["epistemic", "aleatory"] = "epistemic"

    @model_validator(mode="after")
    def _parameters(self):
        need = DISTRIBUTION_PARAMETERS[self.distribution]
        for name in ("low", "high", "mean", "std", "mu", "sigma"):
            given = getattr(self, name) is not None
            if name in need and not given:
                raise ValueError(f"{self.distribution} needs {', '.join(need)}; {name} is missing")
            if name not in need and given:
                raise ValueError(f"{name}: not a parameter of {self.distribution} (it takes {', '.join(need)})")
        if self.std is not None and not self.std > 0:
            raise ValueError(f"std: must be > 0, got {self.std}")
        if self.sigma is not None and not self.sigma > 0:
            raise ValueError(f"sigma: must be > 0, got {self.sigma}")
        if self.low is not None and self.high is not None and not self.high > self.low:
            raise ValueError(f"high: must be > low = {self.low}, got {self.high}")
        if self.integer:
            if self.distribution != "uniform":
                raise ValueError(f"integer: only for the uniform distribution, not {self.distribution}")
            assert self.low is not None and self.high is not None
            if self.low != math.floor(self.low) or self.high != math.floor(self.high):
                raise ValueError(f"integer: low and high must be integers, got {self.low}, {self.high}")
        return self


class UQCorrelation(_Strict):
    """``[[correlations]]``: the correlation ``rho`` of two inputs' normal scores (Gaussian copula).

    The marginals stay as given; the inputs are ``Φ⁻¹``-transformed to standard normals, these get
    the correlation matrix of all pairs given (Cholesky), and each is mapped back by its own
    inverse CDF (for two normals rho is their correlation; for other laws, that of their normal
    scores). Only for ``mc`` and ``split`` (Sobol', Morris and the chaos basis assume independent
    inputs) and only between inputs of the same kind.
    """

    inputs: list[str] = Field(min_length=2, max_length=2)
    rho: float = Field(gt=-1.0, lt=1.0)


class UQQoI(_Strict):
    """``[[qoi]]``: one quantity of interest, a number the base command produces.

    ``path``: a JSON path into the base command's result (``result.json``; ``summary.json`` of
    ``fe2 bounds``; the returned dict of a Python base), e.g. ``effective.periodic[0][0]`` — see
    :mod:`fe2.apps.uq.paths`. Or ``csv`` (a file the base command writes in its output folder),
    ``column`` (a header name) and ``row`` (0-based, negative from the end; default the last row).
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    path: str | None = None
    csv: str | None = None
    column: str | None = None
    row: int = -1

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.csv is None):
            raise ValueError("give either path (into result.json) or csv + column")
        if self.csv is not None and self.column is None:
            raise ValueError("csv needs column (a header name of that file)")
        if self.csv is None and self.column is not None:
            raise ValueError("column: only with csv")
        return self


class SobolConfig(_Strict):
    """``[sobol]``: Saltelli design of ``n`` base samples (a power of 2), ``n (d + 2)`` runs."""

    n: int = Field(default=256, ge=4)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    resamples: int = Field(default=1000, ge=10)

    @field_validator("n")
    @classmethod
    def _power_of_two(cls, n: int) -> int:
        if n & (n - 1):
            raise ValueError(f"must be a power of 2 (Sobol' sequence balance), got {n}")
        return n


class MorrisConfig(_Strict):
    """``[morris]``: ``trajectories`` one-at-a-time paths on a ``levels`` grid, ``trajectories (d + 1)`` runs."""

    trajectories: int = Field(default=10, ge=2)
    levels: int = Field(default=4, ge=2)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    resamples: int = Field(default=1000, ge=10)

    @field_validator("levels")
    @classmethod
    def _even(cls, n: int) -> int:
        if n % 2:
            raise ValueError(f"must be even (Morris' step of levels/2 grid points), got {n}")
        return n


class PCEConfig(_Strict):
    """``[pce]``: polynomial chaos of total degree ``degree``.

    ``rule = "regression"`` (point collocation, least squares on ``samples`` Latin-hypercube
    points; default twice the number of terms; leave-one-out error) or ``"quadrature"``
    (Gaussian quadrature of order ``degree``, ``sparse`` for Smolyak). ``adaptive = true``
    (regression): every degree 1..``degree`` is fitted to the same samples and the one with the
    smallest leave-one-out error is kept. ``validation``: extra independent Monte Carlo runs on
    which the surrogate's error is measured and whose mean is compared with the surrogate's.
    Only the non-integer inputs are expanded; integer inputs (seeds) are drawn at random per run
    and their effect shows as surrogate error. ``folds`` (regression): also a k-fold cross-validated
    error, k = ``folds`` (2 .. the number of samples; 0: off), the folds a seeded random partition.
    """

    degree: int = Field(default=2, ge=1, le=12)
    rule: Literal["regression", "quadrature"] = "regression"
    samples: int | None = Field(default=None, ge=2)
    sparse: bool = False
    adaptive: bool = False
    validation: int = Field(default=0, ge=0)
    folds: int = Field(default=0, ge=0, le=100_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)

    @model_validator(mode="after")
    def _rule_options(self):
        if self.rule == "quadrature" and (self.samples is not None or self.adaptive or self.folds):
            raise ValueError("samples, adaptive and folds are regression options (rule = \"regression\")")
        if self.folds == 1:
            raise ValueError("folds: must be 0 (off) or at least 2, got 1")
        if self.folds and self.samples is not None and self.folds > self.samples:
            raise ValueError(f"folds: at most samples = {self.samples} (one sample per fold), got {self.folds}")
        if self.rule == "regression" and self.sparse:
            raise ValueError("sparse: a quadrature option (rule = \"quadrature\")")
        return self


class ScanConfig(_Strict):
    """``[split.scan]``: the split repeated for each value of one base-config key (e.g. the RVE size).

    ``sizes``: the length each value stands for (default: the value, or its first entry), used for
    the fitted power laws ``Var ∝ L^p``.
    """

    key: str = Field(min_length=1)
    values: list[Any] = Field(min_length=1)
    sizes: list[float] | None = None

    @model_validator(mode="after")
    def _sizes(self):
        if self.sizes is not None and len(self.sizes) != len(self.values):
            raise ValueError(f"sizes: {len(self.sizes)} given for {len(self.values)} values")
        if self.sizes is not None and any(not s > 0 for s in self.sizes):
            raise ValueError("sizes: must all be > 0")
        return self


class SplitConfig(_Strict):
    """``[split]``: nested sampling, ``outer`` epistemic draws × ``inner`` aleatory draws each."""

    outer: int = Field(default=32, ge=2)
    inner: int = Field(default=8, ge=2)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    resamples: int = Field(default=1000, ge=10)
    scan: ScanConfig | None = None


class MCConfig(_Strict):
    """``[mc]``: plain Monte Carlo, ``n`` independent runs: mean, standard deviation, CI of the mean."""

    n: int = Field(default=64, ge=2)
    confidence: float = Field(default=0.95, gt=0, lt=1)


class BatchConfig(_Strict):
    """``[batch]``: reaction-network ensembles on the batched path (docs/uq.md, "Reaction networks:
    samples as nodes"): a ``reactions`` base in ``well_mixed`` mode with ``ros2``/``be`` whose inputs are
    network parameters or initial values runs each rank's samples as the nodes of one integration,
    ``samples`` at a time (one block of sample lines, written when the block is finished).
    ``enabled = false``: one run of ``fe2 reactions`` per sample, as for every other base.
    """

    enabled: bool = True
    samples: int = Field(default=1024, ge=1, le=1_000_000)


class UQConfig(CommandConfig):
    """``fe2 uq`` input (``docs/uq.md``).

    ``base``: ``"<command>:<path to its TOML>"`` (one of :data:`BASE_COMMANDS`; the path relative
    to this file) or ``"python:<module or file.py>:<function>"`` (a function of a dict of inputs
    returning a dict of QoIs; ``[base_arguments]`` are passed as keyword arguments).
    ``seed``: every random draw of the design. ``keep_sample_outputs``: each run's files in
    ``OUT/samples/<id>/`` (default: discarded).
    """

    base: str = Field(min_length=1)
    method: Literal["sobol", "morris", "pce", "split", "mc"]
    seed: int = Field(default=0, ge=0)
    keep_sample_outputs: bool = False
    base_arguments: dict[str, Any] = {}
    inputs: list[UQInput] = Field(min_length=1)
    correlations: list[UQCorrelation] = []
    qoi: list[UQQoI] = Field(min_length=1)
    sobol: SobolConfig = SobolConfig()
    morris: MorrisConfig = MorrisConfig()
    pce: PCEConfig = PCEConfig()
    split: SplitConfig = SplitConfig()
    mc: MCConfig = MCConfig()
    batch: BatchConfig = BatchConfig()

    @field_validator("base")
    @classmethod
    def _base_form(cls, base: str) -> str:
        kind, _, rest = base.partition(":")
        if kind == "python":
            module, _, func = rest.rpartition(":")
            if not module or not func:
                raise ValueError(f"expected \"python:<module>:<function>\", got {base!r}")
        elif kind in BASE_COMMANDS:
            if not rest:
                raise ValueError(f"expected \"{kind}:<config.toml>\", got {base!r}")
        else:
            raise ValueError(f"unknown base {kind!r}; expected one of {', '.join(BASE_COMMANDS)} "
                             "(\"<command>:<config.toml>\") or \"python:<module>:<function>\"")
        return base

    @model_validator(mode="after")
    def _consistent(self):
        keys = [i.key for i in self.inputs]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"inputs: key {dup[0]!r} given twice")
        names = [q.name for q in self.qoi]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"qoi: name {dup[0]!r} given twice")
        if self.method == "split":
            kinds = {i.kind for i in self.inputs}
            if kinds != {"epistemic", "aleatory"}:
                raise ValueError("inputs: method = \"split\" needs at least one epistemic and one aleatory input")
        if self.method == "pce" and all(i.integer for i in self.inputs):
            raise ValueError("inputs: method = \"pce\" needs at least one non-integer input to expand in")
        if self.method == "pce" and self.pce.folds:
            terms = math.comb(sum(not i.integer for i in self.inputs) + self.pce.degree, self.pce.degree)
            n = self.pce.samples if self.pce.samples is not None else 2 * terms
            if self.pce.folds > n:
                raise ValueError(f"pce.folds: must be in 2..{n} (the training samples), got {self.pce.folds}")
            if n - -(-n // self.pce.folds) <= terms:
                raise ValueError(f"pce.folds: {self.pce.folds} folds leave {n - -(-n // self.pce.folds)} of {n} "
                                 f"samples to fit {terms} terms (regression needs more samples than terms)")
        self._check_correlations()
        if self.base.startswith("python:") and any(q.csv for q in self.qoi):
            raise ValueError("qoi: csv needs an fe2 command as base (a Python base writes no files)")
        return self

    def _check_correlations(self) -> None:
        if not self.correlations:
            return
        if self.method not in ("mc", "split"):
            raise ValueError(f"correlations: only for method = \"mc\" or \"split\" ({self.method} assumes "
                             "independent inputs)")
        by_key = {i.key: i for i in self.inputs}
        seen = set()
        for k, c in enumerate(self.correlations):
            for key in c.inputs:
                if key not in by_key:
                    raise ValueError(f"correlations.{k}.inputs: {key!r} is not an input key")
                if by_key[key].integer:
                    raise ValueError(f"correlations.{k}.inputs: {key!r} is an integer input (a seed)")
            a, b = c.inputs
            if a == b:
                raise ValueError(f"correlations.{k}.inputs: an input with itself")
            if by_key[a].kind != by_key[b].kind:
                raise ValueError(f"correlations.{k}.inputs: {a!r} is {by_key[a].kind}, {b!r} {by_key[b].kind}; "
                                 "only inputs of one kind may be correlated")
            pair = frozenset(c.inputs)
            if pair in seen:
                raise ValueError(f"correlations.{k}: the pair {a!r}, {b!r} given twice")
            seen.add(pair)
        import numpy as np

        idx = {i.key: n for n, i in enumerate(self.inputs)}
        r = np.eye(len(self.inputs))
        for c in self.correlations:
            i, j = idx[c.inputs[0]], idx[c.inputs[1]]
            r[i, j] = r[j, i] = c.rho
        if np.linalg.eigvalsh(r).min() <= 0.0:
            raise ValueError("correlations: the correlation matrix is not positive definite")

    @property
    def base_command(self) -> str:
        """``homogenize``, ... or ``python``."""
        return self.base.partition(":")[0]


def load_uq_config(path: str | Path) -> UQConfig:
    """Load and validate an ``fe2 uq`` study (the base config is read by :mod:`fe2.apps.uq.bases`)."""
    p = Path(path)
    return parse_config(load_toml(p), UQConfig, str(p))
