"""Training on several processes (Lightning's DDP strategy): who writes files, and each rank's batches.

``--set train.devices=N train.strategy=ddp train.num_nodes=M`` trains one model with N processes
on each of M machines (``docs/scaling.md``). Every process holds a copy of the network; each step,
each process computes the gradient of its own batch and DDP averages the gradients, so all
copies stay equal. Three things here make lstmkit's training loop right under it:

* :func:`is_global_zero`: is this the writing process, also before Lightning has
  set anything up (while ``fit`` decides whether to clear an old run folder). Only global rank 0
  writes lstmkit's files (``logs/``, ``plots/``, ``checkpoints/best.*``, the model folder);
  Lightning's own ``last.ckpt`` is written by rank 0 as well.
* :class:`ShardedBatches`: rank ``r`` of ``W`` trains on batches ``r, r + W, r + 2W, ...`` of the
  one order every rank computes alike (the task's batch sampler, seeded), so the ranks share out
  each epoch's batches without overlap, and all take the same number of steps (DDP needs that:
  a rank with one step more would wait for the others forever); the last round is filled up
  with batches from the start of the epoch, as torch's ``DistributedSampler`` pads.
  Lightning's own distributed sampler cannot be used: it replaces a ``sampler``, and lstmkit's
  tasks batch by length with a ``batch_sampler``.
* :func:`launched_processes`: how many processes torchrun started, to check ``train.devices``
  and ``train.num_nodes`` against.

Validation is not sharded: every rank scores the whole validation set, so every rank sees the
same ``val_*`` numbers (early stopping and the kept epoch agree) without gathering predictions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping

import torch
from torch.utils.data import DataLoader, Sampler


def is_global_zero(environ: Mapping[str, str] | None = None) -> bool:
    """Is this the process that writes files: global rank 0, or the only process?

    Asked of ``torch.distributed`` once a process group exists, else of the launcher's
    environment (``environ``, by default ``os.environ``), in the order Lightning reads it:
    ``RANK`` (torchrun); ``LOCAL_RANK`` and ``NODE_RANK`` (Lightning's own launcher starts local
    ranks 1.. with them; the process the user started has neither, or both 0); ``SLURM_PROCID``
    (srun); ``JSM_NAMESPACE_RANK`` (LSF). A malformed value counts as unset.
    """
    if environ is None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank() == 0
        environ = os.environ

    def number(name: str) -> int | None:
        value = environ.get(name, "").strip()
        return int(value) if value.isdigit() else None

    if number("RANK") is not None:
        return number("RANK") == 0
    if any(number(name) for name in ("LOCAL_RANK", "NODE_RANK", "GROUP_RANK")):
        return False
    for name in ("SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if number(name) is not None:
            return number(name) == 0
    return True


def launched_processes(environ: Mapping[str, str]) -> tuple[int, int] | None:
    """``(processes on this machine, processes in all)`` when torchrun started this process
    (``TORCHELASTIC_RUN_ID`` set), from its ``LOCAL_WORLD_SIZE`` and ``WORLD_SIZE``; else None."""
    if "TORCHELASTIC_RUN_ID" not in environ:
        return None
    local, total = environ.get("LOCAL_WORLD_SIZE", "").strip(), environ.get("WORLD_SIZE", "").strip()
    if not (local.isdigit() and total.isdigit()) or int(local) < 1:
        return None
    return int(local), int(total)


class ShardedBatches(Sampler[list[int]]):
    """Rank ``rank``'s share of the batches ``batch_sampler`` yields: every ``world``-th one.

    For B batches in an epoch each rank yields ``ceil(B / world)`` batches: rank r takes
    batches ``r, r + world, ...`` of the list ``[b_0 .. b_{B-1}, b_0, b_1, ...]`` (the epoch's
    batches, then again from the start to fill the last round). ``set_epoch`` is passed on, so a
    sampler that mixes its batches by epoch (``BucketBatchSampler``) does so alike on all ranks.

    The inner sampler must give every rank the same batches: true for a sampler seeded by its
    own ``seed`` and epoch (lstmkit's); for one that draws from torch's global random numbers
    (``RandomSampler`` without a generator), those are drawn here from a generator seeded by
    ``seed`` and the epoch, the same on every rank, and the process's own random numbers are
    left as they were.
    """

    def __init__(self, batch_sampler, rank: int, world: int, seed: int = 0):
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, {world}), got {rank}")
        self.inner, self.rank, self.world, self.seed = batch_sampler, rank, world, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)

    def __len__(self) -> int:
        return math.ceil(len(self.inner) / self.world)

    def __iter__(self) -> Iterator[list[int]]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1_000_003 + self.epoch)
            batches = [list(batch) for batch in self.inner]
        if not batches:
            return
        rounds = math.ceil(len(batches) / self.world)
        for k in range(rounds):
            yield batches[(k * self.world + self.rank) % len(batches)]


def shard_loader(loader: DataLoader, rank: int, world: int, seed: int = 0) -> DataLoader:
    """The same ``DataLoader`` with only rank ``rank``'s share of its batches (:class:`ShardedBatches`).

    ``loader`` must batch with a ``batch_sampler`` (as any ``DataLoader`` with a ``batch_size``
    does); its dataset, collate function, workers and pinning are kept.
    """
    if loader.batch_sampler is None:
        raise ValueError("a loader without batches (batch_size=None) cannot be shared out among ranks")
    return DataLoader(loader.dataset, batch_sampler=ShardedBatches(loader.batch_sampler, rank, world, seed),
                      collate_fn=loader.collate_fn, num_workers=loader.num_workers,
                      pin_memory=loader.pin_memory, timeout=loader.timeout,
                      worker_init_fn=loader.worker_init_fn,
                      persistent_workers=loader.persistent_workers if loader.num_workers else False)
