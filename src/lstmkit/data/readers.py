"""Readers for text-classification data: CSV, TSV, JSON Lines and aclImdb-style folders.

Every reader returns plain Python lists and raises :class:`~lstmkit.errors.DataError`
naming the file and the 1-based line for anything wrong in the data, so the CLI can
print one clear line instead of a traceback.

Formats (chosen by the file extension, case-insensitive):

``.csv`` / ``.tsv``
    A header line naming the columns, then one example per record. Quoting follows
    the csv module (as pandas and Excel write it), so a quoted field may hold
    commas, tabs or newlines. Line numbers count the header as line 1; a record
    that spans several lines is reported at the line where it starts. Every value
    is a string: ``NA`` or ``null`` stay text.
``.jsonl``
    One JSON object per line, e.g. ``{"text": "...", "label": "pos"}``; blank lines
    are skipped. A number label becomes its string (``1`` -> ``"1"``).
a folder
    Laid out like IMDB's ``aclImdb/train``: ``DIR/<label>/*.txt``, one example per
    file, the subfolder name is the label. A subfolder named ``unsup`` (unlabelled
    reviews) is skipped, files directly inside ``DIR`` are ignored, files are read
    in sorted order, and ``<br />`` tags become spaces.
``.txt`` (:func:`read_texts` only)
    One text per line, blank lines skipped: handy input for ``lstmkit predict``.

Files must be UTF-8; a UTF-8 byte-order mark (as Excel writes) is accepted. Texts
and labels are stripped of surrounding whitespace; an empty text or label is an
error.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path

from lstmkit.errors import DataError

__all__ = ["read_text_classification", "read_texts", "Labels"]

_TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_FORMATS = "use .csv, .tsv, .jsonl or a folder of <label>/*.txt files"
_BR_TAG = re.compile(r"<br\s*/?\s*>", re.IGNORECASE)
_UNLABELLED_FOLDER = "unsup"
_WIDE_BOMS = [(codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),  # UTF-32-LE's starts like UTF-16-LE's
              (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")]

# One CSV field may hold a whole document; the csv module's default limit (128 KiB)
# is too small for some review and news corpora.
csv.field_size_limit(2**31 - 1)


class Labels(list):
    """The labels read from a file: a plain ``list[str]`` that also remembers where each came from.

    ``origins[i]`` is ``(path, line)`` of label ``i`` (``line`` is None for one-file-per-example
    folders), so a later check (an unknown label in ``evaluate``) can name the file and line.
    """

    def __init__(self, labels=(), origins=()):
        super().__init__(labels)
        self.origins: list[tuple[Path, int | None]] = list(origins)

    def where(self, index: int) -> tuple[Path | None, int | None]:
        """``(path, line)`` of label ``index``, or ``(None, None)`` when unknown."""
        return self.origins[index] if index < len(self.origins) else (None, None)


def read_text_classification(
    path: str | Path, text_column: str = "text", label_column: str = "label"
) -> tuple[list[str], list[str]]:
    """Read ``(texts, labels)`` from a CSV, TSV or JSONL file or an aclImdb-style folder.

    Args:
        path: the data file or folder.
        text_column: the column (JSON key) holding the text.
        label_column: the column (JSON key) holding the label.

    Returns:
        ``texts`` and ``labels``, two lists of stripped strings of the same length, in
        file order; ``labels`` is a :class:`Labels` knowing each label's file and line.

    Raises:
        DataError: naming the file and line for a missing file, an unknown extension,
            a missing column, an empty text or label, bad JSON or undecodable bytes,
            or a file without any example.
    """
    texts, labels = _read(Path(path), text_column, label_column, need_labels=True)
    assert isinstance(labels, Labels)
    return texts, labels


def read_texts(path: str | Path, text_column: str = "text") -> list[str]:
    """Read the texts to predict: like :func:`read_text_classification`, labels optional.

    A CSV/TSV with only a text column is fine; a label column, when present, is
    ignored (not even checked). ``.txt`` files are read as one text per line.
    """
    texts, _ = _read(Path(path), text_column, None, need_labels=False)
    return texts


# --------------------------------------------------------------------------- dispatch


def _read(
    path: Path, text_column: str, label_column: str | None, need_labels: bool
) -> tuple[list[str], list[str] | None]:
    if not path.exists():
        raise DataError("file not found", path)
    if path.is_dir():
        texts, labels = _read_folder(path)
    else:
        ext = path.suffix.lower()
        if ext in _TABLE_DELIMITERS:
            texts, labels = _read_table(path, _TABLE_DELIMITERS[ext], text_column, label_column)
        elif ext == ".jsonl":
            texts, labels = _read_jsonl(path, text_column, label_column)
        elif ext == ".txt" and not need_labels:
            texts, labels = _read_lines(path), None
        else:
            raise DataError(f"unknown file type {ext or '(no extension)'!r} ({_FORMATS})", path)
    if not texts:
        raise DataError("no examples found", path)
    return texts, (labels if need_labels else None)


def _decode(path: Path) -> str:
    """The file's text; undecodable bytes are reported with their line number.

    A UTF-16/UTF-32 byte-order mark, or a NUL byte anywhere (UTF-16 text without a mark decodes
    as "valid" UTF-8 with a NUL after every ASCII letter; binary files hold them too), is an
    error saying so, rather than a silently garbled parse.
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror or err}", path) from None
    for bom, name in _WIDE_BOMS:
        if raw.startswith(bom):
            raise DataError(f"the file is {name} (it starts with a {name} byte-order mark); save it as UTF-8", path)
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(
            f"a NUL byte at byte {nul}: a binary file, or UTF-16/UTF-32 text? (save the file as UTF-8)",
            path, raw.count(b"\n", 0, nul) + 1,
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(
            f"bytes that are not UTF-8 at byte {err.start} (save the file as UTF-8)", path, line
        ) from None


def _clean_text(value: str, column: str, path: Path, line: int | None) -> str:
    text = value.strip()
    if not text:
        raise DataError(f"empty text in column {column!r}", path, line)
    return text


def _clean_label(value: str, column: str, path: Path, line: int | None) -> str:
    label = value.strip()
    if not label:
        raise DataError(f"empty label in column {column!r}", path, line)
    return label


# --------------------------------------------------------------------------- CSV / TSV


def _read_table(
    path: Path, delimiter: str, text_column: str, label_column: str | None
) -> tuple[list[str], list[str]]:
    # newline="": the csv module itself ends records at \n, \r\n or \r (old Mac files) outside
    # quotes and keeps them inside quoted fields, as its documentation asks
    reader = csv.reader(io.StringIO(_decode(path), newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(
                f"file is empty (expected a header line naming {text_column!r})", path, 1
            )
        header = [name.strip() for name in header]
        columns = [text_column] + ([label_column] if label_column is not None else [])
        for column in columns:
            if column not in header:
                raise DataError(
                    f"no column {column!r} (columns: {', '.join(map(repr, header))});"
                    f" name yours with --set {_option(column, text_column)}=NAME",
                    path,
                    1,
                )
        text_at = header.index(text_column)
        label_at = header.index(label_column) if label_column is not None else -1

        texts: list[str] = []
        labels = Labels()
        while True:
            line = reader.line_num + 1  # where the next record starts
            row = next(reader, None)
            if row is None:
                break
            if not row:  # a blank line
                continue
            if len(row) != len(header):
                raise DataError(
                    f"expected {len(header)} fields as in the header, found {len(row)}"
                    " (quote fields that contain the delimiter)",
                    path,
                    line,
                )
            texts.append(_clean_text(row[text_at], text_column, path, line))
            if label_column is not None:
                labels.append(_clean_label(row[label_at], label_column, path, line))
                labels.origins.append((path, line))
    except csv.Error as err:
        kind = path.suffix[1:].upper()
        raise DataError(f"malformed {kind}: {err}", path, reader.line_num) from None
    return texts, labels


def _option(column: str, text_column: str) -> str:
    """The setting that names ``column``: ``data.text_column`` or ``data.label_column``."""
    return "data.text_column" if column == text_column else "data.label_column"


# --------------------------------------------------------------------------- JSON Lines


def _read_jsonl(
    path: Path, text_column: str, label_column: str | None
) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels = Labels()
    # only \n ends a record: JSON strings may hold U+2028, U+0085 ... raw, which splitlines() splits at
    for line, raw in enumerate(_decode(path).split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as err:
            raise DataError(f"bad JSON: {err.msg} at column {err.colno}", path, line) from None
        if not isinstance(record, dict):
            raise DataError(
                f"expected a JSON object like {{{text_column!r}: ...}}, found {_json_type(record)}",
                path,
                line,
            )
        columns = [text_column] + ([label_column] if label_column is not None else [])
        for column in columns:
            if column not in record:
                keys = ", ".join(map(repr, record)) or "none"
                raise DataError(
                    f"no key {column!r} (keys: {keys}); name yours with --set"
                    f" {_option(column, text_column)}=NAME",
                    path,
                    line,
                )
        text = _json_string(record[text_column], text_column, path, line)
        texts.append(_clean_text(text, text_column, path, line))
        if label_column is not None:
            value = _json_string(record[label_column], label_column, path, line)
            labels.append(_clean_label(value, label_column, path, line))
            labels.origins.append((path, line))
    return texts, labels


def _json_string(value: object, column: str, path: Path, line: int) -> str:
    """A JSON scalar as a string: ``"a"`` -> ``"a"``, ``1`` -> ``"1"``, ``null`` -> ``""``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return str(value)
    raise DataError(
        f"{column!r} must be a string or a number, found {_json_type(value)}", path, line
    )


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


# --------------------------------------------------------------------------- plain lines


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in _decode(path).splitlines() if line.strip()]


# --------------------------------------------------------------------------- folders


def _read_folder(path: Path) -> tuple[list[str], Labels]:
    """``DIR/<label>/*.txt`` -> one example per file (the aclImdb layout)."""
    texts: list[str] = []
    labels = Labels()
    label_dirs = sorted(
        d
        for d in path.iterdir()
        if d.is_dir() and d.name != _UNLABELLED_FOLDER and not d.name.startswith(".")
    )
    for label_dir in label_dirs:
        for file in sorted(label_dir.glob("*.txt")):
            text = _BR_TAG.sub(" ", _decode(file)).strip()
            if not text:
                raise DataError("empty text (the file holds no text)", file)
            texts.append(text)
            labels.append(label_dir.name)
            labels.origins.append((file, None))
    if not texts:
        raise DataError(f"no <label>/*.txt files in this folder ({_FORMATS})", path)
    return texts, labels
