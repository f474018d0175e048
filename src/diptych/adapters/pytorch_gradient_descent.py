"""Lesson 02's PyTorch words: what exercise 2's check says when autograd gave no gradient.

A companion of ``adapters.pytorch`` (``idiom(adapter).companion("gradient_descent")``), so that
``checks.gradient_descent`` names no framework; it imports none.
"""

#: exercise 2's commonest mistake: θ's gradient is None
NO_GRADIENT = (
    "the gradient of θ is None: autograd fills `.grad` only for a leaf tensor with "
    "`requires_grad=True`, and only after `backward()` (lesson 01)"
)
