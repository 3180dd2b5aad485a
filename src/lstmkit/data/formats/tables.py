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

Streaming. :func:`iter_text_classification` yields one example at a time and holds only the
current record (tables and JSON Lines are decoded block by block: :func:`open_text`), so a
training file larger than memory can be read in one pass; :func:`read_text_classification`
is the list of what it yields, so both read alike, errors included. :class:`DataFile` names a
file that a task reads that way when it trains (``lstmkit train --train FILE``).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lstmkit.errors import DataError

__all__ = ["read_text_classification", "read_texts", "iter_text_classification", "open_text", "Labels",
           "DataFile"]

_TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_FORMATS = "use .csv, .tsv, .jsonl or a folder of <label>/*.txt files"
_BR_TAG = re.compile(r"<br\s*/?\s*>", re.IGNORECASE)
_UNLABELLED_FOLDER = "unsup"
_WIDE_BOMS = [(codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),  # UTF-32-LE's starts like UTF-16-LE's
              (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")]

# One CSV field may hold a whole document; the csv module's default limit (128 KiB)
# is too small for some review and news corpora.
csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True)
class DataFile:
    """A data file named by its path, for a task that reads its training data as a stream.

    ``TextClassifier().fit(DataFile("train.csv"), valid=DataFile("valid.csv"))`` reads each
    file once, row by row, into a token store (``lstmkit train`` passes its ``--train`` and
    ``--valid`` this way); a plain string would be one text.
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))


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
    texts, labels = [], Labels()
    for text, label, origin in iter_text_classification(path, text_column, label_column):
        texts.append(text)
        labels.append(label)
        labels.origins.append(origin)
    return texts, labels


def read_texts(path: str | Path, text_column: str = "text") -> list[str]:
    """Read the texts to predict: like :func:`read_text_classification`, labels optional.

    A CSV/TSV with only a text column is fine; a label column, when present, is
    ignored (not even checked). ``.txt`` files are read as one text per line.
    """
    path = Path(path)
    if path.suffix.lower() == ".txt" and path.is_file():
        texts = _read_lines(path)
        if not texts:
            raise DataError("no examples found", path)
        return texts
    return [text for text, _, _ in _examples(path, text_column, None)]


def iter_text_classification(
    path: str | Path, text_column: str = "text", label_column: str = "label"
) -> Iterator[tuple[str, str, tuple[Path, int | None]]]:
    """Yield ``(text, label, (path, line))`` per example, in file order, holding one record at a time.

    The same examples and the same errors as :func:`read_text_classification` (which lists
    them), raised when the stream reaches them: an error late in a file comes after the
    examples before it were yielded. ``line`` is None for one-file-per-example folders
    (``path`` is then the example's file).
    """
    yield from _examples(Path(path), text_column, label_column)


# --------------------------------------------------------------------------- dispatch


def _examples(path: Path, text_column: str, label_column: str | None):
    """``(text, label or None, (path, line))`` per example of a table, JSON Lines file or folder."""
    if not path.exists():
        raise DataError("file not found", path)
    if path.is_dir():
        examples = _read_folder(path)
    else:
        ext = path.suffix.lower()
        if ext in _TABLE_DELIMITERS:
            examples = read_table_rows(path, _TABLE_DELIMITERS[ext], text_column, label_column)
        elif ext == ".jsonl":
            examples = _read_jsonl(path, text_column, label_column)
        else:
            raise DataError(f"unknown file type {ext or '(no extension)'!r} ({_FORMATS})", path)
    found = False
    for example in examples:
        found = True
        yield example
    if not found:
        raise DataError("no examples found", path)


def open_text(path: Path, newline: str | None) -> io.TextIOWrapper:
    """``path`` as a stream of UTF-8 text, checked as :func:`decode_text` checks a whole file.

    The bytes are read and checked block by block (:class:`_CheckedUtf8`): a UTF-16/UTF-32
    byte-order mark, a NUL byte or bytes that are not UTF-8 raise the same :class:`DataError`
    as :func:`decode_text` (byte offsets and lines counted from the start of the file), when the
    stream reaches them; a UTF-8 byte-order mark is skipped. ``newline`` is
    :class:`io.TextIOWrapper`'s: ``""`` ends lines at ``\\n``, ``\\r\\n`` or ``\\r`` and keeps
    the endings (what the csv module wants), ``"\\n"`` ends them at ``\\n`` only.
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed with the returned stream
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror or err}", path) from None
    checked = io.BufferedReader(_CheckedUtf8(raw, path), buffer_size=_BLOCK)
    return io.TextIOWrapper(checked, encoding="utf-8", errors="strict", newline=newline)


_BLOCK = 1 << 20
"""Bytes read and checked at a time by :class:`_CheckedUtf8`."""


class _CheckedUtf8(io.RawIOBase):
    """A file's bytes, after the UTF-8 byte-order mark, each block checked to be NUL-free UTF-8.

    A block is passed on only up to its last complete character (the rest waits for the next
    block), so every check sees whole characters and reports the first bad byte's offset in
    the file and its line, as :func:`decode_text` does for a whole file.
    """

    def __init__(self, raw, path: Path):
        super().__init__()
        self.raw, self.path = raw, path
        self.ready = b""  # checked bytes not yet passed on
        self.carry = b""  # the start of a character cut by the block's end
        self.offset = 0  # bytes checked so far (after the byte-order mark)
        self.lines = 1  # the line the next checked byte is on
        self.first = True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()
        super().close()

    def readinto(self, buffer) -> int:
        while not self.ready:
            block = self.raw.read(_BLOCK)
            if self.first:  # the byte-order marks need the first 4 bytes together
                self.first = False
                while 0 < len(block) < 4:
                    more = self.raw.read(4 - len(block))
                    if not more:
                        break
                    block += more
                for bom, name in _WIDE_BOMS:
                    if block.startswith(bom):
                        raise DataError(f"the file is {name} (it starts with a {name} byte-order mark); save it "
                                        "as UTF-8", self.path)
                if block.startswith(codecs.BOM_UTF8):
                    block = block[len(codecs.BOM_UTF8):]
            if not block:
                if self.carry:  # the file ends inside a character
                    self._check(self.carry)
                return 0
            data = self.carry + block
            cut = _whole_characters(data)
            self.carry = data[cut:]
            self._check(data[:cut])
            self.ready = data[:cut]
        n = min(len(buffer), len(self.ready))
        buffer[:n] = self.ready[:n]
        self.ready = self.ready[n:]
        return n

    def _check(self, data: bytes) -> None:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise DataError(
                f"a NUL byte at byte {self.offset + nul}: a binary file, or UTF-16/UTF-32 text? (save the file as "
                "UTF-8)", self.path, self.lines + data.count(b"\n", 0, nul))
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"bytes that are not UTF-8 at byte {self.offset + err.start} (save the file as UTF-8)",
                            self.path, self.lines + data.count(b"\n", 0, err.start)) from None
        self.offset += len(data)
        self.lines += data.count(b"\n")


def _whole_characters(data: bytes) -> int:
    """The length of ``data``'s longest prefix that does not end inside a UTF-8 character."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: a character starts here
            needed = 2 if byte >= 0xC0 else 1
            needed = 3 if byte >= 0xE0 else needed
            needed = 4 if byte >= 0xF0 else needed
            return len(data) - back if needed > back else len(data)
    return len(data)  # only continuation bytes: invalid anyway, the check reports them


def decode_text(path: Path) -> str:
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


def read_table_rows(path: Path, delimiter: str, text_column: str, label_column: str | None):
    # newline="": the csv module itself ends records at \n, \r\n or \r (old Mac files) outside
    # quotes and keeps them inside quoted fields, as its documentation asks
    with open_text(path, newline="") as stream:
        reader = csv.reader(stream, delimiter=delimiter)
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
                text = _clean_text(row[text_at], text_column, path, line)
                label = None
                if label_column is not None:
                    label = _clean_label(row[label_at], label_column, path, line)
                yield text, label, (path, line)
        except csv.Error as err:
            kind = path.suffix[1:].upper()
            raise DataError(f"malformed {kind}: {err}", path, reader.line_num) from None


def _option(column: str, text_column: str) -> str:
    """The setting that names ``column``: ``data.text_column`` or ``data.label_column``."""
    return "data.text_column" if column == text_column else "data.label_column"


# --------------------------------------------------------------------------- JSON Lines


def _read_jsonl(path: Path, text_column: str, label_column: str | None):
    # only \n ends a record: JSON strings may hold U+2028, U+0085 ... raw, which splitlines() splits at
    with open_text(path, newline="\n") as stream:
        for line, raw in enumerate(stream, start=1):
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
            text = _clean_text(_json_string(record[text_column], text_column, path, line), text_column, path, line)
            label = None
            if label_column is not None:
                value = _json_string(record[label_column], label_column, path, line)
                label = _clean_label(value, label_column, path, line)
            yield text, label, (path, line)


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
    return [line.strip() for line in decode_text(path).splitlines() if line.strip()]


# --------------------------------------------------------------------------- folders


def _read_folder(path: Path):
    """``DIR/<label>/*.txt`` -> one example per file (the aclImdb layout)."""
    label_dirs = sorted(
        d
        for d in path.iterdir()
        if d.is_dir() and d.name != _UNLABELLED_FOLDER and not d.name.startswith(".")
    )
    found = False
    for label_dir in label_dirs:
        for file in sorted(label_dir.glob("*.txt")):
            text = _BR_TAG.sub(" ", decode_text(file)).strip()
            if not text:
                raise DataError("empty text (the file holds no text)", file)
            found = True
            yield text, label_dir.name, (file, None)
    if not found:
        raise DataError(f"no <label>/*.txt files in this folder ({_FORMATS})", path)
