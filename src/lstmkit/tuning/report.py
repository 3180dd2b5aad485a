"""What a study leaves for people: a line per trial on stderr, ``trials.csv``, ``best.yaml`` and
the plots (``plots/history.png``: each trial's value and the best so far; ``plots/importances.png``:
how much each searched key mattered, by Optuna's default importance evaluator).

The plots are drawn like :mod:`lstmkit.plots`' curves: matplotlib's object API (no pyplot),
written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from pathlib import Path

import optuna
import yaml
from matplotlib.figure import Figure
from optuna.trial import FrozenTrial, TrialState

from lstmkit.files import atomic_write_text
from lstmkit.plots import save_figure

SURPLUS = "surplus"
"""User attribute of a trial started after the study had its ``--trials`` (another process got there
first); it never ran, and reports leave it out."""
ERROR = "error"
"""User attribute: why a trial failed (a failure of the trial itself, which counts as one of the
study's trials; a trial cut off by Ctrl+C or a crash has none and is run again)."""
CONFIG = "config"
"""User attribute: the trial's whole config (what ``best.yaml`` writes)."""


def reported_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's trials in number order, less the surplus ones."""
    return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(SURPLUS)]


def seconds(trial: FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 3)


def _best(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no complete trial yet
        return None


def trial_line(study: optuna.Study, trial: FrozenTrial, metric: str, done: int, total: int) -> str:
    """One line about a finished trial::

        trial 3: val_loss=0.4123 (best 0.3981, trial 1), 12.4 s [4/30]
        trial 4: pruned after epoch 2 (val_loss=0.6931) (best 0.3981, trial 1), 3.1 s [5/30]
        trial 5: failed: invalid value for 'train.precision' ... (best 0.3981, trial 1), 0.2 s [6/30]
    """
    if trial.state == TrialState.COMPLETE:
        what = f"val_{metric}={trial.value:.4f}"
    elif trial.state == TrialState.PRUNED:
        steps = sorted(trial.intermediate_values)
        last = f" (val_{metric}={trial.intermediate_values[steps[-1]]:.4f})" if steps else ""
        what = f"pruned after epoch {steps[-1] if steps else '?'}{last}"
    else:
        what = f"failed: {trial.user_attrs.get(ERROR, trial.state.name.lower())}"
    best = _best(study)
    best_text = f"best {best.value:.4f}, trial {best.number}" if best is not None else "no complete trial yet"
    took = seconds(trial)
    return f"trial {trial.number}: {what} ({best_text}), {took if took is not None else 0:.1f} s [{done}/{total}]"


def write_trials_csv(study: optuna.Study, path: Path) -> Path:
    """``trials.csv``: one row per trial: ``number, state, value``, one column per searched key
    (dotted, as in the space), ``seconds``, ``note`` (why it failed, where it was pruned)."""
    trials = reported_trials(study)
    keys = list(dict.fromkeys(key for t in trials for key in t.params))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["number", "state", "value", *keys, "seconds", "note"])
    for t in trials:
        if t.state == TrialState.PRUNED and t.intermediate_values:
            note = f"pruned after epoch {max(t.intermediate_values)}"
        else:
            note = t.user_attrs.get(ERROR, "")
        value = "" if t.value is None else repr(float(t.value))
        took = seconds(t)
        writer.writerow([t.number, t.state.name, value, *(_cell(t.params.get(k, "")) for k in keys),
                         "" if took is None else took, note])
    return atomic_write_text(path, text.getvalue())


def _cell(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_best_yaml(trial: FrozenTrial, task: str, metric: str, path: Path) -> Path:
    """``best.yaml``: the best trial's whole config, for ``lstmkit train TASK --config best.yaml``."""
    config = json.loads(json.dumps(trial.user_attrs[CONFIG]))  # plain lists and dicts
    header = (f"# lstmkit tune: the best trial ({trial.number}, val_{metric}={trial.value:.6g}) of a {task} study.\n"
              f"# Train it with: lstmkit train {task} --train FILE --config best.yaml\n")
    return atomic_write_text(path, header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def history_figure(study: optuna.Study, metric: str) -> Figure:
    """Each complete trial's value against its number, pruned trials' last reported value as
    crosses, and the best so far as a step line."""
    trials = reported_trials(study)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    ax.scatter([t.number for t in done], [t.value for t in done], s=18, label="complete", zorder=3)
    if pruned:
        ax.scatter([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
                   marker="x", s=18, color="gray", label="pruned (last epoch's value)", zorder=2)
    if done:
        minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
        best, xs, ys = math.inf if minimize else -math.inf, [], []
        for t in done:
            best = min(best, t.value) if minimize else max(best, t.value)
            xs.append(t.number)
            ys.append(best)
        ax.step(xs, ys, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"val_{metric}")
    ax.set_title(f"tuning: val_{metric} by trial ({'lower' if study.direction.name == 'MINIMIZE' else 'higher'}"
                 " is better)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


def importance_figure(importances: dict[str, float], metric: str) -> Figure:
    """A horizontal bar per searched key: its importance for ``val_<metric>`` (normalised to sum to 1)."""
    keys = list(importances)[::-1]  # the most important on top
    fig = Figure(figsize=(7, 0.9 + 0.35 * len(keys)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(keys, [importances[k] for k in keys], color="C0")
    ax.set_xlabel(f"importance for val_{metric} (Optuna's evaluator; the bars sum to 1)")
    ax.set_title("which settings mattered")
    ax.grid(axis="x", alpha=0.3)
    return fig


def write_plots(study: optuna.Study, metric: str, plots_dir: Path) -> list[Path]:
    """``history.png`` once a trial is complete; ``importances.png`` once Optuna can say (two or
    more complete trials over keys that varied)."""
    written = []
    complete = [t for t in reported_trials(study) if t.state == TrialState.COMPLETE]
    if not complete:
        return written
    written.append(save_figure(history_figure(study, metric), plots_dir / "history.png"))
    try:
        with warnings.catch_warnings():  # "parameter importances will be equal" on a few trials
            warnings.simplefilter("ignore")
            importances = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError):  # too few complete trials, or nothing varied
        return written
    if importances:
        written.append(save_figure(importance_figure(importances, metric), plots_dir / "importances.png"))
    return written
