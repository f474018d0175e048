from pathlib import Path

import numpy as np
import pytest

from diptych import data, reference
from diptych.reference import calculus, classification, conv, regression


def test_the_package_lists_and_describes_every_reference_module():
    folder = Path(reference.__file__).parent
    modules = sorted(path.stem for path in folder.glob("*.py") if path.stem != "__init__")
    assert sorted(reference.__all__) == modules
    assert [name for name in modules if f"* ``{name}``" not in reference.__doc__] == []


def test_calculus_derivatives_agree_with_finite_differences():
    x = np.array([-2.0, -0.5, 0.0, 1.0, 2.5])
    np.testing.assert_allclose(
        calculus.grad_f(x), calculus.central_difference(calculus.f, x), atol=1e-8
    )
    second = calculus.central_difference(lambda z: float(np.sum(calculus.grad_f(z))), x)
    np.testing.assert_allclose(calculus.second_derivative_f(x), second, atol=1e-7)


def test_third_derivative_agrees_with_a_finite_difference_of_the_second():
    x = np.array([-2.0, -0.5, 0.3, 1.0, 2.5])
    third = calculus.central_difference(lambda z: float(np.sum(calculus.second_derivative_f(z))), x)
    np.testing.assert_allclose(calculus.third_derivative_f(x), third, atol=1e-7)


def test_the_error_bound_holds_a_central_difference_and_is_tight_where_truncation_rules():
    x = np.array([-2.0, -0.5, 0.0, 1.0, 2.5])
    eps = np.logspace(-12, -1, 23)
    errors = np.array(
        [
            np.max(np.abs(calculus.central_difference(calculus.f, x, eps=e) - calculus.grad_f(x)))
            for e in eps
        ]
    )
    bound = calculus.central_difference_error_bound(x, eps)
    assert np.all(errors <= bound)
    large = eps >= 1e-3  # truncation alone: the bound is its leading term
    np.testing.assert_allclose(errors[large], bound[large], rtol=0.02)


def test_softplus_is_stable_and_its_derivative_is_the_sigmoid():
    x = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    assert np.all(np.isfinite(calculus.softplus(x)))
    assert calculus.softplus(np.array([1000.0]))[0] == 1000.0
    np.testing.assert_allclose(
        calculus.softplus_derivative(x), [0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1)), 1]
    )


def test_central_difference_rejects_non_positive_step():
    with pytest.raises(ValueError, match="positive"):
        calculus.central_difference(calculus.f, np.ones(2), eps=0)


def test_gradient_descent_reaches_the_closed_form_solution():
    problem = data.regression(n=100, seed=0)
    X, y = problem.design, problem.y
    path = regression.gradient_descent(np.zeros(2), X, y, lr=0.12, steps=500)
    assert path.shape == (501, 2)
    np.testing.assert_allclose(path[-1], regression.closed_form(X, y), atol=1e-6)


def test_mse_grad_matches_finite_differences():
    problem = data.regression(n=20, seed=1)
    X, y, theta = problem.design, problem.y, np.array([0.3, -0.2])
    numeric = calculus.central_difference(lambda t: regression.mse(t, X, y), theta)
    np.testing.assert_allclose(regression.mse_grad(theta, X, y), numeric, atol=1e-7)


def test_momentum_without_momentum_is_sgd_and_paths_have_one_row_per_step():
    problem = data.regression(n=30, seed=2)
    batches = data.minibatch_order(30, batch_size=7, epochs=2)
    plain = regression.sgd(np.zeros(2), problem.design, problem.y, lr=0.05, batches=batches)
    zero = regression.momentum_sgd(
        np.zeros(2), problem.design, problem.y, lr=0.05, momentum=0.0, batches=batches
    )
    np.testing.assert_array_equal(plain, zero)
    assert plain.shape == (len(batches) + 1, 2)


@pytest.mark.parametrize("kwargs", [{"lr": 0.0, "momentum": 0.5}, {"lr": 0.1, "momentum": 1.0}])
def test_momentum_rejects_bad_hyper_parameters(kwargs):
    with pytest.raises(ValueError):
        regression.momentum_sgd(np.zeros(2), np.ones((2, 2)), np.ones(2), batches=[None], **kwargs)


def test_loss_grid_agrees_with_mse_pointwise():
    problem = data.regression(n=10, seed=0)
    w, b = np.array([0.0, 1.0, 2.0]), np.array([-1.0, 0.5])
    grid = regression.loss_grid(problem.design, problem.y, w=w, b=b)
    assert grid.shape == (2, 3)
    assert grid[1, 2] == pytest.approx(
        regression.mse(np.array([2.0, 0.5]), problem.design, problem.y)
    )


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_gradients_of_every_parameter_match_finite_differences(activation):
    """Lesson 04's backward pass, ReLU and tanh (its exercise 5), for each W and b."""
    from diptych import initial
    from diptych.reference import mlp

    layers = initial.mlp([5, 4, 3], seed=0, dtype=np.float64)
    layers[0]["b"] = np.random.default_rng(1).normal(size=4)  # some ReLUs off, some on
    X = np.random.default_rng(0).normal(size=(6, 5))
    y = np.array([0, 1, 2, 0, 1, 2])
    _, grads = mlp.gradients(layers, X, y, activation=activation)
    for i, key in [(0, "W"), (0, "b"), (1, "W"), (1, "b")]:

        def loss_of(flat, i=i, key=key):
            changed = [dict(layer) for layer in layers]
            changed[i][key] = flat.reshape(layers[i][key].shape)
            return mlp.gradients(changed, X, y, activation=activation)[0]

        numeric = calculus.central_difference(loss_of, layers[i][key].ravel())
        np.testing.assert_allclose(grads[i][key].ravel(), numeric, atol=1e-7)


def test_mlp_gradients_match_finite_differences_and_decay_variants_differ():
    from diptych import initial
    from diptych.reference import mlp

    layers = initial.mlp([5, 4, 3], seed=0, dtype=np.float64)
    X = np.random.default_rng(0).normal(size=(6, 5))
    y = np.array([0, 1, 2, 0, 1, 2])
    _, grads = mlp.gradients(layers, X, y)

    def loss_of(w):
        return mlp.gradients([{"W": w.reshape(5, 4), "b": layers[0]["b"]}, layers[1]], X, y)[0]

    numeric = calculus.central_difference(loss_of, layers[0]["W"].ravel())
    np.testing.assert_allclose(grads[0]["W"].ravel(), numeric, atol=1e-7)
    batches = [np.arange(6)] * 5
    plain, _ = mlp.train(layers, X, y, batches=batches, lr=0.1, momentum=0.9)
    coupled, _ = mlp.train(layers, X, y, batches=batches, lr=0.1, momentum=0.9, weight_decay=0.1)
    decoupled, _ = mlp.train(
        layers, X, y, batches=batches, lr=0.1, momentum=0.9, weight_decay=0.1, decoupled=True
    )
    norm = [np.linalg.norm(run[0]["W"]) for run in (plain, coupled, decoupled)]
    assert norm[1] < norm[0] and norm[2] < norm[0] and not np.isclose(norm[1], norm[2])


def test_mlp_training_takes_one_learning_rate_per_step():
    from diptych import initial
    from diptych.reference import mlp

    layers = initial.mlp([5, 4, 3], seed=0, dtype=np.float64)
    X, y = np.random.default_rng(0).normal(size=(6, 5)), np.array([0, 1, 2, 0, 1, 2])
    batches = [np.arange(6)] * 4
    constant, constant_losses = mlp.train(layers, X, y, batches=batches, lr=0.1, momentum=0.9)
    listed, listed_losses = mlp.train(layers, X, y, batches=batches, lr=[0.1] * 4, momentum=0.9)
    np.testing.assert_array_equal(listed_losses, constant_losses)
    np.testing.assert_array_equal(listed[0]["W"], constant[0]["W"])
    # a rate of 0 after the first step: the weights stop where one step of 0.1 took them
    stopped, _ = mlp.train(layers, X, y, batches=batches, lr=[0.1, 0, 0, 0])
    one_step, _ = mlp.train(layers, X, y, batches=batches[:1], lr=0.1)
    np.testing.assert_array_equal(stopped[0]["W"], one_step[0]["W"])
    with pytest.raises(ValueError, match="3 learning rates for 4 batches"):
        mlp.train(layers, X, y, batches=batches, lr=[0.1] * 3)


@pytest.mark.parametrize(
    ("n", "kernel", "stride", "padding", "expected"),
    [(8, 3, 1, 1, 8), (8, 3, 2, "valid", 3), (7, 4, 2, "same", 4), (8, 2, 2, "same", 4)],
)
def test_padded_output_size_reads_a_number_valid_or_same(n, kernel, stride, padding, expected):
    assert conv.padded_output_size(n, kernel=kernel, stride=stride, padding=padding) == expected
    if padding == "same":
        before, after = conv.same_padding(n, kernel=kernel, stride=stride)
        assert conv.output_size(n + before + after, kernel=kernel, stride=stride) == expected


def test_padded_output_size_refuses_an_unknown_word():
    with pytest.raises(ValueError, match="'full'"):
        conv.padded_output_size(8, kernel=3, stride=1, padding="full")


def test_binary_cross_entropy_is_the_naive_formula_where_that_is_finite_and_finite_beyond():
    z = np.array([-3.0, -0.5, 0.0, 0.7, 2.0])
    t = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    p = 1 / (1 + np.exp(-z))
    naive = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert np.isclose(classification.binary_cross_entropy(z, t), naive, rtol=1e-12)
    # σ(800) is exactly 1.0 in float64, so the naive form is inf; the loss is 800 for t = 0
    assert (
        classification.binary_cross_entropy(np.array([800.0, -800.0]), np.array([0.0, 0.0]))
        == 400.0
    )
