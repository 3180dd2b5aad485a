"""``forecast.png``: the end of the history, the forecast and its P10-P90 interval.

Drawn with matplotlib's object API (``Figure`` + Agg, no pyplot), one panel per target, and
written atomically by :func:`lstmkit.plots.save_figure`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def forecast_figure(history_time, history, forecast_time, point, p10, p90, names, series: str | None = None,
                    band: str = "P10-P90") -> Figure:
    """history (N, T) over ``history_time``; point, p10, p90 (H, T) over ``forecast_time`` (``p10``/``p90``:
    the outer quantiles, named ``band`` in the legend); ``series`` names the series in the titles."""
    T = len(names)
    fig = Figure(figsize=(9, 2.6 * T + 0.6))
    axes = fig.subplots(T, 1, squeeze=False)[:, 0]
    future = list(forecast_time)
    if any(t is None for t in future):  # an irregular series: steps after the last time
        future = list(np.arange(1, len(future) + 1) + (len(history_time) - 1))
        history_time = np.arange(len(history_time))
    for t, ax in enumerate(axes):
        ax.plot(history_time, history[:, t], color="tab:blue", label="history")
        # Join the forecast to the last observed value so the line is continuous.
        ax.plot([history_time[-1], *future], [history[-1, t], *point[:, t]], color="tab:orange", label="forecast")
        if p10 is not None:
            ax.fill_between(future, p10[:, t], p90[:, t], color="tab:orange", alpha=0.25, label=band)
        ax.set_title(str(names[t]) if series is None else f"{names[t]} ({series})")
        ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
