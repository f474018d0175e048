"""NumPy implementations of each lesson's key computations: the neutral third party.

Both frameworks are checked against these, never only against each other, so that agreeing
on a wrong answer is caught too. One module per topic:

* ``calculus``    — lesson 01: a test function, its analytic derivatives, finite differences
* ``regression``  — lesson 02: least squares, gradient descent, SGD and momentum trajectories
* ``classification`` — lesson 03: softmax, cross-entropy on logits, SGD and Adam steps
* ``mlp``         — lesson 04: a ReLU MLP's forward, backward and momentum-SGD training
* ``training``    — lesson 05: early stopping, weight decay (coupled and decoupled), warm-up and
  cosine schedules, each convention named by framework
* ``conv``        — lessons 06 and 07: convolution forward and backward, padding, pooling
  (06); batch norm (07)
* ``porting``     — lesson 08: the curriculum's CNN at inference, from neutral-layout layers
* ``attention``   — lesson 11: attention, heads, LayerNorm, GELU, a pre-norm block and a tiny GPT,
  forward and backward, and SGD on it
"""

from diptych.reference import (
    attention,
    calculus,
    classification,
    conv,
    mlp,
    porting,
    regression,
    training,
)

__all__ = [
    "attention",
    "calculus",
    "classification",
    "conv",
    "mlp",
    "porting",
    "regression",
    "training",
]
