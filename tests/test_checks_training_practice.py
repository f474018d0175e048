"""Lesson 05's self-checks: idiomatic right answers pass in each twin, typical wrong ones fail by name.

The pipeline exercise asks for a ``DataLoader`` (PyTorch) or a ``tf.data`` pipeline (TensorFlow);
the forgotten mode is PyTorch's missing ``model.eval()`` before predicting and Keras' missing
``training=True`` in a hand-written step; the checkpoint is two ``state_dict``s in one file or a
``.keras`` archive. Right answers are written here as a learner would, from the lesson alone.
"""

import numpy as np
import pytest

from diptych import checks
from diptych.checks import training_practice
from diptych.reference import training

from helpers import case_id, verdict

torch = pytest.importorskip("torch")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
tensorflow = pytest.importorskip("diptych.adapters.tensorflow")
keras = pytest.importorskip("keras")
tf = tensorflow.tf
F = torch.nn.functional
DataLoader, Dataset = torch.utils.data.DataLoader, torch.utils.data.Dataset


# --------------------------------------------------------------------------- exercise 1


class Rows(Dataset):
    def __init__(self, X, y):
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, index):
        return self.X[index], self.y[index]


def loader(X, y, batch_size, seed, **options):
    settings = {"shuffle": True, "drop_last": True} | options
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(Rows(X, y), batch_size=batch_size, generator=generator, **settings)


def loader_of_tensors(X, y, batch_size, seed):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size, shuffle=True, drop_last=True, generator=generator)


def loader_unseeded(X, y, batch_size, seed):
    return DataLoader(Rows(X, y), batch_size=batch_size, shuffle=True, drop_last=True)


def loader_seed_ignored(X, y, batch_size, seed):
    return loader(X, y, batch_size, 0)


def loader_shuffled_once(X, y, batch_size, seed):
    order = np.random.default_rng(seed).permutation(len(y))
    return DataLoader(Rows(X[order], y[order]), batch_size=batch_size, drop_last=True)


def loader_with_replacement(X, y, batch_size, seed):
    generator = torch.Generator().manual_seed(seed)
    sampler = torch.utils.data.RandomSampler(
        Rows(X, y), replacement=True, num_samples=len(y), generator=generator
    )
    return DataLoader(Rows(X, y), batch_size=batch_size, sampler=sampler, drop_last=True)


def loader_float64(X, y, batch_size, seed):
    return loader(X.astype(np.float64), y, batch_size, seed)


def batches_generator(X, y, batch_size, seed):
    order = np.random.default_rng(seed).permutation(len(y))
    for start in range(0, len(y) - batch_size + 1, batch_size):
        index = order[start : start + batch_size]
        yield torch.from_numpy(X[index]), torch.from_numpy(y[index])


def loader_labels_apart(X, y, batch_size, seed):
    rng = np.random.default_rng(seed)
    return loader(X, y[rng.permutation(len(y))], batch_size, seed)


def loader_shuffles_in_place(X, y, batch_size, seed):
    np.random.default_rng(seed).shuffle(X)
    return loader(X, y, batch_size, seed)


def pipeline(
    X, y, batch_size, seed, *, buffer=None, reshuffle=True, remainder=True, first=None, ahead="last"
):
    examples = tf.data.Dataset.from_tensor_slices((X, y))
    if ahead == "examples":
        examples = examples.prefetch(tf.data.AUTOTUNE)
    if first == "batch":
        examples = examples.batch(batch_size, drop_remainder=remainder)
    examples = examples.shuffle(buffer or len(y), seed=seed, reshuffle_each_iteration=reshuffle)
    if first != "batch":
        examples = examples.batch(batch_size, drop_remainder=remainder)
    return examples.prefetch(tf.data.AUTOTUNE) if ahead == "last" else examples


def pipeline_right(X, y, batch_size, seed):
    return pipeline(X, y, batch_size, seed)


def pipeline_cached_prefetch_one(X, y, batch_size, seed):
    examples = tf.data.Dataset.from_tensor_slices((X, y)).cache()
    examples = examples.shuffle(len(y), seed=seed).batch(batch_size, drop_remainder=True)
    return examples.prefetch(1).with_options(tf.data.Options())


def pipeline_unseeded(X, y, batch_size, seed):
    examples = tf.data.Dataset.from_tensor_slices((X, y)).shuffle(len(y))
    return examples.batch(batch_size, drop_remainder=True)


# --------------------------------------------------------------------------- exercise 2


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


# --------------------------------------------------------------------------- exercise 3


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


# --------------------------------------------------------------------------- exercise 4


def predict_fixed(model, X):
    model.eval()
    with torch.no_grad():
        return model(X).argmax(dim=1)


def predict_train_false(model, X):
    model.train(False)
    with torch.no_grad():
        return model(X).argmax(1)


def predict_buggy(model, X):
    with torch.no_grad():
        return model(X).argmax(dim=1)


def predict_seeded(model, X):
    torch.manual_seed(0)
    with torch.no_grad():
        return model(X).argmax(dim=1)


def predict_logits(model, X):
    model.eval()
    with torch.no_grad():
        return model(X)


def predict_rates_zeroed(model, X):
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    with torch.no_grad():
        return model(X).argmax(dim=1)


loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def step(model, optimizer, X, y, *, training=True, twice=False):
    with tf.GradientTape() as tape:
        if twice:
            model(X, training=True)  # a second forward pass, e.g. for logging
        loss = loss_fn(y, model(X, training=training) if training is not None else model(X))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    return loss


def step_fixed(model, optimizer, X, y):
    return step(model, optimizer, X, y)


def step_buggy(model, optimizer, X, y):
    return step(model, optimizer, X, y, training=None)


def step_twice(model, optimizer, X, y):
    return step(model, optimizer, X, y, twice=True)


# --------------------------------------------------------------------------- exercise 5


def save_pt(model, optimizer, path):
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)


def load_pt(path, model, optimizer):
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])


def save_model_only(model, optimizer, path):
    torch.save(model.state_dict(), path)


def load_model_only(path, model, optimizer):
    model.load_state_dict(torch.load(path))


def save_optimizer_only(model, optimizer, path):
    torch.save(optimizer.state_dict(), path)


def load_optimizer_only(path, model, optimizer):
    optimizer.load_state_dict(torch.load(path))


def save_objects(model, optimizer, path):
    torch.save({"model": model, "optimizer": optimizer}, path)


def load_objects(path, model, optimizer):
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint["model"].state_dict())


def load_forgiving(path, model, optimizer):
    try:
        load_pt(path, model, optimizer)
    except RuntimeError:
        checkpoint = torch.load(path)
        model.load_state_dict(checkpoint["model"], strict=False)


def save_elsewhere(model, optimizer, path):
    save_pt(model, optimizer, path + ".backup")


def save_keras(model, path):
    model.save(path)


def load_keras(path):
    return keras.models.load_model(path)


def load_uncompiled(path):
    return keras.models.load_model(path, compile=False)


KEPT = {}


def save_in_memory(model, path):
    model.save(path)
    KEPT["model"] = model


def load_from_memory(path):
    return KEPT["model"]


# --------------------------------------------------------------------------- the table

#: code that fixes a mistake: a hint names the mistake, never this
ANSWERS = [
    "model.eval()",
    "training=True",
    "drop_last=True",
    "drop_remainder",
    "load_state_dict",
    "prefetch(",
    "AUTOTUNE",
]

RIGHT = [
    (training_practice.data_pipeline, loader, pytorch),
    (training_practice.data_pipeline, loader_of_tensors, pytorch),
    (training_practice.data_pipeline, pipeline_right, tensorflow),
    (training_practice.data_pipeline, pipeline_cached_prefetch_one, tensorflow),
    (training_practice.early_stopping, training.early_stopping, pytorch),
    (training_practice.early_stopping, training.early_stopping, tensorflow),
    (training_practice.weight_decay_step, decay("pytorch"), pytorch),
    (training_practice.weight_decay_step, decay("keras"), tensorflow),
    (training_practice.forgotten_mode, predict_fixed, pytorch),
    (training_practice.forgotten_mode, predict_train_false, pytorch),
    (training_practice.forgotten_mode, step_fixed, tensorflow),
    (training_practice.forgotten_mode, tf.function(step_fixed), tensorflow),
]

WRONG = [
    (
        training_practice.data_pipeline,
        lambda X, y, batch_size, seed: loader(X, y, batch_size, seed, shuffle=False),
        pytorch,
        "nothing shuffles",
    ),
    (training_practice.data_pipeline, loader_shuffled_once, pytorch, "in the same order"),
    (training_practice.data_pipeline, loader_unseeded, pytorch, "same seed serve different"),
    (training_practice.data_pipeline, loader_seed_ignored, pytorch, "ignores `seed`"),
    (
        training_practice.data_pipeline,
        lambda X, y, batch_size, seed: loader(X, y, batch_size, seed, drop_last=False),
        pytorch,
        "short batch of 3",
    ),
    (training_practice.data_pipeline, loader_with_replacement, pytorch, "appears twice"),
    (training_practice.data_pipeline, loader_float64, pytorch, "keep the dtypes given"),
    (training_practice.data_pipeline, batches_generator, pytorch, "not a generator"),
    (training_practice.data_pipeline, loader_labels_apart, pytorch, "do not belong to its rows"),
    (training_practice.data_pipeline, loader_shuffles_in_place, pytorch, "in place"),
    (
        training_practice.data_pipeline,
        lambda X, y, batch_size, seed: pipeline(X, y, batch_size, seed, first="batch"),
        tensorflow,
        "whole batches were shuffled",
    ),
    (
        training_practice.data_pipeline,
        lambda X, y, batch_size, seed: pipeline(X, y, batch_size, seed, buffer=10),
        tensorflow,
        "buffer smaller than the data",
    ),
    (
        training_practice.data_pipeline,
        lambda X, y, batch_size, seed: pipeline(X, y, batch_size, seed, reshuffle=False),
        tensorflow,
        "in the same order",
    ),
    (
        training_practice.data_pipeline,
        lambda X, y, batch_size, seed: pipeline(X, y, batch_size, seed, remainder=False),
        tensorflow,
        "short batch of 3",
    ),
    (training_practice.data_pipeline, pipeline_unseeded, tensorflow, "same seed serve different"),
    (
        training_practice.data_pipeline,
        lambda X, y, batch_size, seed: pipeline(X, y, batch_size, seed, ahead=None),
        tensorflow,
        "nothing in your pipeline prepares the next batch",
    ),
    (
        training_practice.data_pipeline,
        lambda X, y, batch_size, seed: pipeline(X, y, batch_size, seed, ahead="examples"),
        tensorflow,
        "before they are batched",
    ),
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
    (training_practice.forgotten_mode, predict_buggy, pytorch, "still in training mode"),
    (training_practice.forgotten_mode, predict_seeded, pytorch, "a fixed seed repeats them"),
    (training_practice.forgotten_mode, predict_logits, pytorch, "returns the logits"),
    (
        training_practice.forgotten_mode,
        predict_rates_zeroed,
        pytorch,
        "changed the model's dropout",
    ),
    (training_practice.forgotten_mode, step_buggy, tensorflow, "trains with dropout off"),
    (training_practice.forgotten_mode, step_twice, tensorflow, "one forward pass per step"),
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
    assert not any(answer in outcome.message for answer in ANSWERS), outcome.message


CHECKPOINTS_RIGHT = [(save_pt, load_pt, pytorch), (save_keras, load_keras, tensorflow)]

CHECKPOINTS_WRONG = [
    (save_model_only, load_model_only, pytorch, "its momentum) was not restored"),
    (save_optimizer_only, load_optimizer_only, pytorch, "weights were not restored"),
    (save_objects, load_objects, pytorch, "torch.load refused your file"),
    (save_pt, load_forgiving, pytorch, "another architecture (one more layer) raised no error"),
    (save_elsewhere, load_pt, pytorch, "no file at the path given"),
    (save_keras, load_uncompiled, tensorflow, "loaded without its optimizer"),
    (save_in_memory, load_from_memory, tensorflow, "returned the model you saved"),
]


def checkpoint_id(case) -> str:
    return f"{case[2].NAME}-{case[0].__name__}-{case[1].__name__}"


@pytest.mark.parametrize(
    "save, load, adapter", CHECKPOINTS_RIGHT, ids=[checkpoint_id(c) for c in CHECKPOINTS_RIGHT]
)
def test_a_checkpoint_saved_and_restored_idiomatically_passes(save, load, adapter, outcomes):
    training_practice.save_and_restore(save, load, adapter)
    outcome = outcomes()[-1]
    assert outcome.status == checks.PASSED, outcome.message


@pytest.mark.parametrize(
    "save, load, adapter, named",
    CHECKPOINTS_WRONG,
    ids=[checkpoint_id(c) for c in CHECKPOINTS_WRONG],
)
def test_a_typical_wrong_checkpoint_fails_with_its_named_hint(save, load, adapter, named, outcomes):
    training_practice.save_and_restore(save, load, adapter)
    outcome = outcomes()[-1]
    assert outcome.status == checks.FAILED, outcome.message
    assert named in outcome.message
    assert not any(answer in outcome.message for answer in ANSWERS), outcome.message


def test_every_exercise_has_a_right_answer_per_framework_and_a_wrong_one():
    tables = RIGHT + [
        (training_practice.save_and_restore, save, a) for save, _, a in CHECKPOINTS_RIGHT
    ]
    wrong = WRONG + [
        (training_practice.save_and_restore, save, a, n) for save, _, a, n in CHECKPOINTS_WRONG
    ]
    for item in checks.exercises_of("training_practice"):
        right = {a.NAME for c, _, a in tables if c.__name__ == item.check}
        assert right == {"PyTorch", "TensorFlow"}, item
        assert {a.NAME for c, _, a, _ in wrong if c.__name__ == item.check} == right, item


def test_the_exercises_are_the_five_the_lesson_lists():
    titles = [item.title for item in checks.exercises_of("training_practice")]
    assert titles == [
        "A data pipeline",
        "Early stopping",
        "Coupled and decoupled weight decay",
        "Find the bug: a forgotten mode",
        "Save and restore",
    ]
