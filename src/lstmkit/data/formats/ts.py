"""Reader for the UEA/sktime ``.ts`` time-series format (multivariate, ragged lengths).

A ``.ts`` file is a header, the line ``@data``, then one case (one multivariate sequence
and its label) per line::

    # comments start with '#' and may appear anywhere
    @problemName JapaneseVowels
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 12
    @equalLength false
    @seriesLength 29            (only with @equalLength true)
    @classLabel true 1 2 3      (or: @classLabel false, then maybe @targetLabel true)
    @data
    1.86,1.89,1.93:-0.20,-0.19,-0.23: ... :1
    ^ dimension 1  ^ dimension 2        ^ the label, last

* Dimensions (features) are separated by ``:``, the values of one dimension by ``,``.
* ``?`` is a missing value (``NaN``).
* With ``@timeStamps true`` a dimension is a list of ``(timestamp,value)`` pairs:
  ``(0,1.5),(1,2.5):(0,0.3),(1,0.1):a``. Timestamps may be numbers or dates and may
  contain ``:`` (``(2007-01-01 00:00:00,1.5)``). lstmkit keeps the values in file order and
  drops the timestamps: the LSTM sees steps, not clock times, so every dimension of a case
  must carry the same timestamps (else it is an error).
* ``@classLabel true a b c`` lists the classes; each case's label must be one of them.
  ``@targetLabel true`` (regression) ends each case with a number instead. With neither,
  cases have no label (data to predict).

Header keywords are case-insensitive (``@classLabel`` = ``@classlabel``); labels keep their
case (sktime's loader lower-cases them). Every header line must come before ``@data``.

Output: case ``i`` becomes ``sequences[i]``, an array of shape ``(T_i, F)`` (float32), the
transpose of the file's dimension-major layout; ``F`` = number of dimensions, the same for
every case; ``T_i`` = that case's length, which may differ between cases.

Every problem raises :class:`~lstmkit.errors.DataError` naming the file and 1-based line:
a case with another number of dimensions than ``@dimensions`` or the first case, dimensions
of different lengths within one case, a value that is not a number, a label not listed in
``@classLabel``, a missing ``@data`` line, an empty file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstmkit.data.formats.tables import Labels, decode_text
from lstmkit.errors import DataError

__all__ = ["read_ts"]

_BOOLEAN_TAGS = ("@timestamps", "@missing", "@univariate", "@equallength")
_INTEGER_TAGS = ("@dimensions", "@serieslength")
_KNOWN_TAGS = (
    "@problemname",
    *_BOOLEAN_TAGS,
    *_INTEGER_TAGS,
    "@classlabel",
    "@targetlabel",
    "@data",
)
_MISSING_TOKENS = frozenset({"?", "nan", "NaN", "NAN"})
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_OVERFLOW = 2.0**128 - 2.0**103  # halfway from float32's max to 2**128: rounds to inf from here on
_PAIR = re.compile(r"\s*\(([^()]*)\)\s*")  # one "(timestamp,value)" pair


@dataclass
class _Header:
    """What the header lines declared (None: not declared)."""

    problem_name: str | None = None
    timestamps: bool | None = None
    missing: bool | None = None
    univariate: bool | None = None
    dimensions: int | None = None
    equal_length: bool | None = None
    series_length: int | None = None
    class_labels: list[str] | None = None  # the @classLabel list; None: no class labels
    target_label: bool = False  # @targetLabel true: a number ends each case
    seen: dict[str, int] = field(default_factory=dict)  # tag -> line, to report duplicates

    @property
    def labelled(self) -> bool:
        return self.class_labels is not None or self.target_label


def read_ts(path: str | Path, missing: str = "error") -> tuple[list[np.ndarray], Labels | None]:
    """Read a UEA/sktime ``.ts`` file.

    Args:
        path: the ``.ts`` file.
        missing: what to do with a missing value (``?``): ``"error"`` (the default: an LSTM
            cannot use NaN, so say where it is) or ``"nan"`` (read it as NaN).

    Returns:
        ``sequences``: one float32 array ``(T_i, F)`` per case, in file order;
        ``labels``: a :class:`~lstmkit.data.formats.tables.Labels` of strings (each knows its file
        and line), the class or, with ``@targetLabel true``, the number as written; None
        when the file declares no labels (``@classLabel false`` without ``@targetLabel``).

    Raises:
        DataError: naming the file and line of the first problem (see the module docstring).
    """
    if missing not in ("error", "nan"):
        raise ValueError(f"missing must be 'error' or 'nan', got {missing!r}")
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path)
    if path.is_dir():
        raise DataError("is a folder, expected a .ts file", path)
    lines = decode_text(path).splitlines()
    if not any(line.strip() for line in lines):
        raise DataError(
            "file is empty (expected header lines, @data, then one case per line)", path
        )

    header = _Header()
    sequences: list[np.ndarray] = []
    labels = Labels()
    first_case_line: int | None = None
    in_data = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            if in_data:
                raise DataError(f"header line {line.split()[0]!r} after @data", path, number)
            in_data = _read_header_line(line, header, path, number)
            continue
        if not in_data:
            raise DataError(
                "data before the @data line (header lines start with '@', comments with '#')",
                path,
                number,
            )
        sequence, label = _read_case(line, header, missing, path, number, first_case_line)
        if first_case_line is None:
            first_case_line = number
            if header.dimensions is None:
                header.dimensions = sequence.shape[1]
        sequences.append(sequence)
        if label is not None:
            labels.append(label)
            labels.origins.append((path, number))

    if not in_data:
        raise DataError(
            "no @data line (a .ts file has header lines, then @data, then one case per line)", path
        )
    if not sequences:
        raise DataError("no cases after the @data line", path)
    return sequences, (labels if header.labelled else None)


# --------------------------------------------------------------------------- header


def _read_header_line(line: str, header: _Header, path: Path, number: int) -> bool:
    """Record one ``@tag value`` line in ``header``; True when it is ``@data``."""
    tokens = line.split()
    tag, values = tokens[0].lower(), tokens[1:]
    if tag not in _KNOWN_TAGS:
        known = ", ".join(t for t in _KNOWN_TAGS)
        raise DataError(f"unknown header {tokens[0]!r} (known, any case: {known})", path, number)
    if tag in header.seen:
        raise DataError(f"{tokens[0]} given twice (first on line {header.seen[tag]})", path, number)
    header.seen[tag] = number

    if tag == "@data":
        if values:
            raise DataError("@data takes no value: the cases start on the next line", path, number)
        _check_header(header, path, number)
        return True
    if tag == "@problemname":
        if not values:
            raise DataError("@problemName needs a name", path, number)
        header.problem_name = " ".join(values)
    elif tag in _BOOLEAN_TAGS:
        flag = _boolean(tokens[0], values, path, number, extra_allowed=False)
        setattr(
            header,
            {
                "@timestamps": "timestamps",
                "@missing": "missing",
                "@univariate": "univariate",
                "@equallength": "equal_length",
            }[tag],
            flag,
        )
    elif tag in _INTEGER_TAGS:
        if len(values) != 1 or not values[0].isdigit() or int(values[0]) < 1:
            raise DataError(f"{tokens[0]} needs one positive whole number", path, number)
        setattr(header, "dimensions" if tag == "@dimensions" else "series_length", int(values[0]))
    elif tag == "@classlabel":
        if _boolean(tokens[0], values, path, number, extra_allowed=True):
            if len(values) < 2:
                raise DataError("@classLabel true must list the class labels", path, number)
            if len(set(values[1:])) != len(values) - 1:
                raise DataError("@classLabel lists a label twice", path, number)
            header.class_labels = values[1:]
        elif len(values) > 1:
            raise DataError("@classLabel false takes no labels", path, number)
    elif tag == "@targetlabel":
        header.target_label = _boolean(tokens[0], values, path, number, extra_allowed=False)
    return False


def _boolean(tag: str, values: list[str], path: Path, number: int, extra_allowed: bool) -> bool:
    if (
        not values
        or values[0].lower() not in ("true", "false")
        or (len(values) > 1 and not extra_allowed)
    ):
        raise DataError(f"{tag} needs true or false", path, number)
    return values[0].lower() == "true"


def _check_header(header: _Header, path: Path, number: int) -> None:
    """Contradictions between header lines, reported at the ``@data`` line."""
    if header.class_labels is not None and header.target_label:
        raise DataError("@classLabel true and @targetLabel true: choose one", path, number)
    if header.univariate:
        if header.dimensions not in (None, 1):
            raise DataError(f"@univariate true but @dimensions {header.dimensions}", path, number)
        header.dimensions = 1


# --------------------------------------------------------------------------- cases


def _read_case(
    line: str,
    header: _Header,
    missing: str,
    path: Path,
    number: int,
    first_case_line: int | None,
) -> tuple[np.ndarray, str | None]:
    """One data line -> ``(values (T, F) float32, label or None)``."""
    fields = _split_fields(line) if "(" in line else line.split(":")
    label = None
    if header.labelled:
        if len(fields) < 2:
            raise DataError(
                "expected the dimensions, ':' and the label; found no ':'", path, number
            )
        label = fields.pop().strip()

    expected = header.dimensions
    if expected is not None and len(fields) != expected:
        source = (
            f"as in the first case (line {first_case_line})"
            if first_case_line is not None and "@dimensions" not in header.seen
            else "as @dimensions says"
            if "@dimensions" in header.seen
            else "as @univariate true says"
        )
        raise DataError(
            f"this case has {len(fields)} dimension(s), expected {expected} {source}"
            + (
                " (is the label missing?)"
                if header.labelled and len(fields) == expected - 1
                else ""
            ),
            path,
            number,
        )

    if label is not None:
        _check_label(label, header, path, number)

    columns: list[np.ndarray] = []
    first_stamps: list[str] | None = None
    for d, text in enumerate(fields, start=1):
        text = text.strip()
        if not text:
            raise DataError(f"dimension {d} is empty", path, number)
        if text.startswith("("):
            stamps, tokens = _pairs(text, d, path, number)
            if first_stamps is None:
                first_stamps = stamps
            elif stamps != first_stamps:
                raise DataError(
                    f"dimension {d} has other timestamps than dimension 1 (lstmkit needs the"
                    " same time steps in every dimension of a case)",
                    path,
                    number,
                )
        else:
            if first_stamps is not None:
                raise DataError(
                    f"dimension {d} has no timestamps but dimension 1 has", path, number
                )
            tokens = text.split(",")
        columns.append(_floats(tokens, d, missing, path, number))

    lengths = [len(c) for c in columns]
    if len(set(lengths)) > 1:
        other = next(d for d, n in enumerate(lengths, start=1) if n != lengths[0])
        raise DataError(
            f"dimensions of different lengths within one case: dimension 1 has {lengths[0]}"
            f" values, dimension {other} has {lengths[other - 1]}",
            path,
            number,
        )
    if (
        header.equal_length
        and header.series_length is not None
        and lengths[0] != header.series_length
    ):
        raise DataError(
            f"this case has {lengths[0]} time steps, but @equalLength true and"
            f" @seriesLength {header.series_length}",
            path,
            number,
        )
    return np.stack(columns, axis=1).astype(np.float32), label  # (T, F)


def _check_label(label: str, header: _Header, path: Path, number: int) -> None:
    if not label:
        raise DataError("empty label after the last ':'", path, number)
    if header.class_labels is not None and label not in header.class_labels:
        raise DataError(
            f"label {label!r} is not one of the @classLabel labels"
            f" ({', '.join(header.class_labels)})",
            path,
            number,
        )
    if header.target_label:
        try:
            ok = math.isfinite(float(label))
        except ValueError:
            ok = False
        if not ok:
            raise DataError(f"target {label!r} is not a number (@targetLabel true)", path, number)


def _split_fields(line: str) -> list[str]:
    """Split at ``:`` outside parentheses (timestamps such as ``(12:00,1.5)`` hold ``:``)."""
    fields, depth, start = [], 0, 0
    for i, char in enumerate(line):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == ":" and depth == 0:
            fields.append(line[start:i])
            start = i + 1
    fields.append(line[start:])
    return fields


def _pairs(text: str, d: int, path: Path, number: int) -> tuple[list[str], list[str]]:
    """``"(t1,v1),(t2,v2)"`` -> ``(["t1", "t2"], ["v1", "v2"])``."""
    stamps, values, at = [], [], 0
    while True:
        match = _PAIR.match(text, at)
        if match is None or "," not in match[1]:
            raise DataError(
                f"dimension {d}: expected (timestamp,value) pairs separated by ',', found"
                f" {text[at : at + 30]!r}",
                path,
                number,
            )
        stamp, _, value = match[1].rpartition(",")
        stamps.append(stamp.strip())
        values.append(value)
        at = match.end()
        if at == len(text):
            return stamps, values
        if text[at] != ",":
            raise DataError(
                f"dimension {d}: expected ',' between pairs, found {text[at]!r}", path, number
            )
        at += 1


def _floats(tokens: list[str], d: int, missing: str, path: Path, number: int) -> np.ndarray:
    """Parse one dimension's values (``?`` -> NaN) with an error naming the bad value."""
    out = np.empty(len(tokens), dtype=np.float64)
    for k, token in enumerate(tokens):
        token = token.strip()
        if token in _MISSING_TOKENS:
            if missing == "error":
                raise DataError(
                    f"missing value {token!r} in dimension {d}, value {k + 1} (read with"
                    " missing='nan' to keep missing values as NaN)",
                    path,
                    number,
                )
            out[k] = math.nan
            continue
        try:
            value = float(token)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or "_" in token:
            shown = repr(token) if token else "an empty value"
            raise DataError(f"dimension {d}, value {k + 1}: {shown} is not a number", path, number)
        if abs(value) >= _FLOAT32_OVERFLOW:  # would be inf in the float32 arrays
            raise DataError(f"dimension {d}, value {k + 1}: {token!r} is too large (beyond float32's "
                            f"{_FLOAT32_MAX:.4g})", path, number)
        out[k] = value
    return out
