"""Concrete applications assembled from the micro and macro layers: phase field, reaction
networks (:mod:`fe2.physics.reactions`), scale-separation analysis (:mod:`fe2.physics.scales`)."""
