"""Standard test networks (shared by tests, benchmarks and demos)."""

from __future__ import annotations

from fe2.physics.reactions.network import Network, Reaction, Species


def robertson() -> Network:
    """Robertson's stiff chemical kinetics (Robertson 1966; Hairer & Wanner's ROBER): A → B (0.04),
    2B → B + C (3e7), B + C → A + C (1e4), from A = 1. Stiffness ratio ~1e11; A + B + C is conserved.
    """
    return Network(
        [Species("A", 1.0), Species("B"), Species("C")],
        [Reaction.parse("A -> B", k="k1"), Reaction.parse("2 B -> B + C", k="k2"),
         Reaction.parse("B + C -> A + C", k="k3")],
        {"k1": 0.04, "k2": 3e7, "k3": 1e4},
    )
