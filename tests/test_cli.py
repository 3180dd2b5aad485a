"""The `lstmkit` command line, end to end on small files (in process, plus real subprocesses)."""

import csv
import io
import json
import subprocess
import sys

import pytest
from textdata import english_reviews, write_csv
from typer.testing import CliRunner

from lstmkit import __version__
from lstmkit.cli import app
from lstmkit.io import FORMAT_VERSION

TINY_SET = ["model.embedding_dim=16", "model.hidden_size=16", "model.ngram_buckets=2000",
            "train.batch_size=16", "train.lr=0.01", "train.scheduler=none"]

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run shared by the tests: returns (run folder, data folder)."""
    root = tmp_path_factory.mktemp("cli")
    write_csv(root / "train.csv", *english_reviews(300))
    write_csv(root / "test.csv", *english_reviews(60, seed=7))
    sets = [x for s in TINY_SET for x in ("--set", s)]
    result = invoke("train", "text-classifier", "--train", root / "train.csv", "--out", root / "run",
                    "--epochs", 2, "--seed", 3, *sets)
    assert result.exit_code == 0, result.output
    assert "validation: " in result.output
    return root / "run", root


def test_version():
    assert invoke("--version").output.strip() == f"lstmkit {__version__}"


def test_train_writes_the_run_folder(trained):
    run, _ = trained
    model = run / "model"
    for name in ("config.json", "vocab.json", "model.safetensors", "metrics.json"):
        assert (model / name).is_file()
    config = json.loads((model / "config.json").read_text())
    assert config["task"] == "text-classifier" and config["format_version"] == FORMAT_VERSION
    assert config["config"]["model"]["hidden_size"] == 16 and config["config"]["train"]["seed"] == 3
    assert config["labels"] == ["neg", "pos"]
    rows = list(csv.DictReader(io.StringIO((run / "logs" / "metrics.csv").read_text())))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "plots" / "loss.png").stat().st_size > 1000
    assert (run / "plots" / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_resumes_from_the_last_checkpoint(trained):
    run, root = trained
    sets = [x for s in TINY_SET for x in ("--set", s)]
    result = invoke("train", "text-classifier", "--train", root / "train.csv", "--out", run, "--epochs", 3,
                    "--seed", 3, *sets)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((run / "logs" / "metrics.csv").read_text())))
    assert len(rows) == 3  # two earlier epochs kept, one more trained


def test_evaluate_json_is_one_object(trained):
    run, root = trained
    result = runner.invoke(app, ["evaluate", str(run / "model"), "--data", str(root / "test.csv"), "--json"])
    assert result.exit_code == 0
    metrics = json.loads(result.stdout)
    assert set(metrics) >= {"accuracy", "macro_f1", "per_class", "n"} and metrics["n"] == 60
    assert metrics["accuracy"] > 0.8


def test_predict_text_json_lines(trained):
    run, _ = trained
    result = invoke("predict", run / "model", "--text", "good great lovely", "bad awful rude", "--json")
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["label"] for r in lines] == ["pos", "neg"]
    assert abs(sum(lines[0]["probabilities"].values()) - 1) < 1e-4


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_predict_input_file_to_output_file(trained, tmp_path, suffix):
    run, root = trained
    out = tmp_path / f"pred{suffix}"
    result = invoke("predict", run / "model", "--input", root / "test.csv", "--output", out)
    assert result.exit_code == 0, result.output
    if suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert len(rows) == 60
        assert list(rows[0]) == ["text", "unknown_share", "truncated", "label", "prob_neg", "prob_pos"]
    else:
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(rows) == 60 and rows[0]["label"] in ("pos", "neg")


def test_datasets_list_and_export(tmp_path):
    assert "chn-reviews" in invoke("datasets", "list").output
    result = invoke("datasets", "export", "chn-reviews", "--out", tmp_path)
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.csv", "train.csv", "valid.csv"]


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lstmkit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    "make_args,message",
    [
        (lambda r, m, tmp: ["evaluate", m, "--data", tmp / "missing.csv", "--json"], "missing.csv"),
        (lambda r, m, tmp: ["evaluate", tmp / "nomodel", "--data", r / "test.csv"], "nomodel"),
        (lambda r, m, tmp: ["evaluate", m, "--data", tmp / "badcol.csv"], "review"),
        (
            lambda r, m, tmp: ["evaluate", m, "--data", tmp / "badlabel.csv"],
            "badlabel.csv, line 3: unknown label 'meh'",
        ),
        (
            lambda r, m, tmp: ["train", "text-classifier", "--train", r / "train.csv", "--set", "model.hiden_size=3"],
            "model.hidden_size",
        ),
        (
            lambda r, m, tmp: ["train", "text-classifier", "--train", r / "train.csv", "--set", "train.lr=fast"],
            "train.lr",
        ),
        (lambda r, m, tmp: ["train", "nope", "--train", r / "train.csv"], "unknown task 'nope'"),
        (lambda r, m, tmp: ["predict", m], "--text"),
        (
            lambda r, m, tmp: ["predict", m.parent, "--text", "good"],
            "run is a run folder, not a model folder: did you mean",
        ),
    ],
)
def test_user_errors_exit_nonzero_with_one_clear_line(trained, tmp_path, make_args, message):
    run, root = trained
    (tmp_path / "badcol.csv").write_text("review,label\ngood,pos\n", encoding="utf-8")
    write_csv(tmp_path / "badlabel.csv", ["good", "bad"], ["pos", "meh"])
    proc = run_cli(*make_args(root, run / "model", tmp_path), cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr, proc.stderr
    assert proc.stdout == ""


def test_train_progress_bar_goes_to_stderr_and_stdout_keeps_the_results(tmp_path):
    write_csv(tmp_path / "train.csv", *english_reviews(80))
    sets = [x for s in TINY_SET + ["model.lexicon_buckets=2000"] for x in ("--set", s)]
    proc = run_cli(
        "train",
        "text-classifier",
        "--train",
        tmp_path / "train.csv",
        "--out",
        tmp_path / "run",
        "--epochs",
        1,
        *sets,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    # stderr is a pipe here, not a terminal: one line per epoch, counted from 1, no bar updates
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("preparing 72 texts: tokenising (word)"), proc.stderr  # no silent start
    assert [line for line in lines if line.startswith("epoch")][0].startswith("epoch 1/1: loss=")
    assert "\r" not in proc.stderr
    assert "Sanity" not in proc.stderr and "Epoch 0" not in proc.stderr
    assert "epoch" not in proc.stdout and "it/s" not in proc.stdout
    assert proc.stdout.splitlines()[0].startswith("validation: ")


def test_module_entry_point_help():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "train" in proc.stdout and "evaluate" in proc.stdout


def test_rerun_with_other_settings_is_refused_not_mixed(trained):
    run, root = trained
    sets = [x for s in TINY_SET for x in ("--set", s)]
    result = runner.invoke(
        app,
        [
            "train",
            "text-classifier",
            "--train",
            str(root / "train.csv"),
            "--out",
            str(run),
            "--epochs",
            "3",
            "--seed",
            "3",
            *sets,
            "--set",
            "model.hidden_size=8",
        ],
    )
    assert result.exit_code == 2
    assert "other settings (model.hidden_size)" in result.output


def test_evaluate_and_predict_read_other_column_names_with_set(trained, tmp_path):
    """A model trained on text/label could not score a review/sentiment file."""
    run, _ = trained
    write_csv(
        tmp_path / "other.csv", ["good clean room", "awful rude staff"], ["pos", "neg"], header=("review", "sentiment")
    )
    result = invoke(
        "evaluate",
        run / "model",
        "--data",
        tmp_path / "other.csv",
        "--json",
        "--set",
        "data.text_column=review",
        "--set",
        "data.label_column=sentiment",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 2
    result = invoke(
        "predict", run / "model", "--input", tmp_path / "other.csv", "--json", "--set", "data.text_column=review"
    )
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()] == ["good clean room", "awful rude staff"]
    proc = run_cli("evaluate", run / "model", "--data", tmp_path / "other.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "data.text_column" in proc.stderr, proc.stderr
    proc = run_cli("predict", run / "model", "--text", "good", "--set", "model.hidden_size=3", cwd=tmp_path)
    assert proc.returncode == 2 and "only data.* settings" in proc.stderr


def test_empty_text_is_refused_and_unknown_text_warns(trained, tmp_path):
    """An empty text got a confident label; a text in another language got one with no hint."""
    run, _ = trained
    proc = run_cli("predict", run / "model", "--text", "   ", cwd=tmp_path)
    assert proc.returncode == 2 and "empty" in proc.stderr and proc.stdout == ""
    proc = run_cli("predict", run / "model", "--text", "房间很干净", cwd=tmp_path)
    assert proc.returncode == 0 and "warning: input 1: 100% of its tokens are unknown" in proc.stderr


def test_demo_names_come_from_the_task_registry(tmp_path):
    """A demo missing from the registry (or a typo) must list what exists."""
    proc = run_cli("demo", "nope", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown demo 'nope'; available: sentiment" in proc.stderr
    assert "sentiment" in run_cli("demo", "--help", cwd=tmp_path).stdout


def test_help_lists_only_commands_that_exist():
    """--help promised explain and serve before they existed: every listed verb must answer."""
    import re

    proc = run_cli("--help")
    listed = re.findall(r"^  ([a-z]+)  ", proc.stdout.split("Commands:")[1], flags=re.M)
    assert set(listed) == {
        "train",
        "evaluate",
        "predict",
        "demo",
        "datasets",
        "serve",
        "export",
        "explain",
        "gradients",
        "backtest",
        "pretrain",
        "tune",
        "config",
    }
    for verb in listed:
        help_text = run_cli(verb, "--help")
        assert help_text.returncode == 0, verb
        assert "<bool>" not in help_text.stdout and "<list[str]>" not in help_text.stdout, verb  # plain metavars


def test_unknown_label_in_valid_names_its_file_and_line(tmp_path):
    """An unknown label in --valid named neither file nor line."""
    write_csv(tmp_path / "train.csv", *english_reviews(40))
    write_csv(tmp_path / "valid.csv", ["good room", "so so", "bad food"], ["pos", "meh", "neg"])
    proc = run_cli(
        "train",
        "text-classifier",
        "--train",
        tmp_path / "train.csv",
        "--valid",
        tmp_path / "valid.csv",
        "--out",
        tmp_path / "run",
        "--epochs",
        1,
        *[x for s in TINY_SET for x in ("--set", s)],
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "valid.csv, line 3: unknown label 'meh'; the model knows: neg, pos" in proc.stderr
