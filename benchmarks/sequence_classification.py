"""Sequence classification accuracy on the bundled sets, against non-recurrent baselines.

Measures the issue's goals (mean test accuracy over three seeds, each seed trained in under
5 minutes on a 2-core CPU):

* ``japanese-vowels``: test accuracy >= 0.98 (the 370 published test cases);
* ``mnist-rows``: test accuracy >= 0.97 from 4,000 images (3,600 train + 400 validation).

For each data set and seed it trains the ``lstmkit demo`` preset (:data:`lstmkit.tasks.sequence.demo.PRESETS`)
on the ``train`` split, keeping the epoch with the lowest ``valid`` loss, and scores ``test``.
In the same run, on the same splits, two non-recurrent baselines are trained on train + valid
(all the labelled data the LSTM sees): scikit-learn's logistic regression and a random forest on

* the flattened sequence, when every sequence has the same length (MNIST: 784 pixels);
* summary features otherwise (japanese-vowels: per feature the mean, std, min, max, first and
  last value, and the length).

Run (one thread, as on the shared 2-core machine)::

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sequence_classification.py \\
        --datasets japanese-vowels mnist-rows --seeds 0 1 2 --out runs/bench-sequence.json

It prints one line per run and a markdown table for ``docs/benchmarks.md``.

Choosing settings without looking at test: ``--select`` trains the same runs but scores only the
``valid`` split (accuracy and loss of the kept epoch, mean over the seeds; each seed holds out
different validation cases) and trains no baseline, e.g. for the LSTM-FCN::

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sequence_classification.py \
        --datasets japanese-vowels --seeds 0 1 2 --select --set model.architecture=lstm_fcn
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

DEMOS = {"japanese-vowels": "vowels", "mnist-rows": "mnist"}


def summary_features(sequences: list[np.ndarray]) -> np.ndarray:
    """``(N, 6F + 1)``: per feature mean, std, min, max, first, last; then the length."""
    rows = [np.concatenate([x.mean(0), x.std(0), x.min(0), x.max(0), x[0], x[-1], [len(x)]]) for x in sequences]
    return np.asarray(rows, dtype=np.float64)


def tabular(sequences: list[np.ndarray]) -> tuple[np.ndarray, str]:
    """Flattened sequences when all have one length, else summary features; and which."""
    if len({x.shape for x in sequences}) == 1:
        return np.stack([x.ravel() for x in sequences]).astype(np.float64), "flattened"
    return summary_features(sequences), "summary"


def baselines(splits: dict, seed: int) -> list[dict]:
    """Logistic regression and a random forest, trained on train + valid, scored on test."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train = splits["train"][0] + splits["valid"][0]
    y_train = list(splits["train"][1]) + list(splits["valid"][1])
    everything, kind = tabular(X_train + splits["test"][0])
    features, test_features = everything[: len(X_train)], everything[len(X_train):]
    models = {
        f"logistic regression ({kind})": make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.1)),
        f"random forest, 500 trees ({kind})": RandomForestClassifier(n_estimators=500, random_state=seed, n_jobs=1),
    }
    out = []
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(features, y_train)
        seconds = time.perf_counter() - start
        accuracy = float((model.predict(test_features) == np.asarray(splits["test"][1])).mean())
        out.append({"model": name, "accuracy": accuracy, "seconds": seconds})
    return out


def run_lstm(dataset: str, seed: int, overrides: list[str], out_dir: Path | None, select: bool = False) -> dict:
    """Train the preset (with ``overrides``) on ``train``, keep the epoch of lowest ``valid`` loss;
    score ``test`` and the baselines, or with ``select`` only report the ``valid`` metrics."""
    from lstmkit.config import build_config
    from lstmkit.data.datasets import load_dataset
    from lstmkit.tasks.sequence import SequenceClassifier, SequenceClassifierConfig
    from lstmkit.tasks.sequence.demo import PRESETS

    splits = load_dataset(dataset, seed=seed)
    config = build_config(SequenceClassifierConfig, base=PRESETS[DEMOS[dataset]],
                          overrides=[*overrides, f"train.seed={seed}"])
    start = time.perf_counter()
    clf = SequenceClassifier(config=config).fit(*splits["train"], valid=splits["valid"],
                                                out_dir=out_dir / f"{dataset}-{seed}" if out_dir else None)
    seconds = time.perf_counter() - start
    if select:  # never look at test while choosing settings
        return {"dataset": dataset, "seed": seed, "valid": clf.valid_metrics_, "seconds": seconds,
                "epochs": len(clf.history_), "overrides": list(overrides)}
    test = clf.evaluate(*splits["test"])
    return {"dataset": dataset, "seed": seed, "accuracy": test["accuracy"], "macro_f1": test["macro_f1"],
            "valid": clf.valid_metrics_, "seconds": seconds, "epochs": len(clf.history_),
            "baselines": baselines(splits, seed), "overrides": list(overrides)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DEMOS), choices=list(DEMOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="change the preset (e.g. model.hidden_size=96)")
    parser.add_argument("--out", type=Path, help="write all results as JSON here")
    parser.add_argument("--runs", type=Path, help="keep the run folders (logs, plots) under this folder")
    parser.add_argument("--select", action="store_true",
                        help="score only the validation split (for choosing settings), no test, no baselines")
    args = parser.parse_args()
    results = []
    for dataset in args.datasets:
        for seed in args.seeds:
            result = run_lstm(dataset, seed, args.overrides, args.runs, args.select)
            results.append(result)
            if args.select:
                valid = result["valid"]
                print(f"{dataset} seed {seed}: valid accuracy {valid['accuracy']:.4f}, loss {valid['loss']:.4f} "
                      f"({result['seconds']:.0f} s, {result['epochs']} epochs)", flush=True)
                continue
            base = ", ".join(f"{b['model']} {b['accuracy']:.4f}" for b in result["baselines"])
            print(f"{dataset} seed {seed}: recurrent test accuracy {result['accuracy']:.4f} "
                  f"({result['seconds']:.0f} s, {result['epochs']} epochs); {base}", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
    if args.select:
        for dataset in args.datasets:
            valid = [r["valid"] for r in results if r["dataset"] == dataset]
            accuracy, loss = np.mean([v["accuracy"] for v in valid]), np.mean([v["loss"] for v in valid])
            print(f"{dataset} {' '.join(args.overrides) or '(preset)'}: mean valid accuracy {accuracy:.4f}, "
                  f"mean valid loss {loss:.4f}")
        return
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(f"\n| data set | model | test accuracy per seed ({', '.join(map(str, args.seeds))}) | mean | "
          f"seconds per seed (OMP_NUM_THREADS={threads}) |")
    print("|---|---|---|---|---|")
    for dataset in args.datasets:
        rows = [r for r in results if r["dataset"] == dataset]
        extra = ", " + " ".join(args.overrides) if args.overrides else ""
        name = f"recurrent (`lstmkit demo {DEMOS[dataset]}` preset{extra})"
        table = {name: [(r["accuracy"], r["seconds"]) for r in rows]}
        for k, b in enumerate(rows[0]["baselines"]):
            table[b["model"]] = [(r["baselines"][k]["accuracy"], r["baselines"][k]["seconds"]) for r in rows]
        for model, values in table.items():
            accs = [a for a, _ in values]
            print(
                f"| {dataset} | {model} | {' / '.join(f'{a:.4f}' for a in accs)} | **{np.mean(accs):.4f}** | "
                f"{' / '.join(f'{s:.0f}' for _, s in values)} |"
            )


if __name__ == "__main__":
    main()
