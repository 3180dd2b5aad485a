"""``lstmkit tune TASK --train PATH [--valid PATH] --out DIR --trials N [--timeout S] [--storage URL]
[--study NAME] [--space FILE.yaml] [--config FILE.yaml] [--set key=value ...] [--pruner NAME]``: an
Optuna study over the task's settings (see :mod:`lstmkit.tuning.study` and docs/tuning.md).

A line per trial goes to stderr; stdout gets the outcome (the best trial, where its settings and
model are), as ``train`` ends with the validation metrics."""

from __future__ import annotations

from pathlib import Path

import typer

from lstmkit.cli.common import SET_HELP, config_option, set_option, user_errors


def register(app: typer.Typer) -> None:
    from lstmkit.tasks import TASKS

    @app.command()
    @user_errors
    def tune(
        task: str = typer.Argument(..., metavar="TASK", help=f"The task: {', '.join(TASKS)}."),
        train_path: Path = typer.Option(..., "--train", metavar="FILE", help="Training data file."),
        valid_path: Path | None = typer.Option(
            None, "--valid", metavar="FILE", help="Validation file the trials are scored on (default: 10% of "
                                                  "--train, the same part for every trial)."),
        out: Path = typer.Option(..., "--out", metavar="DIR", help="Study folder: study.db, best.yaml, best/model, "
                                 "trials.csv, plots/."),
        trials: int = typer.Option(..., "--trials", metavar="N", min=1, help="The study's total number of trials "
                                   "(running the command again runs only the missing ones)."),
        timeout: float | None = typer.Option(None, "--timeout", metavar="S", help="Start no trial after S seconds."),
        storage: str | None = typer.Option(None, "--storage", metavar="URL", help="Optuna storage (default: "
                                           "sqlite:///DIR/study.db); processes given one URL share the study."),
        study: str | None = typer.Option(None, "--study", metavar="NAME", help="Study name in the storage "
                                         "(default: the task)."),
        space: Path | None = typer.Option(None, "--space", metavar="FILE.yaml", help="Search space: key -> "
                                          "{low, high, log} or {choices: [...]} (default: the task's)."),
        config: Path | None = config_option("YAML file of settings every trial starts from (as train --config)."),
        pruner: str = typer.Option("median", "--pruner", metavar="median|halving|none",
                                   help="How hopeless trials are stopped, from their per-epoch validation metric."),
        overrides: list[str] | None = set_option(SET_HELP + " Applies to every trial; the space's keys are drawn "
                                                 "per trial."),
    ) -> None:
        """Search a task's settings with Optuna, scored on validation data; keeps the best model."""
        from lstmkit.config import build_config
        from lstmkit.errors import ConfigError
        from lstmkit.tasks import get_task_class
        from lstmkit.tuning import tune as run_study
        from lstmkit.tuning.pruning import PRUNERS

        if pruner not in PRUNERS:
            raise ConfigError(f"--pruner must be one of {', '.join(PRUNERS)}, got {pruner!r}")
        cls = get_task_class(task)
        estimator = cls(config=build_config(cls.config_class, yaml_path=config, overrides=list(overrides or [])))
        X, y = estimator.read_training_data(train_path)
        valid = estimator.read_training_data(valid_path) if valid_path is not None else None
        result = run_study(estimator, X, y, valid=valid, trials=trials, out_dir=out, space=space, storage=storage,
                           study_name=study, timeout=timeout, pruner=pruner)
        best = result.study.best_trial
        typer.echo(f"best: trial {best.number}, val_{result.metric}={best.value:.4f}")
        typer.echo(f"settings saved to {out / 'best.yaml'}")
        typer.echo(f"model saved to {out / 'best' / 'model'}")
