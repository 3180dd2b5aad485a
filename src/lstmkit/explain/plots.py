"""The PNG of ``lstmkit explain --out FILE.png``: attributions over the input, gates and cell state.

Panels, one column per step (a token of a text; a row of a forecaster's lookback window):

1. the attributions toward the explained output, one cell per step coloured by its integrated-
   gradients attribution (red pushes the output up, blue down; the colour scale is symmetric);
   tokens are written in their cells;
2. only when the record has ``feature_attributions`` (a forecaster): the same per feature and
   step, one row per feature, on the same kind of scale;
3. a heatmap of the gates in [0, 1]: for the input, forget and output gates (GRU: reset and
   update) the mean over units, then the ``top_units`` most active units of each (largest
   variation over the steps), labelled ``input u7 (bwd)`` and so on;
4. the cell state (GRU: hidden state), mean over units and its most active units, on a
   symmetric colour scale.

The x axis names the steps: every token, or, for many steps (a long window of dates), about
:data:`MAX_TICK_LABELS` of them evenly spaced. Uses matplotlib's object API (no pyplot); text is
drawn in a font that has its glyphs (:mod:`lstmkit.fonts`: Chinese needs a CJK font).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from lstmkit.explain.gates import most_active_units
from lstmkit.fonts import choose_fonts
from lstmkit.plots import drawing, save_figure

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


MAX_TICK_LABELS = 40
"""More steps than this get every k-th label on the x axis only (dates of a long window)."""


def _tick_positions(n: int) -> list[int]:
    """Every step up to :data:`MAX_TICK_LABELS` steps; else every k-th, the last step included."""
    if n <= MAX_TICK_LABELS:
        return list(range(n))
    every = -(-n // MAX_TICK_LABELS)
    positions = list(range(n - 1, -1, -every))[::-1]  # anchored at the last step (the most recent row)
    return positions


def _title(record: dict) -> str:
    """Two lines: ``attributions toward X: probability 0.91 (0.27 at the baseline)`` and the baseline's name."""
    done = record["completeness"]
    value_name = record.get("value_name", "probability")
    baseline = record["baseline"].split(":")[0]
    return (f"attributions toward {record['target']}: {value_name} {done['output']:.4g} "
            f"({done['baseline_output']:.4g} at the baseline)\nintegrated gradients from the baseline: {baseline}")


def _symmetric(values: np.ndarray) -> TwoSlopeNorm:
    limit = float(np.abs(values).max()) if values.size else 0.0
    limit = limit or 1.0
    return TwoSlopeNorm(0.0, -limit, limit)


def explanation_figure(record: dict, top_units: int = 3) -> Figure:
    """The figure of one :func:`lstmkit.explain.explain` record (see the module docstring)."""
    tokens = record["tokens"][:MAX_TOKENS_DRAWN]
    n = len(tokens)
    by_token = record.get("step_kind", "token") == "token"
    attributions = np.asarray(record["attributions"][:n], dtype=float)
    features = None
    if record.get("feature_attributions") is not None:
        features = np.asarray(record["feature_attributions"][:n], dtype=float).T  # (F, n)
    gate_rows, gate_labels = [], []
    for name, values in record["gates"].items():
        rows, labels = _rows(np.asarray(values, dtype=float)[:n], name, top_units, record["directions"])
        gate_rows += rows
        gate_labels += labels
    cell_rows, cell_labels = _rows(np.asarray(record["cell"], dtype=float)[:n],
                                   "cell" if "forget" in record["gates"] else "hidden", top_units,
                                   record["directions"])
    with drawing(choose_fonts([*tokens, *record.get("features", []), record["target"]])):
        width = min(40.0, max(8.0, 3.0 + 0.45 * n)) if by_token else min(30.0, max(8.0, 5.0 + 0.22 * n))
        heights = [1.2] + ([0.3 * len(features) + 0.6] if features is not None else []) + \
                  [0.28 * len(gate_rows) + 0.6, 0.28 * len(cell_rows) + 0.6]
        fig = Figure(figsize=(width, sum(heights) + 1.8), dpi=100, layout="constrained")
        axes = list(fig.subplots(len(heights), 1, sharex=True, height_ratios=heights))
        ax_text, ax_cell, ax_gates = axes[0], axes[-1], axes[-2]
        image = ax_text.imshow(attributions[None, :], aspect="auto", cmap="coolwarm", norm=_symmetric(attributions))
        if by_token:
            for t, token in enumerate(tokens):
                ax_text.text(t, 0, token, ha="center", va="center", fontsize=10, rotation=90 if len(token) > 3 else 0)
        ax_text.set_yticks([0], ["attribution"])
        ax_text.set_title(_title(record), fontsize=10)
        fig.colorbar(image, ax=ax_text, pad=0.01)
        if features is not None:
            ax_features = axes[1]
            image = ax_features.imshow(features, aspect="auto", cmap="coolwarm", norm=_symmetric(features))
            ax_features.set_yticks(range(len(features)), record["features"], fontsize=8)
            ax_features.set_title("attribution per feature (the row above is their sum)", fontsize=10)
            fig.colorbar(image, ax=ax_features, pad=0.01)
        image = ax_gates.imshow(np.stack(gate_rows), aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
        ax_gates.set_yticks(range(len(gate_labels)), gate_labels, fontsize=8)
        ax_gates.set_title(f"gates, layer {record['layer']} (mean over units and the most active units)", fontsize=10)
        fig.colorbar(image, ax=ax_gates, pad=0.01)
        cells = np.stack(cell_rows)
        image = ax_cell.imshow(cells, aspect="auto", cmap="RdBu_r", norm=_symmetric(cells))
        ax_cell.set_yticks(range(len(cell_labels)), cell_labels, fontsize=8)
        ax_cell.set_title("cell state" if "forget" in record["gates"] else "hidden state", fontsize=10)
        fig.colorbar(image, ax=ax_cell, pad=0.01)
        ticks = _tick_positions(n)
        upright = by_token and all(len(token) <= 2 for token in tokens)  # characters: no need to turn them
        ax_cell.set_xticks(ticks, [tokens[t] for t in ticks], fontsize=8, rotation=0 if upright else 90)
    return fig


def plot_explanation(record: dict, path: str | Path, top_units: int = 3) -> Path:
    """Write :func:`explanation_figure` of ``record`` to ``path`` (PNG, written atomically)."""
    with drawing(choose_fonts([*record["tokens"][:MAX_TOKENS_DRAWN], *record.get("features", []),
                                record["target"]])):  # saving lays the text out again
        return save_figure(explanation_figure(record, top_units), Path(path))
