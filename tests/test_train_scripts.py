"""Lesson 10's complete training scripts, run as a learner runs them, on this machine's CPU.

* ``notebooks/10_scaling_out/train_ddp.py`` under ``torchrun --standalone --nproc_per_node=2``
  (gloo, two processes, gradient accumulation with ``no_sync``);
* ``notebooks/10_scaling_out/train_multiworker.py`` as two ``MultiWorkerMirroredStrategy``
  workers on localhost, each started with its own ``TF_CONFIG``, on a training set whose shards
  give the workers unequal numbers of batches (TensorFlow then hands the one that runs out empty
  batches: the behaviour the lesson teaches).

Tiny settings (a few epochs of the digits, offline), ports chosen free at run time (and chosen
again, once, if another process took one in between), and every process started here is killed
in ``finally``, with its whole process group (``torchrun``'s workers included), whatever happened;
when one process fails, the others are killed at once rather than left waiting for it.

What is checked is what the scripts wrote: the loss fell, the processes agree bit for bit, the
checkpoint loads into a plain model, and the examples each process trained on, epoch by epoch:
shards that are disjoint and together cover the epoch (less the partial batch dropped), in an
order that changes from one epoch to the next. So removing ``set_epoch``, the sampler's sharding
or the pipeline's ``shard`` fails a test.

Each test costs what starting its processes costs (importing PyTorch or TensorFlow twice, and a
rendezvous); the training itself takes well under a second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from diptych import scaling

from helpers import REPO, load_script

LESSON = REPO / "notebooks" / "10_scaling_out"
TIMEOUT = 300  # seconds for all the processes of one run together; a loaded machine is slow
DIGITS = 1347  # training digits (scikit-learn's 1,797, less a quarter held out)


def run_together(
    commands: list[tuple[list[str], dict[str, str]]], logs: Path
) -> list[tuple[int, str]]:
    """Start every command at once (each in a session of its own, its output to a file in
    ``logs``) and wait for all of them; as soon as one fails, or at the deadline, kill the rest.
    Returns (exit status, output) per command; whatever is left is killed, always."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for i, (argv, env) in enumerate(commands):
            with open(logs / f"process-{i}.log", "w") as log:  # the child keeps its own handle
                processes.append(
                    subprocess.Popen(
                        argv,
                        env={**os.environ, **env},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its children (torchrun's workers) in its group
                    )
                )
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            statuses = [process.poll() for process in processes]
            if None not in statuses or any(status for status in statuses):  # all done, one failed
                break
            time.sleep(0.1)
    finally:
        for process in processes:
            _kill_group(process)
    return [
        (process.returncode, (logs / f"process-{i}.log").read_text())
        for i, process in enumerate(processes)
    ]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything in its group (a no-op for a group already gone)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):  # gone; or not POSIX
        if process.poll() is None:
            process.kill()
    process.wait(timeout=30)


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = scaling.free_port()
        if port not in ports:
            ports.append(port)
    return ports


def script(name: str) -> ModuleType:
    """A script of the lesson as a module (its ``main`` is not run)."""
    return load_script(LESSON / name)


def read(folder: Path, pattern: str) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(folder.glob(pattern))]


def expect_shards(seen: list[list[int]], *, kept: int, total: int) -> None:
    """One epoch's examples per process: no example twice, none in two processes, ``kept`` of
    the ``total`` examples in all (the rest dropped as a partial batch)."""
    together = [example for mine in seen for example in mine]
    assert len(set(together)) == len(together), "an example went to two processes, or twice"
    assert len(together) == kept and set(together) <= set(range(total))


@pytest.mark.slow
def test_train_ddp_runs_under_torchrun_and_its_checkpoint_loads_into_a_plain_model(tmp_path):
    torch = pytest.importorskip("torch")
    epochs, global_batch = 3, 64
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",  # what the torchrun command runs
        "--standalone",  # a rendezvous on a free port of this machine
        "--nproc_per_node=2",
        str(LESSON / "train_ddp.py"),
        *("--out", str(tmp_path), "--epochs", str(epochs), "--global-batch", str(global_batch)),
        *("--accumulate", "2"),  # 2 micro-batches of 16 per rank and step: no_sync on the first
        *("--timeout", "60"),
    ]
    logs = tmp_path / "logs"
    logs.mkdir()
    ((status, output),) = run_together([(argv, {})], logs)
    assert status == 0, output[-3000:]
    ranks = read(tmp_path, "rank-*.json")
    assert [rank["rank"] for rank in ranks] == [0, 1]
    assert all(rank["world_size"] == 2 for rank in ranks)
    first, second = ranks
    assert first["digest"] == second["digest"]  # the replicas agree bit for bit
    assert first["losses"] == second["losses"]  # the loss was all-reduced: the same everywhere
    assert first["losses"][-1] < first["losses"][0] / 2  # the loss fell
    assert first["ddp_keys"][0].startswith("module.")  # what saving the wrapper would have kept

    # the sampler: each rank its own shard of every epoch's 21 full global batches of 64 ...
    for epoch in range(epochs):
        expect_shards(
            [rank["seen"][epoch] for rank in ranks],
            kept=DIGITS // global_batch * global_batch,
            total=DIGITS,
        )
    # ... in a new order every epoch (set_epoch)
    assert all(rank["seen"][0] != rank["seen"][1] for rank in ranks), "epoch 1 repeats epoch 0"

    train_ddp = script("train_ddp.py")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert not any(key.startswith("module.") for key in state)
    model = train_ddp.load_plain(tmp_path / "model.pt")  # load_state_dict(strict=True)
    assert train_ddp.digest(model) == first["digest"]
    _, X_test, _, y_test = train_ddp.digits(0)
    with torch.no_grad():
        accuracy = float((model(X_test).argmax(dim=1) == y_test).float().mean())
    assert accuracy == pytest.approx(first["test_accuracy"], abs=1e-6) and accuracy > 0.8


def run_two_workers(arguments: list[str], out: Path) -> list[tuple[int, str]]:
    """``train_multiworker.py`` as workers 0 and 1 of a cluster on two free ports of localhost;
    once more on fresh ports if a port was taken between choosing it and the worker's bind."""
    for attempt in range(2):
        cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
        commands = []
        for index in range(2):
            config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            argv = [sys.executable, str(LESSON / "train_multiworker.py"), "--out", str(out)]
            commands.append(([*argv, *arguments], {"TF_CONFIG": json.dumps(config)}))
        logs = out / f"logs-{attempt}"
        logs.mkdir(parents=True)
        results = run_together(commands, logs)
        if not any("Could not start gRPC server" in output for _, output in results):
            break
    return results


@pytest.mark.slow
def test_train_multiworker_runs_uneven_workers_and_its_checkpoint_loads_into_a_plain_model(
    tmp_path,
):
    pytest.importorskip("tensorflow")
    # 383 digits, shuffled and sharded: 192 for worker 0 and 191 for worker 1, in batches of 8
    # per replica (a global batch of 16), full ones only: 24 batches for worker 0, 23 for worker 1
    examples, epochs, global_batch = 383, 3, 16
    arguments = ["--examples", str(examples), "--global-batch", str(global_batch)]
    results = run_two_workers([*arguments, "--epochs", str(epochs), "--timeout", "60"], tmp_path)
    for status, output in results:
        assert status == 0, output[-3000:]
    workers = read(tmp_path, "worker-*.json")
    assert [worker["worker"] for worker in workers] == [0, 1]
    assert all(worker["replicas"] == 2 for worker in workers)
    first, second = workers
    assert first["digest"] == second["digest"]  # the workers agree bit for bit
    assert first["losses"] == second["losses"]
    assert first["losses"][-1] < first["losses"][0] / 2  # the loss fell

    per = global_batch // 2
    shards = [(examples + 1) // 2, examples // 2]  # 192 and 191
    for epoch in range(epochs):
        expect_shards(
            [[i for batch in worker["seen"][epoch] for i in batch] for worker in workers],
            kept=sum(shard // per * per for shard in shards),
            total=examples,
        )
        steps = [[len(batch) for batch in worker["seen"][epoch]] for worker in workers]
        # every worker takes every step; the one that ran out, on an empty batch
        assert steps == [[per] * 24, [per] * 23 + [0]], steps
    reshuffled = all(worker["seen"][0] != worker["seen"][1] for worker in workers)
    assert reshuffled, "epoch 1 repeats epoch 0"

    assert sorted(path.name for path in tmp_path.glob("*.h5")) == ["model.weights.h5"]  # the chief
    assert first["reloaded"] == first["digest"]  # a plain model, outside the strategy, loads it
