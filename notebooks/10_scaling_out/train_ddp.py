"""Train a small MLP on scikit-learn's digits with DistributedDataParallel: a complete script.

Two processes on this machine's CPU (the gloo backend):

    torchrun --standalone --nproc_per_node=2 train_ddp.py --out run

One process per GPU on a machine with GPUs (the NCCL backend, chosen for the GPU):

    torchrun --standalone --nproc_per_node=gpu train_ddp.py --out run

``torchrun`` starts the processes and hands each its rank, the world size and the rendezvous
address in environment variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``), which ``init_process_group`` reads. What the script shows, each marked in the
code:

1. joining the process group, on the device this process owns, the backend chosen by PyTorch
   for that device (gloo on CPUs, NCCL on NVIDIA GPUs);
2. ``DistributedSampler`` with ``set_epoch``: a fresh shuffle every epoch, the same on every
   rank, each rank its own shard, the partial last batch dropped;
3. ``DistributedDataParallel`` (rank 0's weights copied to every rank when it wraps the model),
   then one random stream per rank for dropout;
4. gradient accumulation: ``--accumulate`` micro-batches per optimizer step, the all-reduce
   skipped (``no_sync``) on all but the last;
5. the checkpoint written by rank 0 alone, without DDP's ``module.`` prefix, and reloaded into a
   plain model (``load_plain``).

It writes to ``--out``: ``model.pt`` (rank 0's ``state_dict``, no prefix) and ``rank-<r>.json``
(per rank: the loss of every epoch, the test accuracy, a digest of its weights, which must agree,
and which examples it trained on in every epoch).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import itertools
import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


class MLP(nn.Module):
    """64 pixels → hidden (ReLU, dropout) → 10 logits."""

    def __init__(self, hidden: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.hidden = nn.Linear(64, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(torch.relu(self.hidden(x))))


def digits(seed: int) -> tuple[torch.Tensor, ...]:
    """scikit-learn's 8×8 digits, pixels in [0, 1]: X_train (1347, 64), y_train, X_test, y_test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X, y = (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)
    parts = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    return tuple(torch.from_numpy(part) for part in parts)


def digest(model: nn.Module) -> str:
    """A fingerprint of every weight, to compare the ranks' copies bit for bit."""
    data = b"".join(p.detach().cpu().numpy().tobytes() for p in model.parameters())
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--accumulate", type=int, default=1, help="micro-batches per step")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60, help="seconds a collective waits")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    # 1. join the group: rank, world size and address come from torchrun's environment
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    # no backend named: PyTorch picks one per device type (gloo for CPU tensors, NCCL for CUDA)
    dist.init_process_group(
        timeout=datetime.timedelta(seconds=args.timeout),  # a lost peer fails, never hangs
        device_id=device if device.type == "cuda" else None,  # a GPU: bind it at once
    )
    try:
        train(args, device)
    finally:
        dist.destroy_process_group()


def train(args: argparse.Namespace, device: torch.device) -> None:
    rank, world_size = dist.get_rank(), dist.get_world_size()
    micro_batch, left = divmod(args.global_batch, world_size * args.accumulate)
    if left:
        raise SystemExit("--global-batch must be a multiple of the processes × --accumulate")
    X_train, X_test, y_train, y_test = digits(args.seed)

    # 2. each rank its shard; set_epoch below reshuffles every epoch, the same way on every rank
    ids = torch.arange(len(y_train))  # each example's number, to record which ones a rank saw
    train_set = TensorDataset(X_train, y_train, ids)
    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed, drop_last=True)
    loader = DataLoader(train_set, batch_size=micro_batch, sampler=sampler, drop_last=True)
    steps = len(loader) // args.accumulate  # full optimizer steps per epoch

    # 3. DDP copies rank 0's weights to every rank; then one dropout stream per rank
    torch.manual_seed(args.seed)
    model = MLP(args.hidden).to(device)
    if device.type == "cuda":  # BatchNorm layers, if any, normalise over the global batch
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )
    torch.manual_seed(args.seed + rank)  # otherwise every rank drops the same units
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    epoch_losses, seen = [], []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # without it, every epoch repeats the first one's order
        model.train()
        total = torch.zeros(2, device=device)  # summed loss, steps
        micro = iter(itertools.islice(loader, steps * args.accumulate))
        seen.append([])
        for _ in range(steps):
            # 4. accumulate: no all-reduce until the last micro-batch of the step
            for i in range(args.accumulate):
                x, y, numbers = next(micro)
                x, y = x.to(device), y.to(device)
                seen[-1] += numbers.tolist()
                last = i == args.accumulate - 1
                with contextlib.nullcontext() if last else model.no_sync():
                    loss = nn.functional.cross_entropy(model(x), y) / args.accumulate
                    loss.backward()
                total[0] += loss.detach()
            optimizer.step()
            optimizer.zero_grad()
            total[1] += 1
        dist.all_reduce(total)  # once per epoch, outside the steps: the mean over all ranks
        epoch_losses.append(float(total[0] / total[1]))

    model.eval()
    with torch.no_grad():
        predicted = model(X_test.to(device)).argmax(dim=1).cpu()
    accuracy = float((predicted == y_test).float().mean())

    # 5. rank 0 writes the checkpoint: model.module, the plain model inside DDP, so no prefix
    args.out.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        torch.save(model.module.state_dict(), args.out / "model.pt")
    summary = {
        "rank": rank,
        "world_size": world_size,
        "losses": epoch_losses,
        "test_accuracy": accuracy,
        "digest": digest(model.module),
        "ddp_keys": list(model.state_dict())[:2],  # what DDP's own state_dict would have saved
        "seen": seen,  # per epoch: the numbers of the examples this rank trained on, in order
    }
    (args.out / f"rank-{rank}.json").write_text(json.dumps(summary))
    dist.barrier()  # no rank leaves (or reads model.pt) before rank 0 has written it
    if rank == 0:
        print(
            json.dumps(
                {"losses": [round(x, 3) for x in epoch_losses], "test_accuracy": round(accuracy, 3)}
            )
        )


def load_plain(path: Path, *, hidden: int = 32) -> MLP:
    """Rank 0's checkpoint in a plain model, without DDP: how it is used afterwards."""
    model = MLP(hidden)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


if __name__ == "__main__":
    main()
