"""Tag schemes: spans equal seqeval's get_entities on random (often ill-formed) sequences,
conversions keep the spans, BMES words by hand, scheme detection and its errors."""

import itertools
import random
import warnings

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from lstmkit.data.formats.conll import Sentences
from lstmkit.data.tagschemes import (
    as_read,
    bio_to_bioes,
    bioes_to_bio,
    bmes_tags,
    detect_scheme,
    entities,
    tag_problem,
    words_from_bmes,
)
from lstmkit.errors import DataError
from lstmkit.nn.crf import allowed_transitions

BIO_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-X-Y", "I-X-Y"]
BIOES_TAGS = BIO_TAGS + ["E-PER", "S-PER", "E-LOC", "S-LOC", "E-X-Y", "S-X-Y"]
UNTYPED = ["O", "B", "I", "E", "S"]


def random_sequences(tags, n=3000, seed=0, max_len=9):
    rng = random.Random(seed)
    return [[rng.choice(tags) for _ in range(rng.randint(0, max_len))] for _ in range(n)]


def seqeval_spans(tags):
    """seqeval's spans with an exclusive end, the reference."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(t, start, end + 1) for t, start, end in get_entities(list(tags))]


@pytest.mark.parametrize("scheme,tags", [("BIO", BIO_TAGS), ("BIOES", BIOES_TAGS), ("BIOES", UNTYPED)])
def test_entities_equal_seqeval_on_random_sequences(scheme, tags):
    """Random sequences are mostly ill-formed (I- after O, I-PER after B-LOC, E- without B-).
    Fails on any departure from seqeval's non-strict rules, e.g. starting no entity at an
    I- after O, merging B-LOC I-PER into one entity, or an off-by-one end."""
    for sequence in random_sequences(tags):
        assert entities(sequence, scheme) == seqeval_spans(sequence), sequence


def test_entities_by_hand():
    """Fails if an I- after O is dropped or a type change does not split the entity."""
    assert entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-PER"], "bio") == [
        ("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("PER", 5, 6),
    ]
    assert entities(["S-PER", "E-PER", "B-LOC", "E-LOC", "I-LOC"], "BIOES") == [
        ("PER", 0, 1), ("PER", 1, 2), ("LOC", 2, 4), ("LOC", 4, 5),
    ]
    assert entities([], "BIO") == []


def test_entities_reject_tags_of_another_scheme():
    with pytest.raises(ValueError, match="token 2: tag 'S-PER' is not a BIO tag"):
        entities(["O", "S-PER"], "BIO")
    with pytest.raises(ValueError, match="tag 'O' is not a BMES tag"):
        entities(["B", "O"], "BMES")
    with pytest.raises(ValueError, match="scheme must be one of BIO, BIOES, BMES"):
        entities(["O"], "IOB1")


def test_bio_bioes_conversions_keep_the_entities():
    """Converting either way keeps exactly the spans seqeval reads, ill-formed input included,
    and the output obeys the target scheme's transition rules (checked with the CRF's table).
    Fails e.g. if a one-token entity does not become S-, or O I-X is left as O I-X."""
    labels = BIOES_TAGS
    rules = allowed_transitions(labels, "BIOES")
    bio_rules = allowed_transitions(BIO_TAGS, "BIO")
    for sequence in random_sequences(BIO_TAGS, n=1000, seed=1, max_len=8):
        converted = bio_to_bioes(sequence)
        assert entities(converted, "BIOES") == entities(sequence, "BIO")
        if sequence:
            assert rules.allows([labels.index(t) for t in converted])
    for sequence in random_sequences(BIOES_TAGS, n=1000, seed=2, max_len=8):
        converted = bioes_to_bio(sequence)
        assert entities(converted, "BIO") == entities(sequence, "BIOES")
        if sequence:
            assert bio_rules.allows([BIO_TAGS.index(t) for t in converted])


def test_conversions_by_hand():
    assert bio_to_bioes(["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-ORG"]) == [
        "B-PER", "I-PER", "E-PER", "O", "S-LOC", "S-ORG",
    ]
    assert bio_to_bioes(["O", "I-X", "I-X", "B", "I"]) == ["O", "B-X", "E-X", "B", "E"]
    assert bioes_to_bio(["S-PER", "B-LOC", "I-LOC", "E-LOC", "O"]) == ["B-PER", "B-LOC", "I-LOC", "I-LOC", "O"]


def test_bmes_words_by_hand():
    """Fails if M is not read as inside a word, or characters of an ill-formed sequence are lost."""
    chars = "上海是中国的经济中心"
    tags = ["B", "E", "S", "B", "E", "S", "B", "E", "B", "E"]
    assert words_from_bmes(chars, tags) == ["上海", "是", "中国", "的", "经济", "中心"]
    assert bmes_tags(["上海", "是", "中华人民", "的"]) == ["B", "E", "S", "B", "M", "M", "E", "S"]
    assert words_from_bmes("中华人民", ["B", "M", "M", "E"]) == ["中华人民"]
    # ill-formed: B B, an E at the start, M after S: every character still in one word
    assert words_from_bmes("abcdef", ["B", "B", "E", "E", "S", "M"]) == ["a", "bc", "d", "e", "f"]
    with pytest.raises(ValueError, match="3 characters but 2 tags"):
        words_from_bmes("abc", ["B", "E"])
    with pytest.raises(ValueError, match="word 2 is empty"):
        bmes_tags(["a", ""])


def test_bmes_round_trip_and_cover_random():
    """words_from_bmes(bmes_tags(words)) gives the words back, and any tag sequence splits
    the text into words that join to it (brute force over all sequences of length 5)."""
    rng = random.Random(3)
    for _ in range(300):
        words = ["x" * rng.randint(1, 4) for _ in range(rng.randint(1, 6))]
        text = "".join(words)
        assert words_from_bmes(text, bmes_tags(words)) == words
    for tags in itertools.product("BMES", repeat=5):
        assert "".join(words_from_bmes("abcde", list(tags))) == "abcde"


def test_detect_scheme():
    """Fails if BMES is not recognised, or S-/E- does not make BIOES."""
    assert detect_scheme([["B", "E", "S"], ["B", "M", "E"]]) == "BMES"
    assert detect_scheme([["S", "S"]]) == "BMES"
    assert detect_scheme([["O", "B-PER", "I-PER"], ["O"]]) == "BIO"
    assert detect_scheme([["O", "B-PER", "E-PER"], ["S-LOC"]]) == "BIOES"
    assert detect_scheme([["O", "S-LOC"]]) == "BIOES"
    assert detect_scheme([["O", "O"]]) == "BIO"
    assert detect_scheme([["B", "I", "O"]]) == "BIO"  # untyped chunks


def test_detect_scheme_plain_labels():
    """POS tag sets are plain labels (None), even with one-letter tags that are also BMES
    letters (CTB's M and P). Fails if they are taken for a scheme or rejected."""
    assert detect_scheme([["n", "v", "nr"], ["w"]]) is None  # People's Daily
    assert detect_scheme([["NR", "NN", "M", "P", "-LRB-"]]) is None  # Chinese Treebank, PTB
    assert detect_scheme([["NOUN", "X", "PUNCT"]]) is None  # Universal Dependencies


def test_detect_scheme_errors_name_the_file_and_line():
    """A mix that fits no scheme is an error at the first offending tag's file and line."""
    origins = [("data.conll", 1), ("data.conll", 5)]
    tags = Sentences([["B", "E"], ["S", "M", "O"]], origins)
    with pytest.raises(DataError, match=r"data.conll, line 6: tag 'M' \(BMES word segmentation\) mixed with 'O'"):
        detect_scheme(tags)
    with pytest.raises(DataError, match=r"data.conll, line 6: tag 'X-PER' has an unknown prefix"):
        detect_scheme(Sentences([["O"], ["O", "X-PER"]], origins))
    with pytest.raises(DataError, match=r"data.conll, line 7: tag 'PER' has an unknown prefix.*like 'O'"):
        detect_scheme(Sentences([["O"], ["B-LOC", "O", "PER"]], origins))  # IO tags
    with pytest.raises(DataError, match=r"sentence 2, token 1: tags with a type \('B-PER'\) mixed with"):
        detect_scheme([["B-PER", "O"], ["B", "I"]])
    with pytest.raises(DataError, match="M-PER"):
        detect_scheme([["O", "M-PER"]])
    with pytest.raises(DataError, match="no tags"):
        detect_scheme([[], []])


def test_entities_of_plain_labels_are_tokens():
    assert entities(["n", "v", "n"], None) == [("n", 0, 1), ("v", 1, 2), ("n", 2, 3)]


@pytest.mark.parametrize(
    "tag,problem",
    [("O", None), ("B-PER", None), ("S", None), ("M", None), ("B-X-Y", None),
     ("I-", "empty type"), ("B-", "empty type"), ("X-PER", "unknown prefix"), ("PER", "unknown prefix"),
     ("O-PER", "O takes no type"), ("", "empty tag"), ("BI-PER", "unknown prefix")],
)
def test_tag_problem(tag, problem):
    found = tag_problem(tag)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize("scheme,tags", [("BIO", BIO_TAGS), ("BIOES", BIOES_TAGS), ("BMES", ["B", "M", "E", "S"])])
def test_as_read_gives_legal_tags_marking_what_seqeval_reads(scheme, tags):
    """Training learns illegal moves as they are read: the tags as_read returns must be legal under
    the scheme's rules (what constrained decoding allows), mark exactly the spans seqeval reads in the
    original, and leave legal sequences unchanged."""
    rules = allowed_transitions(tags if scheme != "BMES" else ["B", "M", "E", "S"], scheme)
    index = {t: i for i, t in enumerate(tags)}
    for sequence in [s for s in random_sequences(tags, n=1500, seed=3) if s]:
        read = as_read(sequence, scheme)
        assert rules.allows([index[t] for t in read]), (sequence, read)
        assert entities(read, scheme) == entities(sequence, scheme)
        if rules.allows([index[t] for t in sequence]):
            assert read == list(sequence)
    assert as_read(["O", "I-LOC", "B-PER", "I-LOC"], "BIO") == ["O", "B-LOC", "B-PER", "B-LOC"]
