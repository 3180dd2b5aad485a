"""``lstmkit tune`` and :func:`lstmkit.tune`: an Optuna study over a task's settings.

Each trial draws settings from the space (:mod:`lstmkit.tuning.space`), trains the task's
estimator with them on the training data, and is scored by one validation metric of its kept
epoch (``val_loss`` for the classifiers, ``val_f1`` for the tagger, ``val_mae`` in standardised
units for the forecaster: numbers that mean the same whatever the settings). The test data is
never seen. Trial 0 of a new study is the run's own settings (the task's defaults and ``--set``),
so the best trial is never worse than the defaults on validation.

The study lives in an Optuna storage: ``sqlite:///OUT/study.db`` by default, or any RDB URL
(``postgresql+psycopg://user:password@host/db``) shared by several processes or machines. ``trials`` is
the study's total, counted in the storage:

* a trial counts when it completed, was pruned, or failed by itself (a bad combination of
  settings, out of memory: recorded with its error, and the study goes on);
* a trial cut off by Ctrl+C, or by a crash (its process stopped sending Optuna's heartbeat
  for ``GRACE_SECONDS``), does not count, so running the command again runs it again;
* every process starts a trial only while fewer than ``trials`` are counted or running, and one
  that finds, after taking its trial number, that earlier numbers already fill the study gives
  its trial back unrun (recorded as pruned with the ``surplus`` mark, and left out of every
  report). So N processes sharing one study run ``trials`` trials in all, none twice.

Each trial trains in its own run folder, ``OUT/trials/trial-NNNN`` (``logs/metrics.csv``,
``plots/``; its checkpoints are removed when it ends; with ``train.tracking=mlflow`` its MLflow run
is named after it). A trial that improves on the best so far saves its model there (``model/``,
removed once another trial is better); at the end ``OUT/best/model`` is the best trial's model
(trained again from ``best.yaml`` when that trial ran on another machine), and ``OUT/trials.csv``,
``OUT/best.yaml`` and ``OUT/plots/`` are rewritten from the storage, so they describe the whole
study, not just this process's trials.
"""

from __future__ import annotations

import contextlib
import gc
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lstmkit.config import config_from_dict, config_to_dict
from lstmkit.errors import ConfigError, LstmkitError
from lstmkit.tuning import report
from lstmkit.tuning.pruning import PruneTrial, make_pruner
from lstmkit.tuning.space import Space, config_with, default_space, default_values, read_space, space_from_mapping

HEARTBEAT_SECONDS = 10
"""How often a running trial tells an RDB storage it is alive."""
GRACE_SECONDS = 30
"""A running trial silent this long is taken for a crashed one: marked failed, and run again."""

TUNED_METRIC = {"forecaster": ("mae", "min")}
"""Tasks scored on another validation metric than the one that picks their kept epoch: the
forecaster's ``val_loss`` depends on ``model.loss``; ``val_mae`` (standardised units) does not."""


@dataclass
class TuneResult:
    """What :func:`tune` returns."""

    study: optuna.Study
    """The Optuna study (every trial, its params, values and user attributes)."""
    best_params: dict[str, Any]
    """The best trial's drawn settings (dotted keys)."""
    best_value: float
    """Its validation score (``val_<metric>`` of its kept epoch)."""
    best_config: Any
    """Its whole config (the task's config class)."""
    best_estimator: Any
    """The best trial's fitted estimator."""
    metric: str
    """The validation metric tuned (without the ``val_`` prefix)."""


def tuned_metric(estimator_class: type) -> tuple[str, str]:
    """``(metric, "min" | "max")``: what a study of this task minimises or maximises."""
    return TUNED_METRIC.get(estimator_class.task, (estimator_class.monitor, estimator_class.monitor_mode))


def tune(estimator, X, y=None, valid=None, *, trials: int, out_dir: str | Path | None = None,
         space: Space | str | Path | None = None, storage: str | None = None, study_name: str | None = None,
         timeout: float | None = None, pruner: str | optuna.pruners.BasePruner = "median",
         sampler: optuna.samplers.BaseSampler | None = None, enqueue: list[dict] | None = None,
         progress: bool = True) -> TuneResult:
    """Search the settings of ``estimator`` (its class, and its settings as the base) on ``(X, y)``,
    scored on ``valid=(X_valid, y_valid)`` (or the part of ``X`` that ``fit`` holds out).

    ``trials``: the study's total (a study continued runs only the missing ones). ``out_dir``:
    keeps ``study.db`` (unless ``storage`` names another), ``best.yaml``, ``best/model``,
    ``trials.csv`` and ``plots/``; without it and without ``storage`` the study lives in memory.
    ``space``: a YAML file, or its content as a dict (``{"train.lr": {"low": 1e-4, "high": 1e-2,
    "log": True}}``; Optuna distributions are taken as they are); default: the task's
    :func:`~lstmkit.tuning.space.default_space`. ``timeout``: start no trial after this many
    seconds. ``pruner``: ``median``, ``halving``, ``none`` or an Optuna pruner. ``sampler``: an
    Optuna sampler (default: TPE). ``enqueue``: settings (dotted key -> value) to try first,
    after the run's own. ``progress``: a line per trial on stderr.
    """
    cls = type(estimator)
    base = estimator.resolved_config()
    if base.train.devices * base.train.num_nodes > 1 or base.train.strategy == "ddp":
        raise ConfigError("lstmkit tune trains each trial in one process: leave train.devices, train.num_nodes "
                          "and train.strategy at their defaults (run several tune processes on one --storage "
                          "to use more machines)")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise ConfigError(f"--trials must be a whole number >= 1, got {trials!r}")
    if space is None:
        space = default_space(cls.task, base)
    elif isinstance(space, dict):
        space = space_from_mapping(space, cls.config_class, base, source="space")
    else:
        space = read_space(space, cls.config_class, base)
    if valid is None and "train.seed" in space:
        raise ConfigError("train.seed is in the search space, so each trial would hold out another part of the "
                          "training data and the scores could not be compared: give validation data (--valid)")
    metric, mode = tuned_metric(cls)
    out_dir = Path(out_dir) if out_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    with _quiet_optuna():
        study, heartbeat = _open_study(cls.task, metric, mode, out_dir, storage, study_name,
                            sampler or optuna.samplers.TPESampler(),
                            make_pruner(pruner) if isinstance(pruner, str) else pruner)
        if not study.get_trials(deepcopy=False):  # a new study: the run's own settings first
            study.enqueue_trial(default_values(space, base), skip_if_exists=True)
        for params in enqueue or []:
            study.enqueue_trial(params, skip_if_exists=True)
        run = _TrialRunner(cls, base, space, metric, X, y, valid, trials, out_dir)
        echo = (lambda line: print(line, file=sys.stderr, flush=True)) if progress else (lambda line: None)
        try:
            _optimize(study, run, trials, timeout, echo, heartbeat)
        except KeyboardInterrupt:
            if out_dir is not None:  # what is done so far; the command continues the study
                report.write_trials_csv(study, out_dir / "trials.csv")
            raise
        return _finish(study, run)


class _TrialRunner:
    """The objective: one trial, from its settings to its score."""

    def __init__(self, cls, base, space: Space, metric: str, X, y, valid, trials: int, out_dir: Path | None):
        self.cls, self.base, self.space, self.metric = cls, base, space, metric
        self.X, self.y, self.valid, self.trials, self.out_dir = X, y, valid, trials, out_dir
        self.kept: dict[int, Any] = {}  # in memory (no out_dir): the best trial's estimator

    def __call__(self, trial: optuna.Trial) -> float:
        study = trial.study
        earlier = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number]
        if sum(_counts(t) or t.state == TrialState.RUNNING for t in earlier) >= self.trials:
            trial.set_user_attr(report.SURPLUS, True)  # another process filled the study meanwhile
            raise optuna.TrialPruned("the study has its trials already")
        try:
            params = {key: _suggest(trial, key, dist) for key, dist in self.space.items()}
            config = config_with(self.cls.config_class, self.base, params, source=f"trial {trial.number}")
            trial.set_user_attr(report.CONFIG, config_to_dict(config))
            estimator = self.cls(config=config)
            pruning = PruneTrial(trial, self.metric)
            estimator.fit(self.X, self.y, valid=self.valid, out_dir=self.run_folder(trial.number),
                          callbacks=[pruning])
            value = float(estimator.valid_metrics_[self.metric])
        except optuna.TrialPruned:
            raise
        except Exception as error:  # any failure of a trial is recorded, and the study goes on
            trial.set_user_attr(report.ERROR, _describe(error))
            raise
        finally:
            if self.out_dir is not None:  # the logs and plots stay; the checkpoints would only fill the disk
                shutil.rmtree(self.run_folder(trial.number) / "checkpoints", ignore_errors=True)
            _free_memory()
        if _improves(study, value):
            self._keep(trial.number, estimator, value)
        return value

    def run_folder(self, number: int) -> Path | None:
        """Trial ``number``'s run folder (``OUT/trials/trial-NNNN``: logs, plots, and its model while it is
        the best), or None in memory. MLflow names the trial's run after it."""
        return self.out_dir / "trials" / f"trial-{number:04d}" if self.out_dir is not None else None

    def _keep(self, number: int, estimator, value: float) -> None:
        if self.out_dir is None:
            self.kept = {number: estimator}
            return
        estimator.save(self.run_folder(number) / "model",
                       metrics={"valid": estimator.valid_metrics_, "tune": {"trial": number, "value": value}})


def _suggest(trial: optuna.Trial, key: str, dist) -> Any:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(key, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(key, dist.low, dist.high, step=dist.step, log=dist.log)


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, LstmkitError):
        return text[:500]
    return f"{type(error).__name__}: {text}"[:500]


def _free_memory() -> None:
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # after an out-of-memory trial, for the next one


def _counts(trial: FrozenTrial) -> bool:
    """Whether ``trial`` is one of the study's ``trials`` (see the module docstring)."""
    if trial.user_attrs.get(report.SURPLUS):
        return False
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and report.ERROR in trial.user_attrs


def _improves(study: optuna.Study, value: float) -> bool:
    try:
        best = study.best_value
    except ValueError:
        return True
    return value < best if study.direction == optuna.study.StudyDirection.MINIMIZE else value > best


def _optimize(study: optuna.Study, run: _TrialRunner, trials: int, timeout: float | None,
              echo: Callable[[str], None], heartbeat: bool) -> None:
    """Run trials one at a time until the study has ``trials`` (or ``timeout`` seconds passed)."""
    start = time.monotonic()

    def progress(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.user_attrs.get(report.SURPLUS):
            return
        done = sum(_counts(t) for t in study.get_trials(deepcopy=False))
        echo(report.trial_line(study, trial, run.metric, done, trials))

    while True:
        if heartbeat:
            optuna.storages.fail_stale_trials(study)
        now = study.get_trials(deepcopy=False)
        done = sum(_counts(t) for t in now)
        running = sum(t.state == TrialState.RUNNING for t in now)
        if done + running >= trials:
            if done < trials:
                echo(f"{done} of {trials} trials done and {running} running in other processes; this one stops "
                     f"(a crashed process's trial is run again by the next command after {GRACE_SECONDS} s)")
            return
        if timeout is not None and time.monotonic() - start >= timeout:
            echo(f"--timeout: {timeout:g} s passed; {done} of {trials} trials done (run again to go on)")
            return
        study.optimize(run, n_trials=1, catch=(Exception,), callbacks=[progress])


def _open_study(task: str, metric: str, mode: str, out_dir: Path | None, storage: str | None,
                name: str | None, sampler, pruner) -> tuple[optuna.Study, bool]:
    """Create or load the study, and check it is one of this task and metric; also whether its
    storage keeps heartbeats (an RDB storage)."""
    name = name or task
    if storage is None and out_dir is not None:
        storage = f"sqlite:///{(out_dir / 'study.db').resolve()}"
    if storage is None:
        backend = optuna.storages.InMemoryStorage()
    else:
        backend = _open_rdb_storage(storage)
    direction = "minimize" if mode == "min" else "maximize"
    study = optuna.create_study(storage=backend, study_name=name, direction=direction, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise ConfigError(f"study '{name}' in {storage} is to {study.direction.name.lower()}, not {direction}: "
                          "give another --study")
    known = study.user_attrs
    if known.get("task", task) != task or known.get("metric", metric) != metric:
        raise ConfigError(f"study '{name}' in {storage} tunes a {known.get('task')} on val_{known.get('metric')}, "
                          f"not a {task} on val_{metric}: give another --study or --out")
    if not known:
        study.set_user_attr("task", task)
        study.set_user_attr("metric", metric)
    return study, storage is not None


DRIVER_HINT = ("the database's Python driver is not installed: for PostgreSQL, pip install 'lstmkit[postgresql]' "
               "and give postgresql+psycopg://user:password@host/db; for MySQL, pip install pymysql and give "
               "mysql+pymysql://...")
"""Added to the error when SQLAlchemy cannot import the driver a storage URL names. A bare
``postgresql://`` means psycopg2 to SQLAlchemy 2.0 and psycopg (3) to 2.1, so the docs name the
driver in the URL."""

SCHEMA_RACE_TRIES = 5
"""How often opening an RDB storage is tried while another process is creating its tables."""


def _open_rdb_storage(storage: str) -> optuna.storages.RDBStorage:
    """Open (creating its tables if new) an RDB storage.

    Several ``lstmkit tune`` processes started together on a new database race to create its
    tables: the loser's ``CREATE TABLE`` fails with "already exists" (SQLite: ``table
    alembic_version already exists``). That is not an error of the user's: the tables are there
    a moment later, so the opening is tried again; any other failure (a bad URL, a server that
    does not answer) is reported at once."""
    attempt = 1
    while True:
        try:
            return optuna.storages.RDBStorage(
                storage, engine_kwargs={"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else None,
                heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS)
        except Exception as error:  # noqa: BLE001 - SQLAlchemy's many errors for a bad URL or server
            if attempt == SCHEMA_RACE_TRIES or not _is_schema_race(error):
                hint = f" ({DRIVER_HINT})" if isinstance(error, ImportError) else ""
                raise ConfigError(f"--storage {storage}: cannot open it: {_describe(error)}{hint}") from None
            time.sleep(0.2 * attempt)
            attempt += 1


def _is_schema_race(error: Exception) -> bool:
    """Whether opening failed because another process created the same tables first."""
    text = str(error).lower()
    return "already exists" in text or "duplicate" in text or "unique constraint" in text


def _finish(study: optuna.Study, run: _TrialRunner) -> TuneResult:
    """Write the reports and the best model; return the result."""
    from lstmkit.io import load

    out_dir = run.out_dir
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if out_dir is not None:
        report.write_trials_csv(study, out_dir / "trials.csv")
        report.write_plots(study, run.metric, out_dir / "plots")
    if not complete:
        raise LstmkitError("no trial completed, so there is no best model"
                           + (f"; see {out_dir / 'trials.csv'} for why" if out_dir is not None else ""))
    best = study.best_trial
    best_config = config_from_dict(run.cls.config_class, best.user_attrs[report.CONFIG], source=f"trial {best.number}")
    if out_dir is None:
        estimator = run.kept.get(best.number) or _retrain(run, best_config)
    else:
        report.write_best_yaml(best, run.cls.task, run.metric, out_dir / "best.yaml")
        estimator = _best_model(run, best, best_config, load)
        _drop_other_models(study, run, best.number)
    return TuneResult(study=study, best_params=dict(best.params), best_value=float(best.value),
                      best_config=best_config, best_estimator=estimator, metric=run.metric)


def _best_model(run: _TrialRunner, best: FrozenTrial, best_config, load):
    """``OUT/best/model``: the best trial's saved model, or one trained again from its config."""
    target = run.out_dir / "best" / "model"
    metrics_file = target / "metrics.json"
    if metrics_file.exists():
        import json

        with contextlib.suppress(ValueError, OSError):
            if json.loads(metrics_file.read_text(encoding="utf-8")).get("tune", {}).get("trial") == best.number:
                return load(target)
    saved = run.run_folder(best.number) / "model"
    estimator = load(saved) if saved.exists() else _retrain(run, best_config)
    estimator.save(target, metrics={"valid": estimator.valid_metrics_,
                                    "tune": {"trial": best.number, "value": best.value}})
    return estimator


def _retrain(run: _TrialRunner, config):
    """The best trial ran elsewhere (another machine, or a process that kept no model): train it again."""
    return run.cls(config=config).fit(run.X, run.y, valid=run.valid)


def _drop_other_models(study: optuna.Study, run: _TrialRunner, best: int) -> None:
    """Remove the saved models of finished trials other than the best (running ones may still win);
    their logs and plots stay."""
    for trial in study.get_trials(deepcopy=False):
        if trial.state.is_finished() and trial.number != best:
            shutil.rmtree(run.run_folder(trial.number) / "model", ignore_errors=True)


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna's own log lines (a trial's params, its failure's traceback) give way to ours; its
    heartbeat is marked experimental."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)
