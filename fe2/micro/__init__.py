"""Micro models behind the contract: RVE problems, linear and nonlinear RVE models, Stokes cells,
the physics registry and boundary conditions as prolongations.
"""
