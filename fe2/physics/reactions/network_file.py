"""The network file: the pydantic schema of a TOML/dict network and its loaders.

``[species]`` name = initial value, ``[parameters]`` name = value, ``[[reactions]]`` with an
``equation`` and a rate law (``mass_action`` by default; ``michaelis_menten``, ``hill``,
``expression``; see :mod:`fe2.physics.reactions.network`). :func:`network_from_dict` and
:func:`load_network` return a :class:`~fe2.physics.reactions.network.Network`; every input
problem is a one-line :class:`~fe2.errors.ConfigError` naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fe2.config.base import _Strict, load_toml, parse_config
from fe2.errors import ConfigError
from fe2.physics.reactions.network import LAWS, Network, Reaction, Species

Num = float | str


class _RxBase(_Strict):
    name: str = ""
    equation: str


class _MassAction(_RxBase):
    law: Literal["mass_action"] = "mass_action"
    k: Num
    k_reverse: Num | None = None


class _MM(_RxBase):
    law: Literal["michaelis_menten"]
    vmax: Num
    km: Num
    substrate: str | None = None


class _Hill(_RxBase):
    law: Literal["hill"]
    vmax: Num
    k: Num
    n: Num
    substrate: str | None = None


class _Expr(_RxBase):
    law: Literal["expression"]
    rate: str


class NetworkConfig(_Strict):
    """``[species]`` name = initial value; ``[parameters]`` name = value; ``[[reactions]]``."""

    species: dict[str, float] = Field(min_length=1)
    parameters: dict[str, float] = {}
    reactions: list[_MassAction | _MM | _Hill | _Expr] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _default_law(cls, data):
        if isinstance(data, dict) and isinstance(data.get("reactions"), list):
            data = dict(data)
            data["reactions"] = [
                ({"law": "mass_action", **r} if isinstance(r, dict) and "law" not in r else r)
                for r in data["reactions"]
            ]
        return data


def network_from_dict(data: dict, source: str = "network") -> Network:
    """Build a :class:`Network` from a dict (the TOML layout); errors are one-line ConfigErrors."""
    if isinstance(data, dict) and isinstance(data.get("reactions"), list):
        for i, r in enumerate(data["reactions"]):
            if isinstance(r, dict) and r.get("law", "mass_action") not in LAWS:
                raise ConfigError(f"{source}: reactions.{i}.law: unknown rate law {r['law']!r} "
                                  f"(one of {', '.join(LAWS)})")
    cfg = parse_config(data, NetworkConfig, source)
    species = [Species(n, v) for n, v in cfg.species.items()]
    rxs = []
    for i, r in enumerate(cfg.reactions):
        params = {k: v for k, v in r.model_dump().items()
                  if k not in ("name", "equation", "law") and v is not None}
        try:
            rxs.append(Reaction.parse(r.equation, r.law, r.name or f"reactions.{i}", **params))
        except ConfigError as err:
            raise ConfigError(f"{source}: reactions.{i}: {err}") from None
    try:
        return Network(species, rxs, dict(cfg.parameters))
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def load_network(path: str | Path) -> Network:
    """Load a network from a TOML file (``[species]``, ``[parameters]``, ``[[reactions]]``)."""
    p = Path(path)
    data = load_toml(p)
    return network_from_dict(data.get("network", data), str(p))
