"""Tiny data for the ``forecaster`` task in the conformance suite (tests/test_conformance.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from task_cases import TaskCase

TASK = "forecaster"


def series_frame(n: int, seed: int, start: str = "2020-01-01") -> pd.DataFrame:
    """A daily series: ``value`` = trend + weekly sine + noise, covariate ``x`` = noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({"date": pd.date_range(start, periods=n, freq="D").strftime("%Y-%m-%d"),
                         "value": 10 + 0.05 * t + 2 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.3, n),
                         "x": rng.normal(size=n).round(4)})


def _write(path: Path, n: int, seed: int) -> Path:
    series_frame(n, seed).to_csv(path, index=False)
    return path


def _bad(tmp: Path) -> tuple[Path, int]:
    path = tmp / "bad.csv"
    path.write_text("date,value,x\n2020-01-01,1,0\n2020-01-02,2,0\n2020-01-03,3,0\n2020-01-03,4,0\n"
                    "2020-01-04,5,0\n", encoding="utf-8")
    return path, 5  # the duplicated timestamp


def _json_inputs() -> list:
    frame = series_frame(20, seed=3)
    columns = {k: v.tolist() for k, v in frame.items()}
    rows = series_frame(16, seed=4, start="2021-03-01").to_dict(orient="records")
    return [columns, rows]


CASE = TaskCase(
    write_train=lambda tmp: _write(tmp / "train.csv", 120, seed=0),
    write_other_train=lambda tmp: _write(tmp / "other.csv", 120, seed=5),
    write_bad=_bad,
    json_inputs=_json_inputs(),
    params=dict(target=["value"], covariates=["x"], lookback=8, horizon=3, hidden_size=8, epochs=2,
                batch_size=32, lr=0.01, patience=0),
)
