"""The self-checks: right answers pass, each typical mistake gets its own plain-words message."""

import numpy as np
import pytest

from diptych import checks
from diptych.checks import gradient_descent, tensors

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
tf = tensorflow.tf


@pytest.fixture
def outcomes(monkeypatch, tmp_path):
    """Read back what the checks recorded (as `diptych check` does)."""
    monkeypatch.setenv("DIPTYCH_RECORD_DIR", str(tmp_path))
    return lambda: checks.read_outcomes(tmp_path)


def test_not_done_is_friendly_and_recorded(outcomes, capsys):
    def stub(x):
        raise NotImplementedError("Exercise not done yet")

    assert tensors.softplus_derivative(stub, pytorch) is None
    line = capsys.readouterr().out
    assert line.startswith("… Exercise 1 (softplus derivative): not done yet — replace")
    assert "Traceback" not in line
    assert outcomes()[0].status == checks.NOT_DONE


def test_overflowing_softplus_derivative_is_told_where_and_why(outcomes):
    tensors.softplus_derivative(lambda x: torch.exp(x) / (1 + torch.exp(x)), pytorch)
    outcome = outcomes()[0]
    assert outcome.status == checks.FAILED
    assert "nan at input 800" in outcome.message and "overflows" in outcome.message
    assert "1 / (1 +" not in outcome.message  # hints, never the answer


def test_float32_answer_is_a_dtype_mistake(outcomes):
    tensors.softplus_derivative(lambda x: torch.sigmoid(x).float(), pytorch)
    assert "dtype float32, expected float64" in outcomes()[0].message


def test_wrong_shape_is_named(outcomes):
    tensors.outer_sum(lambda a, b: a + b[:1], pytorch)
    assert "shape (4,), expected (4, 3)" in outcomes()[0].message


def test_wrong_values_name_the_input_and_both_values(outcomes):
    tensors.softplus_derivative(lambda x: torch.sigmoid(x) * 0.5, pytorch)
    message = outcomes()[0].message
    assert "values are off" in message and "at input" in message and "you return" in message


def test_a_crash_in_the_learners_code_quotes_their_line(outcomes):
    def broken(x):
        return x.no_such_method()

    tensors.softplus_derivative(broken, pytorch)
    message = outcomes()[0].message
    assert message.startswith("your code raised AttributeError") and "x.no_such_method()" in message


def test_the_learners_line_is_found_by_module_not_by_folder_name(outcomes, tmp_path):
    """A clone or a notebook folder is usually called `diptych`: that must not hide their code."""
    folder = tmp_path / "diptych" / "exercises"
    folder.mkdir(parents=True)
    cell = folder / "cell.py"
    cell.write_text("def broken(x):\n    return torch.ones(x, 'not a size')\n")
    namespace = {"torch": torch, "__name__": "__main__"}
    exec(compile(cell.read_text(), str(cell), "exec"), namespace)
    tensors.softplus_derivative(namespace["broken"], pytorch)
    message = outcomes()[0].message
    assert message.startswith("your code raised TypeError")
    assert "(in your line: `return torch.ones(x, 'not a size')`)" in message


def test_tensorflow_gradient_without_watch_is_explained(outcomes):
    def unwatched(fn, x):
        with tf.GradientTape() as tape:
            value = fn(x)
        return tape.gradient(value, x)

    tensors.autograd_gradient(unwatched, tensorflow)
    assert "did not watch x" in outcomes()[0].message


def test_returning_none_is_explained(outcomes):
    gradient_descent.mse_gradient(lambda theta, X, y: None, pytorch)
    assert "returned None" in outcomes()[0].message


def test_mse_gradient_mistakes_are_recognised(outcomes):
    gradient_descent.mse_gradient(lambda theta, X, y: X.T @ (X @ theta - y) / len(y), pytorch)
    gradient_descent.mse_gradient(lambda theta, X, y: 2 * X.T @ (X @ theta - y), pytorch)
    half, summed = outcomes()
    assert "exactly half" in half.message and "n times too large" in summed.message


def test_keras_form_of_momentum_is_recognised(outcomes):
    def keras_form(theta, velocity, gradient, lr, momentum):
        velocity = momentum * velocity - lr * gradient
        return theta + velocity, velocity

    gradient_descent.momentum_step(keras_form, tensorflow)
    assert "Keras' velocity" in outcomes()[0].message


def test_uphill_step_and_one_over_lambda_are_recognised(outcomes):
    def uphill(theta, X, y, lr):
        theta = tf.Variable(theta)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((tf.linalg.matvec(X, theta) - y) ** 2)
        return theta + lr * tape.gradient(loss, theta)

    gradient_descent.sgd_step(uphill, tensorflow)
    gradient_descent.largest_stable_learning_rate(
        lambda X: 1 / np.linalg.eigvalsh(2 / len(X) * X.numpy().T @ X.numpy()).max(), tensorflow
    )
    step, rate = outcomes()
    assert "uphill" in step.message and "1/λ_max" in rate.message


def test_expect_array_accepts_numbers_and_rejects_non_arrays():
    assert checks.expect_array(1.0, np.array(1.0), what="x", atol=0).shape == ()
    with pytest.raises(checks.Mismatch, match="not an array"):
        checks.as_numpy(object.__new__(type("Odd", (), {"__array__": lambda self: 1 / 0})), "f")


def test_log_softmax_overflow_is_explained(outcomes):
    from diptych.checks import linear_models

    linear_models.log_softmax(
        lambda Z: (
            torch.log(torch.softmax(Z, dim=-1) + 0) * 0
            + Z
            - torch.log(torch.exp(Z).sum(-1, keepdim=True))
        ),
        pytorch,
    )
    message = outcomes()[0].message
    assert "something overflows" in message and "subtract each row's maximum" in message


def test_cross_entropy_sum_and_sign_mistakes(outcomes):
    from diptych.checks import linear_models

    def summed(Z, y):
        return -tf.reduce_sum(tf.gather(tf.nn.log_softmax(Z), y, batch_dims=1))

    def flipped(Z, y):
        return tf.reduce_mean(tf.gather(tf.nn.log_softmax(Z), y, batch_dims=1))

    linear_models.cross_entropy(summed, tensorflow)
    linear_models.cross_entropy(flipped, tensorflow)
    total, sign = outcomes()
    assert "sum over the batch" in total.message and "sign is flipped" in sign.message


def test_adam_with_keras_epsilon_placement_is_recognised(outcomes):
    from diptych.checks import linear_models
    from diptych.reference import classification

    def keras_adam(param, grad, m, v, step, lr, beta1, beta2, eps):
        arrays = [a.numpy() for a in (param, grad, m, v)]
        return classification.adam_step(
            *arrays, step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, epsilon_style="keras"
        )

    linear_models.adam_step(keras_adam, tensorflow)
    assert "Keras' placement of ε" in outcomes()[0].message


def test_mlp_mistakes_missing_relu_untransposed_weights_and_accumulated_gradients(outcomes):
    from diptych.checks import mlp

    mlp.mlp_forward(lambda X, W1, b1, W2, b2: (X @ W1 + b1) @ W2 + b2, pytorch)

    def untransposed(model, layers):
        with torch.no_grad():
            for linear, w in zip([m for m in model if hasattr(m, "weight")], layers, strict=True):
                linear.weight.copy_(torch.from_numpy(w["W"]).reshape(linear.weight.shape))
                linear.bias.copy_(torch.from_numpy(w["b"]))

    mlp.load_weights(untransposed, pytorch)

    def no_zero_grad(model, optimizer, X, y):
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    mlp.train_step(no_zero_grad, pytorch)
    relu, layout, accumulated = outcomes()
    assert "apply ReLU" in relu.message
    assert "values are off" in layout.message and "(out, in)" in layout.message
    assert "old gradients cleared" in accumulated.message


def test_init_std_says_how_fast_the_signal_shrinks(outcomes):
    from diptych.checks import mlp

    mlp.init_std(lambda fan_in, fan_out: np.sqrt(1 / fan_in), tensorflow)
    assert "shrinks" in outcomes()[0].message and "per layer" in outcomes()[0].message


def test_training_practice_mistakes_are_named(outcomes):
    from diptych.checks import training_practice

    def ties_improve(losses, patience):
        best = 0
        for epoch, loss in enumerate(losses):
            if loss <= losses[best]:
                best = epoch
            if epoch - best >= patience:
                return best, epoch
        return best, None

    def decay_in_velocity_always(theta, grad, velocity, lr, momentum, weight_decay, decoupled):
        velocity = momentum * velocity + grad + weight_decay * theta
        return theta - lr * velocity, velocity

    def unscaled(x, p):
        return x * (torch.rand(x.shape, dtype=x.dtype) >= p)

    training_practice.early_stopping(ties_improve, pytorch)
    training_practice.weight_decay_step(decay_in_velocity_always, pytorch)
    training_practice.inverted_dropout(unscaled, pytorch)
    tie, decay, scale = outcomes()
    assert "equal to the best is not an improvement" in tie.message
    assert "decoupled decay must stay out of the velocity" in decay.message
    assert "scale them by 1/(1 − p)" in scale.message


def test_cnn_mistakes_are_named(outcomes):
    from diptych.checks import cnn

    cnn.output_size(lambda n, kernel, stride, padding: (n - kernel) // stride + 1, tensorflow)
    cnn.convert_kernel(lambda kernel: np.reshape(kernel, (5, 4, 3, 6)), tensorflow)

    def average(x, grad_out):
        return torch.repeat_interleave(torch.repeat_interleave(grad_out, 2, dim=2), 2, dim=3) / 4

    cnn.max_pool_backward(average, pytorch)
    size, kernel, pool = outcomes()
    assert "expected 8" in size.message or "expected" in size.message
    assert "a reshape reorders nothing" in kernel.message
    assert "as average pooling would" in pool.message
