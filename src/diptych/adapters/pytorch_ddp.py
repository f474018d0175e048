"""PyTorch's side of lesson 10 (scaling out): DistributedDataParallel over gloo.

* **The DDP worker** (``ddp_worker``): joins the process group and runs each job it is given:
  ``train_replica`` (one replica of the lesson's MLP wrapped in ``DistributedDataParallel``, fed
  by a ``DistributedSampler``), ``train_uneven`` (uneven shards done right: ``GlobalBatchShards``,
  the real global count ``GlobalCount`` and ``Join``), ``dropout_masks`` and ``timed_steps``.
  ``scaling.launch`` starts it in spawned processes, which import it by module and name: that is
  why it lives in a module and not in the notebook.
* **The lesson's MLP** (``mlp``), optionally with BatchNorm: per shard, or over the global batch
  (``SyncedBatchNorm1d``, what ``nn.SyncBatchNorm`` computes, which runs on GPUs only), and its
  weights and gradients in the neutral layout (``neutral_weights``, ``neutral_gradients``).
* **What the exercise checks of ``checks.scaling_out`` need from PyTorch**: a process group to
  inspect, an index dataset, replicas as threads with an all-reduce between them, a model wrapped
  in DDP to checkpoint. The checks judge; this module only runs PyTorch and hands back plain
  values.

A framework companion of ``adapters.pytorch``; importing it imports PyTorch.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from diptych import initial, scaling, timing
from diptych.adapters import pytorch as adapter
from diptych.optional import require

torch = require("torch")
dist = require("torch.distributed")
joining = require("torch.distributed.algorithms.join")


# --------------------------------------------------------------------------- the lesson's model


def mlp(
    sizes: Sequence[int], weights: list[initial.Layer], *, float64: bool = False, norm: str = "none"
) -> Any:
    """A tanh MLP (``nn.Sequential``) of these ``sizes`` holding the shared ``weights``.

    tanh rather than ReLU: a smooth model has no kink where float32 rounding could switch a unit
    on or off, so a short float32 run is a smooth function of its rounding errors. ``norm``
    ("batch" or "synced") puts a BatchNorm between each hidden layer and its tanh.
    """
    dtype = torch.float64 if float64 else torch.float32  # before loading: float32 would round
    norms = {"batch": torch.nn.BatchNorm1d, "synced": SyncedBatchNorm1d}
    layers: list[Any] = []
    for i, layer_weights in enumerate(weights):
        linear = torch.nn.Linear(sizes[i], sizes[i + 1], dtype=dtype)
        adapter.load_dense(linear, layer_weights)
        layers.append(linear)
        if i < len(weights) - 1:
            if norm != "none":
                layers.append(norms[norm](sizes[i + 1], dtype=dtype))
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def neutral_weights(model: Any) -> np.ndarray:
    """Every weight of the ``nn.Linear`` layers of an ``nn.Sequential`` in the neutral layout
    (``W`` as (in, out), then ``b``, layer after layer), as one flat NumPy copy: (parameters,)."""
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


def running_statistics(model: Any) -> np.ndarray:
    """The running means and variances of every BatchNorm of ``model``, flat: (2 × features,)."""
    parts = [
        torch.cat([layer.running_mean, layer.running_var])
        for layer in model
        if isinstance(layer, torch.nn.BatchNorm1d)
    ]
    return torch.cat(parts).numpy().copy()


class AllReduceSum(torch.autograd.Function):  # type: ignore[name-defined]
    """``dist.all_reduce`` as an operation autograd can differentiate: forward, the sum of a
    tensor over the ranks; backward, the sum of the gradients that flow back into that sum
    (every rank's loss depends on it)."""

    @staticmethod
    def forward(ctx: Any, tensor: Any) -> Any:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, gradient: Any) -> Any:
        total = gradient.clone()
        dist.all_reduce(total)
        return total


class SyncedBatchNorm1d(torch.nn.BatchNorm1d):  # type: ignore[name-defined]
    """What ``nn.SyncBatchNorm`` computes, on a CPU (where it refuses to run): while training,
    the batch statistics are those of the global batch, every rank's shard, from an all-reduce
    of the shards' counts, sums and sums of squares; the running statistics are updated with
    them, the same on every rank. Outside a process group, or in ``eval()``, a plain BatchNorm."""

    def forward(self, x: Any) -> Any:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        features = x.shape[1]
        count = x.new_full((1,), float(x.shape[0]))
        total = AllReduceSum.apply(torch.cat([x.sum(dim=0), (x * x).sum(dim=0), count]))
        n = total[-1]
        mean = total[:features] / n  # (features,)
        variance = total[features:-1] / n - mean * mean  # biased: what normalising uses
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(variance * n / (n - 1), self.momentum)  # unbiased, as BN's
            self.num_batches_tracked += 1
        return (x - mean) / torch.sqrt(variance + self.eps) * self.weight + self.bias


# --------------------------------------------------------------------------- the DDP worker


def ddp_worker(rank: int, world_size: int, port: int, *jobs: Any) -> list[dict[str, Any]]:
    """One replica: join the process group, run each job (a ``scaling.Training``,
    ``scaling.DropoutMasks`` or ``scaling.TimedSteps``), leave.

    Several jobs share one process group, so that a lesson pays for starting processes once.
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
        return [_run(job) for job in jobs]
    finally:
        dist.destroy_process_group()


def _run(job: Any) -> dict[str, Any]:
    if isinstance(job, scaling.DropoutMasks):
        return dropout_masks(job)
    if isinstance(job, scaling.TimedSteps):
        return timed_steps(job)
    if job.remainder == "uneven":
        return train_uneven(job)
    return train_replica(job)


def train_replica(run: scaling.Training) -> dict[str, Any]:
    """This process's replica of one run. Returns ``{"path": (steps, parameters) the weights
    after every step, neutral layout; "losses": (steps,) loss of each global batch;
    "statistics": BatchNorm's running statistics at the end (empty without BatchNorm)}``."""
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    model = DistributedDataParallel(mlp(run.sizes, run.weights, float64=run.float64, norm=run.norm))
    optimizer = torch.optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum)
    X = torch.as_tensor(run.X, dtype=torch.float64 if run.float64 else torch.float32)
    y = torch.as_tensor(run.y)
    batch = scaling.per_replica_batch(run.global_batch, dist.get_world_size())
    losses: list[float] = []
    path: list[np.ndarray] = []
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
            total = loss.detach().clone()  # from here on: the record, not the training
            dist.all_reduce(total)
            losses.append(total.item() / dist.get_world_size())
            path.append(neutral_weights(model.module))
    statistics = running_statistics(model.module) if run.norm != "none" else np.zeros(0)
    return {"path": np.array(path), "losses": np.array(losses), "statistics": statistics}


class GlobalBatchShards:
    """A batch sampler: this rank's examples of each global batch, dealt in turn, nothing padded,
    nothing dropped, so the last global batch of an epoch of 1,347 in 64s (3 examples) is split
    2 + 1. A rank with no example in a global batch yields nothing for it (it has fewer batches
    than its peers, and needs ``Join``)."""

    def __init__(self, n: int, global_batch: int, rank: int, world_size: int) -> None:
        self.n, self.global_batch, self.rank, self.world_size = n, global_batch, rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        for start in range(0, self.n, self.global_batch):
            stop = min(start + self.global_batch, self.n)
            mine = list(range(start + self.rank, stop, self.world_size))
            if mine:
                yield mine

    def __len__(self) -> int:
        return sum(1 for _ in self)


class GlobalCount(joining.Joinable):  # type: ignore[name-defined]
    """The number of examples in this step's global batch: the all-reduced sum of the shards'
    sizes. A ``Joinable``, so that under ``Join`` a rank that has run out of batches answers the
    others' all-reduce with 0 instead of leaving them waiting."""

    def __init__(self) -> None:
        super().__init__()

    def __call__(self, shard_size: int) -> Any:
        joining.Join.notify_join_context(self)  # the first joinable tells joined ranks a step is on
        count = torch.tensor(float(shard_size))
        dist.all_reduce(count)
        return count

    def join_hook(self, **kwargs: Any) -> Any:
        return _NoExamples()

    @property
    def join_device(self) -> Any:
        return torch.device("cpu")

    @property
    def join_process_group(self) -> Any:
        return dist.group.WORLD


class _NoExamples(joining.JoinHook):  # type: ignore[name-defined]
    """What a rank that has joined contributes to the count of a step: no examples."""

    def main_hook(self) -> None:
        dist.all_reduce(torch.zeros(()))


def train_uneven(run: scaling.Training) -> dict[str, Any]:
    """This process's replica of a run that keeps every example: uneven shards from
    ``GlobalBatchShards``, each replica's summed loss scaled by R / N with N the real global
    count, ``Join`` for a rank that runs out of batches first. Returns ``{"path", "batches"}``:
    the weights after every step and how many batches this rank had in each epoch."""
    from torch.distributed.algorithms.join import Join
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, TensorDataset

    model = DistributedDataParallel(mlp(run.sizes, run.weights, float64=run.float64))
    optimizer = torch.optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum)
    X = torch.as_tensor(run.X, dtype=torch.float64 if run.float64 else torch.float32)
    y = torch.as_tensor(run.y)
    rank, world_size = dist.get_rank(), dist.get_world_size()
    count = GlobalCount()
    path: list[np.ndarray] = []
    batches: list[int] = []
    for order in run.epochs:
        shards = GlobalBatchShards(len(order), run.global_batch, rank, world_size)
        loader = DataLoader(TensorDataset(X[order], y[order]), batch_sampler=shards)
        batches.append(len(shards))
        with Join([count, model]):  # the count first: its all-reduce comes first in a step
            for xb, yb in loader:
                optimizer.zero_grad()
                n = count(len(yb))  # the real global count: 64, or 3 at the end of an epoch
                loss = torch.nn.functional.cross_entropy(model(xb), yb, reduction="sum")
                (loss * world_size / n).backward()  # DDP's average then weighs each by 1/n
                optimizer.step()
                path.append(neutral_weights(model.module))
        if len(path) >= run.steps:
            break
    return {"path": np.array(path[: run.steps]), "batches": batches}


def dropout_masks(job: scaling.DropoutMasks) -> dict[str, Any]:
    """The dropout mask this rank draws after seeding with ``seed`` or ``seed + rank``."""
    torch.manual_seed(job.seed + dist.get_rank() if job.per_rank else job.seed)
    kept = torch.nn.functional.dropout(torch.ones(job.rows, job.features), job.rate) != 0
    return {"mask": kept.numpy().copy()}


def timed_steps(job: scaling.TimedSteps) -> dict[str, Any]:
    """Time one training step with ``diptych.timing.measure``: DDP on every rank's shard, and
    (on rank 0 alone, interleaved with it) one process on the whole global batch. Only the step
    is in the timed region: zero_grad, forward, backward (and DDP's all-reduce), optimizer step.
    Returns rank 0's timings as dictionaries (``timing.Timing.from_dict`` reads them)."""
    from torch.nn.parallel import DistributedDataParallel

    run = job.run
    rank, world_size = dist.get_rank(), dist.get_world_size()
    X = torch.as_tensor(run.X[run.epochs[0]][: run.global_batch])  # one global batch
    y = torch.as_tensor(run.y[run.epochs[0]][: run.global_batch])
    per = scaling.per_replica_batch(run.global_batch, world_size)
    shard = (X[rank * per : (rank + 1) * per], y[rank * per : (rank + 1) * per])

    def stepper(model: Any, xb: Any, yb: Any) -> Callable[[], None]:
        optimizer = torch.optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum)

        def step() -> None:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()

        return step

    ddp_step = stepper(DistributedDataParallel(mlp(run.sizes, run.weights)), *shard)
    alone = stepper(mlp(run.sizes, run.weights), X, y) if rank == 0 else lambda: None
    timings = timing.measure(
        {"one process": alone, "DDP, 2 processes": ddp_step},
        threads=torch.get_num_threads(),
        rounds=job.rounds,
        steps=job.steps,
        warmup=job.warmup,
    )
    return {name: result.to_dict() for name, result in timings.items()}


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


class CollectiveMismatch(RuntimeError):
    """The replicas (threads) did not call the all-reduce alike."""


class _Rounds:
    """The replicas' all-reduce calls, round by round: a replica's n-th call waits until every
    replica has made its n-th, and fails at once when a replica that has already finished never
    will (rather than waiting out ``timeout``, the limit for a replica that is still running)."""

    def __init__(self, replicas: int, timeout: float) -> None:
        self.calls = [0] * replicas
        self.finished = [False] * replicas
        self.values: dict[int, list[Any]] = {}
        self.changed = threading.Condition()
        self.timeout = timeout

    def gather(self, rank: int, value: Any) -> list[Any]:
        """Every replica's value of this round, rank 0 first; CollectiveMismatch if one never
        comes."""
        with self.changed:
            self.calls[rank] += 1
            round_ = self.calls[rank]
            self.values.setdefault(round_, [None] * len(self.calls))[rank] = value
            self.changed.notify_all()
            self.changed.wait_for(
                lambda: self._all_came(round_) or self._one_never_will(round_), timeout=self.timeout
            )
            if not self._all_came(round_):
                message = "the replicas called all_reduce different numbers of times"
                raise CollectiveMismatch(message)
            return self.values[round_]

    def finish(self, rank: int) -> None:
        """``rank`` returned or raised: it makes no more calls."""
        with self.changed:
            self.finished[rank] = True
            self.changed.notify_all()

    def _all_came(self, round_: int) -> bool:
        return all(calls >= round_ for calls in self.calls)

    def _one_never_will(self, round_: int) -> bool:
        return any(
            done and calls < round_ for calls, done in zip(self.calls, self.finished, strict=True)
        )


def replicas_in_threads(
    learner: Callable[..., Any], shards: Sequence[np.ndarray], world_size: int
) -> list[Any]:
    """Run ``learner(tracked(shard), world_size)`` for every shard at once, one thread per
    replica, while ``torch.distributed.all_reduce`` sums over these threads (a notebook cannot
    start the processes a real group needs) and ``get_world_size``/``get_rank`` answer for them. Returns each replica's result, rank 0 first;
    re-raises the first error a replica raised; ``CollectiveMismatch`` when the replicas did not
    all call the all-reduce the same number of times, or used an operation other than a sum."""
    replicas = len(shards)
    rounds = _Rounds(replicas, timeout=10)
    here = threading.local()
    results: list[Any] = [None] * replicas
    errors: list[BaseException] = []

    def all_reduce(tensor: Any, op: Any = None, group: Any = None, async_op: bool = False) -> Any:
        if op not in (None, dist.ReduceOp.SUM):
            raise CollectiveMismatch(f"the all-reduce was asked for {op}, not a sum")
        values = rounds.gather(here.rank, tensor.detach().clone())
        with torch.no_grad():
            tensor.copy_(sum(values[1:], values[0].clone()))
        return None

    def replica(rank: int) -> None:
        here.rank = rank
        try:
            results[rank] = learner(tracked(shards[rank]), world_size)
        except BaseException as error:  # re-raised in the check's own thread
            errors.append(error)
        finally:
            rounds.finish(rank)

    stand_ins = {
        "all_reduce": all_reduce,
        "get_world_size": lambda group=None: replicas,
        "get_rank": lambda group=None: here.rank,
    }
    originals = {name: getattr(dist, name) for name in stand_ins}
    for name, stand_in in stand_ins.items():  # what the learner's code calls, as dist.<name>
        setattr(dist, name, stand_in)
    try:
        threads = [threading.Thread(target=replica, args=(rank,)) for rank in range(replicas)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for name, original in originals.items():
            setattr(dist, name, original)
    mismatches = [e for e in errors if isinstance(e, CollectiveMismatch)]
    if mismatches or errors:
        raise (mismatches or errors)[0]
    return results


@contextmanager
def model_in_ddp(seed: int) -> Iterator[Any]:
    """A small MLP wrapped in ``DistributedDataParallel`` (in a group of one process, on a free
    port), after one training step; the group is destroyed on leaving."""
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group(
        "gloo", init_method=f"tcp://{scaling.HOST}:{scaling.free_port()}", rank=0, world_size=1
    )
    try:
        rng = np.random.default_rng(seed)
        model = DistributedDataParallel(mlp([5, 4, 3], initial.mlp([5, 4, 3], seed=seed)))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = rng.normal(size=(8, 5)).astype(np.float32), rng.integers(0, 3, size=8)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        yield model
    finally:
        dist.destroy_process_group()


def plain_twin(model: Any) -> Any:
    """A fresh model of the same architecture as the one inside DDP, not wrapped."""
    return mlp([5, 4, 3], initial.mlp([5, 4, 3], seed=999))


def read_checkpoint(path: Path) -> Any:
    """What ``torch.load(path, weights_only=True)`` reads (a state_dict, if it was saved right)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def state_of(model: Any) -> dict[str, np.ndarray]:
    """A model's state_dict as NumPy copies."""
    return {key: value.detach().numpy().copy() for key, value in model.state_dict().items()}


def state_inside(model: Any) -> dict[str, np.ndarray]:
    """The state of the model that ``DistributedDataParallel`` wraps (its ``module``), as NumPy
    copies: what a checkpoint a plain model loads holds."""
    return state_of(model.module)


def load_strict(model: Any, state: Any) -> None:
    """``model.load_state_dict(state, strict=True)``."""
    model.load_state_dict(state, strict=True)


def is_state_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(torch.is_tensor(v) for v in value.values())
