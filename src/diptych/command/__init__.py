"""The ``diptych`` command's machinery: what runs the curriculum, not what a lesson imports.

A lesson imports from the top level (``data``, ``initial``, ``layouts``, ``reference``, ``parity``,
``plot``, ``adapters``, ``checks``); nothing here is imported by a notebook. The split keeps the
namespace a learner explores with tab completion down to what the lessons teach with.
"""

from diptych.command import startup  # noqa: F401  (first: it blocks a slow import)
