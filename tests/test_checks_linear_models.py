"""Lesson 03's exercise 5, training softmax regression: idiomatic trainings pass in each twin,
typical mistakes fail by name, and the watch that names them leaves the frameworks as they were.
The lesson's other exercises are tested in ``tests/test_checks.py``; every exercise's right and
wrong answers are counted here.

Right answers train to the bar on the check's fresh split (the statement's recipe, Adam, a
``LogSoftmax`` model, Keras' ``fit``, and an answer written in the exercise notebook's own
namespace, as a learner writes it); wrong answers stop as soon as their mistake is made where the
check can see it in the first steps, so that they run fast.
"""

import nbformat
import numpy as np
import pytest

from diptych import checks, data
from diptych.checks import linear_models

from helpers import REPO, case_id, verdict

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
keras = pytest.importorskip("keras")
tf = tensorflow.tf
F = torch.nn.functional
train = linear_models.train_softmax_regression


# --------------------------------------------------------------------------- PyTorch


def torch_accuracy(model, X, y):
    with torch.no_grad():
        return (model(X).argmax(dim=1) == y).float().mean().item()


def torch_sgd(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    lr=0.5,
    epochs=30,
    seed=1,
    probabilities=False,
    zero_grad=True,
    evaluate_on="test",
    percent=False,
):
    """The statement's recipe, the lesson's SGD at 0.5 for 30 epochs (with one mistake switched
    on where asked)."""
    model = torch.nn.Linear(64, 10).to(X_train.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for batch in data.minibatch_order(len(y_train), batch_size=64, epochs=epochs, seed=seed):
        if zero_grad:
            optimizer.zero_grad()
        outputs = model(X_train[batch])
        if probabilities:
            outputs = torch.softmax(outputs, dim=1)
        F.cross_entropy(outputs, y_train[batch]).backward()
        optimizer.step()
    X, y = (X_test, y_test) if evaluate_on == "test" else (X_train, y_train)
    accuracy = torch_accuracy(model, X, y)
    return model, 100 * accuracy if percent else accuracy


def torch_adam(X_train, y_train, X_test, y_test):
    """Another right answer: a module, its loss object, Adam, PyTorch's own shuffling."""
    model = torch.nn.Sequential(torch.nn.Linear(64, 10))
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(10):
        for batch in torch.randperm(len(y_train)).split(64):
            optimizer.zero_grad()
            loss_fn(model(X_train[batch]), y_train[batch]).backward()
            optimizer.step()
    return model, torch.tensor(torch_accuracy(model, X_test, y_test))


def torch_log_softmax_model(X_train, y_train, X_test, y_test, *, log=True):
    """The other wiring: the model ends in (log-)softmax, the loss is nll_loss."""
    last = torch.nn.LogSoftmax(dim=1) if log else torch.nn.Softmax(dim=1)
    model = torch.nn.Sequential(torch.nn.Linear(64, 10), last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for batch in data.minibatch_order(len(y_train), batch_size=64, epochs=20 if log else 1):
        optimizer.zero_grad()
        F.nll_loss(model(X_train[batch]), y_train[batch]).backward()
        optimizer.step()
    return model, torch_accuracy(model, X_test, y_test)


def torch_in_place(X_train, y_train, X_test, y_test):
    X_train -= X_train.mean()  # centres the caller's images
    return torch_sgd(X_train, y_train, X_test, y_test, epochs=1)


# --------------------------------------------------------------------------- TensorFlow


def keras_model(activation=None):
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation=activation)])


def keras_accuracy(model, X, y):
    return float(np.mean(np.argmax(model(X), axis=1) == y.numpy()))


def keras_loop(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    epochs=10,
    from_logits=True,
    by_hand=False,
    evaluate_on="test",
):
    """A GradientTape loop with Adam (fewer steps than the lesson's SGD: the eager steps are
    slow), with one mistake switched on where asked."""
    model = keras_model()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    optimizer = keras.optimizers.Adam(learning_rate=0.05)
    for batch in data.minibatch_order(len(y_train), batch_size=64, epochs=epochs, seed=1):
        with tf.GradientTape() as tape:
            outputs = model(tf.gather(X_train, batch))
            if by_hand:
                outputs = tf.nn.softmax(outputs)
            loss = loss_fn(tf.gather(y_train, batch), outputs)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    X, y = (X_test, y_test) if evaluate_on == "test" else (X_train, y_train)
    return model, keras_accuracy(model, X, y)


def keras_fit(X_train, y_train, X_test, y_test, *, epochs=20, loss=None, activation=None, lr=0.5):
    """Keras' own loop (lesson 04), which the exercise allows."""
    model = keras_model(activation)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=lr),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(X_train, y_train, batch_size=64, epochs=epochs, verbose=0)
    return model, keras_accuracy(model, X_test, y_test)


def raw_tensorflow_compiled(X_train, y_train, X_test, y_test):
    """The same inside a tf.function, where the watch sees operations, not values: TensorFlow's
    own loss rescues no Softmax operation (only Keras' losses do)."""
    model = keras_model()
    optimizer = keras.optimizers.SGD(learning_rate=0.5)

    @tf.function
    def step(X_batch, y_batch):
        with tf.GradientTape() as tape:
            probabilities = tf.nn.softmax(model(X_batch))
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(y_batch, probabilities)
            )
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))

    for batch in data.minibatch_order(len(y_train), batch_size=64, epochs=1)[:5]:
        step(tf.gather(X_train, batch), tf.gather(y_train, batch))
    return model, keras_accuracy(model, X_test, y_test)


def raw_tensorflow(X_train, y_train, X_test, y_test):
    """TensorFlow's own cross-entropy, fed a softmax: applied twice."""
    model = keras_model()
    optimizer = keras.optimizers.SGD(learning_rate=0.5)
    for batch in data.minibatch_order(len(y_train), batch_size=64, epochs=1):
        with tf.GradientTape() as tape:
            probabilities = tf.nn.softmax(model(tf.gather(X_train, batch)))
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    tf.gather(y_train, batch), probabilities
                )
            )
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return model, keras_accuracy(model, X_test, y_test)


RIGHT = [
    (train, torch_sgd, pytorch),
    (train, torch_adam, pytorch),
    (train, torch_log_softmax_model, pytorch),
    (train, keras_loop, tensorflow),
    (train, keras_fit, tensorflow),
    (
        train,
        lambda *a: keras_fit(*a, loss="sparse_categorical_crossentropy", activation="softmax"),
        tensorflow,
    ),
]

#: (check, learner, adapter, the named mistake, what the hint must not say: the answer)
WRONG = [
    (
        train,
        lambda *a: torch_sgd(*a, epochs=1, probabilities=True),
        pytorch,
        "softmax ran twice",
        "remove",
    ),
    (
        train,
        lambda *a: torch_sgd(*a, epochs=1, zero_grad=False),
        pytorch,
        "still held the last step's gradient",
        "zero_grad",
    ),
    (train, lambda *a: torch_sgd(*a, epochs=1, lr=1000.0), pytorch, "training diverged", "lr="),
    (
        train,
        lambda *a: torch_sgd(*a, evaluate_on="train"),
        pytorch,
        "on its training images",
        "X_test",
    ),
    (train, lambda *a: torch_sgd(*a, percent=True), pytorch, "not a percentage", "/ 100"),
    (
        train,
        lambda *a: torch_sgd(*a, epochs=1, lr=0.05),
        pytorch,
        "below the bar of 95%",
        "epochs=",
    ),
    (
        train,
        lambda *a: torch_log_softmax_model(*a, log=False),
        pytorch,
        "not log-probabilities",
        "LogSoftmax",
    ),
    (
        train,
        lambda *a: torch_sgd(*a, epochs=1)[0],
        pytorch,
        "must return 2 values",
        "return model,",
    ),
    (train, torch_in_place, pytorch, "changed its input `X_train` in place", "clone"),
    (
        train,
        lambda *a: keras_loop(*a, epochs=1, from_logits=False),
        tensorflow,
        "took the model's logits for probabilities",
        "from_logits=True",
    ),
    (
        train,
        lambda *a: keras_fit(*a, epochs=1, loss="sparse_categorical_crossentropy"),
        tensorflow,
        "took the model's logits for probabilities",
        "from_logits=True",
    ),
    (
        train,
        lambda *a: keras_loop(*a, epochs=1, by_hand=True),
        tensorflow,
        "softmax ran twice",
        "tf.nn.softmax",
    ),
    (train, raw_tensorflow, tensorflow, "softmax ran twice", "tf.nn.softmax"),
    (train, raw_tensorflow_compiled, tensorflow, "softmax ran twice", "tf.nn.softmax"),
    (
        train,
        lambda *a: keras_loop(*a, evaluate_on="train"),
        tensorflow,
        "on its training images",
        "X_test",
    ),
    (
        train,
        lambda *a: keras_fit(*a, epochs=2, lr=1000.0),
        tensorflow,
        "training diverged",
        "learning_rate=",
    ),
]


@pytest.mark.parametrize("check, learner, adapter", RIGHT, ids=[case_id(c) for c in RIGHT])
def test_an_idiomatic_training_passes(check, learner, adapter, outcomes):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize(
    "check, learner, adapter, named, answer", WRONG, ids=[case_id(c) for c in WRONG]
)
def test_a_typical_mistake_fails_by_name_without_the_answer(
    check, learner, adapter, named, answer, outcomes
):
    outcome = verdict(check, learner, adapter, outcomes)
    assert outcome.status == checks.FAILED
    assert named in outcome.message, outcome.message
    assert answer not in outcome.message


def test_every_exercise_has_a_right_answer_per_framework_and_a_wrong_one():
    """Exercises 1 to 4 in tests/test_checks.py's tables, exercise 5 in this file's."""
    import test_checks

    right_cases = [(c, a) for c, _, a in test_checks.RIGHT] + [(c, a) for c, _, a in RIGHT]
    wrong_cases = [c for c, *_ in test_checks.WRONG] + [c for c, *_ in WRONG]
    for item in checks.exercises_of("linear_models"):
        assert {a.NAME for c, a in right_cases if c.__name__ == item.check} == {
            "PyTorch",
            "TensorFlow",
        }, item
        assert any(c.__name__ == item.check for c in wrong_cases), item
    assert {case[2].NAME for case in WRONG} == {"PyTorch", "TensorFlow"}


def test_the_exercises_are_registered_in_order():
    items = checks.exercises_of("linear_models")
    assert [item.check for item in items] == [
        "log_softmax",
        "cross_entropy",
        "softmax_regression_gradient",
        "binary_cross_entropy",
        "train_softmax_regression",
    ]
    assert items[-1].heading == "Exercise 5: Training softmax regression"


def test_the_bar_is_at_least_not_greater_than(monkeypatch, outcomes):
    """The statement says "at least 95%": a model exactly at the bar passes, one a hair below
    it fails."""
    model, accuracy = torch_sgd(*(pytorch.from_numpy(a) for a in fresh_split()))
    exact = round(accuracy * 450) / 450  # the check counts the right answers in float64
    monkeypatch.setattr(linear_models, "BAR", exact)
    assert verdict(train, lambda *a: (model, accuracy), pytorch, outcomes).status == checks.PASSED
    monkeypatch.setattr(linear_models, "BAR", float(np.nextafter(exact, 1)))
    outcome = verdict(train, lambda *a: (model, accuracy), pytorch, outcomes)
    assert "below the bar" in outcome.message


def test_a_stub_is_not_done_yet(outcomes):
    def stub(*args):
        raise NotImplementedError("Exercise not done yet")

    assert verdict(train, stub, tensorflow, outcomes).status == checks.NOT_DONE


def test_the_watch_leaves_the_frameworks_as_they_were():
    from diptych.adapters import pytorch_linear_models, tensorflow_linear_models

    backend = pytest.importorskip(tensorflow_linear_models.KERAS_BACKEND)
    before = (
        F.cross_entropy,
        F.nll_loss,
        torch.autograd.backward,
        tf.nn.sparse_softmax_cross_entropy_with_logits,
        backend.sparse_categorical_crossentropy,
    )
    watch = linear_models.TrainingWatch()
    with pytest.raises(RuntimeError), pytorch_linear_models.watching(watch):
        raise RuntimeError("the learner's code failed")
    with pytest.raises(RuntimeError), tensorflow_linear_models.watching(watch):
        raise RuntimeError("the learner's code failed")
    after = (
        F.cross_entropy,
        F.nll_loss,
        torch.autograd.backward,
        tf.nn.sparse_softmax_cross_entropy_with_logits,
        backend.sparse_categorical_crossentropy,
    )
    assert all(a is b for a, b in zip(before, after, strict=True))


def test_the_watch_sees_keras_rescue_a_softmax_layer_and_no_mistake():
    """A softmax layer's output handed to a loss told from_logits=True: Keras uses the logits
    it carries (and warns), so the check must not call it softmax twice."""
    from diptych.adapters import tensorflow_linear_models

    model = keras_model("softmax")
    watch = linear_models.TrainingWatch()
    with tensorflow_linear_models.watching(watch), pytest.warns(UserWarning, match="from_logits"):
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
            tf.constant([1, 2]), model(tf.zeros((2, 64)))
        )
    assert watch.mistakes == set()


def fresh_split():
    split = data.digits(seed=linear_models.SPLIT_SEED)
    return split.X_train, split.y_train, split.X_test, split.y_test


# ------------------------------------------------------------- in the exercise notebook itself

EXERCISES = REPO / "exercises" / "03_linear_models"

#: what a learner writes from the statement, with the names it uses (nn, np, F, data, keras, tf)
#: and nothing imported of its own: the setup cell of the exercise notebook must provide them
IN_THE_NOTEBOOK = {
    "pytorch": """
def train_softmax_regression(X_train, y_train, X_test, y_test):
    model = nn.Linear(64, 10).to(X_train.device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for batch in data.minibatch_order(len(y_train), batch_size=64, epochs=30):
        optimizer.zero_grad()
        loss_fn(model(X_train[batch]), y_train[batch]).backward()
        optimizer.step()
    with torch.no_grad():
        predictions = model(X_test).argmax(dim=1)
    return model, float(np.mean((predictions == y_test).cpu().numpy()))
""",
    "tensorflow": """
def train_softmax_regression(X_train, y_train, X_test, y_test):
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X_train, y_train, batch_size=64, epochs=30, verbose=0)
    predictions = tf.argmax(model(X_test), axis=1)
    return model, float(np.mean(predictions.numpy() == y_test.numpy()))
""",
}


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_an_answer_written_in_the_exercise_notebook_finds_every_name_it_uses(framework, outcomes):
    """The statement names nn.Linear and nn.CrossEntropyLoss (PyTorch), keras and tf
    (TensorFlow); a learner's np.mean must work too: no NameError in the notebook's namespace."""
    notebook = nbformat.read(EXERCISES / f"exercises_linear_models_{framework}.ipynb", as_version=4)
    setup = next(c.source for c in notebook.cells if "as checks" in c.get("source", ""))
    namespace: dict = {}
    exec(setup, namespace)
    exec(IN_THE_NOTEBOOK[framework], namespace)
    adapter = pytorch if framework == "pytorch" else tensorflow
    outcome = verdict(
        namespace["checks"].train_softmax_regression,
        namespace["train_softmax_regression"],
        adapter,
        outcomes,
    )
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize("seed", [0, 2, 4, 5, 7])
def test_the_statements_recipe_passes_whatever_the_batch_order(seed, outcomes):
    """The statement says the lesson's 20 epochs reach the bar only just and 30 leave room: 30
    epochs of SGD at 0.5 pass with the batch orders that fail at 20 epochs (seeds 4, 5 and 7
    fail there, as the review measured)."""
    recipe = lambda *a: torch_sgd(*a, seed=seed)  # noqa: E731
    assert verdict(train, recipe, pytorch, outcomes).status == checks.PASSED


def test_the_check_trains_on_one_thread_and_gives_the_threads_back(outcomes):
    """PyTorch's OpenMP threads spin while they wait: on a busy machine, one thread trains this
    model many times faster. The check sets one while the learner's code runs, then restores."""
    before, seen = torch.get_num_threads(), []

    def learner(*a):
        seen.append(torch.get_num_threads())
        return torch_sgd(*a, epochs=1)

    verdict(train, learner, pytorch, outcomes)
    assert seen == [1]
    assert torch.get_num_threads() == before
