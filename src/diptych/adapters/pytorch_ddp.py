"""PyTorch's side of lesson 10 (scaling out): DistributedDataParallel over gloo.

* **The DDP worker** (``ddp_worker``, ``train_replica``): one replica of the lesson's MLP wrapped
  in ``DistributedDataParallel`` over gloo, fed by a ``DistributedSampler``. ``scaling.launch``
  starts it in spawned processes, which import it by module and name: that is why it lives in a
  module and not in the notebook.
* **The lesson's MLP** (``mlp``) and its weights and gradients in the neutral layout
  (``neutral_weights``, ``neutral_gradients``), to compare with one process and with Keras.
* **What the exercise checks of ``checks.scaling_out`` need from PyTorch**: a process group to
  inspect, an index dataset, per-replica gradients, gloo's own all-reduce. The checks judge; this
  module only runs PyTorch and hands back plain values.

A framework companion of ``adapters.pytorch``; importing it imports PyTorch.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from diptych import initial, scaling
from diptych.adapters import pytorch as adapter
from diptych.adapters.idiom import Target
from diptych.optional import require

torch = require("torch")
dist = require("torch.distributed")


# --------------------------------------------------------------------------- the lesson's model


def mlp(sizes: Sequence[int], weights: list[initial.Layer], *, float64: bool = False) -> Any:
    """A tanh MLP (``nn.Sequential``) of these ``sizes`` holding the shared ``weights``.

    tanh rather than ReLU: a smooth model has no kink where float32 rounding could switch a unit
    on or off, so a short float32 run is a smooth function of its rounding errors.
    """
    dtype = torch.float64 if float64 else torch.float32  # before loading: float32 would round
    layers: list[Any] = []
    for i, layer_weights in enumerate(weights):
        linear = torch.nn.Linear(sizes[i], sizes[i + 1], dtype=dtype)
        adapter.load_dense(linear, layer_weights)
        layers += [linear, torch.nn.Tanh()] if i < len(weights) - 1 else [linear]
    return torch.nn.Sequential(*layers)


def neutral_weights(model: Any) -> np.ndarray:
    """Every weight of an ``nn.Sequential`` of ``nn.Linear`` layers in the neutral layout (``W``
    as (in, out), then ``b``, layer after layer), as one flat NumPy copy: (parameters,)."""
    return _neutral(model, lambda parameter: parameter)


def neutral_gradients(model: Any) -> np.ndarray:
    """The ``.grad`` of every weight, laid out as ``neutral_weights`` lays out the weights."""
    return _neutral(model, lambda parameter: parameter.grad)


def _neutral(model: Any, read: Callable[[Any], Any]) -> np.ndarray:
    parts = []
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            kernel, bias = read(layer.weight).detach(), read(layer.bias).detach()
            parts += [kernel.T.reshape(-1), bias.reshape(-1)]
    return torch.cat(parts).numpy().copy()


# --------------------------------------------------------------------------- the DDP worker


def ddp_worker(
    rank: int, world_size: int, port: int, *runs: scaling.Training
) -> list[dict[str, Any]]:
    """One replica: join the process group, train each run with DistributedDataParallel, leave.

    Several runs share one process group, so that a lesson pays for starting processes once.
    """
    torch.set_num_threads(1)  # one core per process: the processes are the parallelism
    dist.init_process_group(
        "gloo",  # the CPU backend; "nccl" on NVIDIA GPUs
        init_method=f"tcp://{scaling.HOST}:{port}",  # rank 0 listens there, the others connect
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=scaling.COLLECTIVE_TIMEOUT),
    )
    try:
        return [train_replica(run) for run in runs]
    finally:
        dist.destroy_process_group()


def train_replica(run: scaling.Training) -> dict[str, Any]:
    """This process's replica of one run. Returns ``{"path": (steps, parameters) the weights
    after every step, neutral layout; "losses": (steps,) loss of each global batch; "seconds":
    time spent training}``."""
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    model = DistributedDataParallel(mlp(run.sizes, run.weights, float64=run.float64))
    optimizer = torch.optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum)
    X = torch.as_tensor(run.X, dtype=torch.float64 if run.float64 else torch.float32)
    y = torch.as_tensor(run.y)
    batch = scaling.per_replica_batch(run.global_batch, dist.get_world_size())
    losses: list[float] = []
    path: list[np.ndarray] = []
    started = time.perf_counter()
    for order in run.epochs:
        dataset = TensorDataset(X[order], y[order])  # this epoch, in the shared order
        sampler: Any = DistributedSampler(dataset, shuffle=False, drop_last=run.drop_last)
        for xb, yb in DataLoader(
            dataset, batch_size=batch, sampler=sampler, drop_last=run.drop_last
        ):
            if len(losses) == run.steps:
                break
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)  # mean over this shard
            loss.backward()  # DDP all-reduces the gradients: every rank gets their average
            optimizer.step()
            total = loss.detach().clone()
            dist.all_reduce(total)  # the sum of the replicas' losses, for the record
            losses.append(total.item() / dist.get_world_size())
            path.append(neutral_weights(model.module))
    seconds = time.perf_counter() - started
    return {"path": np.array(path), "losses": np.array(losses), "seconds": seconds}


# --------------------------------------------------------------------------- for the checks


def group_exists() -> bool:
    """Is there a default process group in this process (one an earlier cell left behind)?"""
    return bool(dist.is_initialized())


class Group:
    """The default process group, as a check inspects it."""

    @property
    def backend(self) -> str:
        return str(dist.get_backend())

    @property
    def rank(self) -> int:
        return int(dist.get_rank())

    @property
    def world_size(self) -> int:
        return int(dist.get_world_size())

    def all_reduce_keeps_ones(self) -> bool:
        """Does an all-reduce of ones (in a group of one) give the ones back?"""
        total = torch.ones(3)
        dist.all_reduce(total)
        return bool(torch.equal(total, torch.ones(3)))


@contextmanager
def joined(join: Callable[[], Any]) -> Iterator[Group | None]:
    """Run ``join()`` (the learner's code that joins a group); the group it made, or None if it
    made none; the group is destroyed on leaving, whatever happened."""
    try:
        join()
        yield Group() if dist.is_initialized() else None
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def tracked(array: np.ndarray) -> Any:
    """A tensor of ``array`` that records the operations on it (``requires_grad``)."""
    return adapter.from_numpy(array).requires_grad_(True)


def index_dataset(n: int) -> Any:
    """A ``TensorDataset`` of the indices 0 … n − 1: each example is its own position."""
    from torch.utils.data import TensorDataset

    return TensorDataset(torch.arange(n))


def batches(loader: Any) -> list[np.ndarray]:
    """The examples of each batch a loader of ``index_dataset`` yields, as NumPy."""
    return [batch[0].numpy().copy() for batch in loader]


def shard_gradients(
    model: Any, X: np.ndarray, y: np.ndarray, shards: Sequence[np.ndarray]
) -> list[list[Any]]:
    """Per shard of rows, the gradient of the mean cross-entropy for each parameter (tensors)."""
    per_replica = []
    for rows in shards:
        per_replica.append([g.clone() for g in _gradients(model, X[rows], y[rows])])
    return per_replica


def gradients(model: Any, X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """The gradient of the mean cross-entropy over all of ``X``, per parameter, as NumPy."""
    return [g.numpy().copy() for g in _gradients(model, X, y)]


def _gradients(model: Any, X: np.ndarray, y: np.ndarray) -> list[Any]:
    model.zero_grad()
    logits = model(torch.from_numpy(X))
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)).backward()
    return [p.grad for p in model.parameters()]


def all_reduce_shortcuts() -> list[Target]:
    """What an exercise that averages gradients by hand switches off."""
    return [(dist, "all_reduce", "torch.distributed.all_reduce")]


def gloo_average(per_replica: list[list[np.ndarray]]) -> list[np.ndarray]:
    """gloo's own all-reduce (what DDP calls) over replicas that are threads of this process:
    each rank's gradients flattened into one bucket, as DDP does, summed across the ranks, then
    divided by the number of ranks."""
    store, replicas = dist.HashStore(), len(per_replica)
    buckets = [
        torch.from_numpy(np.concatenate([g.ravel() for g in grads])) for grads in per_replica
    ]
    failures: list[BaseException] = []

    def rank_thread(rank: int) -> None:
        try:
            group: Any = dist.ProcessGroupGloo(
                store, rank, replicas, datetime.timedelta(seconds=30)
            )
            group.allreduce([buckets[rank]]).wait()
        except Exception as error:  # re-raised in the check's own thread
            failures.append(error)

    threads = [threading.Thread(target=rank_thread, args=(rank,)) for rank in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    if failures:
        raise RuntimeError(f"gloo's all-reduce failed in this check: {failures[0]}")
    averaged = buckets[0].numpy() / replicas
    edges = np.cumsum([0, *(g.size for g in per_replica[0])])
    return [
        averaged[start:stop].reshape(g.shape)
        for start, stop, g in zip(edges[:-1], edges[1:], per_replica[0], strict=True)
    ]
