"""Lesson 04's new self-checks: a model for any layer sizes (exercise 1) and the bugs in a training
step (exercise 4). Idiomatic right answers pass in each twin; typical wrong ones fail by name.
Also: every PyTorch check passes a right answer when ``adapter.device()`` is not the CPU (CUDA, or
Apple's MPS, which keeps float64 on the CPU), and exercise 5 names float32 meeting float64.

Lesson 04's other exercises, and one right answer per framework for these two, sit in
``tests/test_checks.py``'s table with the earlier lessons'.
"""

import math

import numpy as np
import pytest

from diptych import checks
from diptych.checks import mlp

from helpers import case_id, verdict

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
keras = pytest.importorskip("keras")
tf = tensorflow.tf
nn = torch.nn
F = torch.nn.functional


# --------------------------------------------------------------------------- exercise 1: PyTorch


class MLP(nn.Module):
    """The exercise's idiomatic answer: a ModuleList, ReLU after every layer but the last."""

    def __init__(self, sizes, activation=torch.relu, last=None, bias=True):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(sizes[i], sizes[i + 1], bias=bias) for i in range(len(sizes) - 1)
        )
        self.activation, self.last = activation, last

    def forward(self, X):
        for layer in self.layers[:-1]:
            X = self.activation(layer(X))
        X = self.layers[-1](X)
        return X if self.last is None else self.last(X)


def sequential_in_a_loop(sizes):
    modules = []
    for i in range(len(sizes) - 1):
        modules.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


class PlainList(nn.Module):
    """Layers in a Python list: PyTorch does not see them."""

    def __init__(self, sizes):
        super().__init__()
        self.layers = [nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]

    def forward(self, X):
        for layer in self.layers[:-1]:
            X = torch.relu(layer(X))
        return self.layers[-1](X)


class FirstHiddenOnly(MLP):
    def forward(self, X):
        X = torch.relu(self.layers[0](X))
        for layer in self.layers[1:]:
            X = layer(X)
        return X


class RegisteredBackwards(nn.Module):
    """Layers registered in reverse order, used in the right one: still a right answer."""

    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(
            reversed([nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)])
        )

    def forward(self, X):
        for layer in list(self.layers)[::-1][:-1]:
            X = torch.relu(layer(X))
        return self.layers[0](X)


def fixed_sizes(sizes):
    return MLP([64, 64, 10])


def popping(sizes):
    sizes.pop()
    return MLP([*sizes, 3])


# --------------------------------------------------------------------------- exercise 1: Keras


def functional(sizes, hidden="relu", last=None):
    inputs = keras.Input((sizes[0],))
    h = inputs
    for n in sizes[1:-1]:
        h = keras.layers.Dense(n, activation=hidden)(h)
    return keras.Model(inputs, keras.layers.Dense(sizes[-1], activation=last)(h))


def sequential_keras(sizes):
    hidden = [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
    return keras.Sequential([*hidden, keras.layers.Dense(sizes[-1])])  # built on first call


class Subclassed(keras.Model):
    def __init__(self, sizes):
        super().__init__()
        self.hidden = [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
        self.out = keras.layers.Dense(sizes[-1])

    def call(self, X):
        for layer in self.hidden:
            X = layer(X)
        return self.out(X)


def outputs_only(sizes):
    inputs = keras.Input((sizes[0],))
    h = inputs
    for n in sizes[1:-1]:
        h = keras.layers.Dense(n, activation="relu")(h)
    return keras.layers.Dense(sizes[-1])(h)  # the tensor, not a model


# --------------------------------------------------------------------------- exercise 4: PyTorch


def step_torch(model, optimizer, X, y):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_as_given_torch(model, optimizer, X, y):
    """The exercise's broken step, unchanged."""
    logits = model(X)
    loss = F.cross_entropy(torch.softmax(logits, dim=1), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_softmax_fixed_only(model, optimizer, X, y):
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_zero_grad_added_only(model, optimizer, X, y):
    optimizer.zero_grad()
    loss = F.cross_entropy(torch.softmax(model(X), dim=1), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_zero_grad_too_late(model, optimizer, X, y):
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


# --------------------------------------------------------------------------- exercise 4: Keras


def step_keras(model, optimizer, X, y, from_logits=True, inside=True, softmax=False):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    with tf.GradientTape() as tape:
        logits = model(X, training=True)
        outputs = tf.nn.softmax(logits) if softmax else logits
        if inside:
            loss = loss_fn(y, outputs)
    if not inside:
        loss = loss_fn(y, outputs)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return float(loss)


def step_gradient_inside_the_tape(model, optimizer, X, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(X))
        gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return loss


def step_as_given_keras(model, optimizer, X, y):
    return step_keras(model, optimizer, X, y, from_logits=False, inside=False)


# --------------------------------------------------------------------------- exercises 2, 3 and 5


def load_torch(linears, layers):
    with torch.no_grad():
        for linear, w in zip(linears, layers, strict=True):
            linear.weight.copy_(torch.from_numpy(w["W"].T))
            linear.bias.copy_(torch.from_numpy(w["b"]))


def he_std(fan_in, fan_out):
    return math.sqrt(2 / fan_in)


def backprop_torch(X, y, W1, b1, W2, b2, ones_dtype=None):
    H = torch.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    dZ = (torch.softmax(Z, dim=1) - F.one_hot(y, Z.shape[1])) / len(y)
    dA = (dZ @ W2.T) * (1 - H**2)
    column = torch.ones(len(y), dtype=ones_dtype or X.dtype)  # 1ᵀδ sums δ over the batch
    return X.T @ dA, column @ dA, H.T @ dZ, column @ dZ


def backprop_keras(X, y, W1, b1, W2, b2, one_hot_dtype=tf.float64):
    H = tf.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    dZ = (tf.nn.softmax(Z) - tf.one_hot(y, Z.shape[1], dtype=one_hot_dtype)) / len(y)
    dA = (dZ @ tf.transpose(W2)) * (1 - H**2)
    return tf.transpose(X) @ dA, tf.reduce_sum(dA, 0), tf.transpose(H) @ dZ, tf.reduce_sum(dZ, 0)


def backprop_lesson_one_hot(X, y, W1, b1, W2, b2):
    """The lesson's `tf.one_hot(y, 10)`, copied with k: float32 against float64 inputs."""
    H = tf.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    dZ = (tf.nn.softmax(Z) - tf.one_hot(y, Z.shape[1])) / len(y)
    dA = (dZ @ tf.transpose(W2)) * (1 - H**2)
    return tf.transpose(X) @ dA, tf.reduce_sum(dA, 0), tf.transpose(H) @ dZ, tf.reduce_sum(dZ, 0)


def load_by_set_weights(denses, layers):
    for dense, w in zip(denses, layers, strict=True):
        dense.set_weights([w["W"], w["b"]])


def load_without_no_grad(linears, layers):
    for linear, w in zip(linears, layers, strict=True):
        linear.weight.copy_(torch.from_numpy(w["W"].T))
        linear.bias.copy_(torch.from_numpy(w["b"]))


RIGHT = [
    (mlp.build_mlp, MLP, pytorch),
    (mlp.build_mlp, sequential_in_a_loop, pytorch),
    (mlp.build_mlp, RegisteredBackwards, pytorch),
    (mlp.build_mlp, functional, tensorflow),
    (mlp.build_mlp, sequential_keras, tensorflow),
    (mlp.build_mlp, Subclassed, tensorflow),
    (mlp.train_step, step_torch, pytorch),
    (mlp.train_step, step_keras, tensorflow),
    (mlp.train_step, step_gradient_inside_the_tape, tensorflow),
    (mlp.load_weights, load_by_set_weights, tensorflow),
    (mlp.mlp_gradients, backprop_torch, pytorch),
    (mlp.mlp_gradients, backprop_keras, tensorflow),
]

WRONG = [
    (mlp.build_mlp, PlainList, pytorch, "not registered"),
    (mlp.build_mlp, lambda s: MLP(s, activation=lambda x: x), pytorch, "collapse into one"),
    (mlp.build_mlp, lambda s: MLP(s, last=torch.relu), pytorch, "never negative"),
    (mlp.build_mlp, lambda s: MLP(s, last=lambda z: z.softmax(dim=1)), pytorch, "probabilities"),
    (mlp.build_mlp, lambda s: MLP(s, activation=torch.tanh), pytorch, "tanh"),
    (mlp.build_mlp, FirstHiddenOnly, pytorch, "hidden layer 2 has no ReLU"),
    (mlp.build_mlp, fixed_sizes, pytorch, "needs 3 dense layers, 7→5, 5→4, 4→3"),
    (mlp.build_mlp, lambda s: MLP(s, bias=False), pytorch, "has no bias"),
    (mlp.build_mlp, lambda s: None, pytorch, "forget the `return`"),
    (mlp.build_mlp, lambda s: MLP, pytorch, "not a type"),
    (mlp.build_mlp, popping, pytorch, "changed the `sizes`"),
    (mlp.build_mlp, lambda s: functional(s, hidden=None), tensorflow, "collapse into one"),
    (mlp.build_mlp, lambda s: functional(s, last="relu"), tensorflow, "never negative"),
    (mlp.build_mlp, lambda s: functional(s, last="softmax"), tensorflow, "probabilities"),
    (mlp.build_mlp, outputs_only, tensorflow, "not a KerasTensor"),
    (mlp.train_step, step_as_given_torch, pytorch, "softmax twice"),
    (mlp.train_step, step_zero_grad_added_only, pytorch, "softmax twice"),
    (mlp.train_step, step_softmax_fixed_only, pytorch, "never cleared"),
    (mlp.train_step, step_zero_grad_too_late, pytorch, "never applied"),
    (mlp.train_step, step_as_given_keras, tensorflow, "no gradient reached any weight"),
    (
        mlp.train_step,
        lambda *a: step_keras(*a, from_logits=False),
        tensorflow,
        "took the logits for probabilities",
    ),
    (mlp.train_step, lambda *a: step_keras(*a, inside=False), tensorflow, "no gradient reached"),
    (mlp.train_step, lambda *a: step_keras(*a, softmax=True), tensorflow, "softmax twice"),
    (mlp.load_weights, load_without_no_grad, pytorch, "autograd refused the in-place copy"),
    (mlp.mlp_gradients, backprop_lesson_one_hot, tensorflow, "a float32 tensor and a float64 one"),
    (
        mlp.mlp_gradients,
        lambda *a: backprop_keras(*a, one_hot_dtype=tf.float32),
        tensorflow,
        "a float32 tensor and a float64 one",
    ),
    (
        mlp.mlp_gradients,
        lambda *a: backprop_torch(*a, ones_dtype=torch.float32),  # torch.ones' default
        pytorch,
        "a float32 tensor and a float64 one",
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
    assert named in outcome.message, outcome.message


def test_both_new_checks_have_a_right_answer_per_framework_and_wrong_ones_in_each():
    for check in (mlp.build_mlp, mlp.train_step):
        assert {a.NAME for c, _, a in RIGHT if c is check} == {"PyTorch", "TensorFlow"}
        assert {a.NAME for c, _, a, _ in WRONG if c is check} == {"PyTorch", "TensorFlow"}


def test_the_exercises_are_registered_in_order():
    items = checks.exercises_of("mlp")
    assert [item.heading for item in items] == [
        "Exercise 1: A model for any layer sizes",
        "Exercise 2: Porting weights into layers",
        "Exercise 3: An initialisation that trains deep",
        "Exercise 4: Finding the bugs in a training step",
        "Exercise 5: Backpropagation by hand",
    ]


def test_a_stub_is_not_done_yet_and_says_so_on_stderr(outcomes, capsys):
    def stub(*args):
        raise NotImplementedError("Exercise not done yet")

    mlp.build_mlp(stub, tensorflow)
    assert outcomes()[0].status == checks.NOT_DONE
    assert capsys.readouterr().err.startswith(
        "… Exercise 1: A model for any layer sizes — not done"
    )


def test_the_keras_fingerprint_is_what_keras_computes_from_logits_it_takes_for_probabilities():
    logits = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    logits[0, 0] = 2.0  # above 1: clipped
    labels = np.array([0, 1, 2, 3, 0, 1])
    keras_loss = keras.losses.SparseCategoricalCrossentropy()(labels, logits)
    assert np.isclose(mlp._probabilities_loss(logits, labels), float(keras_loss), rtol=1e-5)


def test_the_model_is_run_in_evaluation_mode_and_left_in_its_mode():
    from diptych.adapters import pytorch_mlp

    model = MLP([3, 4, 2])
    model.train()
    seen = []
    model.register_forward_hook(lambda module, inputs, output: seen.append(module.training))
    pytorch_mlp.predict(model, np.zeros((1, 3), dtype=np.float32))
    assert seen == [False] and model.training


def test_hints_never_give_the_code_away(outcomes):
    for check, learner, adapter, _ in WRONG:
        check(learner, adapter)
    text = " ".join(outcome.message for outcome in outcomes())
    for answer in (
        "ModuleList",
        "zero_grad",
        "from_logits",
        "no_grad",
        "activation=",
        "nn.ReLU",
        "dtype=",
        "float64)",
    ):
        assert answer not in text


# --------------------------------------------------------------------------- devices

META = torch.device("meta")  # a device that is not the CPU, standing in for CUDA or Apple's MPS

#: ``adapter.device`` on a CUDA machine (everything there) and on an Apple-silicon Mac (MPS, which
#: has no float64, so float64 tensors stay on the CPU)
NOT_THE_CPU = {
    "cuda": lambda float64=False: META,
    "mps": lambda float64=False: torch.device("cpu") if float64 else META,
}

#: one right PyTorch answer for each of the five exercises
RIGHT_IN_PYTORCH = [
    (mlp.build_mlp, MLP),
    (mlp.load_weights, load_torch),
    (mlp.init_std, he_std),
    (mlp.train_step, step_torch),
    (mlp.mlp_gradients, backprop_torch),
]


@pytest.mark.parametrize("machine", sorted(NOT_THE_CPU))
@pytest.mark.parametrize(
    "check, learner", RIGHT_IN_PYTORCH, ids=[c.__name__ for c, _ in RIGHT_IN_PYTORCH]
)
def test_a_right_pytorch_answer_passes_where_the_adapter_device_is_not_the_cpu(
    check, learner, machine, monkeypatch, outcomes
):
    monkeypatch.setattr(pytorch, "device", NOT_THE_CPU[machine])
    assert pytorch.from_numpy(np.zeros(2, dtype=np.float32)).device == META  # the stand-in holds
    outcome = verdict(check, learner, pytorch, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize("machine", sorted(NOT_THE_CPU))
def test_the_tensors_given_to_the_learner_share_the_models_device_and_each_others(
    machine, monkeypatch, outcomes
):
    monkeypatch.setattr(pytorch, "device", NOT_THE_CPU[machine])
    seen = []

    def spying_step(model, optimizer, X, y):
        seen.append({X.device, y.device, *(p.device for p in model.parameters())})
        return step_torch(model, optimizer, X, y)

    def spying_gradients(*tensors):
        seen.append({tensor.device for tensor in tensors})
        return backprop_torch(*tensors)

    mlp.train_step(spying_step, pytorch)
    mlp.mlp_gradients(spying_gradients, pytorch)
    assert [outcome.status for outcome in outcomes()] == [checks.PASSED] * 2
    assert len(seen) == 4 and all(devices == {torch.device("cpu")} for devices in seen), seen


class Stop(Exception):
    pass


def test_a_model_the_learner_moved_to_another_device_is_run_there():
    from diptych.adapters import pytorch_mlp

    model = MLP([3, 4, 2]).to(META)  # exercise 1's model, moved by the learner's own `.to(...)`
    seen = []

    def record_and_stop(module, inputs):  # a meta tensor has no values to bring back: stop here
        seen.append(inputs[0].device)
        raise Stop

    model.register_forward_pre_hook(record_and_stop)
    assert pytorch_mlp.device_of(model) == META and pytorch_mlp.device_of() == torch.device("cpu")
    with pytest.raises(Stop):
        pytorch_mlp.predict(model, np.zeros((1, 3), dtype=np.float32))
    assert seen == [META] and model.training
