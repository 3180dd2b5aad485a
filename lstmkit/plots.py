"""Training curves and confusion matrices as PNG files.

Uses matplotlib's object API (``Figure`` + the Agg renderer) and never pyplot,
so it needs no display, keeps no global figure state and is safe in servers.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure

# Fonts with Chinese glyphs, tried after DejaVu Sans for labels such as 正面 / 负面.
_CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC",
              "Arial Unicode MS"]


@functools.cache
def _font_family() -> list[str]:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return ["DejaVu Sans"] + [name for name in _CJK_FONTS if name in installed]


@contextlib.contextmanager
def _drawing() -> Iterator[None]:
    """Fall back to an installed CJK font per glyph; without one, draw boxes quietly."""
    with matplotlib.rc_context({"font.family": _font_family()}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        yield


def read_history(metrics_csv: str | Path) -> list[dict[str, float]]:
    """The rows of a run's ``logs/metrics.csv`` as numbers (``epoch`` an int, empty cells NaN)."""
    with open(metrics_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{name: (int(value) if name == "epoch" else
                    float(value) if value not in (None, "") else math.nan)
             for name, value in row.items()} for row in rows]


def _line_plot(path: Path, epochs: list[float], series: dict[str, list[float]], ylabel: str) -> Path:
    with _drawing():
        return _draw_lines(path, epochs, series, ylabel)


def _draw_lines(path: Path, epochs: list[float], series: dict[str, list[float]], ylabel: str) -> Path:
    fig = Figure(figsize=(6, 4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for label, values in series.items():
        ax.plot(epochs, values, marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.savefig(path)
    return path


def plot_history(metrics_csv: str | Path, out_dir: str | Path) -> list[Path]:
    """Plot ``loss.png`` (train and valid loss) and one PNG per validation metric.

    ``metrics_csv`` is a run's ``logs/metrics.csv`` (columns epoch, train_loss,
    val_loss, val_<metric>..., lr, seconds); ``val_accuracy`` becomes
    ``accuracy.png``. Returns the files written.
    """
    rows = read_history(metrics_csv)
    if not rows:
        return []
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    epochs = columns["epoch"]
    losses = {name: columns[key] for key, name in (("train_loss", "train"), ("val_loss", "valid"))
              if key in columns}
    written = [_line_plot(out_dir / "loss.png", epochs, losses, "loss")] if losses else []
    for key, values in columns.items():
        if key.startswith("val_") and key != "val_loss":
            name = key[len("val_"):]
            written.append(_line_plot(out_dir / f"{name}.png", epochs, {name: values}, name))
    return written


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str],
                          path: str | Path) -> Path:
    """Draw a confusion matrix (rows: true class, columns: predicted) with counts.

    Colours show each row's share (recall per class), so rare classes stay visible.
    """
    with _drawing():
        return _draw_confusion(matrix, labels, Path(path))


def _draw_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path) -> Path:
    n = len(labels)
    shares = [[c / max(1, sum(row)) for c in row] for row in matrix]
    size = min(16, 2 + 0.5 * n)
    fig = Figure(figsize=(size + 1, size), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ax.set_xticks(range(n), [str(x) for x in labels], rotation=45, ha="right")
    ax.set_yticks(range(n), [str(x) for x in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 30:  # counts are unreadable beyond that
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                        color="white" if shares[i][j] > 0.5 else "black")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
