"""Two lstmkit trainings at once on the same cores: does each get its fair share, or do they thrash?

The issue's measurement (main before ``lstmkit.training.threads``): 3 epochs on 4,110 Chinese reviews took
18 s alone and 583 s each when two ran together (32x), because each process started one torch
thread per core of the machine and the threads spun against each other. Fair sharing of C cores
between two runs makes each at most about twice as slow as alone; the goal is <= ~2.2x.

What it does: exports ``chn-reviews``, keeps the first ``--texts`` training reviews, then times
``lstmkit train text-classifier ... --epochs 3`` (as a user would type it, in fresh processes)

1. alone, ``--repeats`` times (the median is the solo time),
2. two copies started together (each into its own run folder), ``--repeats`` times,

all pinned to ``--cores`` cores (``os.sched_setaffinity``: like ``taskset``, a container's cpuset
or a batch job's allocation) and with ``OMP_NUM_THREADS`` removed from the environment, so each
process sizes its threads itself (``train.num_threads=0``, :mod:`lstmkit.training.threads`). Extra
``--set`` values pass through (e.g. ``--set train.num_threads=1`` to compare a fixed count).

Run on a quiet machine (nothing else training)::

    .venv/bin/python benchmarks/concurrent_training.py                 # 2 cores, 4,110 texts, 3 repeats
    .venv/bin/python benchmarks/concurrent_training.py --cores 4 --repeats 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lstmkit.data.datasets import load_dataset

GOAL = 2.2
LSTMKIT = [sys.executable, "-m", "lstmkit"]


def write_csv(path: Path, texts: list[str], labels: list[str]) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
    return path


def command(data: Path, out: Path, epochs: int, sets: list[str]) -> list[str]:
    return [*LSTMKIT, "train", "text-classifier", "--train", str(data / "train.csv"), "--valid",
            str(data / "valid.csv"), "--out", str(out), "--epochs", str(epochs),
            *[a for s in sets for a in ("--set", s)]]


def run_together(commands: list[list[str]], cores: list[int]) -> list[float]:
    """Start every command at once, pinned to ``cores``; each one's wall time in seconds."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    started, procs = [], []
    for cmd in commands:
        started.append(time.perf_counter())
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      preexec_fn=lambda: os.sched_setaffinity(0, cores)))  # noqa: PLW1509 (no threads here)
    times = [0.0] * len(procs)
    pending = set(range(len(procs)))
    while pending:
        for i in list(pending):
            if procs[i].poll() is not None:
                times[i] = time.perf_counter() - started[i]
                pending.discard(i)
        time.sleep(0.05)
    for proc, cmd in zip(procs, commands):
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()[-3000:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cores", type=int, default=2, help="cores both runs share (default 2)")
    parser.add_argument("--texts", type=int, default=4110, help="training reviews (default 4,110)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="solo and pair runs each (median)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    available = sorted(os.sched_getaffinity(0))
    if len(available) < args.cores:
        raise SystemExit(f"--cores {args.cores}: this process may use only {len(available)} cores")
    cores = available[: args.cores]
    splits = load_dataset("chn-reviews")
    with tempfile.TemporaryDirectory(prefix="lstmkit-concurrent-") as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        data.mkdir()
        write_csv(data / "train.csv", splits["train"][0][: args.texts], splits["train"][1][: args.texts])
        write_csv(data / "valid.csv", *splits["valid"])

        def fresh(name: str) -> Path:
            shutil.rmtree(tmp / name, ignore_errors=True)
            return tmp / name

        solo, pair = [], []
        for r in range(args.repeats):
            (t,) = run_together([command(data, fresh("solo"), args.epochs, args.sets)], cores)
            solo.append(t)
            print(f"solo {r + 1}/{args.repeats}: {t:.1f} s", flush=True)
            ts = run_together([command(data, fresh(f"pair{k}"), args.epochs, args.sets) for k in (0, 1)], cores)
            pair.extend(ts)
            print(f"pair {r + 1}/{args.repeats}: {ts[0]:.1f} s and {ts[1]:.1f} s", flush=True)

    alone, together = statistics.median(solo), statistics.median(pair)
    result = {"cores": cores, "texts": args.texts, "epochs": args.epochs, "sets": args.sets,
              "solo_s": solo, "pair_s": pair, "solo_median_s": alone, "pair_median_s": together,
              "slowdown": together / alone, "worst_slowdown": max(pair) / alone, "goal": GOAL}
    print(f"\n{args.cores} cores, {args.texts:,} texts, {args.epochs} epochs: alone {alone:.1f} s; two at once "
          f"{together:.1f} s each (median), {result['slowdown']:.2f}x (worst {result['worst_slowdown']:.2f}x); "
          f"goal <= {GOAL}x: {'met' if result['worst_slowdown'] <= GOAL else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
