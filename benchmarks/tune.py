"""What tuning buys: an ``lstmkit tune`` study per task on its demo data, within a fixed time budget.

For each demo it runs :func:`lstmkit.tune` on the demo's ``train`` split, scored on its ``valid``
split, starting from the demo's own settings (so trial 0 is the defaults), for ``--trials``
trials or until ``--budget`` seconds have passed (no trial starts after that; the one running
finishes). Then it reports

* on validation: the defaults' score (trial 0) and the best trial's, in the tuned metric
  (``val_loss`` for the classifiers, ``val_f1`` for the tagger, ``val_mae`` for the forecaster);
* on test, never seen by the study: the demo's headline metric (accuracy, F1, MASE) of the
  defaults (trained once more, as trial 0 was) and of the best trial's model.

Run (one thread, as on the shared 2-core machine; a full 30-trial study per demo takes hours)::

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune.py --demos sentiment ner weather vowels \\
        --trials 30 --budget 3600 --out runs/bench-tune

A quick check that it works (a few minutes)::

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune.py --demos vowels --trials 3 \\
        --budget 120 --subsample 120 --set train.epochs=3 --out runs/bench-tune-tiny

It prints one line per demo and a markdown table for ``docs/benchmarks.md``, and writes the
results as JSON (``OUT/results.json``) beside each study's folder (``OUT/<demo>/``: study.db,
trials.csv, best.yaml, best/model, plots).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from lstmkit.config import build_config


@dataclass
class Demo:
    task: str
    headline: str
    """The test metric reported (a key of evaluate's result)."""
    higher_is_better: bool


DEMOS = {
    "sentiment": Demo("text-classifier", "accuracy", True),
    "ner": Demo("tagger", "f1", True),
    "weather": Demo("forecaster", "mase", False),
    "vowels": Demo("sequence-classifier", "accuracy", True),
}


def demo_data(name: str, overrides: list[str]):
    """``(config, splits)``: the demo's settings (with ``overrides``) and its train/valid/test splits as
    ``fit`` and ``evaluate`` take them."""
    from lstmkit.data.datasets import load_dataset
    from lstmkit.tasks import get_task_class

    cls = get_task_class(DEMOS[name].task)
    if name == "sentiment":
        config = build_config(cls.config_class, overrides=overrides)
        return config, load_dataset("chn-reviews")
    if name == "ner":
        from lstmkit.tasks.tagger.demo import DATASETS, PRESETS

        config = build_config(cls.config_class, base=PRESETS[name], overrides=overrides)
        return config, load_dataset(DATASETS[name])
    if name == "weather":
        from lstmkit.data.datasets.timeseries import load_seattle_weather
        from lstmkit.tasks.forecaster.demo import DEMO_SETTINGS

        config = build_config(cls.config_class, overrides=DEMO_SETTINGS + overrides)
        return config, load_seattle_weather(context=config.model.lookback)
    if name == "vowels":
        from lstmkit.tasks.sequence.demo import DATASETS, PRESETS

        config = build_config(cls.config_class, base=PRESETS[name], overrides=overrides)
        return config, load_dataset(DATASETS[name], seed=config.train.seed)
    raise ValueError(f"unknown demo {name!r}; one of {', '.join(DEMOS)}")


def subsample(splits: dict, n: int | None) -> dict:
    """The first ``n`` training examples (a quick check; not for the forecaster's one series)."""
    if n is None:
        return splits
    X, y = splits["train"]
    if y is None:
        return splits
    return {**splits, "train": (list(X)[:n], list(y)[:n])}


def run(name: str, trials: int, budget: float, out: Path, overrides: list[str], n_train: int | None) -> dict:
    from optuna.trial import TrialState

    from lstmkit.tasks import get_task_class
    from lstmkit.tuning import tune

    demo = DEMOS[name]
    cls = get_task_class(demo.task)
    config, splits = demo_data(name, overrides)
    splits = subsample(splits, n_train)
    X, y = splits["train"]
    start = time.perf_counter()
    result = tune(cls(config=config), X, y, valid=splits["valid"], trials=trials, timeout=budget, out_dir=out / name)
    seconds = time.perf_counter() - start
    study = result.study
    first = study.trials[0]
    states = [t.state for t in study.trials if not t.user_attrs.get("surplus")]
    defaults = cls(config=config).fit(X, y, valid=splits["valid"])  # trial 0's settings, trained again
    test_defaults = defaults.evaluate(*splits["test"])[demo.headline]
    test_best = result.best_estimator.evaluate(*splits["test"])[demo.headline]
    return {
        "demo": name, "task": demo.task, "metric": f"val_{result.metric}", "headline": demo.headline,
        "trials": len(states), "complete": states.count(TrialState.COMPLETE),
        "pruned": states.count(TrialState.PRUNED), "failed": states.count(TrialState.FAIL),
        "seconds": round(seconds, 1), "budget": budget,
        "valid_defaults": first.value if first.state == TrialState.COMPLETE else None,
        "valid_best": result.best_value, "best_trial": study.best_trial.number, "best_params": result.best_params,
        "test_defaults": test_defaults, "test_best": test_best,
        "defaults_valid_retrained": defaults.valid_metrics_.get(result.metric),
    }


def table(rows: list[dict]) -> list[str]:
    lines = ["| demo | trials (complete / pruned / failed) | time | tuned metric: defaults -> best "
             "| test: defaults -> best |", "|---|---|---|---|---|"]
    for r in rows:
        valid = (f"{r['metric']} {r['valid_defaults']:.4f} -> {r['valid_best']:.4f} (trial {r['best_trial']})"
                 if r["valid_defaults"] is not None else f"{r['metric']} - -> {r['valid_best']:.4f}")
        lines.append(f"| {r['demo']} | {r['trials']} ({r['complete']} / {r['pruned']} / {r['failed']}) | "
                     f"{r['seconds']:.0f} s | {valid} | {r['headline']} {r['test_defaults']:.4f} -> "
                     f"{r['test_best']:.4f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demos", nargs="+", default=list(DEMOS), choices=list(DEMOS))
    parser.add_argument("--trials", type=int, default=30, help="trials per study (default 30)")
    parser.add_argument("--budget", type=float, default=3600, help="seconds per study: no trial starts after them")
    parser.add_argument("--subsample", type=int, default=None, metavar="N",
                        help="train on the first N training examples only (a quick check)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the defaults and every trial (e.g. train.epochs=3)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-tune"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.demos:
        row = run(name, args.trials, args.budget, args.out, args.overrides, args.subsample)
        print(json.dumps(row), flush=True)
        rows.append(row)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print("\n".join(table(rows)))


if __name__ == "__main__":
    main()
