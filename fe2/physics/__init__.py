"""Solver libraries without a command line: phase field (:mod:`fe2.physics.phasefield`), reaction
networks (:mod:`fe2.physics.reactions`) and tissue perfusion (:mod:`fe2.physics.darcy`); the commands
that drive them live in :mod:`fe2.apps`.
"""
