"""What every labelled demo does with its splits: train, score the test split, save, report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def fit_evaluate_save(estimator, splits: dict, out: Path, echo: Callable[[str], None]) -> dict:
    """Fit ``estimator`` on ``splits["train"]`` (``(X, y)``), validating on ``splits["valid"]``, with
    its run folder in ``out`` and a progress bar; score ``splits["test"]``; save ``out/model`` with
    the validation and test metrics; print both metric lines. Returns the test metrics."""
    from lstmkit.metrics.classification import metrics_line

    estimator.fit(*splits["train"], valid=splits["valid"], out_dir=out, progress_bar=True)
    test = estimator.evaluate(*splits["test"])
    estimator.save(out / "model", metrics={"valid": estimator.valid_metrics_, "test": test})
    echo(metrics_line("validation", estimator.valid_metrics_))
    echo(metrics_line("test", test))
    return test
