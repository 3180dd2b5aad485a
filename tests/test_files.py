"""Every file lstmkit writes honours the umask: 0644 / folders 0755 under umask 022, 0600 / 0700 under 077.

The reference is what the operating system itself gives a plain ``open(path, "w")`` and
``os.mkdir`` under the same umask.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from lstmkit.data.datasets import _write_csv_atomically
from lstmkit.files import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    current_umask,
    honour_umask,
)
from lstmkit.io import save_model_folder, save_tensors, write_json

FILE_MODE = {0o022: 0o644, 0o077: 0o600, 0o002: 0o664}
FOLDER_MODE = {0o022: 0o755, 0o077: 0o700, 0o002: 0o775}


@pytest.fixture(params=sorted(FILE_MODE), ids=lambda m: f"umask{m:03o}")
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_reference_modes_are_what_the_os_gives(umask, tmp_path):
    """The table above is right: a plain open() and mkdir() under this umask (guards the test itself)."""
    (tmp_path / "plain").write_text("x")
    (tmp_path / "dir").mkdir()
    assert mode(tmp_path / "plain") == FILE_MODE[umask]
    assert mode(tmp_path / "dir") == FOLDER_MODE[umask]
    assert current_umask() == umask


def test_safetensors_files_honour_the_umask(umask, tmp_path):
    """Bug: safetensors' save_file creates 0600 files, so a shared model is unreadable by others."""
    save_tensors(tmp_path / "model.safetensors", {"w": torch.ones(2, 3)})
    assert mode(tmp_path / "model.safetensors") == FILE_MODE[umask]
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary file left


def test_json_and_csv_files_honour_the_umask(umask, tmp_path):
    """Bug: tempfile.mkstemp (used for atomic CSV writes) creates 0600 files."""
    write_json(tmp_path / "a.json", {"x": 1})
    _write_csv_atomically(tmp_path / "train.csv", ["text", "label"], [("好", "pos"), ("a,b", "neg")])
    assert mode(tmp_path / "a.json") == FILE_MODE[umask]
    assert mode(tmp_path / "train.csv") == FILE_MODE[umask]
    assert (tmp_path / "train.csv").read_text(encoding="utf-8") == 'text,label\n好,pos\n"a,b",neg\n'


def test_model_folder_and_its_files_honour_the_umask(umask, tmp_path):
    """Bug: model.safetensors 0600 beside 0644 JSON files; or the temporary folder left 0700."""
    folder = save_model_folder(tmp_path / "run" / "model", config={"task": "t"},
                               state_dict={"w": torch.zeros(3)}, vocab={"tokens": []},
                               metrics={"valid": {}}, extra={"scaler": {"a": 1}})
    assert mode(folder) == FOLDER_MODE[umask]
    files = sorted(folder.iterdir())
    assert [p.name for p in files] == ["config.json", "metrics.json", "model.safetensors", "scaler.json",
                                       "vocab.json"]
    assert {p.name: mode(p) for p in files} == {p.name: FILE_MODE[umask] for p in files}
    # Saving again over the old folder: the same modes.
    save_model_folder(folder, config={"task": "t"}, state_dict={"w": torch.ones(3)})
    assert mode(folder) == FOLDER_MODE[umask] and mode(folder / "model.safetensors") == FILE_MODE[umask]


def test_honour_umask_repairs_a_mkdtemp_folder_and_mkstemp_file(umask, tmp_path):
    import tempfile

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    fd, name = tempfile.mkstemp(dir=tmp_path)
    os.close(fd)
    assert mode(folder) == 0o700 and mode(name) == 0o600  # what tempfile does
    honour_umask(folder)
    honour_umask(name)
    assert mode(folder) == FOLDER_MODE[umask] and mode(name) == FILE_MODE[umask]


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    """Bug: a failed write truncating the old file, or leaving its temporary file behind."""
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old\n")

    def half_then_crash(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_crash)
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    atomic_write_text(target, "a\nb\n")
    assert target.read_bytes() == b"a\nb\n"  # no newline translation
