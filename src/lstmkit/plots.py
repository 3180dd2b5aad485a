"""Training curves and confusion matrices as PNG files.

Drawing and writing are split: :func:`history_figures` and :func:`confusion_figure` return
matplotlib ``Figure`` objects (tests inspect their axes, lines, legends and ticks), and
:func:`plot_history` / :func:`plot_confusion_matrix` save them. Uses matplotlib's object API
(``Figure`` + the Agg renderer) and never pyplot, so it needs no display, keeps no global
figure state and is safe in servers. PNGs are written atomically and honour the umask
(:mod:`lstmkit.files`).

Labels are drawn in a font that has their glyphs (:mod:`lstmkit.fonts`: Chinese labels need a
CJK font). When no installed font has them, the axes show label numbers and a legend maps each
number to its label (characters without a glyph written as ``\\uXXXX``), and a warning goes to
stderr once per process.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from lstmkit.files import atomic_write
from lstmkit.fonts import INSTALL_HINT, FontChoice, choose_fonts

_warned_missing_glyphs = False


class _NoFontWeightNotes(logging.Filter):
    """Drops matplotlib's "findfont: Failed to find font weight normal ..." notes (CJK fonts
    often come in weight 500 only, which is what we want anyway)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Failed to find font weight" not in record.getMessage()


@contextlib.contextmanager
def drawing(choice: FontChoice) -> Iterator[None]:
    """Draw with ``choice.family`` (matplotlib falls back glyph by glyph along the list)."""
    log = logging.getLogger("matplotlib.font_manager")
    quiet = _NoFontWeightNotes()
    log.addFilter(quiet)
    try:
        with matplotlib.rc_context({"font.family": list(choice.family)}), warnings.catch_warnings():
            # Only possible in the number fallback, where such text is not drawn: keep it quiet.
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
            yield
    finally:
        log.removeFilter(quiet)


def save_figure(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


# ----------------------------------------------------------------------------- training curves


def read_history(metrics_csv: str | Path) -> list[dict[str, float]]:
    """The rows of a run's ``logs/metrics.csv`` as numbers (``epoch`` an int, empty cells NaN)."""
    with open(metrics_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{name: (int(value) if name == "epoch" else
                    float(value) if value not in (None, "") else math.nan)
             for name, value in row.items()} for row in rows]


def _sane_ylim(ax, values: Sequence[float]) -> None:
    """Give a flat curve a readable y-range.

    When every finite value is equal up to rounding (``max - min <= 1e-9 * max(1, |max|)``,
    e.g. accuracy 1.0 every epoch, or 0.3 and 0.1 + 0.2), matplotlib zooms into the rounding
    noise and labels ticks like ``1e-16+0.3``. Instead show ``v ± max(0.1 |v|, 0.01)``.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    if high - low <= 1e-9 * max(1.0, abs(high)):
        pad = max(0.1 * abs(high), 0.01)
        ax.set_ylim(high - pad, high + pad)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")


def _curve_figure(epochs: list[int], series: dict[str, list[float]], ylabel: str, title: str,
                  best_epoch: int | None) -> Figure:
    """One Figure: a line per series (legend: its name), the kept epoch as a dashed line."""
    fig = Figure(figsize=(6, 4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for label, values in series.items():
        (line,) = ax.plot(epochs, values, marker="o", markersize=3, label=label)
        if best_epoch is not None and label.startswith("validation"):
            value = values[epochs.index(best_epoch)]
            ax.plot([best_epoch], [value], marker="*", markersize=12, color=line.get_color(),
                    linestyle="none")  # no label: the dashed line names it
    if best_epoch is not None:
        ax.axvline(best_epoch, color="0.4", linestyle="--", linewidth=1,
                   label=f"kept epoch ({best_epoch})")
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _sane_ylim(ax, [v for values in series.values() for v in values])
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def history_figures(rows: Sequence[dict[str, float]], best_epoch: int | None = None) -> dict[str, Figure]:
    """The curves of a run's history (rows of ``logs/metrics.csv``, see :func:`read_history`).

    Returns ``{file name: Figure}``: ``loss.png`` ("training loss" and "validation loss") and one
    ``<metric>.png`` per ``val_<metric>`` column ("validation <metric>"), e.g. ``accuracy.png``.
    ``best_epoch`` (1-based, as in the ``epoch`` column) is the kept epoch, marked on every plot.
    """
    with drawing(choose_fonts([])):
        return _history_figures(rows, best_epoch)


def _history_figures(rows: Sequence[dict[str, float]], best_epoch: int | None) -> dict[str, Figure]:
    if not rows:
        return {}
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    epochs = [int(e) for e in columns["epoch"]]
    if best_epoch is not None and best_epoch not in epochs:
        raise ValueError(f"best_epoch {best_epoch} is not one of the epochs {epochs[0]}..{epochs[-1]}")
    figures = {}
    losses = {name: columns[key] for key, name in (("train_loss", "training loss"),
                                                   ("val_loss", "validation loss")) if key in columns}
    if losses:
        figures["loss.png"] = _curve_figure(epochs, losses, "loss", "loss per epoch", best_epoch)
    for key, values in columns.items():
        if key.startswith("val_") and key != "val_loss":
            name = key[len("val_"):]
            figures[f"{name}.png"] = _curve_figure(epochs, {f"validation {name}": values}, name,
                                                   f"validation {name} per epoch", best_epoch)
    return figures


def plot_history(metrics_csv: str | Path, out_dir: str | Path, best_epoch: int | None = None) -> list[Path]:
    """Write ``loss.png`` (training and validation loss) and one PNG per validation metric.

    ``metrics_csv`` is a run's ``logs/metrics.csv`` (columns epoch, train_loss, val_loss,
    val_<metric>..., lr, seconds); ``val_accuracy`` becomes ``accuracy.png``. ``best_epoch``
    marks the kept epoch. Returns the files written.
    """
    out_dir = Path(out_dir)
    with drawing(choose_fonts([])):
        return [save_figure(fig, out_dir / name)
                for name, fig in history_figures(read_history(metrics_csv), best_epoch).items()]


# ----------------------------------------------------------------------------- confusion matrix


def _escape_missing(text: str, missing: str) -> str:
    """``text`` with the characters no font can draw written as ``\\uXXXX``."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if ch in missing else ch for ch in text)


def _warn_once(missing: str) -> None:
    global _warned_missing_glyphs
    if not _warned_missing_glyphs:
        _warned_missing_glyphs = True
        print(f"warning: no installed font has the glyphs for {missing[:20]!r}: plots show label "
              f"numbers and a legend instead; {INSTALL_HINT}", file=sys.stderr)


def confusion_figure(matrix: Sequence[Sequence[int]], labels: Sequence, title: str = "confusion matrix",
                     choice: FontChoice | None = None) -> Figure:
    """Draw a confusion matrix (rows: true class, columns: predicted) with counts.

    ``matrix`` is ``(C, C)`` for the ``C`` ``labels``. Colours show each row's share (recall per
    class), so rare classes stay visible. ``choice`` is the font choice for the labels (default:
    :func:`lstmkit.fonts.choose_fonts` of them); if it lacks glyphs, the axes show numbers
    ``0..C-1`` and a legend maps each number to its label.
    """
    labels = [str(x) for x in labels]
    choice = choice or choose_fonts(labels)
    with drawing(choice):  # text takes its font when created
        return _confusion_figure(matrix, labels, title, choice)


def _confusion_figure(matrix: Sequence[Sequence[int]], labels: list[str], title: str,
                      choice: FontChoice) -> Figure:
    n = len(labels)
    shares = [[c / max(1, sum(row)) for c in row] for row in matrix]
    size = min(16, 2 + 0.5 * n)
    fig = Figure(figsize=(size + 1 + (2 if choice.missing else 0), size), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ticks = [str(i) for i in range(n)] if choice.missing else labels
    family = list(choice.family)
    ax.set_xticks(range(n), ticks, rotation=0 if choice.missing else 45,
                  ha="center" if choice.missing else "right", fontfamily=family)
    ax.set_yticks(range(n), ticks, fontfamily=family)
    ax.set_title(title)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if choice.missing:
        handles = [Line2D([], [], linestyle="none") for _ in labels]
        fig.legend(handles, [f"{i}: {_escape_missing(label, choice.missing)}" for i, label in enumerate(labels)],
                   title="labels", loc="outside right upper", handlelength=0, handletextpad=0)
    if n <= 30:  # counts are unreadable beyond that
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                        color="white" if shares[i][j] > 0.5 else "black")
    return fig


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence, path: str | Path,
                          title: str = "confusion matrix") -> Path:
    """Write :func:`confusion_figure` as a PNG at ``path``; returns ``path``."""
    choice = choose_fonts(str(x) for x in labels)
    if choice.missing:
        _warn_once(choice.missing)
    fig = confusion_figure(matrix, labels, title, choice)
    with drawing(choice):
        return save_figure(fig, Path(path))
