import random

import numpy as np
import pytest

from diptych.seeding import seed_everything


def test_seed_everything_repeats_python_and_numpy_draws():
    seed_everything(5)
    first = (random.random(), np.random.rand())
    seed_everything(5)
    assert (random.random(), np.random.rand()) == first


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_seed_must_be_a_non_negative_int(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(seed)


def test_seed_everything_seeds_the_framework_of_each_imported_adapter():
    adapter = pytest.importorskip("diptych.adapters.pytorch")
    seed_everything(3)
    first = adapter.torch.rand(2)
    seed_everything(3)
    assert adapter.torch.equal(adapter.torch.rand(2), first)
