"""``fe2 uq``: Sobol' indices, Morris screening, polynomial chaos and the aleatory/epistemic
variance split over any fe2 command (see :mod:`fe2.apps.uq.runner` and ``docs/uq.md``).
"""
