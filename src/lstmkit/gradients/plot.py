"""``gradients.png``: gradient norm against distance from the loss, and accuracy, per cell.

Left: one panel per sequence length, ``mean ||dL/dx_t||`` (log scale) against the distance
``T-1-t`` between step t and the loss, one line per cell. Right: accuracy on the adding problem
against the length, one line per cell (chance is about 5%).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from lstmkit.plots import save_figure

COLOURS = {"rnn": "tab:red", "gru": "tab:blue", "lstm": "tab:green"}


def gradients_figure(gradients: Sequence[tuple[str, int, int, float]],
                     accuracies: Sequence[tuple[str, int, float]]) -> Figure:
    """``gradients``: ``(cell, length, distance, grad_norm)`` rows; ``accuracies``: ``(cell, length, accuracy)``."""
    lengths = sorted({row[1] for row in gradients})
    cells = list(dict.fromkeys(row[0] for row in gradients))
    fig = Figure(figsize=(4.0 * len(lengths) + 4.5, 3.8), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(lengths) + 1, squeeze=False)[0]
    for ax, length in zip(axes, lengths):
        for cell in cells:
            rows = [(d, g) for c, n, d, g in gradients if c == cell and n == length]
            ax.plot([d for d, _ in rows], [max(g, 1e-30) for _, g in rows], label=cell, color=COLOURS.get(cell))
        ax.set_yscale("log")
        ax.set_xlabel("distance from the loss (steps)")
        ax.set_title(f"T = {length}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean ||dL/dx_t||")
    axes[0].legend()
    ax = axes[-1]
    for cell in cells:
        rows = sorted((n, a) for c, n, a in accuracies if c == cell)
        ax.plot([n for n, _ in rows], [a for _, a in rows], marker="o", label=cell, color=COLOURS.get(cell))
    ax.axhline(0.05, color="gray", linestyle=":", label="chance")
    ax.set_xscale("log")
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("accuracy (|error| < 0.04)")
    ax.set_title("adding problem")
    ax.legend()
    return fig


def plot_gradients(gradients, accuracies, path: str | Path) -> Path:
    """Write :func:`gradients_figure` to ``path`` (PNG, atomically)."""
    return save_figure(gradients_figure(gradients, accuracies), Path(path))
