"""Data-parallel training on the frameworks' own engines: the parts lesson 10 runs but does not teach.

* **Global-batch arithmetic** (plain NumPy): how a global batch splits into equal per-replica
  shards, how many full steps an epoch holds, and what is left over at its end.
* **Launching processes** (for ``torch.distributed``, or any engine whose replicas are
  processes): ``launch`` runs an importable worker in N processes through Python's
  ``multiprocessing`` with the ``spawn`` start method (which works on every platform; ``fork``
  does not exist on Windows and is unsafe once threads exist) on a free port of 127.0.0.1, and
  always comes back: a worker that raises, dies or outlives ``timeout`` ends in one
  ``WorkerFailed`` whose message says which worker and why, and every other worker is stopped.
  A notebook cannot define the worker itself: ``spawn`` starts fresh interpreters, which import
  the worker by name, and a function defined in a notebook lives in ``__main__``, which they
  cannot import. So the worker lives in a module: the DDP worker in
  ``diptych.adapters.pytorch_ddp``. (``torch.multiprocessing.spawn(fn, args, nprocs)`` is the
  same start method; this launcher adds the deadline and the one-line failures.)
* **What every worker receives** (picklable descriptions, no framework in them): ``Training``, one
  training run (data, shared initial weights, the shared order, the global batch, what happens
  to the partial last batch, the model's normalisation); ``DropoutMasks``, the masks each rank
  draws; ``TimedSteps``, a training step timed by ``diptych.timing`` with nothing else in the
  timed region.
* **The picture** (``diagram``): data parallelism in one figure, in either engine's convention.

The framework code of the lesson lives in the adapters' companions: ``adapters.pytorch_ddp``
(the DDP worker, the lesson's MLP) and ``adapters.tensorflow_mirrored`` (``split_cpu``, TensorFlow's
logical devices). Importing this module imports neither framework.
"""

from __future__ import annotations

import errno
import multiprocessing
import multiprocessing.connection
import pickle
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diptych import initial

#: where the processes of one machine meet (the loopback interface: nothing leaves the machine)
HOST = "127.0.0.1"
#: seconds a collective (an all-reduce) waits for a peer before it fails instead of hanging
COLLECTIVE_TIMEOUT = 60.0


class WorkerFailed(RuntimeError):
    """A data-parallel worker raised, died or ran past its time; the message says which and why."""


# --------------------------------------------------------------------------- global batches


def per_replica_batch(global_batch: int, replicas: int) -> int:
    """The batch each replica computes on: ``global_batch / replicas``, which must be whole.

    Equal shards are what make the average of the replicas' mean gradients the global batch's
    mean gradient; an uneven split weights the examples of the smaller shard more.
    """
    if global_batch < 1 or replicas < 1:
        raise ValueError(f"batch and replicas must be positive, got {global_batch}, {replicas}")
    if global_batch % replicas:
        raise ValueError(
            f"a global batch of {global_batch} does not split into {replicas} equal shards: "
            f"choose a multiple of {replicas}"
        )
    return global_batch // replicas


def epoch_split(n: int, global_batch: int) -> tuple[int, int]:
    """(full steps, examples left over) in an epoch of ``n`` examples: ``divmod(n, global_batch)``.

    The leftover examples form a partial last batch: the partial-batch trap of data parallelism.
    """
    if n < 0 or global_batch < 1:
        raise ValueError(f"need n >= 0 and a positive batch, got {n}, {global_batch}")
    return divmod(n, global_batch)


# --------------------------------------------------------------------------- launching


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Can a server listen on ``port`` of 127.0.0.1 now?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        return True


def launch(
    worker: Callable[..., Any],
    *args: Any,
    processes: int = 2,
    port: int | None = None,
    timeout: float = 120.0,
) -> list[Any]:
    """Run ``worker(rank, processes, port, *args)`` in ``processes`` fresh processes; return each
    rank's result, rank 0 first.

    ``worker`` must be importable (a module's function, not a notebook's). ``port`` (default: a
    free one) is where rank 0 serves the rendezvous that every rank joins. Never hangs: a worker
    that raises or dies stops the others at once, and all of them are killed after ``timeout``
    seconds; either way the result is one ``WorkerFailed`` saying which worker and why.
    """
    if processes < 1:
        raise ValueError(f"processes must be positive, got {processes}")
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    _check_importable(worker)
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise WorkerFailed(
            f"port {port} of {HOST} is already in use (by another program, or by workers of an "
            "earlier run that are still alive): pass port=None to pick a free one"
        )
    spawn = multiprocessing.get_context("spawn")
    workers: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="diptych-workers-") as scratch:
        folder = Path(scratch)
        try:
            for rank in range(processes):
                workers.append(
                    spawn.Process(
                        target=_run_and_save, args=(rank, worker, processes, port, scratch, args)
                    )
                )
                workers[-1].start()
            _wait(workers, timeout, folder)
        finally:
            _kill_all(workers)
        return [_result(folder, rank) for rank in range(processes)]


def _check_importable(worker: Callable[..., Any]) -> None:
    """A spawned process finds the worker by its module and name; refuse one it cannot find."""
    module = getattr(worker, "__module__", None)
    name = getattr(worker, "__qualname__", "")
    interactive = module == "__main__" and not hasattr(sys.modules["__main__"], "__file__")
    if interactive or "<" in name or module is None:
        raise ValueError(
            f"launch needs a worker that a new process can import, and {name or worker!r} is "
            "defined in a notebook (or is a lambda or a nested function): the processes start "
            "fresh interpreters that import the worker by module and name. Put it in a module "
            "(a .py file) and import it from there"
        )


def _run_and_save(
    rank: int,
    worker: Callable[..., Any],
    processes: int,
    port: int,
    folder: str,
    args: tuple[Any, ...],
) -> None:
    """In a worker process: run the worker and save its result, or one line about its error."""
    try:
        result = worker(rank, processes, port, *args)
    except Exception as error:
        first = (str(error).strip().splitlines() or [""])[0]
        (Path(folder) / f"{rank}.error").write_text(f"{type(error).__name__}: {first}")
        sys.exit(1)  # the parent reads the line above; no traceback on the notebook's stderr
    temporary = Path(folder) / f"{rank}.tmp"
    temporary.write_bytes(pickle.dumps(result))
    temporary.replace(Path(folder) / f"{rank}.pkl")


def _result(folder: Path, rank: int) -> Any:
    try:
        return pickle.loads((folder / f"{rank}.pkl").read_bytes())
    except FileNotFoundError:
        raise WorkerFailed(f"worker {rank} ended without a result (did it exit early?)") from None


def _wait(processes: Sequence[Any], timeout: float, folder: Path) -> None:
    """Wait until every worker has finished, ``timeout`` seconds at most; WorkerFailed at the
    first worker that does not finish cleanly, or at the deadline (the caller kills any left)."""
    pending = {process.sentinel: rank for rank, process in enumerate(processes)}
    deadline = time.monotonic() + timeout
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WorkerFailed(
                f"the workers did not finish within {timeout:g} s and were stopped (a worker "
                "waiting for a peer that never came, or more work than the timeout allows)"
            )
        for sentinel in multiprocessing.connection.wait(list(pending), timeout=remaining):
            rank = pending.pop(sentinel)
            processes[rank].join()
            if processes[rank].exitcode != 0:
                raise WorkerFailed(_cause(processes, folder, first=rank))


def _cause(processes: Sequence[Any], folder: Path, *, first: int) -> str:
    """Why the workers failed, in one sentence. A worker killed by a signal is the cause rather
    than its peers, which fail a moment later when their all-reduce loses it (exiting with an
    error, or aborting: a SIGABRT is a consequence, another signal the cause)."""
    deadline = time.monotonic() + 1.0
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    killed = [rank for rank, p in enumerate(processes) if p.exitcode is not None and p.exitcode < 0]
    # a peer whose collective lost its partner may abort itself (SIGABRT, from gloo's error):
    # the worker killed from outside is the cause
    outside = [rank for rank in killed if processes[rank].exitcode != -signal.SIGABRT]
    rank = (outside or killed or [first])[0]
    code = processes[rank].exitcode
    stopped = "; the other workers were stopped"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker {rank} was killed by {name} before it finished (out of memory? stopped by hand?){stopped}"
    saved = folder / f"{rank}.error"
    if saved.exists():
        return f"worker {rank} raised {saved.read_text()}{stopped}"
    return f"worker {rank} exited with status {code} before it finished{stopped}"


def _kill_all(processes: Sequence[Any]) -> None:
    """SIGKILL every worker still alive (one blocked in a collective may not heed SIGTERM)."""
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        if process.pid is not None:  # started (a start that failed leaves nothing to join)
            process.join(timeout=5)


# --------------------------------------------------------------------------- a training run


#: how a training run treats the partial last batch of an epoch
REMAINDERS = ("pad", "drop", "uneven")
#: the normalisation of the lesson's MLP: none, BatchNorm on each replica's shard, or
#: BatchNorm over the global batch (what synchronised BatchNorm computes)
NORMS = ("none", "batch", "synced")


@dataclass(frozen=True)
class Training:
    """One data-parallel training run, as every worker receives it (picklable).

    ``epochs`` holds one permutation of the training set per epoch (the shared order); training
    stops after ``steps`` steps. ``remainder`` says what becomes of each epoch's partial last
    batch: ``"pad"`` (``DistributedSampler``'s default: the shards are filled up with examples
    from the epoch's start), ``"drop"`` (it is dropped), or ``"uneven"`` (kept, dealt out as it
    comes, 2 + 1, each example weighted by the real global count). ``norm`` adds a BatchNorm
    after the hidden layer (``"batch"``: statistics of each replica's shard; ``"synced"``: of the
    global batch).
    """

    X: np.ndarray  # (n, features)
    y: np.ndarray  # (n,) int64 labels
    weights: list[initial.Layer]  # shared initial weights, neutral layout
    epochs: list[np.ndarray]  # one permutation of range(n) per epoch
    global_batch: int
    steps: int
    lr: float
    momentum: float = 0.0
    remainder: str = "pad"
    float64: bool = False
    norm: str = "none"

    def __post_init__(self) -> None:
        if self.remainder not in REMAINDERS:
            raise ValueError(f"remainder must be one of {REMAINDERS}, got {self.remainder!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        full, left = epoch_split(len(self.y), self.global_batch)
        per_epoch = full if self.drop_last or not left else full + 1
        available = len(self.epochs) * per_epoch
        if not 0 < self.steps <= available:
            raise ValueError(
                f"{len(self.epochs)} epochs hold {available} steps of {self.global_batch}, "
                f"not {self.steps}: give more epochs or fewer steps"
            )

    @property
    def drop_last(self) -> bool:
        """Is each epoch's partial last batch dropped?"""
        return self.remainder == "drop"

    @property
    def sizes(self) -> list[int]:
        """Layer widths, input first, read off the weights."""
        return [self.weights[0]["W"].shape[0], *(layer["W"].shape[1] for layer in self.weights)]


@dataclass(frozen=True)
class DropoutMasks:
    """Each rank draws one dropout mask of ``(rows, features)`` after seeding its generator
    with ``seed`` (``per_rank=False``, the same seed everywhere) or ``seed + rank``."""

    rows: int
    features: int
    rate: float
    seed: int
    per_rank: bool


@dataclass(frozen=True)
class TimedSteps:
    """Time the training step of ``run`` in the workers with ``diptych.timing.measure``, beside
    the same step of one process on the whole global batch (timed by rank 0 alone, interleaved
    with the data-parallel blocks). Only the step is timed: no recording, no copies."""

    run: Training
    rounds: int = 7
    steps: int = 20
    warmup: int = 3


# --------------------------------------------------------------------------- the picture


def diagram(
    *, replicas: int = 2, global_batch: int = 64, reduce: str = "mean", deal: str = "blocks"
) -> Any:
    """Data parallelism in one figure: a global batch dealt into equal shards, one replica per
    shard with the same weights, an all-reduce of their gradients, the same update everywhere.

    ``reduce="mean"`` draws DDP's convention (each replica's loss is its shard's mean, the
    all-reduce averages); ``reduce="sum"`` draws ``tf.distribute``'s (each replica's loss is its
    shard's sum divided by the global batch, the all-reduce sums). ``deal="blocks"`` draws the
    shards as consecutive blocks of the batch (how ``tf.distribute`` splits a batch);
    ``deal="turns"`` deals the examples out in turn, example i to replica i mod R (how
    ``DistributedSampler`` deals). The update drawn is plain SGD's; any optimizer's step is the
    same on every replica. Returns a matplotlib Figure.
    """
    from matplotlib.patches import Rectangle

    from diptych.plot import _new_figure

    if reduce not in ("mean", "sum"):
        raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
    if deal not in ("blocks", "turns"):
        raise ValueError(f"deal must be 'blocks' or 'turns', got {deal!r}")
    per = per_replica_batch(global_batch, replicas)
    figure = _new_figure(7.5, 5.2)
    ax = figure.subplots()
    title = f"Data parallelism: {replicas} replicas, one global batch of {global_batch}"
    ax.set(xlim=(0, 10), ylim=(0, 10), title=title)
    ax.axis("off")
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
    width = 9.0 / replicas
    centres = [0.5 + width * (r + 0.5) for r in range(replicas)]

    def box(x: float, y: float, text: str, color: str) -> None:
        style = {"boxstyle": "round,pad=0.4", "facecolor": color, "alpha": 0.25, "edgecolor": color}
        ax.text(x, y, text, ha="center", va="center", fontsize=9, bbox=style)

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        style = {"arrowstyle": "->", "color": "0.3"}
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=style)

    if deal == "blocks":
        how = f"cut into {replicas} consecutive blocks"
        for r in range(replicas):
            color = colors[r % len(colors)]
            ax.add_patch(Rectangle((0.5 + width * r, 8.6), width, 0.6, facecolor=color, alpha=0.5))
    else:
        how = f"dealt in turn: example i to replica i mod {replicas}"
        stripe = 9.0 / global_batch
        for i in range(global_batch):
            color = colors[i % replicas % len(colors)]
            ax.add_patch(
                Rectangle((0.5 + stripe * i, 8.6), stripe, 0.6, facecolor=color, alpha=0.5)
            )
    ax.text(5, 9.6, f"the examples in the shared order, {how}", ha="center")
    label = {"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8, "edgecolor": "none"}
    for r, x in enumerate(centres):
        color = colors[r % len(colors)]
        which = f"{per} examples"
        if deal == "turns":
            which = f"examples {r}, {r + replicas}, {r + 2 * replicas}, … ({per})"
        ax.text(x, 8.9, f"shard {r}: {which}", ha="center", va="center", fontsize=9, bbox=label)
        arrow(x, 8.5, x, 7.6)
        box(x, 7.1, f"replica {r}\nsame weights θ", color)
        arrow(x, 6.5, x, 5.7)
        if reduce == "mean":
            box(x, 5.2, f"g{r} = gradient of the\nmean loss over shard {r}", color)
        else:
            box(x, 5.2, f"g{r} = gradient of shard {r}'s\nsummed loss / {global_batch}", color)
        arrow(x, 4.6, 5 + (x - 5) * 0.3, 3.9)
    terms = " + ".join(f"g{r}" for r in range(replicas))
    if reduce == "mean":
        total = "ḡ"
        box(5, 3.4, f"all-reduce (average):  ḡ = ({terms}) / {replicas}  on every replica", "0.5")
    else:
        total = "g"
        box(5, 3.4, f"all-reduce (sum):  g = {terms}  on every replica", "0.5")
    for r, x in enumerate(centres):
        arrow(5 + (x - 5) * 0.3, 2.9, x, 2.1)
        box(x, 1.5, f"replica {r}:  θ ← θ − η {total}", colors[r % len(colors)])
    note = "every replica takes the same step (plain SGD drawn): the weights stay identical"
    ax.text(5, 0.3, note, ha="center", fontsize=9, style="italic")
    return figure
