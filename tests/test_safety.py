"""Model folders from strangers: loading never unpickles, and every broken folder is one clear error.

A trained text classifier's folder is copied and broken one way per test (a pickle with a
payload in place of the weights, a truncated or corrupted safetensors file, an unknown
``format_version``, a vocabulary of the wrong size, a dtype or shape that differs, an unknown
task); :func:`lstmkit.load` must refuse each with a :class:`ModelFolderError` naming the file,
the payloads must never run, and ``lstmkit evaluate`` / ``predict`` must exit 2 with one line.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import pickle
import shutil
import struct
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file
from textdata import english_reviews

from lstmkit import TextClassifier, load
from lstmkit.errors import ModelFolderError
from lstmkit.io import FORMAT_VERSION

# ---------------------------------------------------------------------- detecting any unpickling
_UNPICKLED: list[str] = []


def _audit(event: str, args) -> None:
    """Python announces every class an unpickler looks up (``pickle.find_class``), in C or Python."""
    if event == "pickle.find_class":
        _UNPICKLED.append(f"{args[0]}.{args[1]}")


sys.addaudithook(_audit)  # audit hooks cannot be removed; it only records


class Payload:
    """Unpickling this writes ``marker``: what an attacker's weights file would do."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.write_text, (self.marker, "the payload ran")


class ShellPayload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


# ---------------------------------------------------------------------- a trained model
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> pathlib.Path:
    torch.manual_seed(0)
    texts, labels = english_reviews(120)
    clf = TextClassifier(embedding_dim=8, hidden_size=8, ngram_buckets=512, lexicon_buckets=512, batch_size=16,
                         epochs=2, lr=0.01, scheduler="none", patience=0, unlabeled_text=None)
    clf.fit(texts, labels)
    return clf.save(tmp_path_factory.mktemp("trained") / "model")


@pytest.fixture
def folder(model_dir, tmp_path) -> pathlib.Path:
    """A fresh copy of the trained model folder, to break."""
    return pathlib.Path(shutil.copytree(model_dir, tmp_path / "model"))


def refused(folder: pathlib.Path, pattern: str) -> str:
    """Load ``folder``; it must fail with a ModelFolderError matching ``pattern``, without unpickling."""
    _UNPICKLED.clear()
    with pytest.raises(ModelFolderError, match=pattern) as info:
        load(folder)
    assert not _UNPICKLED, f"loading unpickled {_UNPICKLED}"
    return str(info.value)


def edit_json(path: pathlib.Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def rewrite_weights(folder: pathlib.Path, change) -> None:
    tensors = load_file(str(folder / "model.safetensors"))
    change(tensors)
    save_file(tensors, str(folder / "model.safetensors"))


# ---------------------------------------------------------------------- the intact folder
def test_the_audit_hook_sees_unpickling():
    """Bug caught: a detector that never fires, making every "never unpickles" check below vacuous."""
    _UNPICKLED.clear()
    pickle.loads(pickle.dumps(pathlib.PurePosixPath("x")))
    assert any("PurePosixPath" in name for name in _UNPICKLED)
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(1)}, buffer)
    _UNPICKLED.clear()
    torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    assert _UNPICKLED


def test_intact_folder_loads_without_unpickling(folder):
    """Bug caught: loading through torch.load or pickle at any depth (the audit hook sees it)."""
    _UNPICKLED.clear()
    clf = load(folder)
    assert not _UNPICKLED
    assert clf.predict(["good clean room", "awful rude staff"]).tolist() == ["pos", "neg"]


# ---------------------------------------------------------------------- pickles in place of the weights
@pytest.mark.parametrize("make_payload", [Payload, ShellPayload], ids=["write_text", "os.system"])
def test_pickle_with_a_payload_is_refused_and_never_runs(folder, tmp_path, make_payload):
    """Bug caught: a loader that falls back to torch.load / pickle.load for a non-safetensors weights
    file, running an attacker's code while loading."""
    marker = tmp_path / "pwned"
    (folder / "model.safetensors").write_bytes(pickle.dumps({"embedding.weight": make_payload(marker)}))
    message = refused(folder, r"model\.safetensors: cannot read the weights: not a safetensors file: it is a pickle")
    assert "never loads" in message
    assert not marker.exists(), "the pickle's payload ran"


def test_torch_save_file_is_refused_and_never_runs(folder, tmp_path):
    """Bug caught: a ``torch.save`` zip (a pickle inside) renamed to model.safetensors being loaded."""
    marker = tmp_path / "pwned"
    torch.save({"weights": Payload(marker)}, folder / "model.safetensors")
    refused(folder, r"model\.safetensors: .*torch\.save zip")
    assert not marker.exists()


def test_pickles_beside_the_folder_files_are_never_opened(folder, tmp_path):
    """Bug caught: a loader that prefers ``pytorch_model.bin`` or a checkpoint when one is present."""
    marker = tmp_path / "pwned"
    for name in ("pytorch_model.bin", "model.pt", "last.ckpt", "model.pkl"):
        (folder / name).write_bytes(pickle.dumps(Payload(marker)))
    _UNPICKLED.clear()
    assert load(folder).predict(["good clean room"]).tolist() == ["pos"]
    assert not _UNPICKLED and not marker.exists()


# ---------------------------------------------------------------------- broken safetensors files
def test_a_header_length_starting_with_the_pickle_byte_is_still_safetensors(tmp_path):
    """Bug: a header of 640 bytes (0x0280: the file starts 80 02, the bytes of pickle protocol 2)
    taken for a pickle, so a valid model could not be loaded."""
    from lstmkit.io import check_safetensors, load_tensors

    tensors = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    for pad in range(0, 1000):
        path = tmp_path / "w.safetensors"
        save_file(tensors, str(path), metadata={"pad": "x" * pad})
        if path.read_bytes()[:2] == b"\x80\x02":
            break
    else:
        pytest.fail("no padding gave a header of 0x0280 bytes")
    check_safetensors(path)  # no error
    assert torch.equal(load_tensors(path)["w"], tensors["w"])
    pickled = tmp_path / "p.safetensors"
    pickled.write_bytes(pickle.dumps({"w": [1.0]}, protocol=2))
    with pytest.raises(ModelFolderError, match="it is a pickle"):
        check_safetensors(pickled)


def test_truncated_weights(folder):
    """Bug caught: a download cut short read as a model (or failing deep inside safetensors)."""
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    refused(folder, r"model\.safetensors: cannot read the weights: truncated: the header describes \d+ bytes "
                    r"of tensor data, the file holds \d+")


def test_truncated_inside_the_header(folder):
    """Bug caught: a file cut inside its JSON header."""
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    refused(folder, r"model\.safetensors: cannot read the weights: not a safetensors file or truncated")


def test_empty_weights(folder):
    """Bug caught: an empty weights file (a failed copy) crashing on struct.unpack."""
    (folder / "model.safetensors").write_bytes(b"")
    refused(folder, r"model\.safetensors: cannot read the weights: not a safetensors file: only 0 bytes")


def test_corrupted_header(folder):
    """Bug caught: bit rot in the header being loaded as other tensors, or crashing with a JSON traceback."""
    weights = folder / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[8] = ord("#")  # the header's opening brace
    weights.write_bytes(bytes(raw))
    refused(folder, r"model\.safetensors: cannot read the weights: corrupted: its header is not valid JSON")


def test_corrupted_offsets(folder):
    """Bug caught: a header whose offsets point past the data being accepted."""
    weights = folder / "model.safetensors"
    raw = weights.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    name = next(k for k in header if k != "__metadata__")
    header[name]["data_offsets"] = "everywhere"
    text = json.dumps(header).encode()
    weights.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + length:])
    refused(folder,
            rf"model\.safetensors: cannot read the weights: corrupted: tensor '{name}' has no valid data_offsets")


def test_trailing_bytes(folder):
    """Bug caught: something appended to the weights (two files concatenated) going unnoticed."""
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + b"extra")
    refused(folder, r"model\.safetensors: cannot read the weights: corrupted: 5 bytes after the tensor data")


# ---------------------------------------------------------------------- weights that do not fit config.json
def test_dtype_mismatch_is_an_error_not_a_silent_cast(folder):
    """Bug caught: ``load_state_dict`` silently casting float64 (or float16) weights into a float32 net."""
    rewrite_weights(folder, lambda t: t.update({"embedding.weight": t["embedding.weight"].double()}))
    refused(
        folder,
        r"model\.safetensors: tensor 'embedding\.weight' is float64, but the network "
        r"config\.json describes stores float32",
    )


def test_shape_mismatch_names_the_tensor(folder):
    """Bug caught: a config.json edited to another hidden size loading weights of the old one."""
    edit_json(folder / "config.json", lambda c: c["config"]["model"].update(hidden_size=12))
    refused(folder, r"model\.safetensors: tensor '.*' has shape \[.*\], but the network config\.json describes needs")


def test_missing_and_unexpected_tensors(folder):
    """Bug caught: weights of another architecture loading partly (``strict=False``)."""
    rewrite_weights(folder, lambda t: t.update({"surprise": torch.zeros(2)}))
    refused(folder, r"model\.safetensors: tensor 'surprise' is not part of the network config\.json describes")
    rewrite_weights(folder, lambda t: (t.pop("surprise"), t.pop("embedding.weight")))
    refused(folder, r"model\.safetensors: has no tensor 'embedding\.weight'")


@pytest.mark.parametrize("change", [+3, -1], ids=["more_tokens", "fewer_tokens"])
def test_vocabulary_that_does_not_match_the_embedding(folder, change):
    """Bug caught: a vocab.json of another model (more or fewer tokens) loading with shifted token ids,
    or failing with a message that names only the weights."""

    def edit(vocab):
        vocab["tokens"] = (
            vocab["tokens"] + [f"new{i}" for i in range(change)] if change > 0 else vocab["tokens"][:change]
        )

    edit_json(folder / "vocab.json", edit)
    n = len(json.loads((folder / "vocab.json").read_text(encoding="utf-8"))["tokens"])
    message = refused(
        folder,
        rf"vocab\.json has {n} tokens but .*model\.safetensors's 'embedding\.weight' has "
        rf"{n - change} rows: the vocabulary does not belong to these weights",
    )
    assert str(folder) in message


def test_missing_vocabulary(folder):
    """Bug caught: a KeyError/TypeError traceback when vocab.json is gone."""
    (folder / "vocab.json").unlink()
    refused(folder, r"model: vocab\.json: expected an object")


# ---------------------------------------------------------------------- config.json
@pytest.mark.parametrize(
    "version, pattern",
    [
        (FORMAT_VERSION + 1, rf"format_version {FORMAT_VERSION + 1} is newer than this lstmkit reads.*upgrade"),
        (1, r"format_version 1 is older than this lstmkit reads.*retrain"),
        ("2", r"'format_version' must be an integer, got '2'"),
        (2.0, r"'format_version' must be an integer, got 2\.0"),
        (True, r"'format_version' must be an integer, got True"),
        (None, r"'format_version' must be an integer, got None"),
    ],
    ids=["newer", "older", "string", "float", "bool", "null"],
)
def test_unknown_format_version(folder, version, pattern):
    """Bug caught: a folder of another format version read as if it were this one."""
    edit_json(folder / "config.json", lambda c: c.update(format_version=version))
    refused(folder, r"config\.json: " + pattern)


@pytest.mark.parametrize(
    "task, pattern",
    [
        ("time-machine", r"config\.json: unknown task 'time-machine'; this lstmkit knows: .*text-classifier"),
        (["text-classifier"], r"config\.json: 'task' must be a task name \(a string\)"),
    ],
    ids=["unknown", "not_a_string"],
)
def test_unknown_task(folder, task, pattern):
    """Bug caught: an unknown or non-string task name crashing the registry lookup (TypeError: unhashable)."""
    edit_json(folder / "config.json", lambda c: c.update(task=task))
    refused(folder, pattern)


def test_config_this_task_cannot_build(folder):
    """Bug caught: a KeyError traceback from a config.json missing a task key (the tokenizer)."""
    edit_json(folder / "config.json", lambda c: c.pop("tokenizer"))
    refused(folder, r"config\.json: missing key 'tokenizer'")


# ---------------------------------------------------------------------- the command line
def broken_folders(model_dir: pathlib.Path, root: pathlib.Path) -> dict[str, pathlib.Path]:
    def copy(name):
        return pathlib.Path(shutil.copytree(model_dir, root / name))

    pickled = copy("pickled")
    (pickled / "model.safetensors").write_bytes(pickle.dumps(Payload(root / "pwned")))
    truncated = copy("truncated")
    (truncated / "model.safetensors").write_bytes((truncated / "model.safetensors").read_bytes()[:-9])
    newer = copy("newer")
    edit_json(newer / "config.json", lambda c: c.update(format_version=FORMAT_VERSION + 1))
    vocab = copy("vocab")
    edit_json(vocab / "vocab.json", lambda v: v.update(tokens=v["tokens"][:-2]))
    return {"pickled": pickled, "truncated": truncated, "newer": newer, "vocab": vocab}


def test_cli_evaluate_and_predict_on_broken_folders_exit_2_with_one_line(model_dir, tmp_path):
    """Bug caught: a ModelFolderError (or any other exception) reaching the user as a traceback."""
    data = tmp_path / "test.csv"
    data.write_text("text,label\ngood clean room,pos\nawful rude staff,neg\n", encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
    folders = broken_folders(model_dir, tmp_path)
    expected = {
        "pickled": "it is a pickle",
        "truncated": "truncated",
        "newer": "is newer",
        "vocab": "the vocabulary does not belong",
    }
    for name, path in folders.items():
        verb = (
            ["evaluate", str(path), "--data", str(data)]
            if name in ("pickled", "newer")
            else ["predict", str(path), "--text", "good room"]
        )
        result = subprocess.run(
            [sys.executable, "-m", "lstmkit", *verb], capture_output=True, text=True, env=env, timeout=120
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (name, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, result.stderr)
        assert expected[name] in lines[0] and str(path) in lines[0], (name, lines[0])
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "pwned").exists()
