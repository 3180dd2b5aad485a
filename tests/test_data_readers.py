"""Readers: every format, the aclImdb folder layout, and every error with its file and line."""

import json
import re

import pandas as pd
import pytest

from lstmkit.data.formats.tables import read_text_classification, read_texts
from lstmkit.errors import DataError


def write(path, content: str | bytes):
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def where(path, line=None) -> str:
    """The prefix DataError puts before its message."""
    return re.escape(f"{path}, line {line}: " if line is not None else f"{path}: ")


# --------------------------------------------------------------------------- CSV / TSV

TRICKY_CSV = (
    "id,text,label\n"
    '1,"Good, really good",pos\n'
    '2,"She said ""wow""\nand left",neg\n'  # a quoted newline: one record on two lines
    "\n"  # blank line: skipped
    "3,NA,null\n"  # stays text, not missing values
    "4,  padded text  , pos \n"
    '5,房间很干净！,"1"\n'
)


def test_csv_matches_pandas_reading_everything_as_strings(tmp_path):
    path = write(tmp_path / "data.csv", TRICKY_CSV)
    texts, labels = read_text_classification(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert texts == [t.strip() for t in df["text"]]
    assert labels == [x.strip() for x in df["label"]]
    assert texts[1] == 'She said "wow"\nand left'
    assert (texts[2], labels[2]) == ("NA", "null")
    assert (texts[3], labels[3]) == ("padded text", "pos")


def test_csv_with_bom_crlf_and_custom_columns(tmp_path):
    path = write(tmp_path / "data.CSV", b"\xef\xbb\xbfreview,stars\r\nnice,5\r\nbad,1\r\n")
    assert read_text_classification(path, "review", "stars") == (["nice", "bad"], ["5", "1"])


def test_tsv(tmp_path):
    path = write(tmp_path / "data.tsv", "label\ttext\npos\tgreat, fun\nneg\t\"quoted\ttab\"\n")
    assert read_text_classification(path) == (["great, fun", "quoted\ttab"], ["pos", "neg"])


# --------------------------------------------------------------------------- JSONL


def test_jsonl(tmp_path):
    lines = [
        json.dumps({"text": " 好 ", "label": "pos", "extra": 1}, ensure_ascii=False),
        "",
        json.dumps({"text": "two", "label": 2}),
        json.dumps({"text": "three", "label": 2.5}),
        "   ",
        json.dumps({"text": "four", "label": True}),
    ]
    path = write(tmp_path / "data.jsonl", "\n".join(lines) + "\n")
    assert read_text_classification(path) == (["好", "two", "three", "four"], ["pos", "2", "2.5", "true"])


# --------------------------------------------------------------------------- aclImdb folder


def make_imdb(root):
    for label, files in {
        "pos": {"10_9.txt": "Great film.<br /><br />Loved it", "2_8.txt": "Fine<BR>ok"},
        "neg": {"0_1.txt": "Awful.<br/>Really"},
        "unsup": {"0_0.txt": "no label"},
    }.items():
        (root / label).mkdir(parents=True)
        for name, text in files.items():
            write(root / label / name, text)
    write(root / "urls_pos.txt", "http://example.com\n")  # files beside the label folders are ignored
    write(root / "pos" / "notes.md", "not a review")


def test_imdb_folder(tmp_path):
    make_imdb(tmp_path)
    texts, labels = read_text_classification(tmp_path)
    # label folders sorted (neg, pos), files sorted by name ("10_9" < "2_8"), unsup skipped
    assert labels == ["neg", "pos", "pos"]
    assert texts == ["Awful. Really", "Great film.  Loved it", "Fine ok"]
    assert read_texts(tmp_path) == texts


def test_imdb_folder_errors_name_the_file(tmp_path):
    make_imdb(tmp_path)
    write(tmp_path / "neg" / "1_2.txt", "  <br />  ")
    with pytest.raises(DataError, match=where(tmp_path / "neg" / "1_2.txt") + "empty text"):
        read_text_classification(tmp_path)
    write(tmp_path / "neg" / "1_2.txt", b"ok\n\xff\xfe")
    with pytest.raises(DataError, match=where(tmp_path / "neg" / "1_2.txt", 2) + "bytes that are not UTF-8"):
        read_text_classification(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=where(empty) + r"no <label>/\*\.txt files"):
        read_text_classification(empty)


# --------------------------------------------------------------------------- read_texts


def test_read_texts_needs_no_label(tmp_path):
    assert read_texts(write(tmp_path / "in.csv", "text\nfirst\n second \n")) == ["first", "second"]
    # a label column is ignored, even when empty
    assert read_texts(write(tmp_path / "in.tsv", "label\ttext\n\tx\n")) == ["x"]
    assert read_texts(write(tmp_path / "in.jsonl", '{"text": "a"}\n')) == ["a"]
    assert read_texts(write(tmp_path / "in.txt", "one\n\n two\n")) == ["one", "two"]
    with pytest.raises(DataError, match=where(tmp_path / "in.csv", 1) + r"no column 'body' \(columns: 'text'\)"):
        read_texts(tmp_path / "in.csv", text_column="body")


# --------------------------------------------------------------------------- errors

ERRORS = [
    # (file name, content, expected line or None, message pattern)
    ("a.xlsx", "x", None, r"unknown file type '\.xlsx' \(use \.csv, \.tsv, \.jsonl"),
    ("a.txt", "x", None, r"unknown file type '\.txt'"),  # labels need a table format
    ("a.csv", "", 1, r"file is empty"),
    ("a.csv", "text,label\n", None, r"no examples found"),
    ("a.csv", "body,label\nx,y\n", 1, r"no column 'text' \(columns: 'body', 'label'\)"),
    ("a.csv", "text,tag\nx,y\n", 1, r"no column 'label' \(columns: 'text', 'tag'\)"),
    ("a.csv", "text,label\nok,pos\n  ,neg\n", 3, r"empty text in column 'text'"),
    ("a.csv", "text,label\nok,pos\nfine, \n", 3, r"empty label in column 'label'"),
    ("a.csv", "text,label\nok,pos\na,b,c\n", 3, r"expected 2 fields as in the header, found 3"),
    ("a.csv", "text,label\nok\n", 2, r"expected 2 fields as in the header, found 1"),
    # a record spanning lines 2-3, then an error on line 4
    ("a.csv", 'text,label\n"two\nlines",pos\n,neg\n', 4, r"empty text"),
    ("a.tsv", "text\tlabel\nok\tpos\n\tneg\n", 3, r"empty text in column 'text'"),
    ("a.csv", b"text,label\nok,pos\n\xe6\x88,neg\n", 3, r"bytes that are not UTF-8"),
    ("a.jsonl", '{"text": "a", "label": "b"}\n{"text": "a", label}\n', 2, r"bad JSON"),
    ("a.jsonl", '{"text": "a", "label": "b"}\n\n["a", "b"]\n', 3, r"expected a JSON object .*found an array"),
    ("a.jsonl", '{"text": "a", "label": "b"}\n{"text": "a"}\n', 2, r"no key 'label' \(keys: 'text'\)"),
    ("a.jsonl", '{"text": "a", "label": null}\n', 1, r"empty label in column 'label'"),
    ("a.jsonl", '{"text": " ", "label": "x"}\n', 1, r"empty text in column 'text'"),
    ("a.jsonl", '{"text": ["a"], "label": "x"}\n', 1, r"'text' must be a string or a number, found an array"),
    ("a.jsonl", b'{"text": "a", "label": "b"}\n{"text": "\xff"}\n', 2, r"bytes that are not UTF-8"),
]


@pytest.mark.parametrize("name, content, line, message", ERRORS)
def test_errors_name_file_and_line(tmp_path, name, content, line, message):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError, match="^" + where(path, line) + message) as info:
        read_text_classification(path)
    assert info.value.line == line


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=where(tmp_path / "nope.csv") + "file not found"):
        read_text_classification(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="file not found"):
        read_texts(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- line numbers, brute force
# The reference: a record's line is 1 + the number of line breaks in the file before the record
# starts, counted on the file's text (header = line 1; a quoted multi-line record counts all its
# lines; blank lines count). Bugs caught: numbering from 0, counting the header twice, reporting
# the line where a multi-line record ends (or the record's index) instead of where it starts,
# blank lines or CRLF line ends miscounted.


def layout(records: list[str], newline: str = "\n") -> tuple[str, list[int]]:
    """The file text of ``records`` (one per line, blank ones included) and each record's line."""
    text, lines = "", []
    for record in records:
        lines.append(text.count("\n") + 1)
        text += record + newline
    return text, lines


GOOD_CSV_RECORDS = [
    "text,label",
    "plain,pos",
    '"quoted, with a comma",neg',
    '"three\nline\nrecord",pos',  # one record on lines 4-6
    "",  # a blank line
    '"say ""hi""\nthen go",neg',
    "last good,pos",
]
BAD_CSV_ROWS = [
    (",neg", r"empty text in column 'text'"),
    ("a,b,c", r"expected 2 fields as in the header, found 3"),
    ("lonely", r"expected 2 fields as in the header, found 1"),
    ("fine,  ", r"empty label in column 'label'"),
]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("bad, message", BAD_CSV_ROWS, ids=[b for b, _ in BAD_CSV_ROWS])
def test_csv_error_lines_match_a_brute_force_count(tmp_path, newline, bad, message):
    text, lines = layout(GOOD_CSV_RECORDS + [bad], newline)
    expected = lines[-1]
    assert expected == 11  # by hand: header 1, rows 2, 3, 4-6, blank 7, 8-9, 10, the bad row 11
    path = write(tmp_path / "a.csv", text)
    with pytest.raises(DataError, match="^" + where(path, expected) + message) as info:
        read_text_classification(path)
    assert info.value.line == expected and info.value.path == path


def test_each_label_remembers_the_line_its_record_starts_on(tmp_path):
    """``Labels.origins`` (used by evaluate's unknown-label error) against the brute-force lines."""
    text, lines = layout(GOOD_CSV_RECORDS)
    path = write(tmp_path / "a.csv", "\ufeff" + text)  # a byte-order mark does not shift lines
    texts, labels = read_text_classification(path)
    record_lines = [line for record, line in zip(GOOD_CSV_RECORDS, lines) if record][1:]  # no header, blank
    assert record_lines == [2, 3, 4, 8, 10]
    assert [line for _, line in labels.origins] == record_lines
    assert texts[2] == "three\nline\nrecord"


def test_tsv_error_lines_match_a_brute_force_count(tmp_path):
    records = ["id\ttext\tlabel", "1\tfine\tpos", "", '2\t"two\nlines"\tneg', "3\tok\tpos", "4\t\tneg"]
    text, lines = layout(records)
    path = write(tmp_path / "a.tsv", text)
    with pytest.raises(DataError, match="^" + where(path, lines[-1]) + "empty text") as info:
        read_text_classification(path)
    assert info.value.line == lines[-1] == 7


@pytest.mark.parametrize("bad, message", [
    ('{"text": "x", "label": }', r"bad JSON"),
    ('{"text": "x"}', r"no key 'label'"),
    ('"just a string"', r"expected a JSON object"),
    ('{"text": "", "label": "pos"}', r"empty text"),
])
def test_jsonl_error_lines_count_blank_lines(tmp_path, bad, message):
    records = ['{"text": "a", "label": "pos"}', "", "   ", '{"text": "b\\nc", "label": "neg"}', "", bad]
    text, lines = layout(records)
    path = write(tmp_path / "a.jsonl", text)
    with pytest.raises(DataError, match="^" + where(path, lines[-1]) + message) as info:
        read_text_classification(path)
    assert info.value.line == lines[-1] == 6
    # and the good records' origins
    _, labels = read_text_classification(write(tmp_path / "good.jsonl", layout(records[:-1])[0]))
    assert [line for _, line in labels.origins] == [1, 4]
