"""lstmkit.data.store.tokens: token ids in memory-mapped files, built in one streaming pass."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.utils.data import DataLoader

from lstmkit.data.batching import BucketBatchSampler
from lstmkit.data.store import tokens as ts
from lstmkit.data.store.tokens import TokenDataset, TokenStore, build_token_store
from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError

TOKENS = st.sampled_from(["a", "b", "c", "d", "e", "好", "<unk>", "<pad>", ""])


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.lists(TOKENS, max_size=12), max_size=30), min_freq=st.integers(1, 3),
       max_size=st.one_of(st.none(), st.integers(2, 6)), max_length=st.one_of(st.none(), st.integers(1, 5)))
def test_same_vocabulary_and_ids_as_building_in_memory(tmp_path_factory, texts, min_freq, max_size, max_length):
    """Bugs caught: a vocabulary that differs from ``Vocab.build``'s (order of equal counts,
    min_freq, max_size, the special tokens appearing in the text), ids not renumbered to the
    final vocabulary, and ``max_length`` cutting the ids but not the counts."""
    folder = tmp_path_factory.mktemp("store") / "s"
    cut = [t[:max_length] for t in texts]
    vocab, store = build_token_store(iter(texts), folder, min_freq=min_freq, max_size=max_size,
                                     max_length=max_length)
    expected = Vocab.build(cut, min_freq=min_freq, max_size=max_size)
    assert vocab == expected
    assert len(store) == len(texts)
    assert [store[i].tolist() for i in range(len(store))] == [expected.encode(t) for t in cut]
    assert store.lengths.tolist() == [len(t) for t in cut]


def test_ids_and_labels_survive_chunked_writes(tmp_path, monkeypatch):
    """Bug caught: losing or repeating ids where a write buffer is flushed or the renumbering pass
    moves to its next chunk (here every 7 ids)."""
    monkeypatch.setattr(ts, "CHUNK", 7)
    rng = np.random.default_rng(0)
    texts = [[f"w{k}" for k in rng.integers(0, 30, rng.integers(0, 9))] for _ in range(200)]
    labels = rng.integers(0, 3, 200).tolist()
    vocab, store = build_token_store(texts, tmp_path / "s", labels=labels)
    assert [store[i].tolist() for i in range(200)] == [vocab.encode(t) for t in texts]
    assert store.labels.tolist() == labels
    assert store[-1].tolist() == vocab.encode(texts[-1])
    with pytest.raises(IndexError, match="outside the store"):
        store[200]


def test_reads_are_memory_mapped(tmp_path):
    """Bug caught: the store loading its arrays into memory (memory then grows with the data)."""
    _, store = build_token_store([["a", "b"], ["c"]], tmp_path / "s", labels=[0, 1])
    assert isinstance(store.ids, np.memmap) and isinstance(store.offsets, np.memmap)
    assert isinstance(store[0].base, np.memmap) or isinstance(store[0], np.memmap)


def _peak_building(folder, n: int, length: int = 8) -> int:
    """Peak Python memory (bytes, by tracemalloc) of building a store of ``n`` streamed texts."""
    texts = ([f"t{(i * 7 + k) % 500}" for k in range(length)] for i in range(n))
    tracemalloc.start()
    try:
        build_token_store(texts, folder, labels=(i % 2 for i in range(n)))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_building_from_a_stream_keeps_memory_flat(tmp_path, monkeypatch):
    """Bug caught: the builder holding the whole corpus (collecting the texts, or their ids in
    lists) so that its memory grows with the data: 5x the texts must not take 5x the memory.
    (The write buffer is made small here, 4,096 ids, so that it does not hide the growth.)"""
    monkeypatch.setattr(ts, "CHUNK", 4096)
    small, large = _peak_building(tmp_path / "a", 8_000), _peak_building(tmp_path / "b", 40_000)
    assert large < 1.3 * small + 100_000, f"{small / 1e6:.2f} MB -> {large / 1e6:.2f} MB"
    assert TokenStore(tmp_path / "b").total == 40_000 * 8


def test_a_dataloader_of_length_bucketed_batches(tmp_path):
    """Bug caught: batches the text networks cannot take (unpadded, empty texts of length 0,
    labels missing or in the wrong order)."""
    texts = [["a"] * (1 + i % 5) for i in range(20)] + [[]]
    labels = [i % 2 for i in range(21)]
    _, store = build_token_store(texts, tmp_path / "s", labels=labels)
    sampler = BucketBatchSampler(store.lengths.tolist(), 4, shuffle=True, seed=0)
    loader = DataLoader(TokenDataset(store), batch_sampler=sampler, collate_fn=TokenDataset.collate)
    seen = []
    for batch in loader:
        assert batch["ids"].dtype == torch.int64 and batch["ids"].shape[1] == int(batch["lengths"].max())
        assert int(batch["lengths"].min()) >= 1
        seen += batch["labels"].tolist()
    assert sorted(seen) == sorted(labels)
    no_labels = build_token_store([["a"]], tmp_path / "u")[1]
    assert set(TokenDataset.collate([TokenDataset(no_labels)[0]])) == {"ids", "lengths"}


def test_a_failed_build_leaves_the_old_store_and_no_temporary_folder(tmp_path):
    """Bug caught: a crash while streaming leaving half a store (or deleting the old one)."""
    build_token_store([["old"]], tmp_path / "s")

    def broken():
        yield ["a", "b"]
        raise RuntimeError("the reader failed")

    with pytest.raises(RuntimeError, match="reader failed"):
        build_token_store(broken(), tmp_path / "s")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    assert TokenStore(tmp_path / "s")[0].tolist() == [Vocab.build([["old"]]).encode(["old"])[0]]


def test_labels_must_match_the_texts(tmp_path):
    """Bug caught: a short or long label stream silently misaligning labels and texts."""
    with pytest.raises(DataError, match="fewer labels than texts: none for text 2"):
        build_token_store([["a"], ["b"]], tmp_path / "s", labels=[0])
    with pytest.raises(DataError, match="more labels than texts"):
        build_token_store([["a"]], tmp_path / "s", labels=[0, 1])
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "ids.i32").write_bytes((f / "ids.i32").read_bytes()[:-2]), r"ids\.i32: 10 bytes, expected 12"),
    (lambda f: (f / "offsets.i64").unlink(), r"offsets\.i64: missing"),
    (lambda f: (f / "store.json").write_text("{"), r"store\.json: unreadable"),
    (lambda f: (f / "store.json").write_text('{"format": "other"}'), r"store\.json: not a version-1"),
    (lambda f: (f / "offsets.i64").write_bytes(np.array([0, 5, 1], "<i8").tobytes()), "offsets do not describe"),
])
def test_a_damaged_store_is_a_clear_error(tmp_path, damage, message):
    """Bug caught: a truncated or edited store read as garbage ids (or a numpy traceback)."""
    build_token_store([["a", "b"], ["c"]], tmp_path / "s")
    damage(tmp_path / "s")
    with pytest.raises(DataError, match=message):
        TokenStore(tmp_path / "s")


def test_no_texts(tmp_path):
    """Bug caught: an empty stream crashing the memory map (numpy cannot map 0 bytes)."""
    vocab, store = build_token_store([], tmp_path / "s", labels=[])
    assert len(store) == 0 and vocab.tokens == (Vocab.PAD, Vocab.UNK) and store.labels.tolist() == []


def test_per_token_tags_share_the_offsets_and_can_be_renumbered(tmp_path):
    """Bugs caught: tags misaligned with their tokens (a cut by max_length applied to one and not
    the other, a flush losing tags), tags not renumbered in place, tokens.json not written."""
    from lstmkit.data.store.tokens import StoreBuilder, renumber

    rows = [(["a", "b", "c"], [0, 1, 2]), ([], []), (["b"] * 9, [1] * 9)]
    with StoreBuilder(tmp_path / "s", tags=True, max_length=4) as builder:
        for tokens, tags in rows:
            builder.add(tokens, tags=tags)
    store = builder.store
    assert store.tokens == ["a", "b", "c"] and store.labels is None
    assert [store.tags[store.offsets[i]: store.offsets[i + 1]].tolist() for i in range(3)] == \
        [[0, 1, 2], [], [1, 1, 1, 1]]
    store = renumber(store, np.array([5, 6, 7]), what="tags")
    assert store.tags.tolist() == [5, 6, 7, 6, 6, 6, 6]
    with pytest.raises(ValueError, match="one per token"):
        with StoreBuilder(tmp_path / "t", tags=True) as bad:
            bad.add(["a", "b"], tags=[1])
    assert not (tmp_path / "t").exists()


def test_a_validation_store_numbers_tokens_like_its_training_store(tmp_path):
    """Bug caught: the validation store numbering tokens afresh (its ids then mean other tokens)."""
    from lstmkit.data.store.tokens import StoreBuilder

    with StoreBuilder(tmp_path / "train") as train:
        train.add(["x", "y"])
    with StoreBuilder(tmp_path / "valid", token_ids=train.token_ids) as valid:
        valid.add(["y", "z", "x"])
    assert valid.store[0].tolist() == [1, 2, 0] and valid.store.tokens == ["x", "y", "z"]


def test_version_1_stores_are_still_read(tmp_path):
    """Bug caught: the format going to version 2 (tags, tokens.json) refusing stores written before."""
    import json

    build_token_store([["a", "b"], ["c"]], tmp_path / "s", labels=[0, 1])
    meta = json.loads((tmp_path / "s" / "store.json").read_text())
    meta.update(version=1)
    del meta["tags"]
    (tmp_path / "s" / "store.json").write_text(json.dumps(meta))
    (tmp_path / "s" / "tokens.json").unlink()
    old = TokenStore(tmp_path / "s")
    assert old.tokens is None and old.tags is None and old.labels.tolist() == [0, 1] and len(old[0]) == 2
    meta.update(version=3)
    (tmp_path / "s" / "store.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="not a version-1 or version-2"):
        TokenStore(tmp_path / "s")


def test_released_pages_read_back_the_same_ids(tmp_path):
    """Bug caught: dropping the mapped pages (to keep the resident set flat) losing data."""
    _, store = build_token_store([["a", "b", "a"], ["c"]] * 1000, tmp_path / "s")
    before = store.ids.tolist()
    store.release()
    assert store.ids.tolist() == before
