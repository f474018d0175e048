"""Train a small MLP on scikit-learn's digits with MultiWorkerMirroredStrategy: a complete script.

The TensorFlow counterpart of ``train_ddp.py``: one process per worker, which find each other
through the environment variable ``TF_CONFIG`` (the whole cluster, and this process's place in
it), and a custom training loop (Keras 3's ``fit`` does not run under this strategy:
keras-team/keras#20585). Two workers on this machine, each in its own terminal:

    TF_CONFIG='{"cluster": {"worker": ["localhost:12345", "localhost:12346"]},
                "task": {"type": "worker", "index": 0}}' python train_multiworker.py --out run
    TF_CONFIG='{"cluster": {"worker": ["localhost:12345", "localhost:12346"]},
                "task": {"type": "worker", "index": 1}}' python train_multiworker.py --out run

On several machines, the same command on each, with the machines' addresses in "worker".

What it shows, each marked in the code:

1. the strategy is made first, before any other TensorFlow operation, from ``TF_CONFIG``, with a
   timeout on its collectives (``--timeout``);
2. every worker builds its own input pipeline (``distribute_datasets_from_function``): the same
   shuffle in every worker, then its shard (674 and 673 of the 1,347 digits: shards need not be
   equal), batched per replica, full batches only;
3. the model and the optimizer's variables are created inside ``strategy.scope()``;
4. each replica divides its summed loss by the real global count, all-reduced in the step;
5. the chief (worker 0) alone writes the checkpoint, and reads it back into a plain model, as any
   process would afterwards (``load_plain``).

Uneven workers: when one worker's pipeline runs out of batches before another's (with a per-replica
batch of 2, worker 0 has 337 batches and worker 1 336), TensorFlow's distributed iterator does not
let the others wait. Every step it all-reduces which workers still have data, and hands a worker
that has run out an empty batch (0 examples) until all have: every worker takes every step. The
real global count of item 4 then weighs each example right; a per-replica mean, as ``fit`` takes
it, would not. PyTorch needs a sampler of its own and ``Join`` for what this iterator does by
itself.

A lost worker: a worker whose process dies stops sending heartbeats, and the others' next
collective fails with ``UnavailableError`` (killed in the middle of a run on a laptop, worker 1
took worker 0 down 12 seconds later); a collective that waits longer than ``--timeout`` for a
worker that is alive but stuck fails too, instead of hanging. Restart the job (resuming needs a
checkpoint written along the way).

It writes to ``--out``: ``model.weights.h5`` (the chief's) and ``worker-<i>.json`` (per worker:
the loss of every epoch, the test accuracy, a digest of its weights, which must agree, and which
examples it trained on in every step of every epoch).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: fewer C++ log lines

import keras
import numpy as np
import tensorflow as tf


def digits(seed: int) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8×8 digits, pixels in [0, 1]: X_train (1347, 64), y_train, X_test, y_test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X, y = (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)
    return tuple(train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y))


def make_model(hidden: int) -> keras.Model:
    """A plain Keras model: any process can build it and load the chief's weights into it."""
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def digest(model: keras.Model) -> str:
    """A fingerprint of every weight, to compare the workers' copies bit for bit."""
    return hashlib.sha256(b"".join(w.numpy().tobytes() for w in model.weights)).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, help="train on the first N digits only")
    parser.add_argument("--timeout", type=float, default=60, help="seconds a collective waits")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    # 1. first of all: the strategy reads TF_CONFIG and connects to the other workers; a lost
    # peer fails the job after --timeout seconds instead of hanging it (TensorFlow times each
    # collective in a thread of its own, which it calls a debugging aid: cheap at this size)
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=args.timeout)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {"index": 0})
    is_chief = task.get("index", 0) == 0  # worker 0 saves, as "chief" would in other setups
    replicas = strategy.num_replicas_in_sync
    if args.global_batch % replicas:
        raise SystemExit(f"--global-batch {args.global_batch} must be a multiple of {replicas}")
    keras.utils.set_random_seed(args.seed)  # the same initial weights in every worker

    X_train, X_test, y_train, y_test = digits(args.seed)
    X_train, y_train = X_train[: args.examples], y_train[: args.examples]
    ids = np.arange(len(y_train))  # each example's number, to record which ones a worker saw

    # 2. every worker builds its own pipeline: the same shuffle everywhere, then its shard,
    # batched per replica, full batches only; its shard may hold one batch fewer than another's
    def pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch = context.get_per_replica_batch_size(args.global_batch)
        data = tf.data.Dataset.from_tensor_slices((X_train, y_train, ids))
        data = data.shuffle(len(y_train), seed=args.seed, reshuffle_each_iteration=True)
        data = data.shard(context.num_input_pipelines, context.input_pipeline_id)
        return data.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    batches = strategy.distribute_datasets_from_function(pipeline)

    # 3. variables, the optimizer's included, are made in the scope: mirrored on every replica
    with strategy.scope():
        model = make_model(args.hidden)
        optimizer = keras.optimizers.SGD(learning_rate=args.lr, momentum=0.9)
        optimizer.build(model.trainable_variables)
    per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    # 4. each replica's loss is its sum over the real global count; gradients are summed
    def replica_step(x: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        context = tf.distribute.get_replica_context()
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.shape(labels)[0])
        with tf.GradientTape() as tape:
            losses = per_example(labels, model(x, training=True))
            loss = tf.nn.compute_average_loss(losses, global_batch_size=count)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))  # sums
        return loss

    @tf.function
    def step(x: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        per_replica = strategy.run(replica_step, args=(x, labels))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    epoch_losses, seen = [], []
    for _ in range(args.epochs):
        losses, examples = [], []
        for x, labels, numbers in batches:  # a worker that has run out gets empty batches
            losses.append(float(step(x, labels)))  # the same on every worker
            mine = strategy.experimental_local_results(numbers)  # this worker's replicas' parts
            examples.append(np.concatenate(mine).tolist())
        epoch_losses.append(sum(losses) / len(losses))
        seen.append(examples)

    logits = model(X_test, training=False)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))

    # 5. the chief writes the checkpoint and reads it back into a plain model, outside the strategy
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "worker": task.get("index", 0),
        "replicas": replicas,
        "losses": epoch_losses,
        "test_accuracy": accuracy,
        "digest": digest(model),
        "seen": seen,  # per epoch, per step: the numbers of the examples this worker trained on
    }
    if is_chief:
        model.save_weights(args.out / "model.weights.h5")
        summary["reloaded"] = digest(load_plain(args.out / "model.weights.h5", hidden=args.hidden))
    (args.out / f"worker-{task.get('index', 0)}.json").write_text(json.dumps(summary))
    losses = [round(x, 3) for x in epoch_losses]
    print(
        json.dumps(
            {"worker": summary["worker"], "losses": losses, "test_accuracy": round(accuracy, 3)}
        )
    )


def load_plain(path: Path, *, hidden: int = 32) -> keras.Model:
    """The chief's checkpoint in a plain model, outside any strategy: how it is used afterwards."""
    model = make_model(hidden)
    model.load_weights(path)
    return model


if __name__ == "__main__":
    main()
