"""lstmkit tune / lstmkit.tune (lstmkit.tuning): spaces, pruning, failures, the study's storage and
its outputs. Most trials are tiny forecasters (about a second each); the command line runs in real
processes, two of them on one SQLite study."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from task_cases import CASES

from lstmkit.errors import ConfigError
from lstmkit.tasks import get_task_class
from lstmkit.tuning import default_space, read_space, tune
from lstmkit.tuning.space import DEFAULT_SPACE_TASKS, config_with, default_values

FORECASTER = CASES["forecaster"]
FAST = {**FORECASTER.params, "epochs": 2}
"""A forecaster that trains in about a second."""
FAST_SET = ["data.target=value", "data.covariates=x", "model.lookback=8", "model.horizon=3", "model.hidden_size=8",
            "train.epochs=2", "train.lr=0.01", "train.patience=0"]
"""The same settings as ``--set`` arguments."""


def _forecaster(tmp: Path, **params):
    cls = get_task_class("forecaster")
    estimator = cls(**{**FAST, **params})
    X, y = estimator.read_data(FORECASTER.write_train(tmp))
    return estimator, X, y


def _write_space(path: Path, space: dict) -> Path:
    path.write_text(yaml.safe_dump(space), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------- spaces
@pytest.mark.parametrize("task", DEFAULT_SPACE_TASKS)
def test_default_space_draws_valid_configs_that_train(task, tmp_path):
    """Every draw from a task's default space is a config the task accepts, the run's own settings lie
    in it, and a drawn trial trains (one epoch on tiny data). Catches a range the config refuses
    (dropout 1.0), a key the task does not have, a lever that breaks training."""
    case = CASES[task]
    cls = get_task_class(task)
    estimator = cls(**{**case.params, "epochs": 1})
    base = estimator.resolved_config()
    space = default_space(task, base)
    assert {"model.hidden_size", "model.cell", "train.lr", "train.batch_size"} <= set(space)
    assert set(default_values(space, base)) == set(space)  # trial 0, the run's own settings, lies in it
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    configs = []
    for _ in range(12):
        trial = study.ask(space)
        configs.append(config_with(cls.config_class, base, trial.params, source="draw"))
        study.tell(trial, 0.0)
    X, y = estimator.read_data(case.write_train(tmp_path))
    drawn = cls(config=configs[-1]).fit(X, y)
    assert drawn.valid_metrics_[drawn.monitor] == drawn.valid_metrics_[drawn.monitor]  # a number, not NaN


def test_space_file_replaces_the_default_space(tmp_path):
    """A YAML space is the whole space, with integer, float, log and choice entries as the key's type
    makes them; a tuned study draws those keys and no others."""
    path = _write_space(tmp_path / "space.yaml", {
        "model.hidden_size": {"low": 4, "high": 16, "log": True},
        "train.lr": {"low": 1.0e-3, "high": 3.0e-2, "log": True},
        "model.dropout": {"low": 0.0, "high": 0.4, "step": 0.1},
        "model.cell": {"choices": ["lstm", "gru"]},
    })
    cls = get_task_class("forecaster")
    space = read_space(path, cls.config_class)
    assert space == {"model.hidden_size": IntDistribution(4, 16, log=True),
                     "train.lr": FloatDistribution(1e-3, 3e-2, log=True),
                     "model.dropout": FloatDistribution(0.0, 0.4, step=0.1),
                     "model.cell": CategoricalDistribution(["lstm", "gru"])}
    estimator, X, y = _forecaster(tmp_path)
    result = tune(estimator, X, y, trials=2, space=path, sampler=optuna.samplers.RandomSampler(seed=0),
                  progress=False)
    for trial in result.study.trials:
        assert set(trial.params) == set(space)
        assert 4 <= trial.params["model.hidden_size"] <= 16
    assert result.best_estimator.config_.model.hidden_size == result.best_params["model.hidden_size"]


@pytest.mark.parametrize("entry, message", [
    ({"model.hiden_size": {"low": 4, "high": 8}}, "unknown key 'model.hiden_size' (did you mean 'model.hidden_size'?)"),
    ({"model.dropout": {"low": 0.0, "high": 1.5}}, "'model.dropout'"),
    ({"model.hidden_size": {"low": 16, "high": 4}}, "'model.hidden_size': low must be below high"),
    ({"model.hidden_size": {"low": 4.5, "high": 8}}, "'model.hidden_size': is an integer key"),
    ({"model.cell": {"low": 1, "high": 2}}, "'model.cell': is not a number, so it takes {choices: [...]}"),
    ({"model.cell": {"choices": ["lstm", "tcn"]}}, "'model.cell'"),
    ({"train.lr": {"low": 0.0, "high": 0.1, "log": True}}, "'train.lr': a log range needs low > 0"),
    ({"train.lr": 0.01}, "'train.lr': expected {low: ..., high: ...} or {choices: [...]}"),
    ({"train.lr": {"low": 0.001}}, "'train.lr': a range has low and high"),
])
def test_bad_space_file_names_file_and_key(tmp_path, entry, message):
    path = _write_space(tmp_path / "bad-space.yaml", entry)
    with pytest.raises(ConfigError) as error:
        read_space(path, get_task_class("forecaster").config_class)
    assert str(path) in str(error.value) and message in str(error.value)


def test_bad_space_file_from_the_command_line_is_one_line(tmp_path):
    path = _write_space(tmp_path / "space.yaml", {"model.dropout": {"low": 0.0, "high": 1.5}})
    data = FORECASTER.write_train(tmp_path)
    result = _lstmkit("tune", "forecaster", "--train", data, "--out", tmp_path / "out", "--trials", 2, "--space", path)
    assert result.exit_code == 2
    assert result.stderr == f"error: invalid value for 'model.dropout' in {path}: must be in [0, 1); got 1.5\n"
    assert not (tmp_path / "out" / "study.db").exists()  # nothing started


def _lstmkit(*args):
    """``lstmkit ARGS`` in this process (typer's runner): stdout and stderr apart."""
    from typer.testing import CliRunner

    from lstmkit.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


# ------------------------------------------------------------------------------------- pruning and failures
def test_pruning_stops_a_hopeless_trial_after_its_first_epoch(tmp_path):
    """Trial 0 (lr 0.01) completes its 3 epochs; trial 1 (lr 1e-9: it learns nothing) is worse than the
    median at epoch 1 and is pruned there, through our Lightning callback."""
    estimator, X, y = _forecaster(tmp_path, epochs=3)
    result = tune(estimator, X, y, trials=2, space={"train.lr": FloatDistribution(1e-9, 0.05, log=True)},
                  enqueue=[{"train.lr": 1e-9}], pruner=optuna.pruners.MedianPruner(n_startup_trials=1),
                  progress=False)
    first, second = result.study.trials
    assert first.state == TrialState.COMPLETE and sorted(first.intermediate_values) == [1, 2, 3]
    assert first.params["train.lr"] == 0.01
    assert second.params["train.lr"] == 1e-9
    assert second.state == TrialState.PRUNED and sorted(second.intermediate_values) == [1]
    assert second.intermediate_values[1] > first.intermediate_values[1]


def test_a_failing_trial_is_recorded_and_the_study_goes_on(tmp_path, capsys):
    """A lookback longer than the data fails in fit: that trial is FAIL with its error, counts as one
    of the study's trials, and the next trial runs."""
    estimator, X, y = _forecaster(tmp_path)
    space = {"model.lookback": CategoricalDistribution([8, 100000]), "model.hidden_size": IntDistribution(4, 8)}
    result = tune(estimator, X, y, trials=3, space=space, out_dir=tmp_path / "out",
                  enqueue=[{"model.lookback": 100000}, {"model.lookback": 8}])
    states = [t.state for t in result.study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    failed = result.study.trials[1]
    assert "model.lookback=100000" in failed.user_attrs["error"]
    rows = list(csv.DictReader((tmp_path / "out" / "trials.csv").open(encoding="utf-8")))
    assert rows[1]["state"] == "FAIL" and "model.lookback=100000" in rows[1]["note"]
    lines = capsys.readouterr().err.splitlines()
    assert any(line.startswith("trial 1: failed: ") and "[2/3]" in line for line in lines)


# ------------------------------------------------------------------------------------- storage
def test_running_again_continues_the_study_and_runs_only_the_missing_trials(tmp_path):
    """--trials is the study's total: 2 trials, then a trial cut off by Ctrl+C (FAIL without an error
    of its own: it does not count), then asking for 3 runs exactly one more (trial 3)."""
    estimator, X, y = _forecaster(tmp_path)
    space = {"model.hidden_size": IntDistribution(4, 8)}
    out = tmp_path / "out"
    tune(estimator, X, y, trials=2, space=space, out_dir=out, progress=False)
    study = optuna.load_study(study_name="forecaster", storage=f"sqlite:///{out / 'study.db'}")
    interrupted = study.ask()
    study.tell(interrupted, state=TrialState.FAIL)
    before = {t.number: t.datetime_complete for t in study.trials}
    result = tune(estimator, X, y, trials=3, space=space, out_dir=out, progress=False)
    trials = result.study.trials
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL,
                                         TrialState.COMPLETE]
    assert {t.number: t.datetime_complete for t in trials[:3]} == before  # the old trials were not run again
    result = tune(estimator, X, y, trials=3, space=space, out_dir=out, progress=False)
    assert len(result.study.trials) == 4  # the study is full: nothing runs


def test_ctrl_c_then_the_same_command_runs_only_the_missing_trials(tmp_path):
    """A real Ctrl+C (SIGINT) in the middle of trial 1: the command stops with status 130 and keeps
    the study; running it again runs the missing trials only, and the trial cut off does not count."""
    import signal
    import time

    data = FORECASTER.write_train(tmp_path)
    _write_space(tmp_path / "space.yaml", {"model.hidden_size": {"low": 4, "high": 12}})
    command = [sys.executable, "-m", "lstmkit", "tune", "forecaster", "--train", str(data), "--out",
               str(tmp_path / "out"), "--trials", "3", "--space", str(tmp_path / "space.yaml"), "--pruner", "none",
               *(a for item in [*FAST_SET, "train.epochs=30"] for a in ("--set", item))]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    lines = []
    for line in first.stderr:  # wait until trial 0 is done, then interrupt trial 1
        lines.append(line)
        if line.startswith("trial 0:"):
            break
    # Soon after: a trial of 30 epochs takes seconds, so the signal lands inside trial 1 even when a busy
    # machine delays this process (12 epochs and a 1 s wait once let trials 1 and 2 finish first).
    time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    _, rest = first.communicate(timeout=120)
    assert first.returncode == 130, "".join(lines) + rest
    assert "interrupted" in rest
    storage = f"sqlite:///{tmp_path / 'out' / 'study.db'}"
    before = optuna.load_study(study_name="forecaster", storage=storage).trials
    done_before = [t.number for t in before if t.state == TrialState.COMPLETE]
    cut_off = [t for t in before if t.state == TrialState.FAIL]
    assert done_before[0] == 0 and all("error" not in t.user_attrs for t in cut_off)

    quicker = [*command, "--set", "train.epochs=2"]  # the settings of trials still to come may change
    again = subprocess.run(quicker, capture_output=True, text=True, env=env, timeout=240)
    assert again.returncode == 0, again.stderr
    after = optuna.load_study(study_name="forecaster", storage=storage).trials
    assert sum(t.state == TrialState.COMPLETE for t in after) == 3
    ran_again = [line for line in again.stderr.splitlines() if line.startswith("trial ")]
    assert len(ran_again) == 3 - len(done_before)  # only the missing ones
    assert not (tmp_path / "out" / "trials.csv").read_text(encoding="utf-8").count("RUNNING")


def _tune_process(tmp: Path, data: Path, out: Path, storage: str, trials: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lstmkit", "tune", "forecaster", "--train", str(data), "--out", str(out), "--trials",
         str(trials), "--storage", storage, "--study", "shared", "--pruner", "none",
         "--space", str(tmp / "space.yaml"), *(a for item in FAST_SET for a in ("--set", item))],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))


def test_two_processes_share_one_sqlite_study(tmp_path):
    """Two real `lstmkit tune` processes on one SQLite study: the trials add up to --trials, each trial
    is run by one process only, and each process's outputs describe the whole study."""
    data = FORECASTER.write_train(tmp_path)
    _write_space(tmp_path / "space.yaml", {"model.hidden_size": {"low": 4, "high": 12}})
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    processes = [_tune_process(tmp_path, data, tmp_path / f"out{i}", storage, trials=4) for i in (1, 2)]
    errs = []
    for process in processes:
        _, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        errs.append(err)
    study = optuna.load_study(study_name="shared", storage=storage)
    ran = [t for t in study.trials if not t.user_attrs.get("surplus")]
    assert len(ran) == 4 and all(t.state == TrialState.COMPLETE for t in ran)
    by_process = [{int(line.split(":")[0].split()[1]) for line in err.splitlines() if line.startswith("trial ")}
                  for err in errs]
    assert by_process[0].isdisjoint(by_process[1])
    assert by_process[0] | by_process[1] == {t.number for t in ran}
    seen = [list(csv.DictReader((tmp_path / f"out{i}" / "trials.csv").open(encoding="utf-8"))) for i in (1, 2)]
    # the process that finished last saw every trial complete (the other may have left while one ran)
    assert any([(int(r["number"]), r["state"]) for r in rows] == [(t.number, "COMPLETE") for t in ran]
               for rows in seen)


def test_opening_a_storage_another_process_is_creating_tries_again(tmp_path, monkeypatch):
    """Processes started together on a new database race to create its tables; the loser's
    "table ... already exists" is tried again, not reported (CI saw this in the test above), while a
    storage that cannot be opened at all is still one clear error."""
    from sqlalchemy.exc import OperationalError

    from lstmkit.tuning import study as study_module

    real = optuna.storages.RDBStorage
    calls = []

    def racing(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:  # the other process created the tables between our check and our CREATE
            raise OperationalError("CREATE TABLE alembic_version", {},
                                   Exception("table alembic_version already exists"))
        return real(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    storage = f"sqlite:///{tmp_path / 'raced.db'}"
    backend = study_module._open_rdb_storage(storage)
    assert len(calls) == 2 and backend.get_all_studies() == []
    monkeypatch.setattr(optuna.storages, "RDBStorage", real)
    with pytest.raises(ConfigError, match=r"--storage sqlite:////nonexistent/dir/x\.db: cannot open it"):
        study_module._open_rdb_storage("sqlite:////nonexistent/dir/x.db")


def test_a_storage_whose_driver_is_missing_says_what_to_install():
    """``postgresql://`` alone means psycopg2 to SQLAlchemy 2.0 and psycopg 3 to 2.1: a user who
    installed the other one saw only Optuna's "Failed to import DB access module"."""
    from lstmkit.tuning import study as study_module

    pytest.importorskip("sqlalchemy")
    if importlib.util.find_spec("pg8000") is not None:
        pytest.skip("pg8000 is installed here")
    with pytest.raises(ConfigError, match=r"cannot open it: .*driver is not installed.*lstmkit\[postgresql\].*"
                                          r"postgresql\+psycopg://"):
        study_module._open_rdb_storage("postgresql+pg8000://user:secret@localhost/studies")


# ------------------------------------------------------------------------------------- outputs
def test_command_line_outputs(tmp_path):
    """`lstmkit tune` writes trials.csv (rows = the study's trials), best.yaml (which `lstmkit train
    --config` trains), best/model (loads and predicts; the best trial's settings), the plots, and a
    line per trial on stderr."""
    data = FORECASTER.write_train(tmp_path)
    _write_space(tmp_path / "space.yaml", {"model.hidden_size": {"low": 4, "high": 12},
                                           "model.cell": {"choices": ["lstm", "gru"]}})
    out = tmp_path / "study"
    result = _lstmkit("tune", "forecaster", "--train", data, "--out", out, "--trials", 3, "--space",
                      tmp_path / "space.yaml", *(a for item in FAST_SET for a in ("--set", item)))
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("trial ")]
    assert [line.split(":")[0] for line in lines] == ["trial 0", "trial 1", "trial 2"]
    assert all("val_mae=" in line and "best " in line for line in lines)

    study = optuna.load_study(study_name="forecaster", storage=f"sqlite:///{out / 'study.db'}")
    rows = list(csv.DictReader((out / "trials.csv").open(encoding="utf-8")))
    assert [(int(r["number"]), r["state"], float(r["value"]), int(r["model.hidden_size"]), r["model.cell"])
            for r in rows] == [(t.number, t.state.name, t.value, t.params["model.hidden_size"], t.params["model.cell"])
                               for t in study.trials]
    assert all(float(r["seconds"]) > 0 for r in rows)
    assert (out / "plots" / "history.png").stat().st_size > 0 and (out / "plots" / "importances.png").exists()

    best = study.best_trial
    config = yaml.safe_load((out / "best.yaml").read_text(encoding="utf-8"))
    assert config["model"]["hidden_size"] == best.params["model.hidden_size"]
    assert config["model"]["cell"] == best.params["model.cell"]
    assert config["train"]["epochs"] == 2 and config["data"]["covariates"] == ["x"]  # --set reaches every trial

    trial_folder = out / "trials" / f"trial-{best.number:04d}"
    assert len((trial_folder / "logs" / "metrics.csv").read_text(encoding="utf-8").splitlines()) == 1 + 2  # 2 epochs
    assert not list((out / "trials").glob("*/checkpoints"))  # removed when each trial ended
    assert [p.parent.name for p in (out / "trials").glob("*/model")] == [trial_folder.name]  # only the best's

    from lstmkit import load
    model = load(out / "best" / "model")
    assert model.config_.model.hidden_size == best.params["model.hidden_size"]
    X, _ = model.read_data(data)
    assert model.evaluate(X)["mae"] > 0

    trained = _lstmkit("train", "forecaster", "--train", data, "--config", out / "best.yaml", "--out",
                       tmp_path / "again")
    assert trained.exit_code == 0, trained.stderr
    again = load(tmp_path / "again" / "model")
    assert again.config_.model.hidden_size == best.params["model.hidden_size"]


def test_the_seed_is_not_searched_without_validation_data(tmp_path):
    """Without --valid each seed would hold out another part of the data: scores of different data."""
    estimator, X, y = _forecaster(tmp_path)
    with pytest.raises(ConfigError, match="train.seed is in the search space"):
        tune(estimator, X, y, trials=2, space={"train.seed": {"low": 0, "high": 9}}, progress=False)


def test_pruners_by_name_and_a_space_as_python_data():
    from lstmkit.tuning.pruning import make_pruner
    from lstmkit.tuning.space import space_from_mapping

    median = make_pruner("median")
    assert isinstance(median, optuna.pruners.MedianPruner)
    study = optuna.create_study(pruner=median)  # 5 finished trials, then one far worse at epochs 1 and 2
    for _ in range(5):
        trial = study.ask()
        trial.report(0.1, 1)
        trial.report(0.1, 2)
        study.tell(trial, 0.1)
    hopeless = study.ask()
    hopeless.report(9.0, 1)
    assert not hopeless.should_prune()  # never after the first epoch only
    hopeless.report(9.0, 2)
    assert hopeless.should_prune()
    assert isinstance(make_pruner("halving"), optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(make_pruner("none"), optuna.pruners.NopPruner)
    with pytest.raises(ValueError, match="unknown pruner 'hyperband'"):
        make_pruner("hyperband")
    config_class = get_task_class("forecaster").config_class
    assert space_from_mapping({"train.batch_size": {"choices": [16, 32]}}, config_class) == {
        "train.batch_size": CategoricalDistribution([16, 32])}
    with pytest.raises(ConfigError, match=r"^space: unknown key 'hidden_size' \(did you mean 'model.hidden_size'"):
        space_from_mapping({"hidden_size": {"low": 4, "high": 8}}, config_class, source="space")


def test_each_trial_is_an_mlflow_run_with_train_tracking_mlflow(tmp_path, monkeypatch):
    """--set train.tracking=mlflow reaches every trial: one MLflow run per trial, named after its run
    folder, with the trial's drawn settings as parameters."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(tmp_path / "mlruns"))
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    estimator, X, y = _forecaster(tmp_path, tracking="mlflow")
    result = tune(estimator, X, y, trials=2, space={"model.hidden_size": {"low": 4, "high": 12}},
                  out_dir=tmp_path / "out", progress=False)
    client = MlflowClient(tracking_uri=str(tmp_path / "mlruns"))
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    by_name = {run.info.run_name: run for run in runs}
    assert sorted(by_name) == ["trial-0000", "trial-0001"]
    for trial in result.study.trials:
        run = by_name[f"trial-{trial.number:04d}"]
        assert run.data.params["model.hidden_size"] == str(trial.params["model.hidden_size"])
        assert run.data.metrics["val_mae"] == pytest.approx(trial.intermediate_values[2])  # the last epoch's
