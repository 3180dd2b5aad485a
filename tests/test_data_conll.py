"""CoNLL reading and writing: the format's rules, every error with its file and line, and
write -> read round trips."""

import os
import stat

import pytest

from lstmkit.data.formats.conll import Sentences, read_conll, read_conll_tokens, write_conll
from lstmkit.errors import DataError

CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def write(tmp_path, text, name="data.conll", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_reads_conll_2003(tmp_path):
    """Fails if -DOCSTART- becomes a sentence, the tag is not the last column, or the line
    numbers of sentences are off by one."""
    path = write(tmp_path, CONLL_2003)
    tokens, tags = read_conll(path)
    assert tokens == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    assert tags == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]
    assert isinstance(tags, Sentences) and isinstance(tokens, Sentences)
    assert tags.where(0) == (path, 3) and tags.where(1) == (path, 8) and tokens.where(1) == (path, 8)
    _, chunks = read_conll(path, tag_column=-2)
    assert chunks[1] == ["B-NP", "I-NP"]
    _, pos = read_conll(path, tag_column=1)  # plain labels (POS tags) are fine
    assert pos[0] == ["NNP", "VBZ", "JJ", "NN"]


def test_blank_lines_tabs_crlf_bom_and_no_final_newline(tmp_path):
    """Whitespace-only lines end sentences, runs of blank lines make no empty sentence,
    tabs separate columns, CRLF and a BOM are accepted; U+2028 and U+0085 do not end a line
    (str.splitlines would: the sentence would break there), they separate columns."""
    text = "\ufeff上\tB-LOC\r\n海\tI-LOC\r\n \t \r\n\r\n\r\n是 O\r\n中\u2028 O\r\n\u0085x O"
    tokens, tags = read_conll(write(tmp_path, text))
    assert tokens == [["上", "海"], ["是", "中", "x"]]
    assert tags == [["B-LOC", "I-LOC"], ["O", "O", "O"]]
    assert tags.where(1)[1] == 6


def test_read_tokens_only(tmp_path):
    path = write(tmp_path, "-DOCSTART-\n\n上\n海 whatever\n\n是\n")
    tokens = read_conll_tokens(path)
    assert tokens == [["上", "海"], ["是"]] and tokens.where(1) == (path, 6)


@pytest.mark.parametrize(
    "text,line,message",
    [
        ("a O\nb\n", 2, "found one column 'b'"),
        ("a O\n\nb I-\n", 3, "tag 'I-' has an empty type"),
        ("a B-\n", 1, "tag 'B-' has an empty type"),
        ("a O\nb X-PER\n", 2, "tag 'X-PER' has an unknown prefix"),
        ("a O\nb O-PER\n", 2, "O takes no type"),
        ("a x O\nb O\n", 2, "no tag column 2 in a row of 2 columns"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    tag_column = 2 if "x O" in text else -1
    with pytest.raises(DataError, match=message) as err:
        read_conll(path, tag_column=tag_column)
    assert err.value.path == path and err.value.line == line
    assert str(err.value).startswith(f"{path}, line {line}: ")


def test_tag_column_zero_is_the_token(tmp_path):
    with pytest.raises(DataError, match="no tag column 0"):
        read_conll(write(tmp_path, "a O\n"), tag_column=0)


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="file not found") as err:
        read_conll(tmp_path / "missing.conll")
    assert err.value.path == tmp_path / "missing.conll"
    with pytest.raises(DataError, match="is a folder"):
        read_conll_tokens(tmp_path)
    with pytest.raises(DataError, match="line 2: bytes that are not UTF-8"):
        read_conll(write(tmp_path, b"a O\n\xff\xfe O\n"))
    for empty in ("", "\n\n  \n", "-DOCSTART- -X- O\n\n"):
        with pytest.raises(DataError, match="no sentences found"):
            read_conll(write(tmp_path, empty))
        with pytest.raises(DataError, match="no sentences found"):
            read_conll_tokens(write(tmp_path, empty))


def test_write_read_round_trip(tmp_path):
    """Fails if a sentence boundary is lost, a column is swapped or unicode is mangled."""
    tokens = [["上", "海", "是"], ["EU", "rejects"], ["x"]]
    tags = [["B-LOC", "I-LOC", "O"], ["S-ORG", "O"], ["O"]]
    predicted = [["B-LOC", "O", "O"], ["B-ORG", "O"], ["B-PER"]]
    path = write_conll(tmp_path / "out.conll", tokens, tags)
    assert read_conll(path) == (tokens, tags)
    assert path.read_text(encoding="utf-8") == "上 B-LOC\n海 I-LOC\n是 O\n\nEU S-ORG\nrejects O\n\nx O\n\n"
    with_pred = write_conll(tmp_path / "pred.conll", tokens, tags, predicted)
    assert read_conll(with_pred) == (tokens, predicted)
    assert read_conll(with_pred, tag_column=-2) == (tokens, tags)
    only_pred = write_conll(tmp_path / "only.conll", tokens, None, predicted)
    assert read_conll(only_pred) == (tokens, predicted)
    assert read_conll_tokens(only_pred) == tokens


def test_write_is_atomic_and_honours_umask(tmp_path):
    """The file gets 0o666 & ~umask (not mkstemp's 0600), and a failed write leaves the old
    file and no temporary file behind."""
    old = os.umask(0o027)
    try:
        path = write_conll(tmp_path / "out.conll", [["a"]], [["O"]])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    with pytest.raises(ValueError):
        write_conll(path, [["a", "b c"]], [["O", "O"]])
    assert path.read_text() == "a O\n\n" and sorted(p.name for p in tmp_path.iterdir()) == ["out.conll"]


@pytest.mark.parametrize(
    "tokens,tags,message",
    [
        ([["a b"]], [["O"]], r"sentence 1, token 1: token 'a b' cannot be written"),
        ([["a", ""]], [["O", "O"]], "token 2: token ''"),
        ([["a"]], [["B PER"]], "tag 'B PER'"),
        ([["a"], []], [["O"], []], "sentence 2 is empty"),
        ([["a"]], [["O"], ["O"]], "1 sentences of tokens but 2 of tags"),
        ([["a", "b"]], [["O"]], "sentence 1: 2 tokens but 1 tags"),
        ([["-DOCSTART-"]], [["O"]], "would be skipped"),
    ],
)
def test_write_errors(tmp_path, tokens, tags, message):
    with pytest.raises(ValueError, match=message):
        write_conll(tmp_path / "x.conll", tokens, tags)
    assert not list(tmp_path.iterdir())


def test_write_needs_a_tag_column(tmp_path):
    with pytest.raises(ValueError, match="needs tags or predicted tags"):
        write_conll(tmp_path / "x.conll", [["a"]], None)
