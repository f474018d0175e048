"""The self-checks: right answers pass in either framework's idiom, typical mistakes fail by name.

Per exercise: the idiomatic right answers of both frameworks must pass, and each typical wrong
answer must fail with a message naming its mistake (the fragment given). Every check runs in
well under a second, so the whole table stays within the CI budget.
"""

import functools
import math
import warnings

import numpy as np
import pytest

from diptych import checks
from diptych.checks import gradient_descent, linear_models, mlp, tensors
from diptych.checks.idioms import switched_off
from diptych.reference import classification, training

from helpers import case_id, verdict

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
keras = pytest.importorskip("keras")
tf = tensorflow.tf
F = torch.nn.functional


# --------------------------------------------------------------------------- lesson 01


def softplus_stable(x):
    z = torch.exp(-torch.abs(x))
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))


def grad_torch(fn, x):
    x = x.detach().clone().requires_grad_(True)
    fn(x).backward()
    return x.grad


def grad_tape(fn, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = fn(x)
    return tape.gradient(value, x)


def grad_accumulating(fn, x):
    x.requires_grad_(True)
    fn(x).backward()
    return x.grad


def softplus_by_autograd(x):
    return grad_torch(lambda t: torch.log1p(torch.exp(t)).sum(), x)


def grad_unwatched(fn, x):
    with tf.GradientTape() as tape:
        value = fn(x)
    return tape.gradient(value, x)


def central_torch(fn, x, eps):  # exercise 4: all 2n points in one batch, one call of fn
    n = len(x)
    steps = eps * torch.eye(n, dtype=x.dtype, device=x.device)
    values = fn(torch.stack([x + steps, x - steps]).reshape(2 * n, n)).reshape(2, n)
    return (values[0] - values[1]) / (2 * eps)


def central_torch_cat(fn, x, eps):
    n = len(x)
    steps = eps * torch.eye(n, dtype=x.dtype, device=x.device)
    values = fn(torch.cat([x + steps, x - steps]))
    return (values[:n] - values[n:]) / (2 * eps)


def central_tf(fn, x, eps):
    n = len(x)
    steps = eps * tf.eye(n, dtype=x.dtype)
    values = tf.reshape(fn(tf.concat([x + steps, x - steps], axis=0)), (2, n))
    return (values[0] - values[1]) / (2 * eps)


def central_by_autograd(fn, x, eps):
    return grad_torch(lambda t: fn(t[None, :])[0], x)


def central_by_tape(fn, x, eps):
    return grad_tape(lambda t: fn(t[None, :])[0], x)


def central_loop(fn, x, eps):  # the lesson's loop: 2n calls of fn
    steps = eps * torch.eye(len(x), dtype=x.dtype)
    return torch.stack([(fn((x + s)[None]) - fn((x - s)[None]))[0] / (2 * eps) for s in steps])


def central_two_halves(fn, x, eps):
    steps = eps * torch.eye(len(x), dtype=x.dtype)
    return (fn(x + steps) - fn(x - steps)) / (2 * eps)


def central_wrong_axis(fn, x, eps):  # x as a column: row i holds x_i in every column
    n = len(x)
    steps = eps * torch.eye(n, dtype=x.dtype)
    values = fn(torch.cat([x[:, None] + steps, x[:, None] - steps]))
    return (values[:n] - values[n:]) / (2 * eps)


def central_over_eps(fn, x, eps):
    n = len(x)
    steps = eps * torch.eye(n, dtype=x.dtype)
    values = fn(torch.cat([x + steps, x - steps]))
    return (values[:n] - values[n:]) / eps


def central_wrong_sign(fn, x, eps):
    n = len(x)
    steps = eps * torch.eye(n, dtype=x.dtype)
    values = fn(torch.cat([x + steps, x - steps]))
    return (values[n:] - values[:n]) / (2 * eps)


def one_sided(fn, x, eps):  # one call, on x + εeᵢ and x itself
    n = len(x)
    steps = eps * torch.eye(n, dtype=x.dtype)
    values = fn(torch.cat([x + steps, x[None]]))
    return (values[:n] - values[n]) / eps


def central_in_place(fn, x, eps):  # nudges the caller's x and never puts it back
    n, ups, downs = len(x), [], []
    for i in range(n):
        x[i] += eps
        ups.append(x.clone())
        x[i] -= 2 * eps
        downs.append(x.clone())
    values = fn(torch.stack(ups + downs))
    return (values[:n] - values[n:]) / (2 * eps)


# --------------------------------------------------------------------------- lesson 02


def mse_torch(theta, X, y):
    return 2 / len(y) * X.T @ (X @ theta - y)


def mse_tf(theta, X, y):
    return 2 / len(y) * tf.linalg.matvec(X, tf.linalg.matvec(X, theta) - y, transpose_a=True)


def mse_by_columns(theta, X, y):  # a slope's and an intercept's partial derivative, written out
    residual = X @ theta - y
    return torch.stack([2 * (residual * X[:, 0]).mean(), 2 * residual.mean()])


def mse_by_autograd(theta, X, y):
    theta = theta.clone().requires_grad_(True)
    torch.mean((X @ theta - y) ** 2).backward()
    return theta.grad


def sgd_torch(theta, X, y, lr):
    theta = theta.detach().clone().requires_grad_(True)
    torch.mean((X @ theta - y) ** 2).backward()
    return (theta - lr * theta.grad).detach()


def sgd_torch_optimizer(theta, X, y, lr):
    theta = theta.detach().clone().requires_grad_(True)
    optimizer = torch.optim.SGD([theta], lr=lr)
    torch.mean((X @ theta - y) ** 2).backward()
    optimizer.step()
    return theta.detach()


def sgd_keras_optimizer(theta, X, y, lr):
    variable = tf.Variable(theta)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((tf.linalg.matvec(X, variable) - y) ** 2)
    keras.optimizers.SGD(learning_rate=lr).apply_gradients(
        [(tape.gradient(loss, variable), variable)]
    )
    return variable


def sgd_leaking(theta, X, y, lr):
    """Right on one call: mutates its input and never clears .grad (quoted from a real try)."""
    theta.requires_grad_(True)
    torch.mean((X @ theta - y) ** 2).backward()
    with torch.no_grad():
        theta -= lr * theta.grad
    return theta


def sgd_in_place(theta, X, y, lr):
    theta.requires_grad_(True)
    torch.mean((X @ theta - y) ** 2).backward()
    with torch.no_grad():
        theta -= lr * theta.grad
    theta.grad = None
    return theta


def sgd_uphill(theta, X, y, lr):
    variable = tf.Variable(theta)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((tf.linalg.matvec(X, variable) - y) ** 2)
    return variable + lr * tape.gradient(loss, variable)


def sgd_summed_loss(theta, X, y, lr):  # the batch loss as a sum: a step b times too large
    theta = theta.detach().clone().requires_grad_(True)
    torch.sum((X @ theta - y) ** 2).backward()
    return (theta - lr * theta.grad).detach()


def sgd_summed_loss_tf(theta, X, y, lr):
    variable = tf.Variable(theta)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum((tf.linalg.matvec(X, variable) - y) ** 2)
    return variable - lr * tape.gradient(loss, variable)


def sgd_unwatched(theta, X, y, lr):  # a plain tensor, never watched: the tape returns None
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((tf.linalg.matvec(X, theta) - y) ** 2)
    return theta - lr * tape.gradient(loss, theta)


def sgd_keras_unwatched(theta, X, y, lr):  # the same with a Keras optimizer and a fresh variable
    variable = tf.Variable(theta)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((tf.linalg.matvec(X, theta) - y) ** 2)
    keras.optimizers.SGD(learning_rate=lr).apply_gradients(
        [(tape.gradient(loss, variable), variable)]
    )
    return variable


def fastest_second_eigenvalue(X):  # right for d = 2 only: index 1 is λ_max only there
    e = torch.linalg.eigvalsh(2 / len(X) * X.T @ X)
    return 2 / (e[0] + e[1]), (e[1] - e[0]) / (e[1] + e[0])


def fastest_second_eigenvalue_tf(X):
    e = tf.linalg.eigvalsh(2 / X.shape[0] * tf.matmul(X, X, transpose_a=True))
    return 2 / (e[0] + e[1]), (e[1] - e[0]) / (e[1] + e[0])


def momentum_pytorch_form(theta, velocity, gradient, lr, momentum):
    velocity = momentum * velocity + gradient
    return theta - lr * velocity, velocity


def momentum_keras_form(theta, velocity, gradient, lr, momentum):
    velocity = momentum * velocity - lr * gradient
    return theta + velocity, velocity


def momentum_old_velocity(theta, velocity, gradient, lr, momentum):
    return theta - lr * velocity, momentum * velocity + gradient


def stable_rate_torch(X):
    return 2 / torch.linalg.eigvalsh(2 / len(X) * X.T @ X).max()


def stable_rate_tf(X):
    return 2 / tf.reduce_max(tf.linalg.eigvalsh(2 / X.shape[0] * tf.transpose(X) @ X))


# --------------------------------------------------------------------------- lesson 03


def log_softmax(Z):  # named as in the notebook: exercise 2's check finds it by this name
    shifted = Z - Z.max(dim=-1, keepdim=True).values
    return shifted - torch.log(torch.exp(shifted).sum(dim=-1, keepdim=True))


def log_softmax_tf(Z):
    shifted = Z - tf.reduce_max(Z, axis=-1, keepdims=True)
    return shifted - tf.math.log(tf.reduce_sum(tf.exp(shifted), axis=-1, keepdims=True))


def naive_log_softmax(Z):
    return Z - torch.log(torch.exp(Z).sum(dim=-1, keepdim=True))


def cross_entropy(Z, y):
    return -log_softmax(Z)[torch.arange(len(y)), y].mean()


#: a notebook's namespace where exercise 1's log_softmax is the naive one, exercise 2 right on it
NAIVE_NOTEBOOK = {"torch": torch}
exec(
    "def log_softmax(Z):\n"
    "    return Z - torch.log(torch.exp(Z).sum(dim=-1, keepdim=True))\n"
    "def cross_entropy(Z, y):\n"
    "    return -log_softmax(Z)[torch.arange(len(y)), y].mean()\n",
    NAIVE_NOTEBOOK,
)


def softmax_gradient_torch(X, W, b, y):
    dZ = (torch.softmax(X @ W + b, dim=1) - F.one_hot(y, W.shape[1])) / len(y)
    return X.T @ dZ, dZ.sum(dim=0)


def softmax_gradient_tf(X, W, b, y):
    dZ = (tf.nn.softmax(X @ W + b) - tf.one_hot(y, W.shape[1], dtype=X.dtype)) / len(y)
    return tf.transpose(X) @ dZ, tf.reduce_sum(dZ, axis=0)


def softmax_gradient_by_autograd(X, W, b, y):
    W, b = W.clone().requires_grad_(True), b.clone().requires_grad_(True)
    F.cross_entropy(X @ W + b, y).backward()
    return W.grad, b.grad


def bce_clipped(z, t):  # finite, but a confident wrong answer's loss is capped at -log(1e-7)
    p = torch.sigmoid(z).clamp(1e-7, 1 - 1e-7)
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()


def bce_by_hand(z, t):  # softplus(z) - t z, with softplus written so that it never overflows
    return (torch.clamp(z, min=0) + torch.log1p(torch.exp(-torch.abs(z))) - t * z).mean()


# exercise 5 (training softmax regression) is tested in tests/test_checks_linear_models.py


# --------------------------------------------------------------------------- lesson 04


class MLP(torch.nn.Module):  # exercise 1's idiomatic answers; tests/test_checks_mlp.py has more
    def __init__(self, sizes):
        super().__init__()
        widths = range(len(sizes) - 1)
        self.layers = torch.nn.ModuleList(torch.nn.Linear(sizes[i], sizes[i + 1]) for i in widths)

    def forward(self, X):
        for layer in self.layers[:-1]:
            X = torch.relu(layer(X))
        return self.layers[-1](X)


def build_keras(sizes):
    inputs = keras.Input((sizes[0],))
    h = inputs
    for n in sizes[1:-1]:
        h = keras.layers.Dense(n, activation="relu")(h)
    return keras.Model(inputs, keras.layers.Dense(sizes[-1])(h))


def load_torch(linears, layers):
    with torch.no_grad():
        for linear, w in zip(linears, layers, strict=True):
            linear.weight.copy_(torch.from_numpy(w["W"].T))
            linear.bias.copy_(torch.from_numpy(w["b"]))


def load_keras(denses, layers):
    for dense, w in zip(denses, layers, strict=True):
        dense.kernel.assign(w["W"])
        dense.bias.assign(w["b"])


def load_sharing_memory(linears, layers):
    for linear, w in zip(linears, layers, strict=True):
        linear.weight.data = torch.from_numpy(w["W"].T)
        linear.bias.data = torch.from_numpy(w["b"])


def load_reshaped(linears, layers):
    with torch.no_grad():
        for linear, w in zip(linears, layers, strict=True):
            linear.weight.copy_(torch.from_numpy(w["W"]).reshape(linear.weight.shape))
            linear.bias.copy_(torch.from_numpy(w["b"]))


def load_transposing_the_callers_dict(linears, layers):
    with torch.no_grad():
        for linear, w in zip(linears, layers, strict=True):
            w["W"] = w["W"].T
            linear.weight.copy_(torch.from_numpy(w["W"]))
            linear.bias.copy_(torch.from_numpy(w["b"]))


def train_torch(model, optimizer, X, y):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_keras(model, optimizer, X, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
            y, model(X, training=True)
        )
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return loss


def train_without_zero_grad(model, optimizer, X, y):
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_double_softmax(model, optimizer, X, y):
    optimizer.zero_grad()
    loss = F.cross_entropy(torch.softmax(model(X), dim=1), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_not_applied(model, optimizer, X, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(X))
    tape.gradient(loss, model.trainable_variables)
    return loss


# --------------------------------------------------------------------------- lesson 05


def backprop_torch(X, y, W1, b1, W2, b2, derivative="tanh", scale=1.0, bias_mean=False):
    A = X @ W1 + b1
    H = torch.tanh(A)
    Z = H @ W2 + b2
    dZ = (torch.softmax(Z, dim=1) - F.one_hot(y, Z.shape[1])) / len(y) * scale
    factor = {"tanh": 1 - H**2, "identity": 1.0, "relu": A > 0, "at A": 1 - A**2}[derivative]
    dA = (dZ @ W2.T) * factor
    total = (lambda d: d.mean(dim=0)) if bias_mean else (lambda d: d.sum(dim=0))
    return X.T @ dA, total(dA), H.T @ dZ, total(dZ)


def backprop_tf(X, y, W1, b1, W2, b2):
    H = tf.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    dZ = (tf.nn.softmax(Z) - tf.one_hot(y, Z.shape[1], dtype=Z.dtype)) / len(y)
    dA = (dZ @ tf.transpose(W2)) * (1 - H**2)
    total = functools.partial(tf.reduce_sum, axis=0)
    return tf.transpose(X) @ dA, total(dA), tf.transpose(H) @ dZ, total(dZ)


def backprop_by_autograd(X, y, W1, b1, W2, b2):
    params = [p.detach().clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
    F.cross_entropy(torch.tanh(X @ params[0] + params[1]) @ params[2] + params[3], y).backward()
    return tuple(p.grad for p in params)


# lesson 05's checks are tested in tests/test_checks_training_practice.py


def standardise_torch(X):
    return (X - X.mean(dim=1, keepdim=True)) / X.std(dim=1, correction=0, keepdim=True)


def standardise_tf(X):
    mean = tf.reduce_mean(X, axis=1, keepdims=True)
    return (X - mean) / tf.math.reduce_std(X, axis=1, keepdims=True)


def standardise_without_keepdims(X):
    return (X - tf.reduce_mean(X, axis=1)) / tf.math.reduce_std(X, axis=1)


def fastest_torch(X):
    e = torch.linalg.eigvalsh(2 / len(X) * X.T @ X)
    return 2 / (e.min() + e.max()), (e.max() - e.min()) / (e.max() + e.min())


def fastest_tf(X):
    e = tf.linalg.eigvalsh(2 / X.shape[0] * tf.matmul(X, X, transpose_a=True))
    low, high = tf.reduce_min(e), tf.reduce_max(e)
    return 2 / (low + high), (high - low) / (high + low)


def fastest_at_the_edge(X):
    e = torch.linalg.eigvalsh(2 / len(X) * X.T @ X)
    return 2 / e.max(), (e.max() - e.min()) / (e.max() + e.min())


def fastest_rate_is_kappa(X):
    e = torch.linalg.eigvalsh(2 / len(X) * X.T @ X)
    return 2 / (e.min() + e.max()), e.max() / e.min()


def bce_naive(z, t):
    p = torch.sigmoid(z)
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()


# --------------------------------------------------------------------------- the table

RIGHT = [
    (tensors.softplus_derivative, softplus_stable, pytorch),
    (tensors.softplus_derivative, torch.sigmoid, pytorch),
    (tensors.softplus_derivative, tf.math.sigmoid, tensorflow),
    (tensors.softplus_derivative, lambda x: 1 / (1 + torch.exp(-x)), pytorch),
    (tensors.softplus_derivative, lambda x: 1 / (1 + tf.exp(-x)), tensorflow),
    (tensors.outer_sum, lambda a, b: a[:, None] + b[None, :], pytorch),
    (tensors.outer_sum, lambda a, b: tf.reshape(a, (-1, 1)) + b, tensorflow),
    (tensors.standardise_rows, standardise_torch, pytorch),
    (tensors.standardise_rows, standardise_tf, tensorflow),
    (gradient_descent.fastest_learning_rate, fastest_torch, pytorch),
    (gradient_descent.fastest_learning_rate, fastest_tf, tensorflow),
    (linear_models.binary_cross_entropy, lambda z, t: (F.softplus(z) - t * z).mean(), pytorch),
    (linear_models.binary_cross_entropy, bce_by_hand, pytorch),
    (
        linear_models.binary_cross_entropy,
        lambda z, t: tf.reduce_mean(tf.nn.softplus(z) - t * z),
        tensorflow,
    ),
    (tensors.autograd_gradient, grad_torch, pytorch),
    (tensors.autograd_gradient, grad_tape, tensorflow),
    (tensors.central_difference, central_torch, pytorch),
    (tensors.central_difference, central_torch_cat, pytorch),
    (tensors.central_difference, central_tf, tensorflow),
    (gradient_descent.mse_gradient, mse_torch, pytorch),
    (gradient_descent.mse_gradient, mse_tf, tensorflow),
    (gradient_descent.sgd_step, sgd_torch, pytorch),
    (gradient_descent.sgd_step, sgd_torch_optimizer, pytorch),
    (gradient_descent.sgd_step, sgd_keras_optimizer, tensorflow),
    (gradient_descent.momentum_step, momentum_pytorch_form, pytorch),
    (gradient_descent.momentum_step, momentum_keras_form, tensorflow),
    (gradient_descent.largest_stable_learning_rate, stable_rate_torch, pytorch),
    (gradient_descent.largest_stable_learning_rate, stable_rate_tf, tensorflow),
    (linear_models.log_softmax, log_softmax, pytorch),
    (linear_models.log_softmax, log_softmax_tf, tensorflow),
    (linear_models.cross_entropy, cross_entropy, pytorch),
    (linear_models.cross_entropy, lambda Z, y: F.cross_entropy(Z, y), pytorch),
    (
        linear_models.cross_entropy,
        lambda Z, y: tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(y, Z, from_logits=True)
        ),
        tensorflow,
    ),
    (linear_models.softmax_regression_gradient, softmax_gradient_torch, pytorch),
    (linear_models.softmax_regression_gradient, softmax_gradient_tf, tensorflow),
    (mlp.build_mlp, MLP, pytorch),
    (mlp.build_mlp, build_keras, tensorflow),
    (mlp.load_weights, load_torch, pytorch),
    (mlp.load_weights, load_keras, tensorflow),
    (mlp.init_std, lambda fan_in, fan_out: math.sqrt(2 / fan_in), pytorch),
    (mlp.init_std, lambda fan_in, fan_out: tf.sqrt(2.0 / fan_in), tensorflow),
    (mlp.train_step, train_torch, pytorch),
    (mlp.train_step, train_keras, tensorflow),
    (mlp.mlp_gradients, backprop_torch, pytorch),
    (mlp.mlp_gradients, backprop_tf, tensorflow),
]

WRONG = [
    (
        tensors.softplus_derivative,
        lambda x: torch.exp(x) / (1 + torch.exp(x)),
        pytorch,
        "nan at x = 800 and right elsewhere",
    ),
    (
        tensors.softplus_derivative,
        lambda x: tf.exp(x) / (1 + tf.exp(x)),
        tensorflow,
        "inf divided by inf is nan",
    ),
    (tensors.softplus_derivative, lambda x: torch.sigmoid(-x), pytorch, "mirrored"),
    (tensors.softplus_derivative, softplus_by_autograd, pytorch, "calls Tensor.backward"),
    (tensors.softplus_derivative, lambda x: torch.log1p(torch.exp(x)), pytorch, "softplus itself"),
    (
        tensors.softplus_derivative,
        lambda x: torch.sigmoid(x).float(),
        pytorch,
        "dtype float32, expected float64",
    ),
    (tensors.outer_sum, lambda a, b: a + b[:1], pytorch, "shape (4,), expected (4, 3)"),
    (
        tensors.outer_sum,
        lambda a, b: a[None, :] + b[:, None],
        pytorch,
        "columns (one per entry of b) swapped",
    ),
    (
        tensors.standardise_rows,
        lambda X: (X - X.mean(dim=1, keepdim=True)) / X.std(dim=1, keepdim=True),
        pytorch,
        "divides by m − 1",
    ),
    (tensors.standardise_rows, standardise_without_keepdims, tensorflow, "wrong axis"),
    (
        tensors.standardise_rows,
        lambda X: (X - X.mean(dim=1, keepdim=True)) / X.std(dim=1, correction=0),
        pytorch,
        "standard deviations were broadcast along the wrong axis",
    ),
    (
        tensors.standardise_rows,
        lambda X: (X - tf.reduce_mean(X, axis=1)) / tf.math.reduce_std(X, axis=1, keepdims=True),
        tensorflow,
        "means were broadcast along the wrong axis",
    ),
    (tensors.standardise_rows, lambda X: X - X.mean(dim=1, keepdim=True), pytorch, "not scaled"),
    (
        tensors.standardise_rows,
        lambda X: (X - X.mean(dim=0)) / X.std(dim=0, correction=0),
        pytorch,
        "every column",
    ),
    (
        gradient_descent.fastest_learning_rate,
        fastest_at_the_edge,
        pytorch,
        "edge of divergence",
    ),
    (gradient_descent.fastest_learning_rate, fastest_rate_is_kappa, pytorch, "condition number"),
    (
        gradient_descent.fastest_learning_rate,
        lambda X: fastest_tf(X)[0],
        tensorflow,
        "must return 2 values",
    ),
    (linear_models.binary_cross_entropy, bce_naive, pytorch, "rounds to exactly 0 or 1"),
    (linear_models.binary_cross_entropy, bce_clipped, pytorch, "still computes σ(z)"),
    (
        linear_models.binary_cross_entropy,
        lambda z, t: F.binary_cross_entropy_with_logits(z, t),
        pytorch,
        "calls torch.nn.functional.binary_cross_entropy_with_logits",
    ),
    (
        linear_models.binary_cross_entropy,
        lambda z, t: torch.nn.BCELoss()(torch.sigmoid(z), t),
        pytorch,
        "calls torch.nn.functional.binary_cross_entropy (or nn.BCELoss)",
    ),
    (
        linear_models.binary_cross_entropy,
        lambda z, t: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(t, z)),
        tensorflow,
        "calls tf.nn.sigmoid_cross_entropy_with_logits",
    ),
    (
        linear_models.binary_cross_entropy,
        lambda z, t: keras.losses.BinaryCrossentropy(from_logits=True)(t, z),
        tensorflow,
        "calls Keras' binary cross-entropy",
    ),
    (
        linear_models.binary_cross_entropy,
        lambda z, t: (F.softplus(z) - t * z).sum(),
        pytorch,
        "sum over the batch",
    ),
    (
        linear_models.binary_cross_entropy,
        lambda z, t: tf.reduce_mean(tf.nn.softplus(z) - (1 - t) * z),
        tensorflow,
        "swapped roles",
    ),
    (tensors.autograd_gradient, grad_accumulating, pytorch, "twice the gradient"),
    (tensors.autograd_gradient, grad_unwatched, tensorflow, "did not watch x"),
    (tensors.central_difference, central_by_autograd, pytorch, "calls Tensor.backward"),
    (tensors.central_difference, central_by_tape, tensorflow, "calls tf.GradientTape"),
    (tensors.central_difference, one_sided, pytorch, "one-sided"),
    (tensors.central_difference, central_in_place, pytorch, "changed its input `x` in place"),
    (tensors.central_difference, central_loop, pytorch, "a Python loop"),
    (tensors.central_difference, central_two_halves, pytorch, "called twice"),
    (tensors.central_difference, central_wrong_axis, pytorch, "wrong axis"),
    (tensors.central_difference, central_over_eps, pytorch, "twice the gradient"),
    (tensors.central_difference, central_wrong_sign, pytorch, "wrong sign"),
    (
        gradient_descent.mse_gradient,
        lambda t, X, y: X.T @ (X @ t - y) / len(y),
        pytorch,
        "exactly half",
    ),
    (
        gradient_descent.mse_gradient,
        lambda t, X, y: 2 * X.T @ (X @ t - y),
        pytorch,
        "n times too large",
    ),
    (
        gradient_descent.mse_gradient,
        lambda t, X, y: 2 / len(y) * X.T @ (y - X @ t),
        pytorch,
        "sign flipped",
    ),
    (gradient_descent.mse_gradient, mse_by_autograd, pytorch, "calls Tensor.backward"),
    (gradient_descent.mse_gradient, mse_by_columns, pytorch, "one partial derivative per column"),
    (gradient_descent.sgd_step, sgd_leaking, pytorch, "step 1 is right, but step 2"),
    (gradient_descent.sgd_step, sgd_in_place, pytorch, "changed its input `theta` in place"),
    (gradient_descent.sgd_step, sgd_uphill, tensorflow, "uphill"),
    (gradient_descent.sgd_step, sgd_summed_loss, pytorch, "b = 4 times too large"),
    (gradient_descent.sgd_step, sgd_summed_loss_tf, tensorflow, "b = 4 times too large"),
    (gradient_descent.sgd_step, sgd_unwatched, tensorflow, "a tape watches only variables"),
    (gradient_descent.sgd_step, sgd_keras_unwatched, tensorflow, "a tape watches only variables"),
    (
        gradient_descent.fastest_learning_rate,
        fastest_second_eigenvalue,
        pytorch,
        "second eigenvalue as λ_max",
    ),
    (
        gradient_descent.fastest_learning_rate,
        fastest_second_eigenvalue_tf,
        tensorflow,
        "second eigenvalue as λ_max",
    ),
    (gradient_descent.momentum_step, momentum_keras_form, pytorch, "Keras' form of the velocity"),
    (
        gradient_descent.momentum_step,
        momentum_pytorch_form,
        tensorflow,
        "PyTorch's form of the velocity",
    ),
    (gradient_descent.momentum_step, momentum_old_velocity, pytorch, "which velocity moves θ"),
    (
        gradient_descent.largest_stable_learning_rate,
        lambda X: 1 / torch.linalg.eigvalsh(2 / len(X) * X.T @ X).max(),
        pytorch,
        "half the limit",
    ),
    (
        gradient_descent.largest_stable_learning_rate,
        lambda X: 2 / torch.linalg.eigvalsh(X.T @ X).max(),
        pytorch,
        "Hessian of a mean",
    ),
    (
        gradient_descent.largest_stable_learning_rate,
        lambda X: 2 / torch.linalg.eigvalsh(2 / len(X) * X.T @ X).min(),
        pytorch,
        "smallest eigenvalue",
    ),
    (
        linear_models.log_softmax,
        naive_log_softmax,
        pytorch,
        "exponentials of large logits overflow",
    ),
    (
        linear_models.log_softmax,
        lambda Z: torch.log_softmax(Z, dim=-1),
        pytorch,
        "calls torch.log_softmax",
    ),
    (
        linear_models.log_softmax,
        lambda Z: Z - torch.logsumexp(Z, -1, keepdim=True),
        pytorch,
        "calls torch.logsumexp",
    ),
    (
        linear_models.log_softmax,
        lambda Z: tf.nn.log_softmax(Z),
        tensorflow,
        "calls tf.nn.log_softmax",
    ),
    (linear_models.log_softmax, lambda Z: log_softmax(Z.T).T, pytorch, "wrong axis"),
    (
        linear_models.cross_entropy,
        lambda Z, y: -torch.log(torch.softmax(Z, -1))[torch.arange(len(y)), y].mean(),
        pytorch,
        "not the log of a probability",
    ),
    (
        linear_models.cross_entropy,
        lambda Z, y: -tf.reduce_sum(tf.gather(log_softmax_tf(Z), y, batch_dims=1)),
        tensorflow,
        "sum over the batch",
    ),
    (
        linear_models.cross_entropy,
        lambda Z, y: tf.reduce_mean(tf.gather(log_softmax_tf(Z), y, batch_dims=1)),
        tensorflow,
        "sign is flipped",
    ),
    (
        linear_models.softmax_regression_gradient,
        lambda *a: (softmax_gradient_torch(*a)[0].T, softmax_gradient_torch(*a)[1]),
        pytorch,
        "classes (columns of W) swapped",
    ),
    (
        linear_models.softmax_regression_gradient,
        lambda *a: tuple(-g for g in softmax_gradient_torch(*a)),
        pytorch,
        "sign flipped",
    ),
    (
        linear_models.softmax_regression_gradient,
        softmax_gradient_by_autograd,
        pytorch,
        "calls Tensor.backward",
    ),
    (
        mlp.build_mlp,
        lambda sizes: torch.nn.Sequential(*MLP(sizes).layers),
        pytorch,
        "needs its ReLU",
    ),
    (mlp.load_weights, load_reshaped, pytorch, "a reshape keeps the numbers in their order"),
    (mlp.load_weights, load_sharing_memory, pytorch, "shares memory"),
    (mlp.load_weights, load_transposing_the_callers_dict, pytorch, "changed the `layers`"),
    (mlp.init_std, lambda fan_in, fan_out: math.sqrt(2 / fan_out), pytorch, "fan-out"),
    (mlp.init_std, lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out)), tensorflow, "Glorot"),
    (mlp.init_std, lambda fan_in, fan_out: 0.01, pytorch, "shrinks"),
    (mlp.train_step, train_without_zero_grad, pytorch, "never cleared"),
    (mlp.train_step, train_double_softmax, pytorch, "softmax twice"),
    (mlp.train_step, train_not_applied, tensorflow, "never applied"),
    (
        mlp.mlp_gradients,
        functools.partial(backprop_torch, derivative="identity"),
        pytorch,
        "as if it were the identity",
    ),
    (mlp.mlp_gradients, functools.partial(backprop_torch, derivative="relu"), pytorch, "ReLU's"),
    (mlp.mlp_gradients, functools.partial(backprop_torch, derivative="at A"), pytorch, "1 − A²"),
    (mlp.mlp_gradients, functools.partial(backprop_torch, scale=7.0), pytorch, "n times too large"),
    (
        mlp.mlp_gradients,
        functools.partial(backprop_torch, bias_mean=True),
        pytorch,
        "∇b1 is n times too small: δ already holds the mean's 1/n, so sum δ",
    ),
    (
        mlp.mlp_gradients,
        lambda *a: tuple(g / 7 if i in (0, 2) else g for i, g in enumerate(backprop_tf(*a))),
        tensorflow,
        "∇W1 is n times too small: δ already holds the mean's 1/n, so do not divide again",
    ),
    (mlp.mlp_gradients, backprop_by_autograd, pytorch, "calls Tensor.backward"),
    (mlp.mlp_gradients, lambda *a: backprop_tf(*a)[:2], tensorflow, "must return 4 values"),
]


@pytest.mark.parametrize("check, learner, adapter", RIGHT, ids=[case_id(c) for c in RIGHT])
def test_an_idiomatic_right_answer_passes(check, learner, adapter, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize("check, learner, adapter, named", WRONG, ids=[case_id(c) for c in WRONG])
def test_a_typical_wrong_answer_fails_with_its_named_hint(check, learner, adapter, named, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.FAILED
    assert named in outcome.message


def test_every_exercise_has_a_right_answer_per_framework_and_a_wrong_one():
    for module in (
        "tensors",
        "gradient_descent",
        "mlp",
    ):  # linear_models: tests/test_checks_linear_models.py, with its exercise 5
        for item in checks.exercises_of(module):
            right = {a.NAME for c, _, a in RIGHT if c.__name__ == item.check}
            wrong = [c for c, *_ in WRONG if c.__name__ == item.check]
            assert wrong, item
            assert right == {"PyTorch", "TensorFlow"} or item.check in {
                "output_size",
                "early_stopping",
            }, item


def test_cross_entropy_on_a_wrong_log_softmax_says_to_fix_exercise_1_first(outcomes):
    linear_models.cross_entropy(
        NAIVE_NOTEBOOK["cross_entropy"], pytorch, uses=NAIVE_NOTEBOOK["log_softmax"]
    )
    assert "fix exercise 1 first" in outcomes()[0].message


def test_cross_entropy_on_an_unfinished_log_softmax_names_exercise_1(outcomes):
    def stub(Z):
        raise NotImplementedError

    def uses_stub(Z, y):
        return -stub(Z)[torch.arange(len(y)), y].mean()

    linear_models.cross_entropy(uses_stub, pytorch, uses=stub)
    assert "exercise 1, which is not done yet" in outcomes()[0].message


# --------------------------------------------------------------------------- the machinery


def test_not_done_is_friendly_recorded_and_goes_to_stderr(outcomes, capsys):
    def stub(x):
        raise NotImplementedError("Exercise not done yet")

    assert tensors.softplus_derivative(stub, pytorch) is None
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "… Exercise 1: The derivative of softplus — not done yet: replace"
    )
    assert "Traceback" not in captured.err and "run the exercise's cell" in captured.err
    outcome = outcomes()[0]
    assert outcome.status == checks.NOT_DONE and "this cell" not in outcome.message
    assert outcome.check == "tensors.softplus_derivative"


def test_a_pass_goes_to_stdout_and_a_failure_to_stderr(outcomes, capsys):
    tensors.outer_sum(lambda a, b: a[:, None] + b[None, :], pytorch)
    tensors.outer_sum(lambda a, b: a, pytorch)
    captured = capsys.readouterr()
    assert captured.out.startswith("✓ Exercise 2") and captured.err.startswith("✗ Exercise 2")


def test_a_warning_from_passing_code_is_shown_on_stdout(outcomes, capsys):
    def warns(a, b):
        warnings.warn("just so you know", UserWarning, stacklevel=1)
        return a[:, None] + b[None, :]

    tensors.outer_sum(warns, pytorch)
    captured = capsys.readouterr()
    assert captured.err == "" and "your code warned: UserWarning: just so you know" in captured.out


A_CHECK = """
import warnings

def attempt(learner):
    warnings.warn("the check's own warning", UserWarning)
    learner()
    return "passed"
"""


def test_only_warnings_raised_in_the_learners_code_are_the_learners(outcomes, capsys):
    """A check's own warnings, and a library's deprecation inside the learner's call, are not
    the learner's to fix; what their own code raises, a deprecation of their own line included,
    is (a check or an adapter companion that calls fit or save may warn around the answer)."""
    import sysconfig
    from pathlib import Path

    check = {"__name__": "diptych.checks.a_lesson"}  # a module of diptych's, as the checks are
    exec(compile(A_CHECK, "a_lesson.py", "exec"), check)
    library = str(Path(sysconfig.get_path("purelib")) / "a_library" / "module.py")

    def learners():
        warnings.warn("the learner's warning", UserWarning, stacklevel=1)
        warnings.warn("the learner's deprecated call", DeprecationWarning, stacklevel=1)
        warnings.warn_explicit("the library's deprecation", DeprecationWarning, library, 1)

    # partial, not a lambda: a frame of this file would count as the learner's own code
    checks.run_check("Exercise 1: Warnings", functools.partial(check["attempt"], learners))
    out = capsys.readouterr().out
    assert "(your code warned: UserWarning: the learner's warning)" in out
    assert "(your code warned: DeprecationWarning: the learner's deprecated call)" in out
    assert "the check's own warning" not in out and "the library's deprecation" not in out
    assert outcomes()[0].status == checks.PASSED


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
    assert "(in your line: `return torch.ones(x, 'not a size')`)" in message


def test_returning_none_is_explained(outcomes):
    gradient_descent.mse_gradient(lambda theta, X, y: None, pytorch)
    assert "returned None" in outcomes()[0].message


def test_hints_never_give_the_formula_away(outcomes):
    tensors.outer_sum(lambda a, b: a[None, :] + b[:, None], pytorch)
    gradient_descent.mse_gradient(lambda t, X, y: 3 * X.T @ (X @ t - y), pytorch)
    linear_models.softmax_regression_gradient(
        lambda *a: (2 * softmax_gradient_torch(*a)[0], 0), pytorch
    )
    text = " ".join(o.message for o in outcomes())
    for formula in ("(n, 1)", "Xᵀ(Xθ", "2/n", "onehot", "softmax(Z) −", "keepdims"):
        assert formula not in text


def test_switched_off_shortcuts_are_restored_even_after_an_error():
    targets = checks.idiom(pytorch).autograd() + checks.idiom(tensorflow).convolution()
    with pytest.raises(RuntimeError), switched_off(targets, reason="test"):
        raise RuntimeError
    x = torch.ones(2, requires_grad=True)
    (2 * x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert "log_softmax" not in vars(torch.Tensor) or torch.Tensor.log_softmax
    assert tf.nn.conv2d(tf.ones((1, 3, 3, 1)), tf.ones((2, 2, 1, 1)), 1, "VALID").shape == (
        1,
        2,
        2,
        1,
    )


def test_float32_rounding_is_named_as_such():
    with pytest.raises(checks.Mismatch, match="float32 rounding"):
        checks.expect_array(np.float32(0.1) * np.ones(3), 0.1 * np.ones(3), what="x", atol=1e-12)


def test_expect_array_accepts_numbers_and_rejects_non_arrays():
    assert checks.expect_array(1.0, np.array(1.0), what="x", atol=0).shape == ()
    with pytest.raises(checks.Mismatch, match="not an array"):
        checks.as_numpy(object.__new__(type("Odd", (), {"__array__": lambda self: 1 / 0})), "f")


def test_an_extra_axis_of_size_one_is_told_apart_from_swapped_axes():
    with pytest.raises(checks.Mismatch, match="an extra or a missing axis of size 1"):
        checks.expect_array(np.ones((3, 1)), np.ones(3), what="x", atol=0)
    with pytest.raises(checks.Mismatch, match="transposed"):
        checks.expect_array(
            np.arange(6.0).reshape(3, 2), np.arange(6.0).reshape(3, 2).T, what="x", atol=0
        )


def test_every_lesson_module_registers_its_exercises_in_order():
    """Numbers come from the checks' order in their module (titles: see test_pairing)."""
    items = checks.exercises_of("convolution")
    assert [item.check for item in items] == [
        "output_size",
        "conv2d_im2col",
        "max_pool_backward",
        "convert_kernel",
        "port_strided_conv",
    ]
    assert items[0].heading == "Exercise 1: Output sizes"
    assert [item.number for item in items] == [1, 2, 3, 4, 5]
    assert checks.exercises_of("no_such_lesson") == []


def test_reference_adam_forms_differ_where_epsilon_shows():
    args = (np.zeros(1), np.array([1e-8]), np.zeros(1), np.zeros(1))
    ours = classification.adam_step(*args, step=1, lr=1.0)
    theirs = classification.adam_step(*args, step=1, lr=1.0, epsilon_style="keras")
    assert not np.allclose(ours[0], theirs[0])


# --------------------------------------------------------------------------- the references' forms


def test_the_keras_forms_are_what_keras_computes():
    """The TensorFlow twin asks for Keras' forms: the references must be Keras' own arithmetic."""
    theta, grad = np.array([0.5, -1.5]), np.array([0.3, 0.7])
    variable = tf.Variable(theta)
    sgd = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, weight_decay=0.05)
    sgd.apply_gradients([(tf.constant(grad), variable)])
    expected = training.weight_decay_step(
        theta,
        grad,
        np.zeros(2),
        lr=0.1,
        momentum=0.9,
        weight_decay=0.05,
        decoupled=True,
        form="keras",
    )
    np.testing.assert_allclose(variable.numpy(), expected[0], rtol=1e-6)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, 90, warmup_target=0.1, warmup_steps=10)
    for step in (0, 5, 10, 60):
        rate = training.warmup_cosine(
            step, total_steps=100, base_lr=0.1, warmup_steps=10, form="keras"
        )
        assert math.isclose(float(schedule(step)), rate, abs_tol=1e-7)


def test_the_pytorch_forms_are_what_pytorch_computes():
    theta, grad = np.array([0.5, -1.5]), np.array([0.3, 0.7])
    parameter = torch.tensor(theta, requires_grad=True)
    parameter.grad = torch.tensor(grad)
    torch.optim.SGD([parameter], lr=0.1, momentum=0.9, weight_decay=0.05).step()
    expected = training.weight_decay_step(
        theta, grad, np.zeros(2), lr=0.1, momentum=0.9, weight_decay=0.05, decoupled=False
    )
    np.testing.assert_allclose(parameter.detach().numpy(), expected[0], rtol=1e-12)


def test_a_title_that_repeats_the_number_is_refused():
    with pytest.raises(ValueError, match="without 'Exercise N'"):
        checks.exercise("Exercise 1 (softplus derivative)")
