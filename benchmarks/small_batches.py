"""Inference paths of the recurrent core on small batches, measured in one process, in turns.

``lstmkit.nn.rnn`` runs inference on the CPU for batches of at most ``ALIGNED_MAX_BATCH``
sequences right-aligned on step counts bucketed to ``STEP_BUCKET``, so that oneDNN's capped
primitive cache (``import lstmkit`` sets 64) keeps their kernels. This compares, on the sentiment
model and the chn-reviews test split, each round running every path once (5 rounds, medians):

* ``old paths``: the full fused call / three-call split of :meth:`_fused_split`;
* ``right-aligned, bucketed``: what lstmkit runs;
* ``right-aligned, no buckets``: the same with a step bucket larger than any text.

Workloads: ``single`` (300 reviews one at a time, 1 thread), ``micro`` (300 random batches of 1-16
reviews, 1 thread, like the server's micro-batches), ``batched`` (the whole split in length-sorted
batches of 128, 2 threads).

Run (after ``make demo``, on a quiet machine)::

    .venv/bin/python benchmarks/small_batches.py runs/demo-sentiment/model [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

import lstmkit
import lstmkit.nn.rnn as rnn
from lstmkit.data.datasets import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    texts = list(load_dataset("chn-reviews")["test"][0])
    model = lstmkit.load(args.model_dir)
    rng = random.Random(0)
    micro = [[texts[rng.randrange(len(texts))] for _ in range(rng.randint(1, 16))] for _ in range(300)]
    aligned, bucket = rnn._RecurrentBase._runs_right_aligned, rnn.STEP_BUCKET

    def use(right_aligned: bool, step_bucket: int):
        def apply():
            rnn._RecurrentBase._runs_right_aligned = aligned if right_aligned else (lambda self, x, hx: False)
            rnn.STEP_BUCKET = step_bucket
        return apply

    paths = {"old paths": use(False, bucket), "right-aligned, bucketed": use(True, bucket),
             "right-aligned, no buckets": use(True, 10**9)}

    def run(batches: list[list[str]], threads: int) -> float:
        torch.set_num_threads(threads)
        start = time.perf_counter()
        for batch in batches:
            model.predict(batch)
        return sum(map(len, batches)) / (time.perf_counter() - start)

    workloads = {"single (1 thread)": lambda: run([[t] for t in texts[:300]], 1),
                 "micro-batches of 1-16 (1 thread)": lambda: run(micro, 1),
                 "sorted batches of 128 (2 threads)": lambda: run([texts], 2)}
    print("| workload | " + " | ".join(paths) + " |")
    print("|---|" + "---:|" * len(paths))
    for name, workload in workloads.items():
        speeds: dict[str, list[float]] = {path: [] for path in paths}
        for apply in paths.values():  # warm-up
            apply()
            workload()
        for _ in range(args.rounds):
            for path, apply in paths.items():
                apply()
                speeds[path].append(workload())
        print(f"| {name} | " + " | ".join(f"{statistics.median(v):.0f}" for v in speeds.values()) + " |", flush=True)
    paths["right-aligned, bucketed"]()


if __name__ == "__main__":
    main()
