"""Writing predictions to a file: JSON Lines as the records are, CSV/TSV one flat row each.

The records come from an estimator's ``predict_records`` (the same records ``predict --json``
prints and the HTTP server returns). A table needs flat rows: the estimator's ``table_row``
flattens one record (classifiers turn ``probabilities`` into ``prob_<label>`` columns); the
default, :func:`flat_row`, joins nested keys with a dot and writes lists as JSON.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from lstmkit.errors import DataError
from lstmkit.files import atomic_write

FORMATS = (".csv", ".tsv", ".jsonl")


def flat_row(record: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": 1, "c": "[1, 2]"}``."""
    row = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(flat_row(value, prefix=f"{name}."))
        elif isinstance(value, (list, tuple)):
            row[name] = json.dumps(value, ensure_ascii=False)
        else:
            row[name] = value
    return row


def check_output_path(path: Path) -> None:
    """Refuse an output file of an unknown format before any work is done."""
    if Path(path).suffix.lower() not in FORMATS:
        raise DataError(f"--output must end in {', '.join(FORMATS)}", path=path)


def write_records(records: list[dict], path: str | Path, table_row: Callable[[dict], dict] = flat_row) -> Path:
    """Write ``records`` to ``path`` (.jsonl, .csv or .tsv), atomically (a temporary file renamed)."""
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        return write_table([table_row(record) for record in records], path)
    return _write_atomically(path, lambda f: f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def write_table(rows: list[dict], path: str | Path) -> Path:
    """Write flat ``rows`` to ``path`` (.csv or .tsv), one column per key in order of first appearance,
    atomically. For tasks whose records give several rows each (a forecast: one per step)."""
    path = Path(path)
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def write(f) -> None:
        writer = csv.DictWriter(f, fieldnames=columns, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        writer.writeheader()
        writer.writerows(rows)

    return _write_atomically(path, write)


def _write_atomically(path: Path, write: Callable) -> Path:
    """``write(f)`` into an open text file that :func:`lstmkit.files.atomic_write` renames to ``path``."""
    check_output_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write_file(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            write(f)

    return atomic_write(path, write_file)
