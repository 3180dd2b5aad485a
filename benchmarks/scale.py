"""Peak memory and throughput of one training epoch as the data grows: 1x, 10x, 50x ``chn-reviews``.

For each multiple k the training split (13,891 reviews) is written k times over into one CSV, and
one epoch is trained in a fresh process (so each peak RSS is that case's own), two ways:

* ``memory``: today's text classifier (``TextClassifier.fit``): the file read into lists of
  texts, tokenised and encoded into Python lists of ids.
* ``store``: the file streamed row by row (``csv`` module) through the same tokenizer into a
  :class:`lstmkit.data.token_store.TokenStore` (vocabulary built in the same single pass, ids
  memory-mapped), batched by :class:`~lstmkit.data.batching.BucketBatchSampler` and trained by
  the same network and trainer (:func:`lstmkit.train.fit`).

Both use the same network with the in-memory extras off (``lexicon_ngrams=0``,
``ngram_buckets=0``, ``embedding_init=random``, no unlabeled text), as the store path cannot feed
them yet; ``--set`` adds settings to both. Reported per case: peak RSS (``ru_maxrss``),
preparation seconds (reading, vocabulary, encoding), epoch seconds and training rows per second.
The goal (issue 13): peak memory grows far slower than the data; rows per second stay constant.

Run on a quiet machine (the 50x case trains ~700,000 reviews: tens of minutes)::

    .venv/bin/python benchmarks/scale.py                         # 1x, 10x, 50x; both ways
    .venv/bin/python benchmarks/scale.py --multiples 1 --ways store --json scale.json
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {"lexicon_ngrams": 0, "ngram_buckets": 0, "embedding_init": "random", "unlabeled_text": None,
            "epochs": 1, "patience": 0, "scheduler": "none"}


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_copies(path: Path, k: int, fraction: float) -> int:
    """Write ``k`` copies of the chn-reviews training split (its first ``fraction``); rows written."""
    from lstmkit.data.datasets import load_dataset

    texts, labels = load_dataset("chn-reviews")["train"]
    keep = max(2, int(len(texts) * fraction))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for _ in range(k):
            writer.writerows(zip(texts[:keep], labels[:keep]))
    return k * keep


def one_case(way: str, train_csv: Path, valid_csv: Path, sets: dict) -> dict:
    """Train one epoch ``way`` (in this process); timings and peak RSS."""
    from lstmkit.tasks.text import TextClassifier

    est = TextClassifier(**{**SETTINGS, **sets})
    start = time.perf_counter()
    if way == "memory":
        X, y = est.read_data(train_csv)
        valid = est.read_data(valid_csv)
        epoch = {}

        def timer(estimator, epoch_number, seconds):
            epoch["s"] = seconds

        est.fit(X, y, valid=valid, epoch_callback=timer)
        total = time.perf_counter() - start
        return {"rows": len(X), "prepare_s": total - epoch["s"], "epoch_s": epoch["s"], "peak_rss_mb": peak_rss_mb()}
    return _store_case(est, train_csv, valid_csv, start)


def _store_case(est, train_csv: Path, valid_csv: Path, start: float) -> dict:
    from torch.utils.data import DataLoader

    from lstmkit.data.batching import BucketBatchSampler
    from lstmkit.data.readers import read_text_classification
    from lstmkit.data.token_store import TokenDataset, build_token_store
    from lstmkit.data.tokenizers import make_tokenizer
    from lstmkit.tasks.text.network import TextClassifierNet
    from lstmkit.train import fit

    cfg = est.resolved_config()
    tokenizer = make_tokenizer("char", lowercase=cfg.data.lowercase, keep_punctuation=cfg.data.keep_punctuation)
    valid_texts, valid_labels = read_text_classification(valid_csv)
    classes = sorted(set(valid_labels))

    def rows():
        with open(train_csv, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                yield row["text"], classes.index(row["label"])

    labels: list[int] = []  # one small int per row; the texts are never held

    def token_lists():
        for text, label in rows():
            labels.append(label)
            yield tokenizer(text)

    with tempfile.TemporaryDirectory(prefix="lstmkit-store-") as tmp:
        vocab, store = build_token_store(token_lists(), Path(tmp) / "train",
                                         min_freq=cfg.data.min_freq, max_size=cfg.data.max_vocab,
                                         max_length=cfg.data.max_length)
        import numpy as np

        train_loader = DataLoader(_Labelled(TokenDataset(store), labels),
                                  batch_sampler=BucketBatchSampler(store.lengths.tolist(), cfg.train.batch_size,
                                                                   shuffle=True, seed=cfg.train.seed),
                                  collate_fn=TokenDataset.collate)
        valid_ids = [vocab.encode(tokenizer(t)[: cfg.data.max_length]) for t in valid_texts]
        valid_items = [(np.asarray(ids, dtype=np.int64), classes.index(v)) for ids, v in zip(valid_ids, valid_labels)]
        valid_loader = DataLoader(valid_items, batch_size=128, collate_fn=_collate_arrays)
        net = TextClassifierNet(len(vocab), len(classes), cfg.model)
        prepared = time.perf_counter()
        fit(net, train_loader, valid_loader, cfg.train, Path(tmp) / "run", monitor="loss", mode="min",
            progress_bar=False)
        epoch_s = time.perf_counter() - prepared
    return {"rows": len(store), "prepare_s": prepared - start, "epoch_s": epoch_s, "peak_rss_mb": peak_rss_mb()}


class _Labelled:
    """A TokenDataset of a label-less store with the labels kept beside it (ints)."""

    def __init__(self, dataset, labels):
        self.dataset, self.labels = dataset, labels

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i][0], self.labels[i]


def _collate_arrays(items):
    import torch

    from lstmkit.data.token_store import TokenDataset

    return TokenDataset.collate([(torch.from_numpy(ids), label) for ids, label in items])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--multiples", default="1,10,50", help="copies of the training split (default 1,10,50)")
    parser.add_argument("--ways", default="memory,store", help="memory, store or both (default both)")
    parser.add_argument("--fraction", type=float, default=1.0, help="use this share of the split (a quick check)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a TextClassifier setting by its short name, e.g. hidden_size=32")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", nargs=3, metavar=("WAY", "TRAIN", "VALID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sets = {}
    for item in args.sets:
        key, _, value = item.partition("=")
        sets[key] = json.loads(value) if value[:1].isdigit() or value in ("true", "false", "null") else value
    if args.one:
        way, train, valid = args.one
        print(json.dumps(one_case(way, Path(train), Path(valid), sets)))
        return

    results = []
    with tempfile.TemporaryDirectory(prefix="lstmkit-scale-") as tmp:
        from lstmkit.data.datasets import load_dataset

        valid_csv = Path(tmp) / "valid.csv"
        with open(valid_csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(zip(*load_dataset("chn-reviews")["valid"]))
        for k in [int(m) for m in args.multiples.split(",")]:
            train_csv = Path(tmp) / f"train-{k}x.csv"
            rows = write_copies(train_csv, k, args.fraction)
            for way in args.ways.split(","):
                cmd = [sys.executable, __file__, "--one", way, str(train_csv), str(valid_csv),
                       *[a for s in args.sets for a in ("--set", s)]]
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise SystemExit(f"{way} {k}x failed:\n{done.stderr[-3000:]}")
                case = {"multiple": k, "way": way, **json.loads(done.stdout.strip().splitlines()[-1])}
                case["rows_per_s"] = case["rows"] / case["epoch_s"]
                results.append(case)
                print(f"{k:>3}x {way:<6} rows={rows:>8,} peak RSS {case['peak_rss_mb']:8.0f} MB  prepare "
                      f"{case['prepare_s']:7.1f} s  epoch {case['epoch_s']:7.1f} s  {case['rows_per_s']:7.0f} rows/s",
                      flush=True)
        train_csv.unlink(missing_ok=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
