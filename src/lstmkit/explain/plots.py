"""The PNG of ``lstmkit explain --out FILE.png``: attributions over the text, gates and cell state.

Three panels, one column per token (step):

1. the text, each token on a cell coloured by its integrated-gradients attribution toward the
   explained label (red pushes toward it, blue away; the colour scale is symmetric);
2. a heatmap of the gates in [0, 1]: for the input, forget and output gates (GRU: reset and
   update) the mean over units, then the ``top_units`` most active units of each (largest
   variation over the text), labelled ``input u7 (bwd)`` and so on;
3. the cell state (GRU: hidden state), mean over units and its most active units, on a
   symmetric colour scale.

Uses matplotlib's object API (no pyplot); tokens are drawn in a font that has their glyphs
(:mod:`lstmkit.fonts`: Chinese needs a CJK font).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from lstmkit.explain.gates import most_active_units
from lstmkit.fonts import choose_fonts
from lstmkit.plots import _drawing, _save

MAX_TOKENS_DRAWN = 200
"""Longer inputs are drawn up to this many tokens (the JSON keeps them all)."""


def _rows(values: np.ndarray, name: str, top: int, directions: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """The mean over units and the ``top`` most active units of ``values (T, D*H)``, with row labels."""
    per_direction = values.shape[1] // len(directions)
    rows, labels = [values.mean(axis=1)], [f"{name} (mean)"]
    for unit in most_active_units(values, top):
        direction = "" if len(directions) == 1 else (" fwd" if unit < per_direction else " bwd")
        rows.append(values[:, unit])
        labels.append(f"{name} u{unit % per_direction}{direction}")
    return rows, labels


def explanation_figure(record: dict, top_units: int = 3) -> Figure:
    """The figure of one :func:`lstmkit.explain.explain` record (see the module docstring)."""
    tokens = record["tokens"][:MAX_TOKENS_DRAWN]
    n = len(tokens)
    attributions = np.asarray(record["attributions"][:n], dtype=float)
    gate_rows, gate_labels = [], []
    for name, values in record["gates"].items():
        rows, labels = _rows(np.asarray(values, dtype=float)[:n], name, top_units, record["directions"])
        gate_rows += rows
        gate_labels += labels
    cell_rows, cell_labels = _rows(np.asarray(record["cell"], dtype=float)[:n],
                                   "cell" if "forget" in record["gates"] else "hidden", top_units,
                                   record["directions"])
    with _drawing(choose_fonts(tokens)):
        width = min(40.0, 3.0 + 0.45 * n)
        heights = [1.2, 0.28 * len(gate_rows) + 0.6, 0.28 * len(cell_rows) + 0.6]
        fig = Figure(figsize=(width, sum(heights) + 1.2), dpi=100, layout="constrained")
        ax_text, ax_gates, ax_cell = fig.subplots(3, 1, sharex=True, height_ratios=heights)
        limit = float(np.abs(attributions).max()) or 1.0
        image = ax_text.imshow(attributions[None, :], aspect="auto", cmap="coolwarm",
                               norm=TwoSlopeNorm(0.0, -limit, limit))
        for t, token in enumerate(tokens):
            ax_text.text(t, 0, token, ha="center", va="center", fontsize=10, rotation=90 if len(token) > 3 else 0)
        ax_text.set_yticks([0], ["attribution"])
        ax_text.set_title(f"{record['target']}: integrated gradients (baseline: {record['baseline'].split(':')[0]}); "
                          f"predicted {record['label']} ({record['probability']:.3f})", fontsize=10)
        fig.colorbar(image, ax=ax_text, pad=0.01)
        image = ax_gates.imshow(np.stack(gate_rows), aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
        ax_gates.set_yticks(range(len(gate_labels)), gate_labels, fontsize=8)
        ax_gates.set_title(f"gates, layer {record['layer']} (mean over units and the most active units)", fontsize=10)
        fig.colorbar(image, ax=ax_gates, pad=0.01)
        cells = np.stack(cell_rows)
        bound = float(np.abs(cells).max()) or 1.0
        image = ax_cell.imshow(cells, aspect="auto", cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -bound, bound))
        ax_cell.set_yticks(range(len(cell_labels)), cell_labels, fontsize=8)
        ax_cell.set_title("cell state" if "forget" in record["gates"] else "hidden state", fontsize=10)
        fig.colorbar(image, ax=ax_cell, pad=0.01)
        ax_cell.set_xticks(range(n), tokens, fontsize=8, rotation=90)
    return fig


def plot_explanation(record: dict, path: str | Path, top_units: int = 3) -> Path:
    """Write :func:`explanation_figure` of ``record`` to ``path`` (PNG, written atomically)."""
    with _drawing(choose_fonts(record["tokens"][:MAX_TOKENS_DRAWN])):  # saving lays the text out again
        return _save(explanation_figure(record, top_units), Path(path))
