"""Self-checks for lesson 10's exercises (scaling out: data-parallel training).

Each twin asks in its own engine's terms: the PyTorch twin joins a process group and averages
gradients as DDP does (replicas' losses scaled for an average of gradients); the TensorFlow twin
splits the CPU into logical devices and sums gradients as ``tf.distribute`` does (losses divided
by the global batch size). The other engine's form is recognised and named.

Exercise 3 gives no replica the global count: it must be all-reduced at run time. The PyTorch
check runs the replicas as threads of this process with an all-reduce between them (a notebook
cannot start the processes of a real group); the TensorFlow check runs the learner's function in
``strategy.run`` on two logical CPUs, where the strategy itself splits 3 examples into 2 + 1.

The TensorFlow checks of exercises 3, 4 and 5 need two logical CPUs. Every check after the first
asks for them before it touches TensorFlow (a no-op once the learner's exercise 1 split the CPU,
and the split a skipped exercise 1 would have made); they say so when TensorFlow already runs on
one device.

The framework code these checks run lives in the adapters' companions for this lesson
(``adapters.pytorch_ddp``, ``adapters.tensorflow_mirrored``, picked by ``engine``, the adapter's
``IDIOM.engine``); this module
holds what the checks compare and the mistakes they name.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from diptych import scaling
from diptych.adapters.contract import Adapter
from diptych.checks import (
    Mismatch,
    as_numpy,
    exercise,
    expect_unchanged,
    fresh_rng,
    idiom,
    matches,
    snapshot,
)

#: shard sizes of global batches that probe the loss scaling: uneven first (it tells the usual
#: mistakes apart), an empty replica, three replicas, equal shards
SPLITS = [(2, 1), (3, 0), (5, 4, 4), (32, 32)]

#: how close float32 losses (TensorFlow's check feeds the dtype a model's losses have) come to
#: the float64 value: a few float32 roundings of numbers below 3
FLOAT32 = 1e-5


def engine(adapter: Adapter) -> ModuleType:
    """The companion of ``adapter`` that holds this lesson's framework code, named after its
    engine (``pytorch_ddp``, ``tensorflow_mirrored``); imported on first use, so a check imports
    one framework."""
    return idiom(adapter).companion(idiom(adapter).engine)


def _ddp(adapter: Adapter) -> bool:
    """DDP's terms (a process group, gradients averaged), else MirroredStrategy's (logical
    devices, gradients summed)."""
    return idiom(adapter).engine == "ddp"


def _two_cpus_if_possible(mirrored: ModuleType) -> None:
    """Split the CPU for the checks that follow, before this check runs TensorFlow; a check that
    does not need two devices goes on with one."""
    with contextlib.suppress(mirrored.LogicalDevicesError):
        mirrored.split_cpu(2)


def _two_replicas(mirrored: ModuleType) -> Any:
    """A MirroredStrategy over two logical CPUs, for the TensorFlow checks."""
    try:
        return mirrored.two_replicas()
    except mirrored.LogicalDevicesError:
        raise Mismatch(
            "this check needs two logical CPUs, and TensorFlow already runs on one: solve "
            "exercise 1, restart the kernel and run the notebook from the top"
        ) from None


# --------------------------------------------------------------------------- exercise 1


@exercise("Replicas on one machine")
def replicas(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 1: a process group of gloo (PyTorch), two logical CPUs and a strategy (TF)."""
    if _ddp(adapter):
        return _join_group(learner, engine(adapter))
    return _mirrored_strategy(learner, engine(adapter))


def _join_group(learner: Callable[[int, int, int], Any], ddp: ModuleType) -> str:
    if ddp.group_exists():
        raise Mismatch(
            "a process group already exists in this kernel (from an earlier cell?): run "
            "`torch.distributed.destroy_process_group()` and then this check again"
        )
    for attempt in range(2):  # a second time, as when the cell runs again
        port = scaling.free_port()
        with ddp.joined(functools.partial(_call_init, learner, port)) as group:
            if group is None:
                raise Mismatch(
                    "after your function there is no process group: it must join one itself"
                )
            if group.backend != "gloo":
                raise Mismatch(f"your group uses the {group.backend} backend; on CPUs it is gloo")
            if (group.rank, group.world_size) != (0, 1):
                raise Mismatch(
                    f"called with rank 0 and world size 1, your group has rank "
                    f"{group.rank} of {group.world_size}: pass them on"
                )
            if scaling.port_is_free(port):
                raise Mismatch(
                    f"nothing listens on the port your function was given ({port}): rank 0 "
                    "must serve the rendezvous there, where the other ranks look for it"
                )
            kept = group.all_reduce_keeps_ones()
        if attempt == 0 and not kept:
            raise Mismatch("an all-reduce in your group of one process changed the tensor")
    return "a gloo group on the given port, rank 0 of 1, twice over; its all-reduce works"


def _call_init(learner: Callable[[int, int, int], Any], port: int) -> None:
    """Run the learner's join; name the usual mistakes in what init_process_group raises."""
    try:
        learner(0, 1, port)
    except (ValueError, RuntimeError) as error:
        text = str(error)
        if "MASTER_ADDR" in text or "MASTER_PORT" in text:
            raise Mismatch(
                "`env://` reads the address and port from environment variables that torchrun "
                "sets and a notebook does not: give the address and port in `init_method`"
            ) from None
        if "NCCL" in text or "nccl" in text:
            raise Mismatch(
                "NCCL moves tensors between NVIDIA GPUs; a CPU process group needs the gloo backend"
            ) from None
        raise


def _mirrored_strategy(learner: Callable[[int], Any], mirrored: ModuleType) -> str:
    strategies = []
    for _ in range(2):  # a second time, as when the cell runs again
        try:
            strategies.append(learner(2))
        except RuntimeError as error:
            if not mirrored.split_too_late(error):
                raise
            raise Mismatch(
                "TensorFlow's runtime had already started when your function split the CPU: "
                "split it before anything runs an operation (listing logical devices or creating "
                "a strategy starts the runtime); then restart the kernel and run from the top"
            ) from None
    strategy = strategies[-1]
    replicas = mirrored.mirrored_replicas(strategy)
    if replicas is None:
        raise Mismatch(f"your function returns a {type(strategy).__name__}, not a MirroredStrategy")
    if replicas.count != 2:
        raise Mismatch(
            f"your strategy has {replicas.count} replica(s), on {replicas.devices}; asked "
            "for two: did it get both logical CPUs?"
        )
    if not all("CPU" in device.upper() for device in replicas.devices):
        raise Mismatch(
            f"your strategy's replicas are on {replicas.devices}, not on the logical CPUs"
        )
    return "two replicas on two logical CPUs, and calling it again works"


# --------------------------------------------------------------------------- exercise 2


@exercise("Sharding a global batch")
def sharding(learner: Callable[[Any, int, int], Any], adapter: Adapter) -> str:
    """Exercise 2: equal, disjoint shards that together are the global batch; uneven refused."""
    if not _ddp(adapter):
        _two_cpus_if_possible(engine(adapter))
    examples = fresh_rng("shard").permutation(1000)
    for size, replicas in ((64, 2), (24, 3), (8, 4)):
        batch = examples[:size]
        given = adapter.from_numpy(batch)
        before = snapshot(given)
        shards = [as_numpy(learner(given, rank, replicas), "shard") for rank in range(replicas)]
        expect_unchanged(before, [given], ["batch"])
        _expect_partition(shards, batch, replicas)
    uneven = adapter.from_numpy(examples[:7])
    try:
        learner(uneven, 0, 2)
    except ValueError:
        pass
    else:
        raise Mismatch(
            "7 examples do not split into 2 equal shards, and your function returned one anyway: "
            "raise a ValueError (uneven shards would weight the examples unequally)"
        )
    return "equal, disjoint shards that make up the batch for 2, 3 and 4 replicas; 7 into 2 refused"


def _expect_partition(shards: list[np.ndarray], batch: np.ndarray, replicas: int) -> None:
    per = len(batch) // replicas
    for rank, shard in enumerate(shards):
        if shard.ndim != 1 or len(shard) != per:
            raise Mismatch(
                f"with {replicas} replicas and a global batch of {len(batch)}, replica {rank} "
                f"gets {shard.shape[0] if shard.ndim else 'no'} examples; every replica gets an "
                f"equal share, {per}"
            )
    for first in range(replicas):
        for second in range(first + 1, replicas):
            common = np.intersect1d(shards[first], shards[second])
            if len(common):
                raise Mismatch(
                    f"replicas {first} and {second} both get example {common[0]}: each replica "
                    "needs its own part of the batch (does your shard depend on the rank?)"
                )
    missing = np.setdiff1d(batch, np.concatenate(shards))
    if len(missing):
        raise Mismatch(f"example {missing[0]} of the global batch is in no replica's shard")


# --------------------------------------------------------------------------- exercise 3


@exercise("Scaling the loss")
def loss_scaling(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 3: each replica's loss such that the engine's reduction of the replicas'
    gradients is the global batch's mean, for uneven and empty shards too, with the global count
    all-reduced at run time (no replica is told it)."""
    if _ddp(adapter):
        return _loss_in_processes(learner, engine(adapter))
    return _loss_in_replicas(learner, engine(adapter))


def _loss_in_processes(learner: Callable[..., Any], ddp: ModuleType) -> str:
    rng = fresh_rng("loss scaling")
    for split in SPLITS:
        losses = rng.uniform(0.1, 3.0, size=sum(split))
        shards = _split(losses, split)
        try:
            results = ddp.replicas_in_threads(learner, shards, len(split))
        except ddp.CollectiveMismatch as error:
            raise Mismatch(
                f"for a global batch split {_plus(split)}: {error}. Every replica, the one with no "
                "example too, sums the same thing at the same place in its step"
            ) from None
        values = []
        for loss in results:
            if not getattr(loss, "requires_grad", False):
                raise Mismatch(
                    "your loss is not connected to the per-example losses any more (a Python "
                    "number, `.item()`, `.detach()`?): backward() could not reach the model"
                )
            values.append(_scalar(loss))
        if not matches(np.mean(values), losses.mean(), atol=1e-12):  # DDP averages
            _name_the_scaling(values, shards, losses, averaged=True)
    return (
        "the replicas' losses, averaged, are the global mean for equal, uneven and empty shards, "
        "with the count all-reduced"
    )


def _loss_in_replicas(learner: Callable[..., Any], mirrored: ModuleType) -> str:
    strategy = _two_replicas(mirrored)
    rng = fresh_rng("loss scaling")
    batches = [rng.uniform(0.1, 3.0, size=size).astype(np.float32) for size in (3, 1, 7, 64)]
    try:
        results = mirrored.replica_results(strategy, learner, batches)
    except ValueError as error:
        if "None values not supported" not in str(error):
            raise
        raise Mismatch(
            "your loss divides by a size that is None when the step is traced (`.shape[0]`?): "
            "inside a tf.function the strategy's shards have a size known only when the step "
            "runs, as in the lesson's loop, so take the size at run time"
        ) from None
    for losses, (parts, shards) in zip(batches, results, strict=True):
        values = [_scalar(part) for part in parts]
        if not matches(np.sum(values), losses.mean(dtype=np.float64), atol=FLOAT32):
            default = np.array(
                [
                    shard.sum(dtype=np.float64) / (len(shard) * len(shards)) if len(shard) else 0.0
                    for shard in shards
                ]
            )
            if len({len(shard) for shard in shards}) > 1 and matches(values, default, atol=FLOAT32):
                raise Mismatch(
                    f"for a global batch of {len(losses)} split "
                    f"{_plus(tuple(map(len, shards)))}, each replica divides by its own size × "
                    "the number of replicas (what tf.nn.compute_average_loss does when it is not "
                    "told the global count): that is the global count only when the shards are "
                    "equal"
                )
            _name_the_scaling(values, shards, losses, averaged=False, atol=FLOAT32)
    return (
        "the replicas' losses sum to the global mean for splits 2 + 1, 1 + 0, 4 + 3 and 32 + 32, "
        "with the count all-reduced in the step"
    )


def _split(losses: np.ndarray, split: tuple[int, ...]) -> list[np.ndarray]:
    edges = np.cumsum((0, *split))
    return [losses[edges[r] : edges[r + 1]] for r in range(len(split))]


def _plus(split: tuple[int, ...]) -> str:
    return " + ".join(str(size) for size in split)


def _scalar(loss: Any) -> float:
    value = as_numpy(loss, "the replica's loss")
    if value.shape != ():
        raise Mismatch(f"the replica's loss has shape {value.shape}; it must be one number")
    return float(value)


def _name_the_scaling(
    values: list[float],
    shards: list[np.ndarray],
    losses: np.ndarray,
    averaged: bool,
    *,
    atol: float = 1e-12,
) -> None:
    """Name the usual mistakes: a replica's own mean, the other engine's scaling."""
    mine = np.array(values)
    means = np.array([shard.mean(dtype=np.float64) if len(shard) else np.nan for shard in shards])
    summed_form = np.array([shard.sum(dtype=np.float64) / len(losses) for shard in shards])
    averaged_form = summed_form * len(shards)
    split = f"a global batch of {len(losses)} split {_plus(tuple(len(s) for s in shards))}"
    if matches(mine, means, atol=atol) or not np.all(np.isfinite(mine)):
        raise Mismatch(
            f"for {split}, you return each replica's mean over its own examples: an example of "
            "a small shard weighs more than one of a large shard (and an empty shard gives nan)"
            + ("" if averaged else "; and MirroredStrategy adds the replicas' gradients up")
        )
    if averaged and matches(mine, summed_form, atol=atol):
        raise Mismatch(
            "that is tf.distribute's scaling, for engines that sum the replicas' gradients; DDP "
            "averages them, so your losses come out divided by the number of replicas"
        )
    if not averaged and matches(mine, averaged_form, atol=atol):
        raise Mismatch(
            "that is DDP's scaling, for engines that average the replicas' gradients; "
            "MirroredStrategy sums them, so your losses come out multiplied by the number of "
            "replicas"
        )
    how, combined = ("averaged", mine.mean()) if averaged else ("summed", mine.sum())
    raise Mismatch(
        f"for {split}, your replicas' losses {how} give {combined:.6g}, not the mean loss of "
        f"the global batch, {losses.mean():.6g}: which count divides the sum, and is it the "
        "count of the whole global batch?"
    )


# --------------------------------------------------------------------------- exercise 4


@exercise("The partial-batch trap")
def partial_batch(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 4: the replicas' batches, step by step, are the full global batches of one
    process, in order, without duplicates and without the partial last batch."""
    if _ddp(adapter):
        return _replica_loaders(learner, engine(adapter))
    return _global_batches(learner, adapter, engine(adapter))


def _expect_steps(
    steps: list[np.ndarray], n: int, global_batch: int, what: str, *, extra: str, order: str
) -> None:
    """Step k must hold exactly examples k·G … (k+1)·G − 1, in any order, and there must be
    ``n // G`` steps: one process's epoch with its partial batch dropped. ``extra`` says what an
    additional step is made of, ``order`` what reorders the examples."""
    full = n // global_batch
    for k, step in enumerate(steps):
        if len(set(step.tolist())) < len(step):
            raise Mismatch(
                f"step {k + 1} of {what} holds example {_duplicate(step)} twice: the shards were "
                "padded with duplicates to make them equal"
            )
        if k >= full:
            if len(step) < global_batch:
                raise Mismatch(
                    f"step {k + 1} of {what} is a partial batch of {len(step)} examples "
                    f"({n} = {full} × {global_batch} + {n % global_batch}): drop it"
                )
            raise Mismatch(
                f"there is a step {k + 1} in {what}, and one process stops after {full} steps "
                f"({n} = {full} × {global_batch} + {n % global_batch}): {extra}"
            )
        if len(step) != global_batch:
            raise Mismatch(
                f"step {k + 1} of {what} holds {len(step)} examples, a global batch {global_batch}"
            )
        if sorted(step.tolist()) != list(range(k * global_batch, (k + 1) * global_batch)):
            raise Mismatch(
                f"step {k + 1} of {what} holds other examples than one process's step {k + 1}: "
                f"is the order shuffled? {order}"
            )
    if len(steps) < full:
        raise Mismatch(f"{what} takes {len(steps)} steps, one process {full}")


def _duplicate(values: np.ndarray) -> int:
    unique, counts = np.unique(values, return_counts=True)
    return int(unique[np.argmax(counts)])


def _replica_loaders(learner: Callable[..., Any], ddp: ModuleType) -> str:
    for n, replicas, global_batch in ((103, 2, 16), (47, 2, 16), (70, 4, 16)):
        dataset = ddp.index_dataset(n)
        try:
            loaders = [learner(dataset, rank, replicas, global_batch) for rank in range(replicas)]
            per_rank = [ddp.batches(loader) for loader in loaders]
        except (ValueError, RuntimeError) as error:
            if "process group" in str(error):
                raise Mismatch(
                    "your sampler asks the default process group for the number of replicas and "
                    "the rank, and there is none here: pass them to DistributedSampler"
                ) from None
            raise
        per = global_batch // replicas
        for rank, batches in enumerate(per_rank):
            sizes = {len(batch) for batch in batches[: n // global_batch]}
            if sizes and sizes != {per}:
                raise Mismatch(
                    f"replica {rank}'s batches hold {sorted(sizes)} examples; with a global batch "
                    f"of {global_batch} on {replicas} replicas, each holds {per}"
                )
        if len({len(batches) for batches in per_rank}) > 1:
            raise Mismatch("the replicas take different numbers of steps: one would wait forever")
        if per_rank[0] and np.array_equal(per_rank[0][0], per_rank[1][0]):
            raise Mismatch(
                "replicas 0 and 1 get the same examples: each needs its own shard of every "
                "global batch (a sampler that knows the replica's rank)"
            )
        steps = [np.concatenate(parts) for parts in zip(*per_rank, strict=True)]
        _expect_steps(
            steps,
            n,
            global_batch,
            f"the {replicas} replicas together",
            extra="the sampler padded the epoch with examples from its start to fill it",
            order="(DistributedSampler shuffles, with its own seed, unless told not to)",
        )
    return "every step is one process's full global batch, dealt out evenly; nothing padded or shuffled"


def _global_batches(learner: Callable[..., Any], adapter: Adapter, mirrored: ModuleType) -> str:
    strategy = _two_replicas(mirrored)
    for n, global_batch in ((103, 16), (70, 8)):
        X = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 3), dtype=np.float32)
        y = np.arange(n)
        dataset = learner(adapter.from_numpy(X), adapter.from_numpy(y), global_batch)
        if not mirrored.is_dataset(dataset):
            raise Mismatch(
                f"your function returns a {type(dataset).__name__}, not a tf.data.Dataset"
            )
        bounded = n // global_batch + 2  # a dataset that repeats is cut short here
        steps = mirrored.step_labels(dataset, bounded)
        _expect_steps(
            steps,
            n,
            global_batch,
            "your pipeline",
            extra="does it repeat, or take more than one epoch?",
            order="(keep the order given: it is the shared one)",
        )
        for parts in mirrored.shard_sizes(strategy, dataset, bounded):
            if len(set(parts)) > 1:
                raise Mismatch(f"the strategy splits one of your batches {parts}: unequal shards")
    return "full global batches in the given order, which the strategy splits evenly at every step"


# --------------------------------------------------------------------------- exercise 5


@exercise("A checkpoint written once")
def checkpoint(learner: Callable[..., Any], adapter: Adapter) -> str:
    """Exercise 5: the process of rank 0 (the chief) alone writes the weights, in a form a plain
    model loads; the weights come back bit for bit."""
    if _ddp(adapter):
        return _checkpoint_torch(learner, engine(adapter))
    return _checkpoint_keras(learner, engine(adapter))


def _written_once(
    learner: Callable[..., Any], model: Any, folder: Path, name: str, who: str
) -> Path:
    """Call the learner as rank 1, then as rank 0; the file rank 0 wrote."""
    path = folder / name
    learner(model, path, 1)
    if path.exists() or any(folder.iterdir()):
        raise Mismatch(
            f"called as {who} 1, your function wrote {next(folder.iterdir()).name}: only {who} 0 "
            "writes (every process holds the same weights, and processes writing one file at "
            "once can leave it corrupt)"
        )
    learner(model, path, 0)
    if not path.exists():
        raise Mismatch(f"called as {who} 0, your function wrote nothing at the path it was given")
    return path


def _checkpoint_torch(learner: Callable[..., Any], ddp: ModuleType) -> str:
    if ddp.group_exists():
        raise Mismatch(
            "a process group already exists in this kernel (from an earlier cell?): run "
            "`torch.distributed.destroy_process_group()` and then this check again"
        )
    with ddp.model_in_ddp(seed=7) as model, tempfile.TemporaryDirectory() as scratch:
        expected = ddp.state_inside(model)
        path = _written_once(learner, model, Path(scratch), "model.pt", "rank")
        try:
            state = ddp.read_checkpoint(path)
        except Exception:
            raise Mismatch(
                "torch.load(path, weights_only=True) cannot read your file: it holds more than "
                "tensors (the whole module, pickled?); save the model's state_dict"
            ) from None
        if not ddp.is_state_dict(state):
            raise Mismatch(f"your file holds a {type(state).__name__}, not a state_dict")
        if any(key.startswith("module.") for key in state):
            raise Mismatch(
                "the keys of your state_dict start with `module.`: that is DDP's own state_dict, "
                "which a plain model refuses under load_state_dict(strict=True); save the state "
                "of the model inside DDP"
            )
        plain = ddp.plain_twin(model)
        try:
            ddp.load_strict(plain, state)
        except RuntimeError as error:
            first = str(error).strip().splitlines()[0]
            raise Mismatch(f"a plain model refuses your state_dict: {first}") from None
        _model_unchanged(ddp.state_inside(model), expected)
        _same_weights(ddp.state_of(plain), expected)
    return "rank 0 alone writes a state_dict that a plain model loads strictly, bit for bit"


def _checkpoint_keras(learner: Callable[..., Any], mirrored: ModuleType) -> str:
    strategy = _two_replicas(mirrored)
    model = mirrored.trained_model(strategy, seed=7)
    expected = mirrored.weights_of(model)
    with tempfile.TemporaryDirectory() as scratch:
        path = _written_once(learner, model, Path(scratch), "model.weights.h5", "worker")
        plain = mirrored.plain_model()
        try:
            plain.load_weights(path)
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise Mismatch(
                f"a plain model cannot load your file ({type(error).__name__}: {first}): write "
                "the model's weights"
            ) from None
        _model_unchanged(mirrored.weights_of(model), expected)
        _same_weights(mirrored.weights_of(plain), expected)
    return "the chief alone writes the weights, and a plain model loads them bit for bit"


def _same_weights(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    for name, value in expected.items():
        if name not in got or not np.array_equal(got[name], value):
            raise Mismatch(
                f"the weights loaded from your file differ from the model's ({name}): save them "
                "as they are, not a copy made before training or converted to another dtype"
            )


def _model_unchanged(now: dict[str, np.ndarray], before: dict[str, np.ndarray]) -> None:
    for name, value in before.items():
        if not np.array_equal(now[name], value):
            raise Mismatch(f"your function changed the model's weights ({name})")
