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
from diptych import data, initial, recording, scaling
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


def one_process(run, *, drop_last):
    """The same training in this process, for comparison."""
    from torch.utils.data import DataLoader, TensorDataset

    model = ddp.mlp(run.sizes, run.weights)
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


@pytest.mark.slow
def test_ddp_equals_one_process_only_when_the_partial_batch_is_dropped():
    digits = data.digits()
    X, y = digits.X_train[:201], digits.y_train[:201]  # 3 × 64 + 9: an odd partial batch
    epochs = data.minibatch_order(201, batch_size=201, epochs=3, seed=0)
    weights = initial.mlp([64, 16, 10], seed=0)
    runs = [
        scaling.Training(
            X, y, weights, epochs, global_batch=64, steps=7, lr=0.1, momentum=0.9, drop_last=drop
        )
        for drop in (True, False)
    ]
    ranks = scaling.launch(ddp.ddp_worker, *runs, processes=2, timeout=120)
    dropped, kept = ranks[0]
    for rank_0, rank_1 in zip(*ranks, strict=True):  # the replicas stay identical
        np.testing.assert_array_equal(rank_0["path"], rank_1["path"])
    assert dropped["path"].shape == kept["path"].shape == (7, 64 * 16 + 16 + 16 * 10 + 10)
    assert len(dropped["losses"]) == len(kept["losses"]) == 7
    assert np.abs(dropped["path"][-1] - one_process(runs[0], drop_last=True)).max() < 1e-5
    assert np.abs(kept["path"][-1] - one_process(runs[1], drop_last=False)).max() > 1e-4


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

    def run(steps, drop_last):
        return scaling.Training(
            digits.X_train,
            digits.y_train,
            weights,
            epochs,
            global_batch=64,
            steps=steps,
            lr=0.1,
            drop_last=drop_last,
        )

    assert run(44, drop_last=False).steps == 44  # 2 × (21 full + 1 partial)
    with pytest.raises(ValueError, match="2 epochs hold 42 steps of 64, not 43"):
        run(43, drop_last=True)


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


def loss_ddp(per_example, total, replicas):
    return per_example.sum() * replicas / total


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


def average(replica_gradients):
    return [sum(grads) / len(replica_gradients) for grads in zip(*replica_gradients, strict=True)]


def average_in_place(replica_gradients):
    total = list(replica_gradients[0])
    for grads in replica_gradients[1:]:
        for mine, theirs in zip(total, grads, strict=True):
            mine += theirs
    return [t / len(replica_gradients) for t in total]


def average_by_all_reduce(replica_gradients):
    dist.all_reduce(replica_gradients[0][0])
    return average(replica_gradients)


TORCH_RIGHT = [
    (scaling_out.replicas, join),
    (scaling_out.sharding, shard_in_turn),
    (scaling_out.sharding, shard_in_blocks),
    (scaling_out.loss_scaling, loss_ddp),
    (scaling_out.partial_batch, loader),
    (scaling_out.all_reduce, average),
]

TORCH_WRONG = [
    (scaling_out.replicas, join_env, "`env://` reads the address and port"),
    (scaling_out.replicas, join_nccl, "needs the gloo backend"),
    (scaling_out.replicas, join_elsewhere, "nothing listens on the port your function was given"),
    (scaling_out.sharding, shard_array_split, "7 examples do not split into 2 equal shards"),
    (scaling_out.sharding, shard_ignoring_rank, "does your shard depend on the rank?"),
    (
        scaling_out.loss_scaling,
        lambda losses, total, replicas: losses.mean(),
        "each replica's mean over its own examples",
    ),
    (
        scaling_out.loss_scaling,
        lambda losses, total, replicas: losses.sum() / total,
        "that is tf.distribute's scaling",
    ),
    (
        scaling_out.loss_scaling,
        lambda losses, total, replicas: float(loss_ddp(losses, total, replicas)),
        "not connected to the per-example losses",
    ),
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
    (
        scaling_out.all_reduce,
        lambda grads: [sum(g) for g in zip(*grads, strict=True)],
        "that is the sum",
    ),
    (scaling_out.all_reduce, lambda grads: list(grads[0]), "that is one replica's gradient"),
    (scaling_out.all_reduce, average_in_place, "changed its input `replica_gradients[0][0]`"),
    (scaling_out.all_reduce, average_by_all_reduce, "calls torch.distributed.all_reduce"),
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

def average(strategy, per_replica):
    return tf.add_n(list(strategy.experimental_local_results(per_replica))) / strategy.num_replicas_in_sync

CASES = {
    "first": [(scaling_out.replicas, mirrored)],
    "strategy first": [(scaling_out.replicas, strategy_first)],
}[sys.argv[1]] + ([
    (scaling_out.replicas, lambda count: mirrored(count) and tf.distribute.MirroredStrategy(["/cpu:0"])),
    (scaling_out.sharding, shard),
    (scaling_out.loss_scaling, lambda losses, total: tf.reduce_sum(losses) / total),
    (scaling_out.loss_scaling, lambda losses, total: tf.reduce_mean(losses)),
    (scaling_out.loss_scaling, lambda losses, total: tf.reduce_sum(losses) * 2 / total),
    (scaling_out.loss_scaling, lambda losses, total: tf.nn.compute_average_loss(losses, global_batch_size=total)),
    (scaling_out.partial_batch, lambda X, y, G: batches(X, y, G, drop_remainder=True)),
    (scaling_out.partial_batch, lambda X, y, G: batches(X, y, G)),
    (scaling_out.partial_batch, lambda X, y, G: tf.data.Dataset.from_tensor_slices((X, y)).shuffle(200, seed=1).batch(G, drop_remainder=True)),
    (scaling_out.partial_batch, lambda X, y, G: tf.data.Dataset.from_tensor_slices((X, y)).repeat().batch(G, drop_remainder=True)),
    (scaling_out.all_reduce, average),
    (scaling_out.all_reduce, lambda strategy, per_replica: tf.add_n(list(strategy.experimental_local_results(per_replica)))),
    (scaling_out.all_reduce, lambda strategy, per_replica: strategy.experimental_local_results(per_replica)[0]),
    (scaling_out.all_reduce, lambda strategy, per_replica: strategy.reduce("MEAN", per_replica, axis=None)),
] if sys.argv[1] == "first" else [(scaling_out.all_reduce, average)])
for check, learner in CASES:
    check(learner, adapter)
print(json.dumps([[o.status.value, o.message] for o in recording.read_outcomes(recording.record_folder())]))
"""

TF_EXPECTED = {
    "first": [
        ("passed", "two replicas on two logical CPUs"),
        ("failed", "your strategy has 1 replica(s)"),
        ("passed", "equal, disjoint shards"),
        ("passed", "combine to the global mean"),
        ("failed", "each replica's mean over its own examples"),
        ("failed", "that is DDP's scaling"),
        ("failed", "calls tf.nn.compute_average_loss"),
        ("passed", "full global batches in the given order"),
        ("failed", "is a partial batch of 7 examples"),
        ("failed", "is the order shuffled?"),
        ("failed", "does it repeat"),
        ("passed", "equals the strategy's all-reduce"),
        ("failed", "that is the sum"),
        ("failed", "that is one replica's gradient"),
        ("failed", "calls strategy.reduce"),
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
    got = json.loads(result.stdout.strip().splitlines()[-1])
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
    with pytest.raises(ValueError, match="does not split into 3 equal shards"):
        scaling.diagram(replicas=3, global_batch=64)


def test_a_peer_that_aborted_after_losing_its_partner_is_not_named_the_cause(tmp_path):
    """Seen in CI: rank 1 SIGKILLed, rank 0 then aborted by gloo (SIGABRT); rank 1 is the cause."""

    def ended(code):
        return types.SimpleNamespace(exitcode=code, join=lambda timeout=None: None)

    processes = [ended(-signal.SIGABRT), ended(-signal.SIGKILL)]
    message = scaling._cause(processes, tmp_path, first=0)
    assert message.startswith("worker 1 was killed by SIGKILL")
    alone = [ended(-signal.SIGABRT), ended(1)]
    assert scaling._cause(alone, tmp_path, first=1).startswith("worker 0 was killed by SIGABRT")
