"""Speed of the recurrent core: forward + backward time, as ratios measured in the same run.

Baseline: ``torch.nn.LSTM`` on the padded tensor (which ignores lengths, so it is *not* exact on
padded batches). Compared with it:

* ``fused+lengths``: ``lstmkit.nn.LSTM`` (fused engine) with ``lengths`` — exact results;
* ``torch packed``: ``torch.nn.LSTM`` on a ``PackedSequence`` — exact, the usual way;
* ``reference+lengths``: the plain loop over the equations (``engine="reference"``).

Two length distributions: *bucketed* (every length within 10% of the longest, what length-bucketed
training feeds the model) and *spread* (uniform from T/3 to T).

Run: ``.venv/bin/python benchmarks/core.py [--reps 5] [--quick]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence

from lstmkit.nn import LSTM


def timed(fn, reps: int, warmup: int = 2) -> float:
    """Median seconds of ``fn()`` over ``reps`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_lengths(kind: str, B: int, T: int, gen: torch.Generator) -> torch.Tensor:
    low = int(0.9 * T) if kind == "bucketed" else T // 3
    lengths = torch.randint(low, T + 1, (B,), generator=gen)
    lengths[0] = T  # the batch is padded to its longest sequence
    return lengths


def bench_case(B: int, T: int, size: int, bidirectional: bool, spread: str, reps: int, with_reference: bool):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    ref = torch.nn.LSTM(size, size, batch_first=True, bidirectional=bidirectional)
    ours = LSTM(size, size, batch_first=True, bidirectional=bidirectional)
    ours.load_state_dict(ref.state_dict())
    slow = LSTM(size, size, batch_first=True, bidirectional=bidirectional, engine="reference")
    slow.load_state_dict(ref.state_dict())
    x = torch.randn(B, T, size, generator=gen, requires_grad=True)
    lengths = make_lengths(spread, B, T, gen)

    def step(run):
        def go():
            out, (h, c) = run()
            (out.sum() + h.sum() + c.sum()).backward()
        return go

    padded = timed(step(lambda: ref(x)), reps)
    fused = timed(step(lambda: ours(x, lengths=lengths)), reps)
    packed = timed(step(lambda: _packed(ref, x, lengths)), reps)
    row = {"padded": padded, "fused": fused, "packed": packed}
    if with_reference:
        row["reference"] = timed(step(lambda: slow(x, lengths=lengths)), max(1, reps // 2), warmup=1)
    return row


def _packed(ref, x, lengths):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, hidden = ref(packed)
    return out.data, hidden


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one small case, for a smoke run")
    parser.add_argument("--no-reference", action="store_true", help="skip the slow reference engine")
    args = parser.parse_args()
    shapes = [(8, 20, 16)] if args.quick else [(64, 150, 128), (32, 100, 256)]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, reps {args.reps}\n")
    print("| B | T | I=H | dirs | lengths | nn.LSTM padded (ms) | fused+lengths | torch packed | reference+lengths |")
    print("|---|---|---|---|---|---|---|---|---|")
    for B, T, size in shapes:
        for bidirectional in (False, True):
            for spread in ("bucketed", "spread"):
                r = bench_case(B, T, size, bidirectional, spread, args.reps, not args.no_reference)
                ref_cell = f"{r['reference'] / r['padded']:.2f}x" if "reference" in r else "-"
                print(f"| {B} | {T} | {size} | {2 if bidirectional else 1} | {spread} | {r['padded'] * 1e3:.1f} "
                      f"| {r['fused'] / r['padded']:.2f}x | {r['packed'] / r['padded']:.2f}x | {ref_cell} |",
                      flush=True)


if __name__ == "__main__":
    main()
