"""The model folder: how a trained model is saved and loaded.

A model folder holds plain data only, so loading it never unpickles anything::

    model/
      config.json        task, format_version, lstmkit_version, every hyperparameter,
                         label maps, preprocessing settings
      vocab.json         the vocabulary, where the task has one
      model.safetensors  the weights (state_dict), via safetensors
      metrics.json       validation metrics of the saved model
      <name>.json        task extras, e.g. scaler.json for forecasters

:func:`save_model_folder` writes everything into a temporary folder beside the
target and renames it into place only when complete, so a crash leaves either
the old folder or the new one, never a half-written one. :func:`load` reads
``config.json``'s ``task`` and hands the folder to that task's ``load``.

Loading is safe on a folder from anyone: only these JSON files and the safetensors file
are read (a ``pytorch_model.bin`` or ``.ckpt`` beside them is never opened), the
safetensors header is checked before any tensor is read (:func:`check_safetensors`: a
pickle or a ``torch.save`` zip in its place, a truncated file, a corrupted header are
each a :class:`ModelFolderError` naming the file), and :func:`check_weights` holds the
tensors against the network ``config.json`` describes: the same names, shapes and dtypes,
and a vocabulary whose size is the embedding's.

Lightning's ``.ckpt`` files (in a run's ``checkpoints/``) are for resuming
training only; they are pickles (read with ``torch.load(weights_only=True)``, which
refuses arbitrary objects). Share and deploy model folders.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lstmkit.errors import ModelFolderError
from lstmkit.files import atomic_write, atomic_write_text, honour_umask

if TYPE_CHECKING:  # the estimators import this module
    from lstmkit.tasks.base import Estimator

FORMAT_VERSION = 2
"""Version of the model-folder layout; bump it when old readers cannot read new folders."""

OLDEST_FORMAT_VERSION = 2
"""Folders older than this cannot be used: version 1 hashed n-gram trigrams differently (see
``lstmkit.nn.ngrams``), so its n-gram weights would silently mean other n-grams."""

CONFIG, VOCAB, WEIGHTS, METRICS = "config.json", "vocab.json", "model.safetensors", "metrics.json"
_RESERVED = {"config", "vocab", "metrics", "model"}


@dataclass
class ModelFolder:
    """The contents of a model folder, as plain data."""

    path: Path
    config: dict
    state_dict: dict[str, torch.Tensor]
    vocab: dict | None = None
    metrics: dict | None = None
    extra: dict[str, dict] = field(default_factory=dict)
    """Every other ``<name>.json`` in the folder, by name (``extra["scaler"]``)."""


# ----------------------------------------------------------------------------
# Tensors and JSON files
# ----------------------------------------------------------------------------


def save_tensors(path: str | Path, state_dict: dict[str, torch.Tensor]) -> None:
    """Write a state_dict to a safetensors file, atomically and with the umask's mode.

    Each tensor is copied to its own contiguous CPU storage first: safetensors
    refuses tensors that share memory (tied weights, views) or are strided.
    safetensors itself creates files ``0600``; :func:`lstmkit.files.atomic_write`
    gives the file ``0644`` under umask ``022``, like every other file lstmkit writes.
    """
    tensors = {name: t.detach().cpu().clone(memory_format=torch.contiguous_format)
               for name, t in state_dict.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file into a dict of CPU tensors (no pickle involved).

    The header is checked first (:func:`check_safetensors`), so a file that is not
    safetensors is refused with a message saying what it is.
    """
    check_safetensors(path)
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        raise ModelFolderError(f"{path}: {_UNREADABLE}: {err}") from None


_PICKLE_PROTOCOL = b"\x80"  # pickle protocols 2-5 start with PROTO
_ZIP = b"PK\x03\x04"  # torch.save's default format: a zip holding a pickle
_MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header
_NOT_SAFETENSORS = "not a safetensors file"
_UNREADABLE = "cannot read the weights"


def check_safetensors(path: str | Path) -> None:
    """Check that ``path`` is a complete safetensors file, reading only its header (JSON).

    Layout: 8 bytes little-endian header length ``n``, ``n`` bytes of JSON
    (``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``),
    then the tensor data, which must end exactly at the end of the file.

    Raises:
        ModelFolderError: naming the file: a pickle or ``torch.save`` file in its place
            (never unpickled), a file too short, a header that is not JSON, a truncated
            file or one with bytes after the data.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            start = file.read(8)
            length = struct.unpack("<Q", start)[0] if len(start) == 8 else None
            plausible = length is not None and 2 <= length <= min(size - 8, _MAX_HEADER)
            raw = file.read(length) if plausible else b""
            # A header is a JSON object. Only when it is not do the first bytes tell what the file is
            # instead: a header length of 128 + 256k also starts with the byte a pickle starts with.
            if not raw.startswith(b"{") and (start.startswith(_PICKLE_PROTOCOL) or start.startswith(_ZIP)):
                kind = "a pickle" if start.startswith(_PICKLE_PROTOCOL) else "a torch.save zip (a pickle inside)"
                raise ModelFolderError(
                    f"{path}: {_UNREADABLE}: {_NOT_SAFETENSORS}: it is {kind}, which lstmkit never loads because "
                    "unpickling can run any code; save the weights with safetensors")
            if length is None:
                raise ModelFolderError(f"{path}: {_UNREADABLE}: {_NOT_SAFETENSORS}: only {size} bytes (truncated?)")
            if not plausible:
                raise ModelFolderError(
                    f"{path}: {_UNREADABLE}: {_NOT_SAFETENSORS} or truncated: its header claims {length} bytes, "
                    f"the file has {size}")
    except OSError as err:
        raise ModelFolderError(f"{path}: cannot read the weights: {err}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFolderError(f"{path}: {_UNREADABLE}: corrupted: its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ModelFolderError(f"{path}: {_UNREADABLE}: corrupted: its header is not a JSON object")
    ends = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise ModelFolderError(
                f"{path}: {_UNREADABLE}: corrupted: tensor {name!r} has no valid data_offsets in the header")
        ends.append(offsets[1])
    data = size - 8 - length
    needed = max(ends, default=0)
    if needed > data:
        raise ModelFolderError(
            f"{path}: {_UNREADABLE}: truncated: the header describes {needed} bytes of tensor data, "
            f"the file holds {data}"
        )
    if needed < data:
        raise ModelFolderError(
            f"{path}: {_UNREADABLE}: corrupted: {data - needed} bytes after the tensor data the header describes"
        )


def _json_default(value: Any) -> Any:
    """Make numpy / torch scalars and arrays and Paths JSON-serialisable."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable: {value!r}")


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON (Chinese stays readable), atomically, with the umask's mode."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)
    atomic_write_text(path, text + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a bad file is a :class:`ModelFolderError` naming file and line."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ModelFolderError(f"{path}, line {err.lineno}: invalid JSON: {err.msg}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ModelFolderError(f"{path}: cannot read: {err}") from None


# ----------------------------------------------------------------------------
# Saving
# ----------------------------------------------------------------------------


def save_model_folder(
    path: str | Path,
    *,
    config: dict,
    state_dict: dict[str, torch.Tensor],
    vocab: dict | None = None,
    metrics: dict | None = None,
    extra: dict[str, dict] | None = None,
) -> Path:
    """Write a model folder at ``path`` (replacing an existing one) and return its path.

    ``config`` must name the ``task``; ``format_version`` and ``lstmkit_version``
    are added. ``extra={"scaler": {...}}`` writes ``scaler.json``.
    """
    from lstmkit.version import __version__

    path = Path(path)
    if "task" not in config:
        raise ValueError("config must have a 'task' key naming the task")
    for name in extra or {}:
        if name in _RESERVED or not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"cannot save an extra file called {name!r}")
    if path.exists() and not path.is_dir():
        raise ModelFolderError(f"{path}: exists and is not a folder")

    config = {**config, "format_version": FORMAT_VERSION, "lstmkit_version": __version__}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        honour_umask(tmp)  # 0755 under umask 022, whatever made the folder
        write_json(tmp / CONFIG, config)
        if vocab is not None:
            write_json(tmp / VOCAB, vocab)
        save_tensors(tmp / WEIGHTS, state_dict)
        if metrics is not None:
            write_json(tmp / METRICS, metrics)
        for name, data in (extra or {}).items():
            write_json(tmp / f"{name}.json", data)
        _replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _replace_folder(new: Path, target: Path) -> None:
    """Move complete folder ``new`` to ``target``; an old ``target`` is removed only after.

    POSIX cannot swap two folders atomically, so the old one is first renamed
    aside; it is restored if the second rename fails.
    """
    if not target.exists():
        os.replace(new, target)
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------


def read_config(path: str | Path) -> dict:
    """Read and check a model folder's ``config.json`` (without touching the weights)."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFolderError(f"{path}: model folder not found")
    file = path / CONFIG
    if not file.is_file():
        if (path / "model" / CONFIG).is_file():  # a run folder of `lstmkit train`
            raise ModelFolderError(f"{path} is a run folder, not a model folder: did you mean {path / 'model'}?")
        raise ModelFolderError(f"{file}: missing; is {path} a model folder saved by lstmkit?")
    config = read_json(file)
    if not isinstance(config, dict):
        raise ModelFolderError(f"{file}: must hold a JSON object")
    if "task" not in config:
        raise ModelFolderError(f"{file}: no 'task' key, so the task is unknown")
    if not isinstance(config["task"], str):
        raise ModelFolderError(f"{file}: 'task' must be a task name (a string), got {config['task']!r}")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFolderError(f"{file}: 'format_version' must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFolderError(
            f"{file}: format_version {version} is newer than this lstmkit reads ({FORMAT_VERSION}); upgrade lstmkit"
        )
    if version < OLDEST_FORMAT_VERSION:
        raise ModelFolderError(
            f"{file}: format_version {version} is older than this lstmkit reads "
            f"({OLDEST_FORMAT_VERSION}: the n-gram hash changed); retrain the model with this version"
        )
    return config


def read_model_folder(path: str | Path) -> ModelFolder:
    """Read every file of a model folder; never unpickles."""
    path = Path(path)
    config = read_config(path)
    weights = path / WEIGHTS
    if not weights.is_file():
        raise ModelFolderError(f"{weights}: missing; the model folder has no weights")
    state_dict = load_tensors(weights)
    vocab = read_json(path / VOCAB) if (path / VOCAB).is_file() else None
    metrics = read_json(path / METRICS) if (path / METRICS).is_file() else None
    extra = {f.stem: read_json(f) for f in sorted(path.glob("*.json")) if f.stem not in _RESERVED}
    return ModelFolder(path, config, state_dict, vocab, metrics, extra)


def check_weights(folder: ModelFolder, expected: dict[str, torch.Tensor]) -> None:
    """Hold the weights read from ``folder`` against the network ``config.json`` describes.

    Args:
        folder: the model folder as read (its ``state_dict`` is what ``model.safetensors`` holds).
        expected: the freshly built network's ``state_dict()``: name -> tensor of the shape and
            dtype the weights must have.

    Raises:
        ModelFolderError: a missing or unexpected tensor, a shape or a dtype that differs (no
            silent cast: a float64 file is not a float32 model), naming the files; when a
            wrong size is a vocabulary's size (an embedding of ``len(tokens)`` rows), it names
            that vocabulary file too.
    """
    weights = folder.path / WEIGHTS
    found = folder.state_dict
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    if missing:
        raise ModelFolderError(
            f"{weights}: has no tensor {missing[0]!r}, which the network {CONFIG} describes needs "
            f"({len(missing)} missing: {', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})"
        )
    if unexpected:
        raise ModelFolderError(
            f"{weights}: tensor {unexpected[0]!r} is not part of the network {CONFIG} describes "
            f"({len(unexpected)} unexpected: {', '.join(unexpected[:5])}{', ...' if len(unexpected) > 5 else ''})"
        )
    vocab_sizes = _vocabulary_sizes(folder)
    wrong = [name for name in expected if tuple(found[name].shape) != tuple(expected[name].shape)]
    for name in sorted(wrong, key=lambda n: expected[n].dim() == 0 or expected[n].shape[0] not in vocab_sizes):
        want, got = tuple(expected[name].shape), tuple(found[name].shape)
        if want and got and want[0] != got[0] and want[0] in vocab_sizes:
            raise ModelFolderError(
                f"{folder.path / vocab_sizes[want[0]]} has {want[0]} tokens but {weights}'s {name!r} has "
                f"{got[0]} rows: the vocabulary does not belong to these weights"
            )
        raise ModelFolderError(
            f"{weights}: tensor {name!r} has shape {list(got)}, but the network {CONFIG} describes needs {list(want)}"
        )
    for name, tensor in expected.items():
        if found[name].dtype != tensor.dtype:
            raise ModelFolderError(
                f"{weights}: tensor {name!r} is {str(found[name].dtype).removeprefix('torch.')}, "
                f"but the network {CONFIG} describes stores {str(tensor.dtype).removeprefix('torch.')}"
            )


def _vocabulary_sizes(folder: ModelFolder) -> dict[int, str]:
    """Size -> file name of each vocabulary in the folder (``vocab.json`` and extras with a
    ``tokens`` list, such as a tagger's ``chars.json``)."""
    sizes: dict[int, str] = {}
    for name, data in [(VOCAB, folder.vocab), *((f"{k}.json", v) for k, v in folder.extra.items())]:
        if isinstance(data, dict) and isinstance(data.get("tokens"), list):
            sizes.setdefault(len(data["tokens"]), name)
    return sizes


def load(path: str | Path) -> Estimator:
    """Load any lstmkit model folder as its task's estimator (``TextClassifier``, ...)."""
    from lstmkit.tasks import TASKS, get_task_class  # lazy: tasks import torch models

    config = read_config(path)
    if config["task"] not in TASKS:
        raise ModelFolderError(
            f"{Path(path) / CONFIG}: unknown task {config['task']!r}; this lstmkit knows: {', '.join(sorted(TASKS))}"
        )
    return get_task_class(config["task"]).load(path)
