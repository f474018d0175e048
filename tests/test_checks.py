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

from conftest import case_id, verdict
from diptych import checks
from diptych.checks import cnn, gradient_descent, linear_models, mlp, tensors, training_practice
from diptych.checks.idioms import switched_off
from diptych.reference import classification, training

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


def grad_unwatched(fn, x):
    with tf.GradientTape() as tape:
        value = fn(x)
    return tape.gradient(value, x)


def central_torch(fn, x, eps):
    steps = eps * torch.eye(len(x), dtype=x.dtype)
    return torch.stack([(fn(x + s) - fn(x - s)) / (2 * eps) for s in steps])


def central_tf(fn, x, eps):
    steps = eps * tf.eye(len(x), dtype=x.dtype)
    return tf.stack([(fn(x + s) - fn(x - s)) / (2 * eps) for s in steps])


def central_by_autograd(fn, x, eps):
    return grad_torch(fn, x)


def central_by_tape(fn, x, eps):
    return grad_tape(fn, x)


def one_sided(fn, x, eps):
    steps = eps * torch.eye(len(x), dtype=x.dtype)
    return torch.stack([(fn(x + s) - fn(x)) / eps for s in steps])


def central_in_place(fn, x, eps):
    out = []
    for i in range(len(x)):
        x[i] += eps
        up = fn(x)
        x[i] -= 2 * eps
        out.append((up - fn(x)) / (2 * eps))
    return torch.stack(out)


# --------------------------------------------------------------------------- lesson 02


def mse_torch(theta, X, y):
    return 2 / len(y) * X.T @ (X @ theta - y)


def mse_tf(theta, X, y):
    return 2 / len(y) * tf.linalg.matvec(X, tf.linalg.matvec(X, theta) - y, transpose_a=True)


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


def adam(form, sqrt):
    def step_fn(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        if form == "keras":
            alpha = lr * (1 - beta2**step) ** 0.5 / (1 - beta1**step)
            return param - alpha * m / (sqrt(v) + eps), m, v
        m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
        return param - lr * m_hat / (sqrt(v_hat) + eps), m, v

    return step_fn


def adam_step_from_zero(param, grad, m, v, step, **hyper):
    return adam("pytorch", torch.sqrt)(param, grad, m, v, step + 1, **hyper)


# --------------------------------------------------------------------------- lesson 04


def forward_torch(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def forward_keras(X, W1, b1, W2, b2):
    return keras.activations.relu(X @ W1 + b1) @ W2 + b2


def linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def load_torch(model, layers):
    with torch.no_grad():
        for linear, w in zip(linears(model), layers, strict=True):
            linear.weight.copy_(torch.from_numpy(w["W"].T))
            linear.bias.copy_(torch.from_numpy(w["b"]))


def load_keras(model, layers):
    for dense, w in zip(model.layers, layers, strict=True):
        dense.set_weights([w["W"], w["b"]])


def load_sharing_memory(model, layers):
    for linear, w in zip(linears(model), layers, strict=True):
        linear.weight.data = torch.from_numpy(w["W"].T)
        linear.bias.data = torch.from_numpy(w["b"])


def load_reshaped(model, layers):
    with torch.no_grad():
        for linear, w in zip(linears(model), layers, strict=True):
            linear.weight.copy_(torch.from_numpy(w["W"]).reshape(linear.weight.shape))
            linear.bias.copy_(torch.from_numpy(w["b"]))


def load_transposing_the_callers_dict(model, layers):
    with torch.no_grad():
        for linear, w in zip(linears(model), layers, strict=True):
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


def patience_first(losses, patience):
    """Tests patience before looking at the epoch's loss (quoted from a real try)."""
    best = 0
    for epoch, loss in enumerate(losses):
        if epoch - best >= patience:
            return best, epoch
        if loss < losses[best]:
            best = epoch
    return best, None


def ties_improve(losses, patience):
    best = 0
    for epoch, loss in enumerate(losses):
        if loss <= losses[best]:
            best = epoch
        if epoch - best >= patience:
            return best, epoch
    return best, None


def argmin_of_all(losses, patience):
    return int(np.argmin(losses)), training.early_stopping(losses, patience)[1]


def decay(form, mistake=None):
    def step_fn(theta, grad, velocity, lr, momentum, weight_decay, decoupled):
        in_velocity = not decoupled if mistake is None else mistake == "always in velocity"
        if not in_velocity:
            theta = theta - lr * weight_decay * theta
        else:
            grad = grad + weight_decay * theta
        if form == "keras":
            velocity = momentum * velocity - lr * grad
            return theta + velocity, velocity
        velocity = momentum * velocity + grad
        return theta - lr * velocity, velocity

    return step_fn


def warmup_cosine(form):
    def rate(step, total_steps, base_lr, warmup_steps):
        if step < warmup_steps:
            return base_lr * (step + (form == "pytorch")) / warmup_steps
        progress = (step - warmup_steps) / (total_steps - warmup_steps)
        return base_lr * 0.5 * (1 + math.cos(math.pi * progress))

    return rate


def keras_cosine_decay(step, total_steps, base_lr, warmup_steps):
    return keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup_steps, warmup_target=base_lr, warmup_steps=warmup_steps
    )(step)


def cosine_not_shifted(step, total_steps, base_lr, warmup_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return base_lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))


def dropout_torch(x, p):
    if p == 0:
        return x
    return x * (torch.rand(x.shape, dtype=x.dtype) >= p) / (1 - p)


def dropout_tf(x, p):
    keep = tf.cast(tf.random.uniform(tf.shape(x), dtype=x.dtype) >= p, x.dtype)
    return x * keep / (1 - p)


def dropout_keeps_p(x, p):
    return x * (torch.rand(x.shape, dtype=x.dtype) < p) / (1 - p) if p else x


def dropout_unscaled(x, p):
    return x * (torch.rand(x.shape, dtype=x.dtype) >= p)


def dropout_in_place(x, p):
    return x.mul_((torch.rand(x.shape, dtype=x.dtype) >= p) / (1 - p))


# --------------------------------------------------------------------------- lesson 06


def size_right(n, kernel, stride, padding):
    if padding == "same":
        return -(-n // stride)
    padding = 0 if padding == "valid" else padding
    return (n + 2 * padding - kernel) // stride + 1


def size_symmetric_same(n, kernel, stride, padding):
    """TF's 'same' taken as (k − 1)//2 on each side (quoted from a real try)."""
    padding = {"same": (kernel - 1) // 2, "valid": 0}.get(padding, padding)
    return (n + 2 * padding - kernel) // stride + 1


def im2col_torch(x, kernel, bias):
    o, c, k, _ = kernel.shape
    n, _, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    windows = torch.stack(
        [torch.stack([x[:, :, p : p + oh, q : q + ow] for q in range(k)], dim=2) for p in range(k)],
        dim=2,
    )
    out = kernel.reshape(o, -1) @ windows.reshape(n, c * k * k, oh * ow)
    return out.reshape(n, o, oh, ow) + bias.reshape(1, o, 1, 1)


def im2col_unfold(x, kernel, bias):
    o, _, k, _ = kernel.shape
    n, _, h, w = x.shape
    out = kernel.reshape(o, -1) @ F.unfold(x, k)
    return out.reshape(n, o, h - k + 1, w - k + 1) + bias.reshape(1, o, 1, 1)


def im2col_patches(x, kernel, bias):
    k, _, c, o = kernel.shape
    patches = tf.image.extract_patches(x, [1, k, k, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
    return patches @ tf.reshape(kernel, (k * k * c, o)) + bias


def im2col_swapped(x, kernel, bias):
    return tf.transpose(im2col_patches(x, kernel, bias), (0, 2, 1, 3))


def im2col_flipped(x, kernel, bias):
    return im2col_torch(x, torch.flip(kernel, dims=(2, 3)), bias)


def pool_backward_torch(x, grad_out):
    n, c, h, w = x.shape
    windows = (
        x.reshape(n, c, h // 2, 2, w // 2, 2)
        .permute(0, 1, 2, 4, 3, 5)
        .reshape(n, c, h // 2, w // 2, 4)
    )
    grad = F.one_hot(windows.argmax(dim=-1), 4).to(x.dtype) * grad_out[..., None]
    return grad.reshape(n, c, h // 2, w // 2, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


def pool_backward_tf(x, grad_out):
    n, h, w, c = x.shape
    windows = tf.reshape(
        tf.transpose(tf.reshape(x, (n, h // 2, 2, w // 2, 2, c)), (0, 1, 3, 5, 2, 4)),
        (n, h // 2, w // 2, c, 4),
    )
    grad = tf.one_hot(tf.argmax(windows, axis=-1), 4, dtype=x.dtype) * grad_out[..., None]
    grad = tf.transpose(tf.reshape(grad, (n, h // 2, w // 2, c, 2, 2)), (0, 1, 4, 2, 5, 3))
    return tf.reshape(grad, (n, h, w, c))


def pool_backward_by_autograd(x, grad_out):
    x = x.clone().requires_grad_(True)
    F.max_pool2d(x, 2).backward(grad_out)
    return x.grad


def pool_backward_by_tape(x, grad_out):
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled = tf.nn.max_pool2d(x, 2, 2, "VALID")
    return tape.gradient(pooled, x, output_gradients=grad_out)


def pool_backward_average(x, grad_out):
    return torch.repeat_interleave(torch.repeat_interleave(grad_out, 2, dim=2), 2, dim=3) / 4


def batch_norm_torch(x, gamma, beta, eps, axes=(0, 2, 3), correction=0, affine=True):
    mean = x.mean(dim=axes, keepdim=True)
    var = x.var(dim=axes, keepdim=True, correction=correction)
    normal = (x - mean) / torch.sqrt(var + eps)
    return gamma[None, :, None, None] * normal + beta[None, :, None, None] if affine else normal


def batch_norm_tf(x, gamma, beta, eps):
    mean, var = tf.nn.moments(x, axes=[0, 1, 2])
    return gamma * (x - mean) / tf.sqrt(var + eps) + beta


def batch_norm_by_keras(x, gamma, beta, eps):
    layer = keras.layers.BatchNormalization(epsilon=eps, dtype="float64")
    layer.build(x.shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    return layer(x, training=True)


def batch_norm_eps_outside(x, gamma, beta, eps):
    mean, var = tf.nn.moments(x, axes=[0, 1, 2])
    return gamma * (x - mean) / (tf.sqrt(var) + eps) + beta


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
    (tensors.outer_sum, lambda a, b: a[:, None] + b[None, :], pytorch),
    (tensors.outer_sum, lambda a, b: tf.reshape(a, (-1, 1)) + b, tensorflow),
    (tensors.standardise_rows, standardise_torch, pytorch),
    (tensors.standardise_rows, standardise_tf, tensorflow),
    (gradient_descent.fastest_learning_rate, fastest_torch, pytorch),
    (gradient_descent.fastest_learning_rate, fastest_tf, tensorflow),
    (linear_models.binary_cross_entropy, lambda z, t: (F.softplus(z) - t * z).mean(), pytorch),
    (linear_models.binary_cross_entropy, F.binary_cross_entropy_with_logits, pytorch),
    (
        linear_models.binary_cross_entropy,
        lambda z, t: tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(t, z)),
        tensorflow,
    ),
    (tensors.autograd_gradient, grad_torch, pytorch),
    (tensors.autograd_gradient, grad_tape, tensorflow),
    (tensors.central_difference, central_torch, pytorch),
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
    (linear_models.adam_step, adam("pytorch", torch.sqrt), pytorch),
    (linear_models.adam_step, adam("keras", tf.sqrt), tensorflow),
    (mlp.mlp_forward, forward_torch, pytorch),
    (mlp.mlp_forward, forward_keras, tensorflow),
    (mlp.load_weights, load_torch, pytorch),
    (mlp.load_weights, load_keras, tensorflow),
    (mlp.init_std, lambda fan_in, fan_out: math.sqrt(2 / fan_in), pytorch),
    (mlp.init_std, lambda fan_in, fan_out: tf.sqrt(2.0 / fan_in), tensorflow),
    (mlp.train_step, train_torch, pytorch),
    (mlp.train_step, train_keras, tensorflow),
    (mlp.mlp_gradients, backprop_torch, pytorch),
    (mlp.mlp_gradients, backprop_tf, tensorflow),
    (training_practice.early_stopping, training.early_stopping, pytorch),
    (training_practice.weight_decay_step, decay("pytorch"), pytorch),
    (training_practice.weight_decay_step, decay("keras"), tensorflow),
    (training_practice.warmup_cosine, warmup_cosine("pytorch"), pytorch),
    (training_practice.warmup_cosine, warmup_cosine("keras"), tensorflow),
    (training_practice.warmup_cosine, keras_cosine_decay, tensorflow),
    (training_practice.inverted_dropout, dropout_torch, pytorch),
    (training_practice.inverted_dropout, dropout_tf, tensorflow),
    (cnn.output_size, size_right, pytorch),
    (cnn.conv2d_im2col, im2col_torch, pytorch),
    (cnn.conv2d_im2col, im2col_unfold, pytorch),
    (cnn.conv2d_im2col, im2col_patches, tensorflow),
    (cnn.max_pool_backward, pool_backward_torch, pytorch),
    (cnn.max_pool_backward, pool_backward_tf, tensorflow),
    (cnn.convert_kernel, lambda k: np.transpose(k, (3, 2, 0, 1)), pytorch),
    (cnn.convert_kernel, lambda k: tf.transpose(k, (2, 3, 1, 0)), tensorflow),
    (cnn.batch_norm, batch_norm_torch, pytorch),
    (cnn.batch_norm, batch_norm_tf, tensorflow),
]

WRONG = [
    (
        tensors.softplus_derivative,
        lambda x: torch.exp(x) / (1 + torch.exp(x)),
        pytorch,
        "nan at input 800",
    ),
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
    (gradient_descent.sgd_step, sgd_leaking, pytorch, "step 1 is right, but step 2"),
    (gradient_descent.sgd_step, sgd_in_place, pytorch, "changed its input `theta` in place"),
    (gradient_descent.sgd_step, sgd_uphill, tensorflow, "uphill"),
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
    (linear_models.adam_step, adam("keras", torch.sqrt), pytorch, "Keras' placement of ε"),
    (linear_models.adam_step, adam("pytorch", tf.sqrt), tensorflow, "PyTorch's placement of ε"),
    (linear_models.adam_step, adam_step_from_zero, pytorch, "step counter 4"),
    (mlp.mlp_forward, lambda X, W1, b1, W2, b2: (X @ W1 + b1) @ W2 + b2, pytorch, "needs its ReLU"),
    (mlp.mlp_forward, lambda *a: torch.relu(forward_torch(*a)), pytorch, "never negative"),
    (mlp.load_weights, load_reshaped, pytorch, "a reshape keeps the numbers in their order"),
    (mlp.load_weights, load_sharing_memory, pytorch, "shares memory"),
    (mlp.load_weights, load_transposing_the_callers_dict, pytorch, "changed the `layers`"),
    (mlp.init_std, lambda fan_in, fan_out: math.sqrt(2 / fan_out), pytorch, "fan-out"),
    (mlp.init_std, lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out)), tensorflow, "Glorot"),
    (mlp.init_std, lambda fan_in, fan_out: 0.01, pytorch, "shrinks"),
    (mlp.train_step, train_without_zero_grad, pytorch, "later ones are not"),
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
    (training_practice.early_stopping, patience_first, pytorch, "patience is tested before"),
    (training_practice.early_stopping, ties_improve, tensorflow, "strictly lower"),
    (training_practice.early_stopping, argmin_of_all, pytorch, "cannot see the future"),
    (
        training_practice.weight_decay_step,
        decay("pytorch"),
        tensorflow,
        "PyTorch's form of the velocity",
    ),
    (training_practice.weight_decay_step, decay("keras"), pytorch, "Keras' form of the velocity"),
    (
        training_practice.weight_decay_step,
        decay("pytorch", "always in velocity"),
        pytorch,
        "must stay out of the velocity",
    ),
    (
        training_practice.weight_decay_step,
        decay("pytorch", "never in velocity"),
        pytorch,
        "enters the velocity",
    ),
    (training_practice.warmup_cosine, warmup_cosine("keras"), pytorch, "Keras' warm-up"),
    (training_practice.warmup_cosine, warmup_cosine("pytorch"), tensorflow, "PyTorch's warm-up"),
    (training_practice.warmup_cosine, cosine_not_shifted, pytorch, "start where the warm-up ends"),
    (
        training_practice.inverted_dropout,
        lambda x, p: F.dropout(x, p),
        pytorch,
        "calls torch.nn.functional.dropout",
    ),
    (
        training_practice.inverted_dropout,
        lambda x, p: keras.layers.Dropout(p)(x, training=True),
        tensorflow,
        "calls keras.layers.Dropout",
    ),
    (
        training_practice.inverted_dropout,
        dropout_keeps_p,
        pytorch,
        "probability to drop, not to keep",
    ),
    (training_practice.inverted_dropout, dropout_unscaled, pytorch, "expected value"),
    (training_practice.inverted_dropout, dropout_in_place, pytorch, "in place"),
    (cnn.output_size, size_symmetric_same, tensorflow, "even kernel"),
    (
        cnn.output_size,
        lambda n, kernel, stride, padding: (n - kernel) // stride + 1,
        pytorch,
        "expected",
    ),
    (
        cnn.conv2d_im2col,
        lambda x, k, b: F.conv2d(x, k, b),
        pytorch,
        "calls torch.nn.functional.conv2d",
    ),
    (
        cnn.conv2d_im2col,
        lambda x, k, b: torch.nn.Conv2d(1, 1, 1)(x),
        pytorch,
        "calls torch.nn.functional.conv2d",
    ),
    (
        cnn.conv2d_im2col,
        lambda x, k, b: tf.nn.conv2d(x, k, 1, "VALID") + b,
        tensorflow,
        "calls tf.nn.conv2d",
    ),
    (cnn.conv2d_im2col, im2col_swapped, tensorflow, "height and width swapped"),
    (cnn.conv2d_im2col, im2col_flipped, pytorch, "flipped the kernel"),
    (cnn.conv2d_im2col, lambda x, k, b: im2col_torch(x, k, 0 * b), pytorch, "bias is missing"),
    (cnn.max_pool_backward, pool_backward_by_autograd, pytorch, "calls Tensor.backward"),
    (cnn.max_pool_backward, pool_backward_by_tape, tensorflow, "calls tf.GradientTape"),
    (cnn.max_pool_backward, pool_backward_average, pytorch, "as average pooling would"),
    (
        cnn.convert_kernel,
        lambda k: np.reshape(k, (5, 4, 3, 6)),
        tensorflow,
        "a reshape keeps the numbers",
    ),
    (
        cnn.convert_kernel,
        lambda k: np.transpose(k, (3, 2, 1, 0)),
        tensorflow,
        "height and width swapped",
    ),
    (
        cnn.convert_kernel,
        lambda k: np.transpose(k, (2, 3, 0, 1)),
        tensorflow,
        "in channels and out channels swapped",
    ),
    (cnn.batch_norm, functools.partial(batch_norm_torch, correction=1), pytorch, "n − 1"),
    (cnn.batch_norm, functools.partial(batch_norm_torch, axes=(2, 3)), pytorch, "each image's"),
    (cnn.batch_norm, functools.partial(batch_norm_torch, axes=(0,)), pytorch, "per pixel"),
    (
        cnn.batch_norm,
        functools.partial(batch_norm_torch, axes=(0, 1, 2, 3)),
        pytorch,
        "all channels",
    ),
    (cnn.batch_norm, batch_norm_eps_outside, tensorflow, "inside the square root"),
    (cnn.batch_norm, functools.partial(batch_norm_torch, affine=False), pytorch, "γ and β"),
    (
        cnn.batch_norm,
        lambda x, gamma, beta, eps: F.batch_norm(x, None, None, gamma, beta, True, 0.1, eps),
        pytorch,
        "calls torch.nn.functional.batch_norm",
    ),
    (
        cnn.batch_norm,
        lambda x, gamma, beta, eps: torch.nn.BatchNorm2d(3, eps=eps, dtype=x.dtype)(x),
        pytorch,
        "calls torch.nn.functional.batch_norm",
    ),
    (cnn.batch_norm, batch_norm_by_keras, tensorflow, "calls tf.nn.batch_normalization"),
    (
        cnn.batch_norm,
        lambda x, gamma, beta, eps: tf.transpose(batch_norm_tf(x, gamma, beta, eps), (0, 3, 1, 2)),
        tensorflow,
        "shape",
    ),
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
        "linear_models",
        "mlp",
        "training_practice",
        "cnn",
    ):
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
    items = checks.exercises_of("cnn")
    assert [item.check for item in items] == [
        "output_size",
        "conv2d_im2col",
        "max_pool_backward",
        "convert_kernel",
        "batch_norm",
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


def test_the_max_pool_backward_reference_is_what_autograd_computes():
    from diptych.reference import conv

    rng = np.random.default_rng(0)
    x, upstream = rng.normal(size=(2, 3, 6, 4)), rng.normal(size=(2, 3, 3, 2))
    tensor = torch.tensor(x, requires_grad=True)
    F.max_pool2d(tensor, 2).backward(torch.tensor(upstream))
    np.testing.assert_array_equal(conv.max_pool2d_backward(x, upstream), tensor.grad.numpy())


def test_a_title_that_repeats_the_number_is_refused():
    with pytest.raises(ValueError, match="without 'Exercise N'"):
        checks.exercise("Exercise 1 (softplus derivative)")
