"""Lesson 02's TensorFlow words: what exercise 2's check says when the tape gave no gradient.

A companion of ``adapters.tensorflow`` (``idiom(adapter).companion("gradient_descent")``), so
that ``checks.gradient_descent`` names no framework; it imports none.
"""

#: exercise 2's commonest mistake: θ's gradient is None
NO_GRADIENT = (
    "the tape returned no gradient for θ (None): a tape watches only variables. Make θ a "
    "`tf.Variable(theta)` or call `tape.watch(theta)` inside the `with` block (lesson 01)"
)
