"""Each ``Idiom`` convention is its own field, a value the NumPy reference computes; a check
finds its lesson's companion through ``Idiom.companion``; a message names a convention by whose it
is and where it is right.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from diptych import frameworks
from diptych.adapters import idiom
from diptych.reference import classification, regression, training

#: every lesson's companion, by topic (lesson 10's is the engine's: ``IDIOM.engine``)
TOPICS = (
    "gradient_descent",
    "linear_models",
    "mlp",
    "training_practice",
    "cnn",
    "porting",
    "performance",
    "attention",
)


@pytest.mark.parametrize("framework", frameworks.FRAMEWORKS, ids=lambda f: f.key)
def test_each_convention_is_one_the_reference_computes(framework):
    own = pytest.importorskip(framework.adapter).IDIOM
    theta, velocity, grad = np.ones(2), np.full(2, 0.5), np.array([0.2, -0.1])
    regression.momentum_step(theta, velocity, grad, lr=0.1, momentum=0.9, form=own.momentum)
    training.warmup_cosine(3, total_steps=10, base_lr=0.1, warmup_steps=4, form=own.warmup)
    classification.adam_step(
        theta, grad, np.zeros(2), np.zeros(2), step=1, lr=0.1, epsilon_style=own.adam_epsilon
    )
    assert {own.batch_norm_momentum, own.weight_layout} <= set(training.FORMS)


#: what lesson 09's clipping check calls on the performance companion, by ``Idiom.one_graph``
ONE_GRAPH = {"capture": "capture_whole", "trace": "traced_calls"}


@pytest.mark.parametrize("framework", frameworks.FRAMEWORKS, ids=lambda f: f.key)
def test_the_way_to_one_graph_is_one_the_performance_companion_offers(framework):
    own = pytest.importorskip(framework.adapter).IDIOM
    assert hasattr(own.companion("performance"), ONE_GRAPH[own.one_graph]), own.one_graph


@pytest.mark.parametrize("framework", frameworks.FRAMEWORKS, ids=lambda f: f.key)
def test_each_adapter_has_a_companion_for_every_topic_a_check_asks_for(framework):
    own = pytest.importorskip(framework.adapter).IDIOM
    for topic in (*TOPICS, own.engine):
        assert importlib.util.find_spec(f"{own.companions}_{topic}") is not None, topic


def test_a_companion_is_named_by_a_topic_only():
    fake = idiom.Idiom.__new__(idiom.Idiom)
    object.__setattr__(fake, "companions", "diptych.adapters.pytorch")
    with pytest.raises(ValueError, match="module name's tail"):
        fake.companion("../elsewhere")


def test_a_convention_is_named_whose_it_is_and_where_it_is_right():
    assert [idiom.other(c) for c in ("pytorch", "keras")] == ["keras", "pytorch"]
    assert idiom.WHOSE == {"pytorch": "PyTorch's", "keras": "Keras'"}
    assert set(idiom.RIGHT_IN) == set(idiom.WHOSE)
