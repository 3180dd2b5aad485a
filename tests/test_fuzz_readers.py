"""Every data reader, fuzzed: a correct parse or the toolkit's own clear error, nothing else.

Targets: the text-classification reader (CSV, TSV, JSON Lines, ``.txt``), CoNLL
(:mod:`lstmkit.data.formats.conll`), UEA/sktime ``.ts`` (:mod:`lstmkit.data.formats.ts`), long CSV
(:mod:`lstmkit.data.formats.long_csv`) and the forecasting CSV (:mod:`lstmkit.data.formats.timeseries`).

Two properties per reader:

* **robustness**: any bytes (random; a well-formed file re-encoded as latin-1, UTF-16 or
  UTF-32, with or without a byte-order mark; cut short; with NUL bytes, stray quotes, line
  breaks or a 100 KB field inserted; a line dropped or repeated; empty) either parse, with the
  reader's invariants holding (as many labels as inputs, non-empty stripped text, finite
  numbers, arrays of one width), or raise a :class:`~lstmkit.errors.LstmkitError` whose
  message names the file. Any other exception, or a call that takes longer than
  :data:`HANG_S`, fails the test;
* **round trip**: a well-formed file written from random rows (any Unicode, quotes,
  delimiters and line breaks inside fields) reads back as exactly those rows.

The runs are derandomized (the same examples every run, so CI is reproducible) and
:data:`EXAMPLES` per target; ``docs/reliability.md`` records the counts and the bugs found.
Each ``@example`` is a regression case for one bug fuzzing found.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings, strategies as st
from timelimit import time_limit as _time_limit

from lstmkit.data.formats.conll import read_conll, read_conll_tokens, write_conll
from lstmkit.data.formats.long_csv import read_long_csv, write_long_csv
from lstmkit.data.formats.tables import read_text_classification, read_texts
from lstmkit.data.formats.timeseries import read_series
from lstmkit.data.formats.ts import read_ts
from lstmkit.errors import LstmkitError

EXAMPLES = 150
"""Examples per target (each a file written and read)."""
HANG_S = 20.0
"""A read that takes longer than this is a hang (inputs are at most ~100 KB)."""

FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

_FOLDER = Path(tempfile.mkdtemp(prefix="lstmkit-fuzz-"))
_COUNTER = itertools.count()


def write_file(data: bytes, suffix: str) -> Path:
    """``data`` in a new file ending in ``suffix``."""
    path = _FOLDER / f"case{next(_COUNTER)}{suffix}"
    path.write_bytes(data)
    return path


class Hang(Exception):
    """A reader ran past :data:`HANG_S`."""


def time_limit(seconds: float):
    """:func:`timelimit.time_limit` raising :class:`Hang`."""
    return _time_limit(seconds, Hang, "the reader")

def outcome(read, path: Path):
    """``read(path)``'s result, or None when it raised the toolkit's own error naming the file.

    Any other exception propagates (the test fails and hypothesis shrinks the input).
    """
    with time_limit(HANG_S):
        try:
            result = read(path)
        except LstmkitError as error:
            message = str(error)
            assert str(path) in message, f"the error does not name the file: {message!r}"
            assert len(message) > len(str(path)) + 5, f"the error says nothing: {message!r}"
            event("refused with a clear error")  # counted in --hypothesis-show-statistics
            return None
    event("parsed")
    return result


# ---------------------------------------------------------------------- byte strategies
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "gb18030"]
BOMS = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE]
NASTY = [b"\x00", b'"', b"\r", b"\n", b"\r\n", b",", b"\t", b":", b"(", b")", b"@data", b"\xff\xfe",
         b"\xe2\x80\xa8", b"\xc2\x85", b"\x1c", b"\x0b", b"\x0c", b"-DOCSTART-", b"nan", b"inf", b"1e400",
         b"\xed\xa0\x80", b"{", b"}", b"[", b"null", b"?"]
HUGE = b"x" * 100_000
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)  # any Unicode but surrogates
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
"""What a well-formed file may hold: any Unicode but NUL (refused: it means UTF-16 or binary)."""


@st.composite
def mutated(draw, files: st.SearchStrategy[str]) -> bytes:
    """A well-formed file's text (from ``files``), then encoded and damaged in a few random ways."""
    text = draw(files)
    encoding = draw(st.one_of(st.just("utf-8"), st.sampled_from(ENCODINGS)))  # UTF-8 half the time
    data = text.encode(encoding, errors="replace")
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):  # undamaged a third of the time
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "cut", "bom", "huge", "drop_line", "repeat_line", "bytes"]))
        if kind == "insert":
            data = data[:at] + draw(st.sampled_from(NASTY)) + data[at:]
        elif kind == "cut":
            data = data[:at]
        elif kind == "bom":
            data = draw(st.sampled_from(BOMS)) + data
        elif kind == "huge":
            data = data[:at] + HUGE + data[at:]
        elif kind == "bytes":
            data = data[:at] + draw(st.binary(max_size=8)) + data[at:]
        else:
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines[i:i + 1] = [] if kind == "drop_line" else [lines[i], lines[i]]
            data = b"\n".join(lines)
    return data


def any_bytes(files: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """Damaged well-formed files most of the time; random bytes and random text sometimes."""
    return st.one_of(mutated(files), mutated(files), mutated(files), st.binary(max_size=300),
                     ANY_TEXT.map(lambda t: t.encode("utf-8")), st.just(b""))


# ---------------------------------------------------------------------- text classification
LABELS = st.sampled_from(["pos", "neg", " neutral ", "1", "正面", 'a "quoted" label', "pos", "neg", ""])


@st.composite
def text_rows(draw, min_size=0) -> list[tuple[str, str]]:
    return draw(st.lists(st.tuples(TEXT, LABELS), min_size=min_size, max_size=8))


@st.composite
def table_files(draw, delimiter: str = ",") -> str:
    """A CSV/TSV as the csv module (pandas, Excel) writes it, sometimes with ragged rows."""
    rows = draw(text_rows())
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])),
                        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    extra = draw(st.booleans())
    writer.writerow(["text", "label"] + (["id"] if extra else []))
    for i, (text, label) in enumerate(rows):
        row = [text, label] + ([str(i)] if extra else [])
        if draw(st.integers(0, 19)) == 0:  # a ragged row
            row = row[:-1] if draw(st.booleans()) else row + ["more"]
        writer.writerow(row)
    return out.getvalue()


@st.composite
def jsonl_files(draw) -> str:
    rows = draw(text_rows())
    ensure_ascii = draw(st.booleans())
    lines = []
    for text, label in rows:
        odd_label = st.one_of(st.integers(), st.none(), st.booleans(), st.floats(allow_nan=True),
                              st.lists(st.integers(), max_size=2))
        record = {"text": text, "label": draw(odd_label) if draw(st.integers(0, 9)) == 0 else label}
        if draw(st.integers(0, 19)) == 0:
            record = draw(st.sampled_from([[text], text, {"txt": text}, None]))
        lines.append(json.dumps(record, ensure_ascii=ensure_ascii))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


def check_texts(result) -> None:
    texts, labels = result
    assert len(texts) == len(labels) == len(labels.origins) > 0
    for text, label in zip(texts, labels):
        assert isinstance(text, str) and text == text.strip() and text
        assert isinstance(label, str) and label == label.strip() and label


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
@FUZZ
@given(data=st.data())
def test_fuzz_text_table(suffix, data):
    """Bug caught: a CSV/TSV reader crashing (UnicodeError, csv.Error, IndexError) instead of naming file and line."""
    raw = data.draw(any_bytes(table_files("," if suffix == ".csv" else "\t")))
    path = write_file(raw, suffix)
    result = outcome(read_text_classification, path)
    if result is not None:
        check_texts(result)
    texts = outcome(read_texts, path)
    assert texts is None or all(t and t == t.strip() for t in texts)


@FUZZ
@given(raw=any_bytes(jsonl_files()))
@example(raw='{"text": "a\u2028b", "label": "pos"}\n'.encode())  # a line separator inside a JSON string
@example(raw='{"text": "a\x85b", "label": "pos"}\n'.encode())  # NEL inside a JSON string
def test_fuzz_text_jsonl(raw):
    """Bug caught: a JSON Lines reader that splits records at Unicode line separators (U+2028, U+0085,
    which JSON allows raw inside strings) and so rejects a valid file."""
    result = outcome(read_text_classification, write_file(raw, ".jsonl"))
    if result is not None:
        check_texts(result)


@FUZZ
@given(raw=any_bytes(ANY_TEXT))
def test_fuzz_plain_text_lines(raw):
    """Bug caught: ``predict --input file.txt`` crashing on undecodable or odd bytes."""
    texts = outcome(read_texts, write_file(raw, ".txt"))
    assert texts is None or (texts and all(t and t == t.strip() for t in texts))


@FUZZ
@given(rows=text_rows(min_size=1), suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]),
       ensure_ascii=st.booleans(), terminator=st.sampled_from(["\n", "\r\n"]))
@example(rows=[("a\u2028b", "pos")], suffix=".jsonl", ensure_ascii=False, terminator="\n")
@example(rows=[("a\rb", "pos")], suffix=".csv", ensure_ascii=False, terminator="\n")
def test_round_trip_text(rows, suffix, ensure_ascii, terminator):
    """Bug caught: a well-formed file (quotes, delimiters, line breaks, any Unicode in fields) read wrongly."""
    if suffix == ".jsonl":
        content = "".join(json.dumps({"text": t, "label": lab}, ensure_ascii=ensure_ascii) + terminator
                          for t, lab in rows)
    else:  # the csv module quotes only the terminator's characters: QUOTE_ALL so a lone \r is quoted too
        out = io.StringIO()
        writer = csv.writer(out, delimiter="," if suffix == ".csv" else "\t", lineterminator=terminator,
                            quoting=csv.QUOTE_ALL if terminator == "\n" else csv.QUOTE_MINIMAL)
        writer.writerows([("text", "label"), *rows])
        content = out.getvalue()
    path = write_file(content.encode("utf-8"), suffix)
    blank = [i for i, (t, lab) in enumerate(rows) if not t.strip() or not lab.strip()]
    result = outcome(read_text_classification, path)
    if blank:
        assert result is None
        return
    assert result is not None, f"a well-formed {suffix} was refused"
    texts, labels = result
    assert texts == [t.strip() for t, _ in rows]
    assert list(labels) == [lab.strip() for _, lab in rows]


def test_classic_mac_line_endings():
    """Bug caught (found by fuzzing): a CSV with \r line endings (Excel's "CSV (Macintosh)") refused with
    Python's "new-line character seen in unquoted field - do you need to open the file in
    universal-newline mode?"."""
    path = write_file(b"text,label\rgood room,pos\r\"two\rlines\",neg\r", ".csv")
    texts, labels = read_text_classification(path)
    assert texts == ["good room", "two\rlines"] and labels == ["pos", "neg"]
    path = write_file(b"date,y\r2024-01-01,1\r2024-01-02,2\r", ".csv")
    assert read_series(path, "date", ["y"]).values.ravel().tolist() == [1.0, 2.0]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_wide_encodings_are_named_not_garbled(encoding):
    """Bug caught (found by fuzzing): UTF-16 text without a byte-order mark decodes as UTF-8 with a NUL
    after every letter and was read as garbage rows (or NULs cut values short in pandas)."""
    path = write_file("text,label\ngood room,pos\n".encode(encoding), ".csv")
    with pytest.raises(LstmkitError, match=r"UTF-(16|32).*save it as UTF-8|NUL byte at byte 1: .*UTF-16"):
        read_text_classification(path)


# ---------------------------------------------------------------------- CoNLL
TOKENS = st.text(st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=6)
TAGS = st.sampled_from(["O", "B-PER", "I-PER", "E-LOC", "S-ORG", "B", "M", "NN", "I-", "X-PER", "O-PER"])


@st.composite
def conll_files(draw) -> str:
    lines = [draw(st.sampled_from(["", "-DOCSTART- -X- O\n\n"]))]
    for _ in range(draw(st.integers(0, 4))):
        for _ in range(draw(st.integers(1, 5))):
            columns = [draw(TOKENS)] + draw(st.lists(st.sampled_from(["NN", "B-NP"]), max_size=2)) + [draw(TAGS)]
            if draw(st.integers(0, 14)) == 0:
                columns = columns[:1]  # a row without a tag
            lines.append(draw(st.sampled_from([" ", "\t"])).join(columns) + draw(st.sampled_from(["\n", "\r\n"])))
        lines.append(draw(st.sampled_from(["\n", "  \n", "\t\n"])))
    return "".join(lines)


def check_sentences(tokens, tags=None) -> None:
    assert len(tokens) == len(tokens.origins) > 0
    assert all(sentence and all(t and not any(c.isspace() for c in t) for t in sentence) for sentence in tokens)
    if tags is not None:
        assert [len(s) for s in tags] == [len(s) for s in tokens]


@FUZZ
@given(raw=any_bytes(conll_files()))
def test_fuzz_conll(raw):
    """Bug caught: the CoNLL reader crashing (IndexError on a one-column row, UnicodeError) instead of
    naming the line."""
    path = write_file(raw, ".conll")
    result = outcome(read_conll, path)
    if result is not None:
        check_sentences(*result)
    tokens = outcome(read_conll_tokens, path)
    if tokens is not None:
        check_sentences(tokens)


GOOD_TAGS = st.sampled_from(["O", "B-PER", "I-PER", "NN", "v"])


@FUZZ
@given(sentences=st.lists(st.lists(st.tuples(TOKENS, GOOD_TAGS), min_size=1, max_size=5), min_size=1, max_size=4))
def test_round_trip_conll(sentences):
    """Bug caught: write_conll -> read_conll losing, merging or splitting sentences or tokens."""
    tokens = [[t for t, _ in s] for s in sentences]
    tags = [[g for _, g in s] for s in sentences]
    if any(t == "-DOCSTART-" for s in tokens for t in s):
        return
    path = _FOLDER / f"case{next(_COUNTER)}.conll"
    write_conll(path, tokens, tags)
    result = outcome(read_conll, path)
    assert result is not None, "a file write_conll wrote was refused"
    assert list(result[0]) == tokens and list(result[1]) == tags


# ---------------------------------------------------------------------- UEA / sktime .ts
NUMBERS = st.floats(allow_nan=False, allow_infinity=False, width=32)


@st.composite
def ts_cases(draw):
    """``(sequences (T_i, F) float32, labels)`` of a small labelled data set."""
    f = draw(st.integers(1, 3))
    sequences = [np.array(draw(st.lists(st.lists(NUMBERS, min_size=f, max_size=f), min_size=1, max_size=5)),
                          dtype=np.float32) for _ in range(draw(st.integers(1, 4)))]
    labels = [draw(st.sampled_from(["a", "b", "c"])) for _ in sequences]
    return sequences, labels


def ts_text(sequences, labels, timestamps: bool = False, missing_at: int | None = None) -> str:
    """A .ts file (``missing_at``: put ``?`` as the first value of that case)."""
    f = sequences[0].shape[1]
    lines = ["# made by the fuzz tests", "@problemName fuzz", f"@timeStamps {str(timestamps).lower()}",
             "@missing true", f"@univariate {str(f == 1).lower()}", f"@dimensions {f}",
             "@equalLength false", "@classLabel true a b c", "@data"]
    for i, (seq, label) in enumerate(zip(sequences, labels)):
        dims = []
        for d in range(f):
            values = [repr(float(v)) for v in seq[:, d]]
            if i == missing_at:
                values[0] = "?"
            dims.append(",".join(f"({t},{v})" for t, v in enumerate(values)) if timestamps else ",".join(values))
        lines.append(":".join(dims) + f":{label}")
    return "\n".join(lines) + "\n"


@st.composite
def ts_files(draw) -> str:
    sequences, labels = draw(ts_cases())
    text = ts_text(sequences, labels, timestamps=draw(st.booleans()),
                   missing_at=draw(st.sampled_from([None, 0])))
    if draw(st.booleans()):  # an odd value or label somewhere
        lines = text.split("\n")
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = lines[i].replace(draw(st.sampled_from([",", ":", "a", "1", "@"])),
                                    draw(st.sampled_from(["", "::", ",,", "1e39", "nan", "(", "z", "@data"])), 1)
        text = "\n".join(lines)
    return text


def check_ts(result, missing: str) -> None:
    sequences, labels = result
    assert sequences and len({s.shape[1] for s in sequences}) == 1
    for s in sequences:
        assert s.dtype == np.float32 and s.ndim == 2 and len(s) >= 1
        values = s[~np.isnan(s)] if missing == "nan" else s
        assert np.isfinite(values).all(), "a value the file holds became inf or nan"
    assert labels is None or len(labels) == len(sequences)


@pytest.mark.parametrize("missing", ["error", "nan"])
@FUZZ
@given(raw=any_bytes(ts_files()))
@example(raw=b"@dimensions 1\n@classLabel true a\n@data\n1e39:a\n")  # finite in float64, inf in float32
def test_fuzz_ts(missing, raw):
    """Bug caught: a .ts value beyond float32's range silently read as inf; any crash of the parser."""
    result = outcome(lambda p: read_ts(p, missing=missing), write_file(raw, ".ts"))
    if result is not None:
        check_ts(result, missing)


@FUZZ
@given(case=ts_cases(), timestamps=st.booleans())
def test_round_trip_ts(case, timestamps):
    """Bug caught: .ts values, dimensions or labels read wrongly (a transposed case, a lost value)."""
    sequences, labels = case
    result = outcome(read_ts, write_file(ts_text(sequences, labels, timestamps).encode(), ".ts"))
    assert result is not None, "a well-formed .ts file was refused"
    assert len(result[0]) == len(sequences) and list(result[1]) == labels
    for got, want in zip(result[0], sequences):
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------- long CSV
@st.composite
def long_cases(draw):
    """``(sequences (T_i, F) float32, labels, ids)``."""
    f = draw(st.integers(1, 3))
    n = draw(st.integers(1, 4))
    sequences = [np.array(draw(st.lists(st.lists(NUMBERS, min_size=f, max_size=f), min_size=1, max_size=4)),
                          dtype=np.float32) for _ in range(n)]
    ids = draw(st.lists(TEXT.map(str.strip).filter(bool), min_size=n, max_size=n, unique=True))
    labels = draw(st.lists(ANY_TEXT.map(str.strip).filter(bool), min_size=n, max_size=n))
    return sequences, labels, ids


@st.composite
def long_files(draw) -> str:
    sequences, labels, ids = draw(long_cases())
    labels = [label.replace("\x00", "0") for label in labels]  # write_long_csv refuses NUL
    path = _FOLDER / f"case{next(_COUNTER)}.csv"
    write_long_csv(path, sequences, labels, ids=ids, time_column=draw(st.sampled_from([None, "t"])))
    text = path.read_text(encoding="utf-8")
    if draw(st.booleans()):  # a ragged or odd row
        lines = text.split("\n")
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] += draw(st.sampled_from([",", ",x", '"', "", ",nan", ",1e39"]))
        text = "\n".join(lines)
    return text


def check_long(result) -> None:
    sequences, labels = result
    assert sequences and len({s.shape[1] for s in sequences}) == 1
    assert all(s.dtype == np.float32 and len(s) >= 1 and np.isfinite(s).all() for s in sequences)
    assert len(labels) == len(sequences)


@pytest.mark.parametrize("time_column", [None, "t"])
@FUZZ
@given(raw=any_bytes(long_files()))
@example(raw=b"sequence_id,f0,label\na,1e39,x\n")  # finite in float64, inf in float32
@example(raw=b"\r\x00")  # csv.Error from the header's csv.reader
def test_fuzz_long_csv(time_column, raw):
    """Bug caught: the long-CSV reader crashing inside pandas (ParserError, UnicodeError, KeyError)."""
    path = write_file(raw, ".csv")
    result = outcome(lambda p: read_long_csv(p, time_column=time_column), path)
    if result is not None:
        check_long(result)


@FUZZ
@given(case=long_cases(), time_column=st.sampled_from([None, "t"]))
@example(case=([np.zeros((1, 1), np.float32)], ["0\r0"], ["a"]), time_column=None)  # a bare \r written
@example(case=([np.zeros((1, 1), np.float32)], ["0\x00"], ["a"]), time_column=None)  # pandas' writer dropped the NUL
def test_round_trip_long_csv(case, time_column):
    """Bug caught: write_long_csv -> read_long_csv changing a value, an id or a label, or the order."""
    sequences, labels, ids = case
    path = _FOLDER / f"case{next(_COUNTER)}.csv"
    if any("\x00" in text for text in labels + ids):  # pandas' writer cuts text at a NUL
        with pytest.raises(ValueError, match="NUL"):
            write_long_csv(path, sequences, labels, ids=ids, time_column=time_column)
        return
    write_long_csv(path, sequences, labels, ids=ids, time_column=time_column)
    result = outcome(lambda p: read_long_csv(p, time_column=time_column, return_ids=True), path)
    assert result is not None, "a file write_long_csv wrote was refused"
    got, got_labels, got_ids = result
    assert got_ids == ids and list(got_labels) == labels
    for a, b in zip(got, sequences):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- forecasting CSV
TIME_STYLES = ["daily", "hourly", "numeric", "odd"]


@st.composite
def series_files(draw) -> str:
    n = draw(st.integers(0, 12))
    style = draw(st.sampled_from(TIME_STYLES))
    odd = st.sampled_from(["", "NA", "?", "nan", "inf", "x", "1e400", " 3 "])
    cells = st.one_of(NUMBERS.map(repr), NUMBERS.map(repr), NUMBERS.map(repr), NUMBERS.map(repr), odd)
    rows = ["date,y,c,ignored"]
    for i in range(n):
        time = {"daily": f"2024-01-{i + 1:02d}", "hourly": f"2024-01-01 {i:02d}:00", "numeric": str(i * 5),
                "odd": draw(st.sampled_from(["2024-13-01", "yesterday", "1e9", "2024-01-01", "", "5"]))}[style]
        if draw(st.integers(0, 14)) == 0:
            continue  # a gap
        rows.append(",".join([time, draw(cells), draw(cells), draw(ANY_TEXT).replace(",", ";").replace("\n", " ")]))
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("missing", ["interpolate", "error"])
@FUZZ
@given(raw=any_bytes(series_files()))
def test_fuzz_series(missing, raw):
    """Bug caught: the forecasting reader crashing in pandas date parsing or interpolation instead of
    naming the line."""
    path = write_file(raw, ".csv")
    result = outcome(lambda p: read_series(p, "date", ["y"], ["c"], missing=missing), path)
    if result is not None:
        assert result.values.shape == (len(result.time), 2) and len(result.time) >= 2
        assert np.isfinite(result.values).all(), "a missing value survived interpolation"
        assert result.time.is_monotonic_increasing and result.time.is_unique


@FUZZ
@given(values=st.lists(st.tuples(NUMBERS, NUMBERS), min_size=2, max_size=20),
       style=st.sampled_from(["daily", "hourly", "numeric"]))
@example(values=[(0.0, 0.0), (0.0, 2.1530179992259808e-29)], style="daily")  # pd.to_numeric is 1 ulp off
def test_round_trip_series(values, style):
    """Bug caught: a complete regular series read with changed values or times."""
    start = {"daily": "2024-01-01", "hourly": "2024-01-01 00:00", "numeric": None}[style]
    import pandas as pd

    times = (list(pd.date_range(start, periods=len(values), freq="D" if style == "daily" else "h").astype(str))
             if start else [str(i * 5) for i in range(len(values))])
    text = "date,y,c\n" + "".join(f"{t},{y!r},{c!r}\n" for t, (y, c) in zip(times, values))
    result = outcome(lambda p: read_series(p, "date", ["y"], ["c"], missing="error"), write_file(text.encode(), ".csv"))
    assert result is not None, "a complete regular series was refused"
    np.testing.assert_array_equal(result.values, np.array(values, dtype=np.float64))
    assert len(result.time) == len(values) and not any(math.isnan(v) for v in result.values.ravel())


# ---------------------------------------------------------------------- each task's own reading
def _task_reading():
    """``(task, estimator, the case's training file as text, its suffix)`` of every registered task."""
    from task_cases import CASES

    from lstmkit.tasks import TASKS, get_task_class

    out = []
    for name in sorted(TASKS):
        if name not in CASES:
            continue
        train = CASES[name].write_train(Path(tempfile.mkdtemp(prefix=f"lstmkit-fuzz-{name}-", dir=_FOLDER)))
        out.append(pytest.param(name, get_task_class(name)(**CASES[name].params),
                                train.read_text(encoding="utf-8"), train.suffix, id=name))
    return out


@pytest.mark.parametrize("task, estimator, train_text, suffix", _task_reading())
@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_fuzz_task_read_data(task, estimator, train_text, suffix, data):
    """Bug caught: a task's ``read_data`` / ``read_inputs`` (what ``train``, ``evaluate`` and ``predict
    --input`` call, with the task's own settings) crashing on a damaged file instead of naming it."""
    raw = data.draw(any_bytes(st.just(train_text)))
    path = write_file(raw, suffix)
    result = outcome(estimator.read_data, path)
    if result is not None:
        X, y = result
        assert y is None or len(X) == len(y) > 0  # a forecaster's targets are in X
    outcome(estimator.read_inputs, path)
