"""Lesson 07's self-checks: idiomatic right answers pass in each twin, typical wrong ones fail by name.

Exercise 1 is BatchNorm by hand; exercise 2 hunts the evaluation bugs of a model with BatchNorm
(training mode, the mode not restored, a mean of batch means); exercise 3 builds the lesson's
CNN as each framework's users write it, and the check trains it.
"""

import functools

import numpy as np
import pytest

from diptych import checks
from diptych.checks import cnn

from helpers import case_id, verdict

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
keras = pytest.importorskip("keras")
tf = tensorflow.tf
F = torch.nn.functional
nn = torch.nn


# --------------------------------------------------------------------------- exercise 1


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


# --------------------------------------------------------------------------- exercise 2


def accuracy_torch(model, images, labels, batch_size=64):
    """The lesson's fix: inference mode (then the mode it came in), no graph, digits counted."""
    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            logits = model(images[start : start + batch_size])
            correct += (logits.argmax(dim=1) == labels[start : start + batch_size]).sum().item()
    model.train(was_training)
    return correct / len(labels)


def accuracy_torch_loader(model, images, labels, batch_size=64):
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, labels), batch_size=batch_size
    )
    mode = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for X_batch, y_batch in loader:
            correct += (model(X_batch).argmax(dim=1) == y_batch).sum()
    model.train(mode)
    return correct / len(labels)  # a 0-d tensor


def accuracy_keras(model, images, labels, batch_size=64):
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    correct = 0
    for X_batch, y_batch in dataset:
        predictions = tf.argmax(model(X_batch, training=False), axis=1)
        correct += int(tf.reduce_sum(tf.cast(predictions == y_batch, tf.int32)))
    return correct / len(labels)


def accuracy_keras_predict(model, images, labels, batch_size=64):
    predictions = model.predict(images, batch_size=batch_size, verbose=0).argmax(axis=1)
    return float(np.mean(predictions == labels.numpy()))


def accuracy_keras_evaluate(model, images, labels, batch_size=64):
    return model.evaluate(images, labels, batch_size=batch_size, verbose=0)[1]


def buggy_torch(model, images, labels, batch_size=64, *, mode="train", mean_of_means=True):
    """The exercise's function and its half-fixes: mode "train" (the bug), "eval" (eval() and
    never back), "restored" (eval(), then the mode it came in)."""
    was_training = model.training
    if mode != "train":
        model.eval()
    scores, correct = [], 0
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            hits = (
                model(images[start : start + batch_size]).argmax(dim=1)
                == labels[start : start + batch_size]
            )
            scores.append(hits.float().mean().item())
            correct += hits.sum().item()
    if mode == "restored":
        model.train(was_training)
    return sum(scores) / len(scores) if mean_of_means else correct / len(labels)


def accuracy_with_grad(model, images, labels, batch_size=64):
    was_training = model.training
    model.eval()
    predictions = model(images).argmax(dim=1)
    model.train(was_training)
    return (predictions == labels).float().mean().item()


def accuracy_always_train_after(model, images, labels, batch_size=64):
    model.eval()
    with torch.no_grad():
        result = (model(images).argmax(dim=1) == labels).float().mean().item()
    model.train()
    return result


def buggy_keras(model, images, labels, batch_size=64, *, training=True, mean_of_means=True):
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    scores, correct = [], 0
    for X_batch, y_batch in dataset:
        hits = tf.argmax(model(X_batch, training=training), axis=1) == y_batch
        scores.append(float(tf.reduce_mean(tf.cast(hits, tf.float32))))
        correct += int(tf.reduce_sum(tf.cast(hits, tf.int32)))
    return sum(scores) / len(scores) if mean_of_means else correct / len(labels)


def percent_keras(model, images, labels, batch_size=64):
    return 100 * accuracy_keras(model, images, labels, batch_size)


def count_torch(model, images, labels, batch_size=64):
    return round(accuracy_torch(model, images, labels, batch_size) * len(labels))


# --------------------------------------------------------------------------- exercise 3


class CNN(nn.Module):
    """The described network, as the lesson writes its own."""

    def __init__(
        self, *, bias=False, norm=True, softmax=False, use_norm=True, dense_in=64, momentum=0.1
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(8, momentum=momentum) if norm else nn.Identity()
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=bias)
        self.bn2 = nn.BatchNorm2d(16, momentum=momentum) if norm else nn.Identity()
        self.fc = nn.Linear(dense_in, 10)
        self.softmax, self.use_norm = softmax, use_norm

    def forward(self, x):
        norm1, norm2 = (self.bn1, self.bn2) if self.use_norm else (nn.Identity(), nn.Identity())
        x = F.max_pool2d(F.relu(norm1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(norm2(self.conv2(x))), 2)
        logits = self.fc(x.flatten(1))
        return logits.softmax(dim=1) if self.softmax else logits


class CNNWithLayers(nn.Module):
    """The same network with nn.Sequential blocks inside a class of one's own."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(64, 10)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class CNNWithoutPooling(CNN):
    def __init__(self):
        super().__init__(dense_in=16 * 8 * 8)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return self.fc(F.relu(self.bn2(self.conv2(x))).flatten(1))


class MixingCNN(CNN):
    """Right layers, but a flatten that mixes the images of a batch."""

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(x.reshape(64, -1).T)


def build_keras(*, bias=False, norm=True, softmax=False, sequential=False, momentum=0.9):
    layers = []
    for channels in (8, 16):
        layers.append(keras.layers.Conv2D(channels, 3, padding="same", use_bias=bias))
        if norm:
            layers.append(keras.layers.BatchNormalization(momentum=momentum))
        layers += [keras.layers.ReLU(), keras.layers.MaxPooling2D(2)]
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax" if softmax else None),
    ]
    if sequential:
        return keras.Sequential([keras.Input((8, 8, 1)), *layers])
    inputs = keras.Input((8, 8, 1))
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


class KerasCNN(keras.Model):
    """The subclassed form."""

    def __init__(self):
        super().__init__()
        self.conv1 = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)
        self.bn1 = keras.layers.BatchNormalization(momentum=0.9)
        self.conv2 = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)
        self.bn2 = keras.layers.BatchNormalization(momentum=0.9)
        self.pool = keras.layers.MaxPooling2D(2)
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(10)

    def call(self, x, training=False):
        x = self.pool(tf.nn.relu(self.bn1(self.conv1(x), training=training)))
        x = self.pool(tf.nn.relu(self.bn2(self.conv2(x), training=training)))
        return self.dense(self.flatten(x))


# --------------------------------------------------------------------------- the table

RIGHT = [
    (cnn.batch_norm, batch_norm_torch, pytorch),
    (cnn.batch_norm, batch_norm_tf, tensorflow),
    (cnn.evaluation, accuracy_torch, pytorch),
    (cnn.evaluation, accuracy_torch_loader, pytorch),
    (cnn.evaluation, accuracy_keras, tensorflow),
    (cnn.evaluation, accuracy_keras_predict, tensorflow),
    (cnn.evaluation, accuracy_keras_evaluate, tensorflow),
    (cnn.cnn_model, CNN, pytorch),
    (cnn.cnn_model, CNNWithLayers, pytorch),
    (cnn.cnn_model, build_keras, tensorflow),
    (cnn.cnn_model, KerasCNN, tensorflow),
]

WRONG = [
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
        lambda x, gamma, beta, eps: nn.BatchNorm2d(3, eps=eps, dtype=x.dtype)(x),
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
    (cnn.evaluation, buggy_torch, pytorch, "ran in training mode"),
    (
        cnn.evaluation,
        functools.partial(buggy_torch, mean_of_means=False),
        pytorch,
        "ran in training mode",
    ),
    (
        cnn.evaluation,
        functools.partial(buggy_torch, mode="eval", mean_of_means=False),
        pytorch,
        "left it in evaluation mode",
    ),
    (cnn.evaluation, accuracy_always_train_after, pytorch, "left it in training mode"),
    (
        cnn.evaluation,
        functools.partial(buggy_torch, mode="restored"),
        pytorch,
        "mean of the batches' accuracies",
    ),
    (cnn.evaluation, accuracy_with_grad, pytorch, "torch.no_grad()"),
    (cnn.evaluation, count_torch, pytorch, "number of digits read correctly"),
    (cnn.evaluation, buggy_keras, tensorflow, "ran in training mode"),
    (
        cnn.evaluation,
        functools.partial(buggy_keras, training=False),
        tensorflow,
        "mean of the batches' accuracies",
    ),
    (cnn.evaluation, percent_keras, tensorflow, "a percentage"),
    (
        cnn.evaluation,
        lambda model, images, labels, batch_size=64: model.evaluate(images, labels, verbose=0),
        tensorflow,
        "return one",
    ),
    (cnn.cnn_model, functools.partial(CNN, bias=True), pytorch, "keep their bias"),
    (cnn.cnn_model, functools.partial(CNN, norm=False), pytorch, "BatchNorm layers are missing"),
    (cnn.cnn_model, functools.partial(CNN, use_norm=False), pytorch, "BatchNorm never acts"),
    (cnn.cnn_model, functools.partial(CNN, softmax=True), pytorch, "ends in a softmax"),
    (cnn.cnn_model, CNNWithoutPooling, pytorch, "dense layer's weights have the shape"),
    (cnn.cnn_model, MixingCNN, pytorch, "validation digits"),
    (cnn.cnn_model, functools.partial(CNN, momentum=0.9), pytorch, "weight of the new batch"),
    (cnn.cnn_model, functools.partial(build_keras, momentum=0.99), tensorflow, "default momentum"),
    (
        cnn.cnn_model,
        lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Flatten(), nn.Linear(512, 10)),
        pytorch,
        "Sequential",
    ),
    (cnn.cnn_model, lambda: nn.Conv2d(1, 8, 3), pytorch, "shape"),
    (cnn.cnn_model, functools.partial(build_keras, bias=True), tensorflow, "keep their bias"),
    (cnn.cnn_model, functools.partial(build_keras, norm=False), tensorflow, "missing"),
    (cnn.cnn_model, functools.partial(build_keras, softmax=True), tensorflow, "softmax"),
    (cnn.cnn_model, functools.partial(build_keras, sequential=True), tensorflow, "Sequential"),
    (cnn.cnn_model, lambda: keras.layers.Dense(10), tensorflow, "functional keras.Model"),
]


@pytest.mark.parametrize("check, learner, adapter", RIGHT, ids=[case_id(c) for c in RIGHT])
def test_an_idiomatic_right_answer_passes(check, learner, adapter, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize("check, learner, adapter, named", WRONG, ids=[case_id(c) for c in WRONG])
def test_a_typical_wrong_answer_fails_with_its_named_hint(check, learner, adapter, named, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.FAILED, outcome.message
    assert named in outcome.message


def test_every_exercise_has_a_right_answer_per_framework_and_a_wrong_one():
    for item in checks.exercises_of("cnn"):
        right = {a.NAME for c, _, a in RIGHT if c.__name__ == item.check}
        assert right == {"PyTorch", "TensorFlow"}, item
        assert [c for c, *_ in WRONG if c.__name__ == item.check], item


def test_the_lesson_registers_its_exercises_in_order():
    items = checks.exercises_of("cnn")
    assert [item.check for item in items] == ["batch_norm", "evaluation", "cnn_model"]
    assert [item.heading for item in items] == [
        "Exercise 1: BatchNorm in training mode",
        "Exercise 2: Evaluating a model with BatchNorm",
        "Exercise 3: A CNN as practitioners write it",
    ]


def test_hints_never_give_the_answer_away(outcomes):
    for check, learner, adapter, _ in WRONG:
        if learner is not MixingCNN:  # the one that trains, seconds for a message like the others
            verdict(check, learner, adapter, outcomes)
    text = " ".join(outcome.message for outcome in outcomes())
    for answer in ("bias=False", "use_bias=False", "model.eval()", "training=False", "correct /"):
        assert answer not in text


def test_the_mistakes_exercise_2_names_really_change_the_answer():
    """On the check's calls, training mode and a mean of batch means each give another number
    than the right one (else the check could not tell them apart)."""
    engine = cnn.companion(pytorch)
    from diptych import data

    digits = data.digits()
    for count, batch_size, _ in cnn.EVALUATIONS:
        images, labels = digits.X_test[:count].reshape(-1, 1, 8, 8), digits.y_test[:count]
        model = engine.trained_cnn()
        right = engine.accuracy(model, images, labels)
        averaged = cnn.batchwise_accuracy(
            engine, model, images, labels, batch_size=batch_size or 64
        )
        assert right > 0.9 and averaged != right
        wrong = buggy_torch(
            model, torch.from_numpy(images), torch.from_numpy(labels), batch_size or 64
        )
        assert wrong != right
