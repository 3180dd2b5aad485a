"""Running a model over many small batches fast on a CPU: one batch per core at a time.

An LSTM's time steps run in sequence, each a small matrix product (``(B, H) @ (H, 4H)``); split
over two cores, each product spends much of its time waiting for the other core. Giving each
core a whole batch of its own instead (worker threads, each with a single intra-op thread)
measured about 12% more reviews/s for the text classifier on this project's 2-core machine
(see ``docs/benchmarks.md``). PyTorch releases the GIL inside its kernels, so threads suffice.

On a GPU, or with one core, batches simply run in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

Batch = TypeVar("Batch")
Result = TypeVar("Result")


def map_batches(fn: Callable[[Batch], Result], batches: Sequence[Batch] | Iterable[Batch],
                device: torch.device | str = "cpu") -> list[Result]:
    """``[fn(b) for b in batches]`` under ``torch.inference_mode()``, in order.

    On the CPU with ``torch.get_num_threads()`` = n > 1 and more than one batch, the batches are
    shared among n worker threads that each run single-threaded; the thread setting is restored
    afterwards.
    """
    batches = list(batches)
    workers = min(torch.get_num_threads(), len(batches))

    def run(batch):
        with torch.inference_mode():  # grad mode is per thread: set it in each worker
            return fn(batch)

    if torch.device(device).type != "cpu" or workers < 2:
        return [run(b) for b in batches]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lstmkit-batch") as pool:
            return list(pool.map(run, batches))
    finally:
        torch.set_num_threads(threads)
