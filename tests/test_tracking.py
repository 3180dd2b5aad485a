"""Tracking in MLflow (lstmkit.training.tracking) against a real local MLflow store, read back
with ``MlflowClient``: the trainer's tiny model of tests/test_train.py, a few seconds each."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from test_train import run

from lstmkit.errors import ConfigError, LstmkitError
from lstmkit.io import check_safetensors, read_json, save_model_folder
from lstmkit.training.tracking import RUN_FILE, log_model_folder, mlflow_callback, param_text
from lstmkit.version import __version__

PARAMS = {"task": "tiny", "model.hidden_size": 16, "train.lr": 0.02, "train.epochs": 3, "model.bidirectional": True,
          "model.quantiles": [0.1, 0.9], "data.vectors": None, "data.tokenizer": "char"}


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    """A fresh MLflow store (a folder) as ``MLFLOW_TRACKING_URI``; MLflow's other variables unset."""
    for name in ("MLFLOW_ALLOW_FILE_STORE", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "store"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(path))
    return path


def reader(store: Path, monkeypatch):
    """A plain ``MlflowClient`` on ``store`` (MLflow 3 opens a folder store only when allowed)."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=str(store))


def csv_rows(out_dir: Path) -> list[dict[str, str]]:
    with open(out_dir / "logs" / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def assert_history_is_the_csv(client, run_id: str, out_dir: Path) -> None:
    """Every metric of the run is a column of metrics.csv (not ``epoch``), and its history is that
    column row by row: step = epoch, the value exactly, no step twice."""
    rows = csv_rows(out_dir)
    columns = [name for name in rows[0] if name != "epoch"]
    assert sorted(client.get_run(run_id).data.metrics) == sorted(columns)
    for column in columns:
        history = sorted(client.get_metric_history(run_id, column), key=lambda m: (m.step, m.timestamp))
        assert [(m.step, m.value) for m in history] == [(int(r["epoch"]), float(r[column])) for r in rows], column


def artifact_files(client, run_id: str, path: str | None = None) -> list[str]:
    files = []
    for item in client.list_artifacts(run_id, path):
        files += artifact_files(client, run_id, item.path) if item.is_dir else [item.path]
    return files


def test_a_run_logs_the_config_the_csv_the_plots_and_the_model_folder(store, tmp_path, monkeypatch):
    """Bugs guarded: params missing or spelled otherwise than --set takes them; metrics under other
    names, steps or values than logs/metrics.csv (e.g. 0-based epochs, Lightning's step rows);
    plots or model files missing; a pickle (checkpoint, torch.save) among the artifacts; the run
    left RUNNING; TensorBoard or the CSV dropped."""
    out = tmp_path / "run"
    tracker = mlflow_callback(PARAMS, run_name="my-run", out_dir=out, tags={"purpose": "test"})
    model, result = run(out, epochs=3, callbacks=[tracker])
    assert isinstance(tracker.run_id, str) and read_json(out / RUN_FILE)["run_id"] == tracker.run_id
    folder = save_model_folder(tmp_path / "model", config={"task": "tiny"}, state_dict=model.state_dict(),
                               metrics=result.best_metrics)
    log_model_folder(tracker.run_id, folder)

    client = reader(store, monkeypatch)
    logged = client.get_run(tracker.run_id)
    assert logged.info.status == "FINISHED" and logged.info.run_name == "my-run"
    assert logged.data.params == {**{key: param_text(value) for key, value in PARAMS.items()},
                                  "lstmkit_version": __version__}
    assert logged.data.params["model.bidirectional"] == "true" and logged.data.params["data.vectors"] == "null"
    assert logged.data.params["model.quantiles"] == "[0.1, 0.9]" and logged.data.params["data.tokenizer"] == "char"
    assert logged.data.tags["purpose"] == "test" and logged.data.tags["lstmkit.run_folder"] == str(out.resolve())
    assert_history_is_the_csv(client, tracker.run_id, out)
    assert [int(r["epoch"]) for r in csv_rows(out)] == [1, 2, 3]

    files = artifact_files(client, tracker.run_id)
    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert "loss.png" in plots and sorted(f for f in files if f.startswith("plots/")) == [f"plots/{p}" for p in plots]
    assert sorted(f for f in files if f.startswith("model/")) == sorted(f"model/{p.name}" for p in folder.iterdir())
    assert len(files) == len(plots) + len(list(folder.iterdir()))
    local = Path(client.download_artifacts(tracker.run_id, "", str(tmp_path / "downloaded")))
    for name in files:
        data = (local / name).read_bytes()
        if name.endswith(".safetensors"):
            check_safetensors(local / name)  # refuses a pickle or a torch.save zip in its place
        else:
            assert name.endswith((".json", ".png")) and not data.startswith((b"\x80", b"PK\x03\x04")), name
    assert (local / "plots" / "loss.png").read_bytes() == (out / "plots" / "loss.png").read_bytes()
    assert (local / "model" / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    assert list((out / "logs").glob("events.out.tfevents.*"))  # TensorBoard stays


class CrashAfterTheRowOfEpoch2(Callback):
    """Raises in epoch 2 after metrics.csv has its row but before Lightning saves last.ckpt
    (checkpoint callbacks run after the others)."""

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 == 2:
            raise RuntimeError("power cut")


def test_a_resumed_run_continues_the_same_mlflow_run_without_repeating_an_epoch(store, tmp_path, monkeypatch):
    """Bugs guarded: a resumed run starting a second MLflow run; an epoch logged when its row is
    written (before its checkpoint), so the epoch redone after a crash appears twice in MLflow's
    history; the crashed run left RUNNING."""
    out = tmp_path / "run"
    first = mlflow_callback(PARAMS, run_name="run", out_dir=out)
    torch.manual_seed(0)
    with pytest.raises(RuntimeError, match="power cut"):
        run(out, epochs=3, callbacks=[first, CrashAfterTheRowOfEpoch2()])
    assert [r["epoch"] for r in csv_rows(out)] == ["1", "2"]  # epoch 2's row is written, its checkpoint is not
    client = reader(store, monkeypatch)
    assert client.get_run(first.run_id).info.status == "FAILED"
    assert [m.step for m in client.get_metric_history(first.run_id, "val_loss")] == [1]

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    second = mlflow_callback(PARAMS, run_name="run", out_dir=out)
    assert second.run_id == first.run_id  # before training: the one kept in the run folder
    model, _ = run(out, epochs=3, callbacks=[second])
    assert model.steps == 20  # epoch 2 was trained again, then epoch 3
    assert second.run_id == first.run_id
    client = reader(store, monkeypatch)
    assert client.get_run(first.run_id).info.status == "FINISHED"
    assert_history_is_the_csv(client, first.run_id, out)
    assert [r.info.run_id for r in client.search_runs(["0"])] == [first.run_id]



class PressesCtrlCInEpoch3(Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch + 1 == 3:
            raise KeyboardInterrupt


def test_ctrl_c_ends_the_run_killed_with_the_finished_epochs(store, tmp_path, monkeypatch):
    """Bugs guarded: the interrupted run left RUNNING (or FINISHED); the epochs finished before
    Ctrl+C missing from MLflow."""
    out = tmp_path / "run"
    tracker = mlflow_callback(PARAMS, run_name="run", out_dir=out)
    with pytest.raises(KeyboardInterrupt):
        run(out, epochs=4, callbacks=[PressesCtrlCInEpoch3(), tracker])  # before the tracker logs epoch 2
    client = reader(store, monkeypatch)
    assert client.get_run(tracker.run_id).info.status == "KILLED"
    assert_history_is_the_csv(client, tracker.run_id, out)
    assert [int(r["epoch"]) for r in csv_rows(out)] == [1, 2]


def test_a_trial_the_tuner_prunes_logs_every_row_and_ends_killed(store, tmp_path, monkeypatch):
    """Bugs guarded: the epoch whose metric pruned a tune trial (its row written, its checkpoint
    not) missing from MLflow, although that trial is never resumed; a pruned trial shown FAILED."""
    import optuna

    from lstmkit.tuning.pruning import PruneTrial

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(upper=-1.0,
                                                                                           n_warmup_steps=2))
    out = tmp_path / "trial"
    tracker = mlflow_callback(PARAMS, run_name="trial", out_dir=out)
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 2"):
        run(out, epochs=4, callbacks=[tracker, PruneTrial(study.ask(), "accuracy")])
    client = reader(store, monkeypatch)
    logged = client.get_run(tracker.run_id)
    assert logged.info.status == "KILLED" and logged.data.tags["lstmkit.pruned"] == "true"
    assert [int(r["epoch"]) for r in csv_rows(out)] == [1, 2]
    assert_history_is_the_csv(client, tracker.run_id, out)

def test_finished_epochs_missing_from_mlflow_are_logged_on_resume_and_a_fresh_start_is_a_new_run(
        store, tmp_path, monkeypatch):
    """Bugs guarded: a run resumed with tracking turned on (or killed before it logged an epoch)
    missing its first epochs in MLflow; a changed parameter (more epochs) failing the resumed run
    (MLflow refuses to change a param) or going unrecorded; a fresh start in a used run folder
    appending to the old MLflow run."""
    out = tmp_path / "run"
    run(out, epochs=2)  # tracking off
    longer = mlflow_callback(PARAMS, run_name="run", out_dir=out)
    run(out, epochs=3, callbacks=[longer])  # resumes: trains epoch 3
    client = reader(store, monkeypatch)
    assert_history_is_the_csv(client, longer.run_id, out)
    assert [int(r["epoch"]) for r in csv_rows(out)] == [1, 2, 3]

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    still_longer = mlflow_callback({**PARAMS, "train.epochs": 4}, run_name="run", out_dir=out)
    run(out, epochs=4, callbacks=[still_longer])
    assert still_longer.run_id == longer.run_id
    client = reader(store, monkeypatch)
    logged = client.get_run(longer.run_id)
    assert logged.data.params["train.epochs"] == "3" and logged.data.tags["lstmkit.resumed.train.epochs"] == "4"
    assert_history_is_the_csv(client, longer.run_id, out)

    shutil.rmtree(out / "checkpoints")  # nothing to resume from: training starts afresh
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    fresh = mlflow_callback(PARAMS, run_name="run", out_dir=out)
    run(out, epochs=1, callbacks=[fresh])
    assert fresh.run_id != longer.run_id
    client = reader(store, monkeypatch)
    assert_history_is_the_csv(client, fresh.run_id, out)
    assert [m.step for m in client.get_metric_history(longer.run_id, "val_loss")] == [1, 2, 3, 4]  # untouched


def test_the_default_store_is_mlruns_in_the_working_folder(tmp_path, monkeypatch):
    """Bugs guarded: MLflow 3's own default (sqlite:///mlflow.db) used instead of the contract's
    ./mlruns; MLflow 3 refusing the folder store; MLFLOW_ALLOW_FILE_STORE left set in the process."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_ALLOW_FILE_STORE", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    tracker = mlflow_callback(PARAMS, run_name="run", out_dir=Path("runs/x"))
    run(Path("runs/x"), epochs=1, callbacks=[tracker])
    assert "MLFLOW_ALLOW_FILE_STORE" not in __import__("os").environ
    assert not (tmp_path / "mlflow.db").exists()
    client = reader(tmp_path / "mlruns", monkeypatch)
    assert client.get_run(tracker.run_id).data.params["model.hidden_size"] == "16"
    assert read_json(Path("runs/x") / RUN_FILE)["tracking_uri"] == (tmp_path / "mlruns").as_uri()


def test_an_experiment_named_in_the_environment_is_used(store, tmp_path, monkeypatch):
    """Bug guarded: MLFLOW_EXPERIMENT_NAME ignored (MLflow's own runs honour it)."""
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "sentiment")
    tracker = mlflow_callback(PARAMS, run_name="run", out_dir=tmp_path / "run")
    run(tmp_path / "run", epochs=1, callbacks=[tracker])
    client = reader(store, monkeypatch)
    experiment = client.get_experiment(client.get_run(tracker.run_id).info.experiment_id)
    assert experiment.name == "sentiment"


def test_without_mlflow_the_error_says_what_to_install(monkeypatch, tmp_path):
    """Bug guarded: a bare ImportError (or a traceback mid-training) when MLflow is missing."""
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(ConfigError, match=r"train.tracking.*pip install 'lstmkit\[mlflow\]'"):
        mlflow_callback(PARAMS, run_name="run", out_dir=tmp_path)


def test_a_store_mlflow_cannot_open_is_one_error_naming_it(tmp_path, monkeypatch):
    """Bug guarded: MLflow's exception and traceback instead of one line naming the URI."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://somewhere")
    tracker = mlflow_callback(PARAMS, run_name="run", out_dir=tmp_path / "run")
    with pytest.raises(LstmkitError, match="MLflow tracking URI nosuchscheme://somewhere: "):
        run(tmp_path / "run", epochs=1, callbacks=[tracker])


def test_an_experiment_id_the_store_lacks_is_one_error_naming_the_store(store, tmp_path, monkeypatch):
    """Bug guarded: MLflow's exception from inside Lightning's hook instead of one line."""
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "12345")
    tracker = mlflow_callback(PARAMS, run_name="run", out_dir=tmp_path / "run")
    with pytest.raises(LstmkitError, match=f"MLflow tracking URI {store}: .*12345"):
        run(tmp_path / "run", epochs=1, callbacks=[tracker])



# --- end to end: `lstmkit train ... --set train.tracking=mlflow` (the estimators' wiring) -----------------

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def flat_config(model_folder: Path) -> dict[str, str]:
    """The model folder's config.json settings as dotted keys and parameter texts."""
    config = read_json(model_folder / "config.json")["config"]
    return {f"{section}.{key}": param_text(value)
            for section, values in config.items() for key, value in values.items()}


def test_lstmkit_train_logs_the_run_and_a_rerun_continues_it(store, tmp_path, monkeypatch):
    """End to end, in fresh processes. Bugs guarded: the estimator not adding the callback, or
    giving it other settings than the model was trained with; the model folder not logged, or
    logged with a pickle; the plots the estimator draws after training (the confusion matrix)
    missing; `lstmkit train` run again with more epochs starting a second MLflow run or
    repeating epochs."""
    from cli_process import lstmkit_ok

    args = ["train", "text-classifier", "--train", EXAMPLES / "reviews.csv", "--config", EXAMPLES / "config.yaml",
            "--out", tmp_path / "run", "--set", "train.tracking=mlflow"]
    lstmkit_ok(tmp_path, *args, "--epochs", "2")
    client = reader(store, monkeypatch)
    [first] = client.search_runs(["0"])
    model = tmp_path / "run" / "model"
    assert first.info.status == "FINISHED" and first.info.run_name == "run"
    assert first.data.params == {**flat_config(model), "task": "text-classifier", "lstmkit_version": __version__}
    assert_history_is_the_csv(client, first.info.run_id, tmp_path / "run")
    files = artifact_files(client, first.info.run_id)
    assert sorted(f for f in files if f.startswith("model/")) == sorted(f"model/{p.name}" for p in model.iterdir())
    assert all(f.endswith((".json", ".png", ".safetensors")) for f in files), files
    curves = {f"plots/{p.name}" for p in (tmp_path / "run" / "plots").glob("*.png")} - {"plots/confusion_matrix.png"}
    assert curves <= set(files) and "plots/loss.png" in curves

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    lstmkit_ok(tmp_path, *args, "--epochs", "3")  # resumes: trains epoch 3
    client = reader(store, monkeypatch)
    [again] = client.search_runs(["0"])
    assert again.info.run_id == first.info.run_id and again.info.status == "FINISHED"
    assert [int(r["epoch"]) for r in csv_rows(tmp_path / "run")] == [1, 2, 3]
    assert_history_is_the_csv(client, first.info.run_id, tmp_path / "run")
    assert again.data.tags["lstmkit.resumed.train.epochs"] == "3" and again.data.params["train.epochs"] == "2"


def test_the_plots_drawn_after_training_join_the_run(store, tmp_path, monkeypatch):
    """Bug guarded: the confusion matrix (drawn by the estimator once training has ended) not in MLflow."""
    from lstmkit import TextClassifier

    clf = TextClassifier(tokenizer="word", embedding_dim=8, hidden_size=8, ngram_buckets=512, epochs=1,
                         batch_size=16, tracking="mlflow")
    clf.fit(["good room", "bad food", "great view", "awful staff"] * 5, ["pos", "neg", "pos", "neg"] * 5,
            out_dir=tmp_path / "run")
    client = reader(store, monkeypatch)
    plots = {f"plots/{p.name}" for p in (tmp_path / "run" / "plots").glob("*.png")}
    assert "plots/confusion_matrix.png" in plots
    assert {a.path for a in client.list_artifacts(clf.tracking_run_id_, "plots")} == plots
