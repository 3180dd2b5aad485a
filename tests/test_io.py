"""The model folder: round trip, atomic replace, every error, no pickle."""

from __future__ import annotations

import json
import os
import pickle
import re

import pytest
import torch

import lstmkit.io as io
from lstmkit import __version__
from lstmkit.errors import ModelFolderError
from lstmkit.io import FORMAT_VERSION, read_model_folder, save_model_folder


def example_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(5, 3, generator=g)
    return {
        "embedding.weight": shared,
        "head.weight": shared,  # tied weights share memory
        "lstm.weight_ih_l0": torch.randn(3, 4, generator=g).t(),  # not contiguous
        "lstm.bias": torch.randn(10, generator=g)[2:6],  # a view into a bigger tensor
        "norm.num_batches_tracked": torch.tensor(7),
        "half": torch.randn(2, 2, generator=g).to(torch.bfloat16),
    }


def save_example(path, **kwargs):
    args = dict(config={"task": "text-classifier", "model": {"hidden_size": 3},
                        "labels": ["负面", "正面"]},
                state_dict=example_state(), vocab={"<pad>": 0, "<unk>": 1, "好": 2},
                metrics={"accuracy": 0.5}, extra={"scaler": {"mean": [1.0], "std": [2.0]}})
    args.update(kwargs)
    return save_model_folder(path, **args)


def test_round_trip(tmp_path):
    path = save_example(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "metrics.json", "model.safetensors", "scaler.json", "vocab.json"]
    folder = read_model_folder(path)
    assert folder.path == path
    assert folder.config == {"task": "text-classifier", "model": {"hidden_size": 3},
                             "labels": ["负面", "正面"], "format_version": FORMAT_VERSION,
                             "lstmkit_version": __version__}
    assert folder.vocab == {"<pad>": 0, "<unk>": 1, "好": 2}
    assert folder.metrics == {"accuracy": 0.5}
    assert folder.extra == {"scaler": {"mean": [1.0], "std": [2.0]}}
    expected = example_state()
    assert folder.state_dict.keys() == expected.keys()
    for name, tensor in expected.items():
        assert folder.state_dict[name].dtype == tensor.dtype
        assert torch.equal(folder.state_dict[name], tensor), name
    assert "正面" in (path / "config.json").read_text(encoding="utf-8")  # readable, not \\u escapes


def test_optional_files_are_optional(tmp_path):
    path = save_model_folder(tmp_path / "m", config={"task": "forecaster"},
                             state_dict={"w": torch.ones(2)})
    folder = read_model_folder(path)
    assert folder.vocab is None and folder.metrics is None and folder.extra == {}


def test_json_accepts_numpy_and_tensor_values(tmp_path):
    import numpy as np

    path = save_example(tmp_path / "m", metrics={"mae": np.float32(0.25), "curve": torch.tensor([1, 2])})
    assert read_model_folder(path).metrics == {"mae": 0.25, "curve": [1, 2]}


def test_save_replaces_an_existing_folder_completely(tmp_path):
    save_example(tmp_path / "model")
    (tmp_path / "model" / "stale.json").write_text("{}")
    save_example(tmp_path / "model", metrics={"accuracy": 0.9}, vocab=None, extra=None)
    folder = read_model_folder(tmp_path / "model")
    assert folder.metrics == {"accuracy": 0.9} and folder.vocab is None and folder.extra == {}
    assert os.listdir(tmp_path) == ["model"]  # no temporary or backup folders left


def test_crash_while_writing_keeps_the_old_folder(tmp_path, monkeypatch):
    save_example(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(io, "save_tensors", crash)  # dies after config.json was written
    with pytest.raises(OSError, match="disk full"):
        save_example(tmp_path / "model", metrics={"accuracy": 0.99})
    after = {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()}
    assert after == before
    assert os.listdir(tmp_path) == ["model"]


def test_failed_rename_restores_the_old_folder(tmp_path, monkeypatch):
    save_example(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()}
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # old folder moved aside; moving the new one in fails
            raise OSError("rename failed")
        return real_replace(src, dst)

    monkeypatch.setattr(io.os, "replace", replace)
    with pytest.raises(OSError, match="rename failed"):
        save_example(tmp_path / "model", metrics={"accuracy": 0.99})
    assert {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()} == before
    assert os.listdir(tmp_path) == ["model"]


def test_save_requires_a_task_and_sane_extra_names(tmp_path):
    with pytest.raises(ValueError, match="task"):
        save_model_folder(tmp_path / "m", config={}, state_dict={})
    with pytest.raises(ValueError, match="config"):
        save_model_folder(tmp_path / "m", config={"task": "x"}, state_dict={}, extra={"config": {}})
    assert not (tmp_path / "m").exists()


# --- errors -------------------------------------------------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(ModelFolderError, match=r"nope: model folder not found"):
        read_model_folder(tmp_path / "nope")


def test_missing_config(tmp_path):
    path = save_example(tmp_path / "m")
    (path / "config.json").unlink()
    with pytest.raises(ModelFolderError, match=r"config\.json: missing"):
        read_model_folder(path)


def test_a_run_folder_points_to_its_model_folder(tmp_path):
    """``predict runs/ner`` (the run folder of ``train --out runs/ner``) said only that config.json is missing."""
    save_example(tmp_path / "run" / "model")
    with pytest.raises(ModelFolderError, match=re.escape(f"did you mean {tmp_path / 'run' / 'model'}?") + "$"):
        read_model_folder(tmp_path / "run")


def test_missing_weights(tmp_path):
    path = save_example(tmp_path / "m")
    (path / "model.safetensors").unlink()
    with pytest.raises(ModelFolderError, match=r"model\.safetensors: missing"):
        read_model_folder(path)


def test_corrupt_weights(tmp_path):
    path = save_example(tmp_path / "m")
    (path / "model.safetensors").write_bytes(b"\x00" * 7)
    with pytest.raises(ModelFolderError, match=r"model\.safetensors: cannot read"):
        read_model_folder(path)


def test_bad_json_names_file_and_line(tmp_path):
    path = save_example(tmp_path / "m")
    (path / "config.json").write_text('{\n  "task": "text-classifier",\n  oops\n}')
    with pytest.raises(ModelFolderError, match=r"config\.json, line 3: invalid JSON"):
        read_model_folder(path)
    path = save_example(tmp_path / "m")
    (path / "vocab.json").write_text("[1, 2,")
    with pytest.raises(ModelFolderError, match=r"vocab\.json, line 1: invalid JSON"):
        read_model_folder(path)


def rewrite_config(path, **changes):
    config = json.loads((path / "config.json").read_text())
    config.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del config[key]
    (path / "config.json").write_text(json.dumps(config))


def test_missing_task(tmp_path):
    path = save_example(tmp_path / "m")
    rewrite_config(path, task=None)
    with pytest.raises(ModelFolderError, match=r"config\.json: no 'task' key"):
        read_model_folder(path)


def test_newer_format_version(tmp_path):
    path = save_example(tmp_path / "m")
    rewrite_config(path, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ModelFolderError, match=rf"config\.json: format_version {FORMAT_VERSION + 1} is newer.*upgrade"):
        read_model_folder(path)
    rewrite_config(path, format_version=1)
    with pytest.raises(ModelFolderError, match=r"format_version 1 is older.*n-gram hash changed.*retrain"):
        read_model_folder(path)
    rewrite_config(path, format_version="1")
    with pytest.raises(ModelFolderError, match="must be an integer"):
        read_model_folder(path)


def test_reading_never_unpickles(tmp_path, monkeypatch):
    path = save_example(tmp_path / "m")

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling is not allowed")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    assert read_model_folder(path).config["task"] == "text-classifier"


def test_load_dispatches_on_the_task(tmp_path, monkeypatch):
    path = save_example(tmp_path / "m")
    seen = []

    class FakeTask:
        @classmethod
        def load(cls, p):
            seen.append(p)
            return "loaded"

    def get_task_class(name):
        assert name == "text-classifier"
        return FakeTask

    monkeypatch.setattr("lstmkit.tasks.get_task_class", get_task_class, raising=False)
    assert io.load(path) == "loaded" and seen == [path]
    with pytest.raises(ModelFolderError, match="not found"):
        io.load(tmp_path / "missing")
