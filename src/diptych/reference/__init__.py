"""NumPy implementations of each lesson's key computations: the neutral third party.

Both frameworks are checked against these, never only against each other, so that agreeing
on a wrong answer is caught too. One module per topic:

* ``calculus``    — lesson 01: a test function, its analytic derivatives, finite differences
* ``regression``  — lesson 02: least squares, gradient descent, SGD and momentum trajectories
"""

from diptych.reference import calculus, regression

__all__ = ["calculus", "regression"]
