"""One adapter per framework, with the same function names, so twin notebooks read alike.

    from diptych.adapters import pytorch as adapter      # in the PyTorch notebook
    from diptych.adapters import tensorflow as adapter   # in the TensorFlow notebook

The two adapters share one API, the ``Adapter`` protocol of ``contract``, which mypy holds each
to: ``setup``, ``seed_framework``, ``device``, ``from_numpy``, ``to_numpy``, ``load_dense``,
``load_conv``, ``float64``, ``set_threads``, ``version``, ``installation`` (for ``diptych
doctor``), ``NAME`` and ``IDIOM`` (what the exercise checks need to know about the framework, one
field per convention; see ``idiom``). ``loading.load`` loads one by its row of ``frameworks``.

Framework companions, ``<framework>_<topic>.py``, hold lesson-specific framework code that is not
part of the shared API, for example ``pytorch_ddp`` (lesson 10: DistributedDataParallel, the worker
that spawned processes import), ``tensorflow_mirrored`` (lesson 10: logical devices,
MirroredStrategy) and ``<framework>_performance`` (lesson 09, and the step ``diptych.benchmark``
times). A lesson's neutral module, its checks and the benchmark call them, never the framework; a
check finds its companion with ``IDIOM.companion(topic)``. No adapter or companion imports one of
its callers (``tests/test_imports.py``).

``environments`` holds what each framework reads from the environment when it starts, in modules
that import no framework, so that the command and ``configurations`` read them without starting
one.

Every framework difference the library needs lives in this package: no other module imports a
framework (tested). Importing an adapter or a companion imports its framework (and only that one).
"""

__all__ = ["pytorch", "tensorflow"]
