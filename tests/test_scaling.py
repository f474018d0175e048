"""diptych.scaling and its companions: global-batch arithmetic, launching workers that never hang, the
DDP worker (adapters.pytorch_ddp), logical CPUs (adapters.tensorflow_mirrored), the checks.

The workers below live in this module, which the spawned processes import by name (pytest puts
tests/ on sys.path and the children inherit it). Every launch has a deadline, and each failure is
told apart by its message, so a test that waited for the deadline instead of noticing a dead
worker fails on the message, not on a clock.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from diptych import checks as checks_api
from diptych import data, initial, recording, scaling, timing
from diptych.checks import scaling_out

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
pytorch = pytest.importorskip("diptych.adapters.pytorch")
ddp = pytest.importorskip("diptych.adapters.pytorch_ddp")

# --------------------------------------------------------------------------- workers


def echo(rank, world_size, port, payload):
    return {"rank": rank, "world_size": world_size, "port": port, "payload": payload}


def raise_on_rank_1(rank, world_size, port):
    if rank == 1:
        raise ValueError("a shard of 65 examples\nsecond line of the message")
    time.sleep(60)  # a peer that would wait for rank 1 forever


def killed_in_an_all_reduce(rank, world_size, port):
    """Rank 1 is killed (as the kernel's out-of-memory killer would) while rank 0 waits for it
    in a gloo all-reduce."""
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"tcp://{scaling.HOST}:{port}", rank=rank, world_size=world_size
    )
    dist.all_reduce(torch.ones(1))  # both arrive: the group works
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    dist.all_reduce(torch.ones(1))  # rank 0 waits here for a peer that is gone


def exit_quietly(rank, world_size, port):
    if rank == 0:
        os._exit(3)
    time.sleep(60)


def sleep_forever(rank, world_size, port):
    time.sleep(3600)


def init_on(rank, world_size, port, busy_port):
    """Join a group on a port another program already holds (as a stale run would)."""
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"tcp://{scaling.HOST}:{busy_port}", rank=rank, world_size=world_size
    )


# --------------------------------------------------------------------------- arithmetic


def test_importing_scaling_imports_no_framework():
    code = "import sys, diptych.scaling; print([m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules])"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


def test_a_global_batch_splits_only_into_equal_shards():
    assert scaling.per_replica_batch(64, 2) == 32
    assert scaling.per_replica_batch(64, 8) == 8
    with pytest.raises(ValueError, match="does not split into 3 equal shards"):
        scaling.per_replica_batch(64, 3)
    with pytest.raises(ValueError, match="positive"):
        scaling.per_replica_batch(64, 0)


def test_an_epoch_of_digits_leaves_a_partial_batch():
    assert scaling.epoch_split(1347, 64) == (21, 3)
    assert scaling.epoch_split(1797, 64) == (28, 5)
    assert scaling.epoch_split(128, 64) == (2, 0)


# --------------------------------------------------------------------------- ports


def test_a_free_port_can_be_listened_on_and_a_held_one_cannot():
    port = scaling.free_port()
    assert scaling.port_is_free(port)
    with socket.socket() as holder:
        holder.bind((scaling.HOST, port))
        holder.listen()
        assert not scaling.port_is_free(port)


def test_a_port_in_use_is_refused_before_any_process_starts():
    with socket.socket() as holder:
        holder.bind((scaling.HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(scaling.WorkerFailed, match=f"port {port} .* already in use"):
            scaling.launch(echo, "x", port=port)


def test_a_worker_defined_in_a_notebook_is_refused_with_the_reason(monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # no __file__

    def notebook_worker(rank, world_size, port):
        return rank

    notebook_worker.__module__ = "__main__"
    notebook_worker.__qualname__ = "notebook_worker"
    with pytest.raises(ValueError, match=r"defined in a notebook.*Put it in a module"):
        scaling.launch(notebook_worker)
    with pytest.raises(ValueError, match="lambda or a nested function"):
        scaling.launch(lambda rank, world_size, port: rank)


@pytest.mark.parametrize("bad", [{"processes": 0}, {"timeout": 0}, {"timeout": float("nan")}])
def test_launch_refuses_nonsense_settings(bad):
    with pytest.raises(ValueError):
        scaling.launch(echo, "x", **bad)


# --------------------------------------------------------------------------- launching


@pytest.mark.slow
def test_launch_returns_every_ranks_result_in_rank_order():
    results = scaling.launch(echo, {"n": 1}, processes=2, timeout=120)
    assert [r["rank"] for r in results] == [0, 1]
    assert {r["world_size"] for r in results} == {2}
    assert results[0]["port"] == results[1]["port"] and results[0]["payload"] == {"n": 1}


@pytest.mark.slow
def test_a_worker_that_raises_ends_the_launch_with_its_error_in_one_line():
    with pytest.raises(scaling.WorkerFailed) as failure:
        scaling.launch(raise_on_rank_1, timeout=120)
    message = str(failure.value)
    assert message == (
        "worker 1 raised ValueError: a shard of 65 examples; the other workers were stopped"
    )


@pytest.mark.slow
def test_a_killed_worker_is_named_and_its_waiting_peer_is_stopped():
    """The peer blocked in the all-reduce would wait for COLLECTIVE_TIMEOUT; launch stops it as
    soon as the killed worker is seen, long before its own deadline (120 s here)."""
    with pytest.raises(scaling.WorkerFailed, match="worker 1 was killed by SIGKILL"):
        scaling.launch(killed_in_an_all_reduce, timeout=120)
    assert scaling.multiprocessing.active_children() == []


@pytest.mark.slow
def test_a_worker_that_exits_early_is_named_with_its_status():
    with pytest.raises(scaling.WorkerFailed, match="worker 0 exited with status 3"):
        scaling.launch(exit_quietly, timeout=120)


@pytest.mark.slow
def test_workers_that_never_finish_are_killed_at_the_deadline():
    with pytest.raises(scaling.WorkerFailed, match="did not finish within 3 s"):
        scaling.launch(sleep_forever, timeout=3)
    assert scaling.multiprocessing.active_children() == []


@pytest.mark.slow
def test_a_port_taken_between_the_check_and_the_rendezvous_fails_clearly():
    with socket.socket() as holder:
        holder.bind((scaling.HOST, 0))
        holder.listen()
        busy = holder.getsockname()[1]
        with pytest.raises(scaling.WorkerFailed, match=r"worker 0 raised .*EADDRINUSE"):
            scaling.launch(init_on, busy, timeout=120)


# --------------------------------------------------------------------------- the DDP worker


def one_process(run, *, drop_last, norm="none"):
    """The same training in this process, for comparison."""
    from torch.utils.data import DataLoader, TensorDataset

    model = ddp.mlp(run.sizes, run.weights, norm=norm)
    optimizer = torch.optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum)
    X, y = torch.as_tensor(run.X), torch.as_tensor(run.y)
    steps = 0
    for order in run.epochs:
        for xb, yb in DataLoader(
            TensorDataset(X[order], y[order]), batch_size=run.global_batch, drop_last=drop_last
        ):
            if steps == run.steps:
                break
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
            steps += 1
    return ddp.neutral_weights(model)


def training(n, *, steps, remainder, epochs=3, norm="none"):
    """A run on the first ``n`` training digits, in global batches of 64."""
    digits = data.digits()
    return scaling.Training(
        digits.X_train[:n],
        digits.y_train[:n],
        initial.mlp([64, 16, 10], seed=0),
        data.minibatch_order(n, batch_size=n, epochs=epochs, seed=0),
        global_batch=64,
        steps=steps,
        lr=0.1,
        momentum=0.9,
        remainder=remainder,
        norm=norm,
    )


@pytest.mark.slow
def test_ddp_equals_one_process_only_when_every_step_weights_the_examples_alike():
    """One launch: 201 digits (3 × 64 + 9, a partial batch split 5 + 4) padded, dropped and kept
    unevenly with the real count; 193 digits (3 × 64 + 1: rank 1 runs out) under Join;
    BatchNorm per shard and over the global batch; dropout masks; a timed step."""
    runs = {
        "dropped": training(201, steps=7, remainder="drop"),
        "padded": training(201, steps=7, remainder="pad"),
        "uneven": training(201, steps=7, remainder="uneven"),
        "join": training(193, steps=4, remainder="uneven", epochs=1),
        "batchnorm": training(201, steps=5, remainder="drop", norm="batch"),
        "synced": training(201, steps=5, remainder="drop", norm="synced"),
    }
    masks = [
        scaling.DropoutMasks(rows=3, features=5, rate=0.5, seed=0, per_rank=per_rank)
        for per_rank in (False, True)
    ]
    timed = scaling.TimedSteps(runs["dropped"], rounds=2, steps=2, warmup=1)
    ranks = scaling.launch(ddp.ddp_worker, *runs.values(), *masks, timed, processes=2, timeout=240)
    mine, theirs = (
        dict(zip([*runs, "same", "per rank", "timed"], rank, strict=True)) for rank in ranks
    )
    for name in ("dropped", "padded", "batchnorm", "synced"):  # the replicas stay identical
        np.testing.assert_array_equal(mine[name]["path"], theirs[name]["path"])
    parameters = 64 * 16 + 16 + 16 * 10 + 10
    assert mine["dropped"]["path"].shape == mine["padded"]["path"].shape == (7, parameters)
    assert len(mine["dropped"]["losses"]) == 7

    def gap(name, *, drop_last, norm="none"):
        return np.abs(
            mine[name]["path"][-1] - one_process(runs[name], drop_last=drop_last, norm=norm)
        ).max()

    assert gap("dropped", drop_last=True) < 1e-5
    assert gap("padded", drop_last=False) > 1e-4  # the trap
    assert gap("uneven", drop_last=False) < 1e-5  # every example kept, weighted by the real count
    assert mine["join"]["batches"] == [4] and theirs["join"]["batches"] == [3]
    assert mine["join"]["path"].shape == (4, parameters)
    assert gap("join", drop_last=False) < 1e-5
    assert gap("batchnorm", drop_last=True, norm="batch") > 1e-4  # statistics per shard
    assert gap("synced", drop_last=True, norm="batch") < 1e-5
    assert not np.array_equal(mine["batchnorm"]["statistics"], theirs["batchnorm"]["statistics"])
    np.testing.assert_array_equal(mine["synced"]["statistics"], theirs["synced"]["statistics"])
    np.testing.assert_array_equal(mine["same"]["mask"], theirs["same"]["mask"])
    assert not np.array_equal(mine["per rank"]["mask"], theirs["per rank"]["mask"])
    timings = [timing.Timing.from_dict(result) for result in mine["timed"].values()]
    assert [t.name for t in timings] == ["one process", "DDP, 2 processes"]
    assert all(len(t.per_step) == 2 and t.conditions.threads == 1 for t in timings)


def test_the_global_batch_shards_deal_each_batch_in_turn_without_padding():
    ranks = [list(ddp.GlobalBatchShards(7, 4, rank, 2)) for rank in range(2)]
    assert ranks == [[[0, 2], [4, 6]], [[1, 3], [5]]]
    assert [len(ddp.GlobalBatchShards(5, 4, rank, 2)) for rank in range(2)] == [2, 1]  # 4 + 1


def test_synced_batchnorm_is_plain_batchnorm_outside_a_group():
    torch.manual_seed(0)
    synced, plain = ddp.SyncedBatchNorm1d(3), torch.nn.BatchNorm1d(3)
    x = torch.randn(6, 3)
    torch.testing.assert_close(synced(x), plain(x))
    torch.testing.assert_close(synced.running_var, plain.running_var)


# --------------------------------------------------------------------------- TensorFlow

SPLIT = """
from diptych.adapters import tensorflow_mirrored as mirrored
first = mirrored.split_cpu(2)
again = mirrored.split_cpu(2)  # a notebook cell run twice
print(first == again, len(first))
try:
    mirrored.split_cpu(3)
except mirrored.LogicalDevicesError as error:
    print(error)
"""


@pytest.mark.slow
def test_the_cpu_splits_into_logical_devices_once_and_says_when_it_is_too_late():
    pytest.importorskip("tensorflow")
    result = subprocess.run(
        [sys.executable, "-c", SPLIT], capture_output=True, text=True, timeout=300, check=True
    )
    first, second = result.stdout.strip().splitlines()
    assert first == "True 2"
    assert "already runs on 2 CPU device(s)" in second and "Restart the kernel" in second


def test_a_training_run_must_fit_in_its_epochs():
    digits = data.digits()
    epochs = data.minibatch_order(1347, batch_size=1347, epochs=2, seed=0)
    weights = initial.mlp([64, 10], seed=0)

    def run(steps, remainder, **options):
        return scaling.Training(
            digits.X_train,
            digits.y_train,
            weights,
            epochs,
            global_batch=64,
            steps=steps,
            lr=0.1,
            remainder=remainder,
            **options,
        )

    assert run(44, "pad").steps == run(44, "uneven").steps == 44  # 2 × (21 full + 1 partial)
    with pytest.raises(ValueError, match="2 epochs hold 42 steps of 64, not 43"):
        run(43, "drop")
    with pytest.raises(ValueError, match="remainder must be one of"):
        run(1, "keep")
    with pytest.raises(ValueError, match="norm must be one of"):
        run(1, "drop", norm="layer")


# --------------------------------------------------------------------------- the exercises' checks
#
# Per exercise, an idiomatic right answer passes and the typical wrong answers fail with their
# named hint. PyTorch's run here; TensorFlow's need a fresh interpreter (its devices are fixed by
# the first operation any test runs), so they run in subprocesses, once for all cases.


def join(rank, world_size, port):
    dist.init_process_group(
        "gloo", init_method=f"tcp://{scaling.HOST}:{port}", rank=rank, world_size=world_size
    )


def join_env(rank, world_size, port):
    dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=world_size)


def join_nccl(rank, world_size, port):
    dist.init_process_group(
        "nccl", init_method=f"tcp://{scaling.HOST}:{port}", rank=rank, world_size=world_size
    )


def join_elsewhere(rank, world_size, port):
    join(rank, world_size, scaling.free_port())


def shard_in_turn(batch, rank, replicas):
    if len(batch) % replicas:
        raise ValueError("uneven")
    return batch[rank::replicas]


def shard_in_blocks(batch, rank, replicas):
    if len(batch) % replicas:
        raise ValueError("uneven")
    per = len(batch) // replicas
    return batch[rank * per : (rank + 1) * per]


def shard_array_split(batch, rank, replicas):
    return np.array_split(np.asarray(batch), replicas)[rank]


def shard_ignoring_rank(batch, rank, replicas):
    return batch[: len(batch) // replicas]


def loss_ddp(per_example, world_size):
    count = torch.tensor(len(per_example))
    dist.all_reduce(count)
    return per_example.sum() * world_size / count


def loss_ddp_float_count(per_example, world_size):
    count = torch.tensor([float(per_example.shape[0])])
    dist.all_reduce(count, op=dist.ReduceOp.SUM)
    return per_example.sum() * dist.get_world_size() / count[0]


def loss_tf_scaling(per_example, world_size):
    count = torch.tensor(len(per_example))
    dist.all_reduce(count)
    return per_example.sum() / count


def loss_counted_only_when_not_empty(per_example, world_size):
    count = torch.tensor(len(per_example))
    if len(per_example):
        dist.all_reduce(count)
    return per_example.sum() * world_size / count


def loss_shard_size_times_replicas(per_example, world_size):
    return per_example.sum() * world_size / (len(per_example) * world_size)


def loss_averaged_count(per_example, world_size):
    count = torch.tensor(float(len(per_example)))
    dist.all_reduce(count, op=dist.ReduceOp.AVG)
    return per_example.sum() / count


def loader(
    dataset,
    rank,
    replicas,
    global_batch,
    *,
    shuffle=False,
    sampler_drop=True,
    loader_drop=True,
    batch=None,
    sampler=True,
):
    from torch.utils.data import DataLoader, DistributedSampler

    chosen = (
        DistributedSampler(
            dataset, num_replicas=replicas, rank=rank, shuffle=shuffle, drop_last=sampler_drop
        )
        if sampler
        else None
    )
    return DataLoader(
        dataset, batch_size=batch or global_batch // replicas, sampler=chosen, drop_last=loader_drop
    )


def loader_from_the_group(dataset, rank, replicas, global_batch):
    from torch.utils.data import DataLoader, DistributedSampler

    return DataLoader(
        dataset,
        batch_size=global_batch // replicas,
        sampler=DistributedSampler(dataset, shuffle=False, drop_last=True),
    )


def save_checkpoint(model, path, rank):
    if rank == 0:
        torch.save(model.module.state_dict(), path)


def save_stripped_and_wait(model, path, rank):
    if rank == 0:
        state = {key.removeprefix("module."): value for key, value in model.state_dict().items()}
        torch.save(state, path)
    dist.barrier()


def save_ddp_state(model, path, rank):
    if rank == 0:
        torch.save(model.state_dict(), path)


def save_on_every_rank(model, path, rank):
    torch.save(model.module.state_dict(), path)


def save_the_module(model, path, rank):
    if rank == 0:
        torch.save(model.module, path)


def save_after_changing(model, path, rank):
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    if rank == 0:
        torch.save(model.module.state_dict(), path)


TORCH_RIGHT = [
    (scaling_out.replicas, join),
    (scaling_out.sharding, shard_in_turn),
    (scaling_out.sharding, shard_in_blocks),
    (scaling_out.loss_scaling, loss_ddp),
    (scaling_out.loss_scaling, loss_ddp_float_count),
    (scaling_out.partial_batch, loader),
    (scaling_out.checkpoint, save_checkpoint),
    (scaling_out.checkpoint, save_stripped_and_wait),
]

TORCH_WRONG = [
    (scaling_out.replicas, join_env, "`env://` reads the address and port"),
    (scaling_out.replicas, join_nccl, "needs the gloo backend"),
    (scaling_out.replicas, join_elsewhere, "nothing listens on the port your function was given"),
    (scaling_out.sharding, shard_array_split, "7 examples do not split into 2 equal shards"),
    (scaling_out.sharding, shard_ignoring_rank, "does your shard depend on the rank?"),
    (
        scaling_out.loss_scaling,
        lambda losses, world_size: losses.mean(),
        "each replica's mean over its own examples",
    ),
    (scaling_out.loss_scaling, loss_shard_size_times_replicas, "each replica's mean"),
    (scaling_out.loss_scaling, loss_tf_scaling, "that is tf.distribute's scaling"),
    (
        scaling_out.loss_scaling,
        lambda losses, world_size: float(loss_ddp(losses, world_size)),
        "not connected to the per-example losses",
    ),
    (
        scaling_out.loss_scaling,
        loss_counted_only_when_not_empty,
        "called all_reduce different numbers of times",
    ),
    (scaling_out.loss_scaling, loss_averaged_count, "not a sum"),
    (scaling_out.partial_batch, lambda *a: loader(*a, shuffle=True), "is the order shuffled?"),
    (
        scaling_out.partial_batch,
        lambda *a: loader(*a, sampler_drop=False, loader_drop=False),
        "is a partial batch of 8 examples",
    ),
    (
        scaling_out.partial_batch,
        lambda *a: loader(*a, sampler_drop=False),
        "the sampler padded the epoch",
    ),
    (scaling_out.partial_batch, lambda *a: loader(*a, batch=a[3]), "each holds 8"),
    (scaling_out.partial_batch, lambda *a: loader(*a, sampler=False), "get the same examples"),
    (scaling_out.partial_batch, loader_from_the_group, "pass them to DistributedSampler"),
    (scaling_out.checkpoint, save_ddp_state, "start with `module.`"),
    (scaling_out.checkpoint, save_on_every_rank, "only rank 0 writes"),
    (scaling_out.checkpoint, save_the_module, "the whole module, pickled?"),
    (scaling_out.checkpoint, save_after_changing, "changed the model's weights"),
    (scaling_out.checkpoint, lambda model, path, rank: None, "wrote nothing"),
]


@pytest.mark.parametrize("check, learner", TORCH_RIGHT, ids=lambda x: getattr(x, "__name__", "?"))
def test_a_right_pytorch_answer_passes(check, learner, outcomes):
    check(learner, pytorch)
    outcome = outcomes()[-1]
    assert outcome.status == checks_api.PASSED, outcome.message
    assert not dist.is_initialized()  # the check leaves no group behind


@pytest.mark.parametrize(
    "check, learner, named", TORCH_WRONG, ids=[f"{c.__name__}-{n[:30]}" for c, _, n in TORCH_WRONG]
)
def test_a_typical_wrong_pytorch_answer_fails_with_its_named_hint(check, learner, named, outcomes):
    check(learner, pytorch)
    outcome = outcomes()[-1]
    assert outcome.status == checks_api.FAILED
    assert named in outcome.message
    assert not dist.is_initialized()


def test_the_group_check_refuses_to_touch_a_group_the_learner_left(outcomes):
    join(0, 1, scaling.free_port())
    try:
        scaling_out.replicas(join, pytorch)
    finally:
        dist.destroy_process_group()
    assert "already exists in this kernel" in outcomes()[-1].message


def test_stubs_are_not_done_and_every_exercise_is_registered_in_order(outcomes):
    def stub(*args):
        raise NotImplementedError

    for item in checks_api.exercises_of("scaling_out"):
        getattr(scaling_out, item.check)(stub, pytorch)
    assert [o.status for o in outcomes()] == [checks_api.NOT_DONE] * 5
    items = checks_api.exercises_of("scaling_out")
    assert [item.number for item in items] == [1, 2, 3, 4, 5]  # titles: test_pairing
    assert items[4].heading == "Exercise 5: A checkpoint written once"
    assert items[0].heading == "Exercise 1: Replicas on one machine"


TF_CASES = """
import json, sys
import numpy as np
from diptych import recording
from diptych.adapters import tensorflow as adapter
from diptych.checks import scaling_out
import tensorflow as tf

def mirrored(count):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])

def strategy_first(count):
    strategy = tf.distribute.MirroredStrategy()
    mirrored(count)
    return strategy

def shard(batch, rank, replicas):
    if batch.shape[0] % replicas:
        raise ValueError("uneven")
    per = batch.shape[0] // replicas
    return batch[rank * per:(rank + 1) * per]

def batches(X, y, G, **options):
    return tf.data.Dataset.from_tensor_slices((X, y)).batch(G, **options)

def count(losses):
    return tf.distribute.get_replica_context().all_reduce("SUM", tf.shape(losses)[0])

def save(model, path, worker):
    if worker == 0:
        model.save_weights(path)

CASES = {
    "first": [(scaling_out.replicas, mirrored)],
    "strategy first": [(scaling_out.replicas, strategy_first)],
}[sys.argv[1]] + ([
    (scaling_out.replicas, lambda count: mirrored(count) and tf.distribute.MirroredStrategy(["/cpu:0"])),
    (scaling_out.sharding, shard),
    (scaling_out.loss_scaling, lambda losses: tf.nn.compute_average_loss(losses, global_batch_size=count(losses))),
    (scaling_out.loss_scaling, lambda losses: tf.reduce_sum(losses) / tf.cast(count(losses), losses.dtype)),
    (scaling_out.loss_scaling, lambda losses: tf.reduce_sum(losses) / tf.distribute.get_replica_context().all_reduce("SUM", tf.cast(tf.shape(losses)[0], tf.float32))),
    (scaling_out.loss_scaling, lambda losses: tf.reduce_sum(losses) / count(losses)),
    (scaling_out.loss_scaling, lambda losses: tf.reduce_mean(losses)),
    (scaling_out.loss_scaling, lambda losses: tf.nn.compute_average_loss(losses)),
    (scaling_out.loss_scaling, lambda losses: tf.reduce_sum(losses) * 2 / tf.cast(count(losses), losses.dtype)),
    (scaling_out.loss_scaling, lambda losses: tf.reduce_sum(losses) / losses.shape[0]),
    (scaling_out.loss_scaling, lambda losses: tf.nn.compute_average_loss(losses, global_batch_size=64)),
    (scaling_out.partial_batch, lambda X, y, G: batches(X, y, G, drop_remainder=True)),
    (scaling_out.partial_batch, lambda X, y, G: batches(X, y, G)),
    (scaling_out.partial_batch, lambda X, y, G: tf.data.Dataset.from_tensor_slices((X, y)).shuffle(200, seed=1).batch(G, drop_remainder=True)),
    (scaling_out.partial_batch, lambda X, y, G: tf.data.Dataset.from_tensor_slices((X, y)).repeat().batch(G, drop_remainder=True)),
    (scaling_out.checkpoint, save),
    (scaling_out.checkpoint, lambda model, path, worker: model.save_weights(path)),
    (scaling_out.checkpoint, lambda model, path, worker: worker == 0 and model.save(path)),
    (scaling_out.checkpoint, lambda model, path, worker: None),
] + [  # the check cell run again and again: no retracing warning
    (scaling_out.loss_scaling, lambda losses: tf.nn.compute_average_loss(losses, global_batch_size=count(losses))),
] * 4 if sys.argv[1] == "first" else [(scaling_out.checkpoint, save)])
for check, learner in CASES:
    check(learner, adapter)
print(json.dumps([[o.status.value, o.message] for o in recording.read_outcomes(recording.record_folder())]))
"""

TF_EXPECTED = {
    "first": [
        ("passed", "two replicas on two logical CPUs"),
        ("failed", "your strategy has 1 replica(s)"),
        ("passed", "equal, disjoint shards"),
        ("passed", "the replicas' losses sum to the global mean"),
        ("passed", "the replicas' losses sum to the global mean"),
        ("passed", "the replicas' losses sum to the global mean"),  # a float32 count
        ("failed", "your code raised TypeError: `x` and `y` must have the same dtype"),  # int count
        ("failed", "each replica's mean over its own examples"),
        ("failed", "what tf.nn.compute_average_loss does when it is not told the global count"),
        ("failed", "that is DDP's scaling"),
        ("failed", "a size that is None when the step is traced (`.shape[0]`?)"),
        ("failed", "which count divides the sum"),
        ("passed", "full global batches in the given order"),
        ("failed", "is a partial batch of 7 examples"),
        ("failed", "is the order shuffled?"),
        ("failed", "does it repeat"),
        ("passed", "the chief alone writes the weights"),
        ("failed", "only worker 0 writes"),
        ("failed", "a plain model cannot load your file"),
        ("failed", "wrote nothing"),
        *[("passed", "the replicas' losses sum to the global mean")] * 4,
    ],
    "strategy first": [
        ("failed", "TensorFlow's runtime had already started when your function split the CPU"),
        ("failed", "this check needs two logical CPUs, and TensorFlow already runs on one"),
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("order", list(TF_EXPECTED))
def test_the_tensorflow_checks_pass_right_answers_and_name_wrong_ones(order, tmp_path):
    pytest.importorskip("tensorflow")
    env = {**os.environ, recording.RECORD_ENV: str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", TF_CASES, order],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "retracing" not in result.stderr  # one trace per run of the loss-scaling check
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert not any("ag__" in message for _, message in got)  # the learner's line, not AutoGraph's
    assert len(got) == len(TF_EXPECTED[order])
    for (status, message), (want, fragment) in zip(got, TF_EXPECTED[order], strict=True):
        assert status == want and fragment in message, message


def test_the_picture_has_a_title_a_shard_per_replica_and_refuses_uneven_shards():
    figure = scaling.diagram(replicas=4, global_batch=64)
    (ax,) = figure.axes
    texts = [text.get_text() for text in ax.texts]
    assert ax.get_title() == "Data parallelism: 4 replicas, one global batch of 64"
    assert [t for t in texts if t.startswith("shard")] == [
        f"shard {r}: 16 examples" for r in range(4)
    ]
    assert any("(g0 + g1 + g2 + g3) / 4" in t for t in texts)
    summed = [text.get_text() for text in scaling.diagram(replicas=2, reduce="sum").axes[0].texts]
    assert any("all-reduce (sum):  g = g0 + g1" in t for t in summed)
    assert any("summed loss / 64" in t for t in summed)
    with pytest.raises(ValueError, match="does not split into 3 equal shards"):
        scaling.diagram(replicas=3, global_batch=64)
    assert any("consecutive blocks" in t for t in texts)  # tf.distribute's split, the default
    turns = scaling.diagram(replicas=2, global_batch=64, deal="turns").axes[0]
    assert any("dealt in turn" in text.get_text() for text in turns.texts)  # DistributedSampler
    stripes = [patch.get_facecolor() for patch in turns.patches]
    assert len(stripes) == 64 and stripes[0] != stripes[1] and stripes[0] == stripes[2]


def test_a_peer_that_aborted_after_losing_its_partner_is_not_named_the_cause(tmp_path):
    """Seen in CI: rank 1 SIGKILLed, rank 0 then aborted by gloo (SIGABRT); rank 1 is the cause."""

    def ended(code):
        return types.SimpleNamespace(exitcode=code, join=lambda timeout=None: None)

    processes = [ended(-signal.SIGABRT), ended(-signal.SIGKILL)]
    message = scaling._cause(processes, tmp_path, first=0)
    assert message.startswith("worker 1 was killed by SIGKILL")
    alone = [ended(-signal.SIGABRT), ended(1)]
    assert scaling._cause(alone, tmp_path, first=1).startswith("worker 0 was killed by SIGABRT")
