"""Pretrained vectors: word2vec and GloVe files, gzip, the vocab filter, bad lines, the matrix."""

import gzip
import re

import numpy as np
import pytest
import torch

from lstmkit.data.embeddings import embedding_matrix, read_word_vectors
from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError

VECTORS = {"the": [0.1, 0.2, 0.3], "cat": [1.0, -1.0, 0.5], "的": [2.0, 0.0, -2.0], "\u3000": [0.0, 1.0, 0.0]}


def glove_text(vectors=VECTORS):
    return "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items())


def word2vec_text(vectors=VECTORS):
    return f"{len(vectors)} 3\n" + "".join(f"{w} {' '.join(map(str, v))} \n" for w, v in vectors.items())


@pytest.mark.parametrize("fmt", ["glove", "word2vec", "word2vec.gz"])
def test_read_formats(tmp_path, fmt):
    text = glove_text() if fmt == "glove" else word2vec_text()
    path = tmp_path / ("vectors.txt.gz" if fmt.endswith(".gz") else "vectors.txt")
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if fmt.endswith(".gz") else data)
    words, vectors = read_word_vectors(path)
    assert words == list(VECTORS)
    assert vectors.dtype == np.float32 and vectors.shape == (4, 3)
    np.testing.assert_array_equal(vectors, np.array(list(VECTORS.values()), dtype=np.float32))


def test_vocab_filter_duplicates_and_blank_lines(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text(glove_text() + "\n" + "cat 9 9 9\n", encoding="utf-8")
    words, vectors = read_word_vectors(path, vocab={"cat", "的", "absent"})
    assert words == ["cat", "的"]
    np.testing.assert_array_equal(vectors[0], [1.0, -1.0, 0.5])  # the first vector wins
    words, vectors = read_word_vectors(path, vocab=set())
    assert words == [] and vectors.shape == (0, 3)


@pytest.mark.parametrize(
    "content, line, message",
    [
        ("a 1 2 3\nb 1 2\n", 2, "expected 3 values after the word, found 2"),
        ("2 3\na 1 2 3\nb 1 2 3 4\n", 3, "expected 3 values after the word, found 4"),
        ("a 1 2 3\nb 1 x 3\n", 2, "'x' is not a number (word 'b')"),
        ("a\n", 1, "expected a word followed by its vector's values"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "v.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match="^" + re.escape(f"{path}, line {line}: {message}")):
        read_word_vectors(path)


def test_bad_line_is_reported_even_when_filtered_out(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("a 1 2\nb 1\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        read_word_vectors(path, vocab={"a"})


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_word_vectors(tmp_path / "none.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="the file is empty"):
        read_word_vectors(tmp_path / "empty.txt")
    (tmp_path / "fake.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="cannot read the file"):
        read_word_vectors(tmp_path / "fake.gz")
    (tmp_path / "latin1.txt").write_bytes(b"a 1\n\xe9 2\n")
    with pytest.raises(DataError, match="line 2: bytes that are not UTF-8"):
        read_word_vectors(tmp_path / "latin1.txt")


def test_embedding_matrix(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text(word2vec_text(), encoding="utf-8")
    vocab = Vocab(["<pad>", "<unk>", "The", "cat", "的", "zebra"])
    weight, found = embedding_matrix(vocab, path)
    assert weight.shape == (6, 3) and weight.dtype == torch.float32
    assert found == 3  # The (via "the"), cat, 的
    torch.testing.assert_close(weight[2], torch.tensor(VECTORS["the"]))
    torch.testing.assert_close(weight[3], torch.tensor(VECTORS["cat"]))
    torch.testing.assert_close(weight[4], torch.tensor(VECTORS["的"]))
    assert torch.equal(weight[0], torch.zeros(3))  # <pad>
    assert weight[1].abs().sum() > 0 and weight[5].abs().sum() > 0  # random rows
    again, _ = embedding_matrix(vocab, path)
    assert torch.equal(weight, again)  # seeded

    weight, found = embedding_matrix(vocab, path, lowercase_fallback=False)
    assert found == 2 and not torch.allclose(weight[2], torch.tensor(VECTORS["the"]))


def test_random_rows_match_the_scale_of_found_vectors(tmp_path):
    rng = np.random.default_rng(0)
    found = {f"w{i}": rng.normal(0, 5.0, size=8) for i in range(200)}
    path = tmp_path / "v.txt"
    path.write_text(glove_text(found), encoding="utf-8")
    vocab = Vocab(["<pad>", "<unk>", *found, *[f"missing{i}" for i in range(300)]])
    weight, n = embedding_matrix(vocab, path)
    assert n == 200
    random_rows = weight[202:]
    expected_std = float(torch.tensor(np.stack(list(found.values()))).std())
    assert abs(float(random_rows.std()) - expected_std) < 0.1 * expected_std
    assert abs(float(random_rows.mean())) < 0.1 * expected_std


def test_embedding_matrix_with_no_match_is_an_error(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text(glove_text(), encoding="utf-8")
    with pytest.raises(DataError, match="none of the vocabulary's 2 tokens"):
        embedding_matrix(Vocab(["<pad>", "<unk>", "zebra"]), path)
