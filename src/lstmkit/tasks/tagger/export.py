r"""The tagger's hook for ONNX export: the network up to its emission scores, as one graph.

Inputs (B sentences right-padded to T tokens; only those the model uses, in this order)::

    ids           (B, T) int64     token ids (the sidecar's ``vocab``; 0 padding, 1 unknown)
    lengths       (B,)   int64     true lengths, 1 <= lengths <= T
    bigrams       (B, T) int64     (token t, token t+1) bigram ids       (model.bigram_dim > 0)
    dictionary    (B, T, 4) float  B/M/E/S dictionary word matches, 0/1 (model.dictionary)
    chars         (B, T, C) int64  each token's first 20 character ids   (model.char_features)
    char_lengths  (B, T) int64     characters per token (0 at padding)   (model.char_features)
    lm_forward    (B, S) int64     "\n" + the sentence's text, language-model character ids (model.char_lm)
    lm_backward   (B, S) int64     "\n" + the text reversed                                 (model.char_lm)
    lm_lengths    (B,)   int64     characters in each (the text's length + 1)               (model.char_lm)
    lm_forward_at, lm_backward_at (B, T) int64  where each token's two states are read    (model.char_lm)

Output: ``emissions (B, T, K)`` float32, the per-token tag scores the CRF decodes
(log-probabilities for a softmax tagger), **zero at padded steps**. Viterbi decoding stays
outside the graph: the sidecar carries the CRF's ``start_transitions``, ``transitions`` and
``end_transitions``, the scheme's ``allowed`` moves when decoding is constrained, and the
``tags``; :func:`lstmkit.export.viterbi.decode` (plain numpy) gives ``predict``'s tags.

**A seed ensemble** (``train.ensemble=N``) is one graph of every member side by side, with the same
inputs (the members share the preprocessing) and ``emissions (N, B, T, K)``: each member's scores,
zero at padded steps. The sidecar's ``ensemble.members`` hold each member's decoder and CRF tables;
:func:`lstmkit.export.viterbi.decode` combines them by the sidecar's ``ensemble.rule``, as
:class:`~lstmkit.tasks.tagger.ensemble.TaggerEnsemble` does: ``marginals`` averages the members' tag
marginals (forward-backward in numpy, :mod:`lstmkit.export.marginals`), logs them and decodes them
with the top-level tables (zeros: the best allowed path of summed log-marginals); ``scores`` averages
the emissions and decodes them with the top-level tables, the members' mean tables.

Making the inputs is string work (vocabulary lookups, bigrams, dictionary matching), so it is
outside the graph too; the sidecar holds everything it needs (vocabularies, the dictionary's
words, the tokenizer of raw text) and :func:`graph_inputs` does it in one call::

    feeds = graph_inputs(sidecar, ["Anna visited Rome", ["John", "left"]])   # {name: numpy array}

The recurrent layers (the sentence BiLSTM/GRU, the character BiLSTM and the character language
models' LSTMs) go through
:class:`lstmkit.export.rnn.ExportableRecurrent`: exact on padded batches of any size and length.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.data.batching import pad_sequences
from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError
from lstmkit.export.rnn import ExportableRecurrent, steps_mask
from lstmkit.nn.ensemble import Ensemble
from lstmkit.tasks.base import ExportSpec
from lstmkit.tasks.charlm.export import ExportableCharLM
from lstmkit.tasks.charlm.features import collate_lm, lm_inputs
from lstmkit.tasks.tagger.dictionary import BMES_BITS, WordDictionary
from lstmkit.tasks.tagger.ensemble import FLOOR
from lstmkit.tasks.tagger.text import tokenize_with_offsets

INPUT_AXES = {"ids": {0: "batch", 1: "steps"}, "lengths": {0: "batch"}, "bigrams": {0: "batch", 1: "steps"},
              "dictionary": {0: "batch", 1: "steps"}, "chars": {0: "batch", 1: "steps", 2: "chars"},
              "char_lengths": {0: "batch", 1: "steps"}, "lm_forward": {0: "batch", 1: "lm_chars"},
              "lm_backward": {0: "batch", 1: "lm_chars"}, "lm_lengths": {0: "batch"},
              "lm_forward_at": {0: "batch", 1: "steps"}, "lm_backward_at": {0: "batch", 1: "steps"}}
INPUT_DOCS = {
    "ids": "token ids (batch, steps) int64 from vocab (after lowercase when set), right-padded with 0; unknown 1",
    "lengths": "true lengths (batch,) int64, 1 <= lengths <= steps",
    "bigrams": "ids (batch, steps) int64 in bigram_vocab of 'token_t token_t+1' (the last token's next is </s>), "
               "0 at padding, unknown 1",
    "dictionary": "(batch, steps, 4) float32 0/1: a dictionary word Begins at / covers the Middle of / Ends at the "
                  "token, the token is a Single-token word (lstmkit.tasks.tagger.dictionary)",
    "chars": "(batch, steps, chars) int64 ids in char_vocab of each token's first max_chars characters, 0 padding",
    "char_lengths": "(batch, steps) int64 characters of each token (at most max_chars), 0 at padding",
    "lm_forward": "(batch, lm_chars) int64 ids in char_lm_vocab of a newline then the sentence's text (its tokens "
                  "joined by char_lm_joiner), right-padded with 0",
    "lm_backward": "(batch, lm_chars) int64 the same for a newline then the text reversed",
    "lm_lengths": "(batch,) int64 length of each (the text's characters + 1)",
    "lm_forward_at": "(batch, steps) int64 position in lm_forward after each token's last character, 0 at padding",
    "lm_backward_at": "(batch, steps) int64 position in lm_backward after each token's first character, 0 at "
                      "padding (lstmkit.tasks.charlm.features)",
}


def input_names(net: nn.Module) -> list[str]:
    """The graph's inputs for this network's features, in order."""
    names = ["ids", "lengths"]
    names += ["bigrams"] if net.bigrams is not None else []
    names += ["dictionary"] if net.uses_dictionary else []
    names += ["chars", "char_lengths"] if net.chars is not None else []
    names += list(LM_INPUTS) if net.char_lm is not None else []
    return names


LM_INPUTS = ("lm_forward", "lm_backward", "lm_lengths", "lm_forward_at", "lm_backward_at")


class TaggerGraph(nn.Module):
    """``(ids, lengths[, bigrams][, dictionary][, chars, char_lengths]) -> emissions (B, T, K)``.

    Shares the trained :class:`~lstmkit.tasks.tagger.network.TaggerNet`'s weights; equal to its
    ``emissions`` in eval mode at the real tokens, zero at padding.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.eval()
        self.names = input_names(net)
        self.rnn = ExportableRecurrent(net.rnn)
        chars = net.chars
        self.char_rnn = ExportableRecurrent(chars.rnn) if chars is not None and chars.kind == "lstm" else None
        self.char_lm = ExportableCharLM(net.char_lm) if net.char_lm is not None else None

    def char_vectors(self, chars: Tensor, char_lengths: Tensor) -> Tensor:
        """:class:`~lstmkit.tasks.tagger.network.CharFeatures` without data-dependent branches:
        ``chars (B, T, C)``, ``char_lengths (B, T)`` -> ``(B, T, F)``."""
        layer = self.net.chars
        B, T, C = chars.shape
        lengths = char_lengths.reshape(-1).clamp(min=1)  # (B*T,): a padding word reads one <pad> char
        x = layer.embedding(chars.reshape(-1, C))  # (B*T, C, char_dim)
        if layer.kind == "cnn":
            h = layer.conv(x.transpose(1, 2))  # (B*T, F, C)
            inside = steps_mask(lengths, C).unsqueeze(1)  # (B*T, 1, C)
            h = h.masked_fill(~inside, float("-inf")).amax(dim=2)  # (B*T, F)
        else:
            _, h_n = self.char_rnn(x, lengths)  # (2, B*T, H)
            h = torch.cat([h_n[0], h_n[1]], dim=-1)  # (B*T, 2H)
        return h.reshape(B, T, -1)

    def forward(self, *inputs: Tensor) -> Tensor:
        net, batch = self.net, dict(zip(self.names, inputs))
        ids, lengths = batch["ids"], batch["lengths"]
        parts = [net.embedding(ids)]  # (B, T, E)
        if net.bigrams is not None:
            parts.append(net.bigrams(batch["bigrams"]))  # (B, T, G)
        if net.uses_dictionary:
            parts.append(batch["dictionary"].to(parts[0].dtype))  # (B, T, 4)
        if net.chars is not None:
            parts.append(self.char_vectors(batch["chars"], batch["char_lengths"]))  # (B, T, F)
        if self.char_lm is not None:
            parts.append(net.char_lm.boundary_states(batch, self.char_lm.text_states))  # (B, T, 2H')
        states, _ = self.rnn(torch.cat(parts, dim=-1), lengths)  # (B, T, D*H)
        scores = net.emit(states)  # (B, T, K)
        if net.decoder == "softmax":
            scores = torch.log_softmax(scores, dim=-1)
        return scores * steps_mask(lengths, ids.size(1)).unsqueeze(-1).to(scores.dtype)  # zero at padding


class EnsembleTaggerGraph(nn.Module):
    """A tagger ensemble's members' :class:`TaggerGraph` as one: ``inputs -> emissions (N, B, T, K)``,
    the members' emissions stacked (the averaging of their marginals is decoding, outside the graph)."""

    def __init__(self, ensemble: nn.Module) -> None:
        super().__init__()
        self.graphs = nn.ModuleList([TaggerGraph(member) for member in ensemble.members])

    def forward(self, *inputs: Tensor) -> Tensor:
        return torch.stack([graph(*inputs) for graph in self.graphs])  # (N, B, T, K)


def _crf_tables(crf) -> dict:
    return {"start_transitions": crf.start_transitions.detach().cpu().tolist(),
            "transitions": crf.transitions.detach().cpu().tolist(),
            "end_transitions": crf.end_transitions.detach().cpu().tolist()}


def _ensemble_extra(ensemble) -> dict:
    """The sidecar's ``ensemble``: per member its decoder and CRF tables, the rule and how they combine."""
    if ensemble.rule == "scores":
        combine = ("mean over members of the emissions (a softmax member's are log-probabilities); then Viterbi with "
                   "the top-level tables (the members' mean tables) and allowed moves (lstmkit.export.viterbi.decode)")
    else:
        combine = ("log max(mean over members of p_k(y_t = j), floor): p_k by forward-backward for a crf member "
                   "(its tables, the allowed moves), exp(emissions) for a softmax member; then Viterbi with the "
                   "top-level (zero) tables and allowed moves (lstmkit.export.viterbi.decode)")
    return {"members": [{"decoder": member.decoder, **(_crf_tables(member.crf) if member.decoder == "crf" else {})}
                        for member in ensemble.members],
            "rule": ensemble.rule, "floor": FLOOR, "combine": combine}


def sidecar_extra(tagger) -> dict:
    """What the sidecar carries: tags, CRF tables, constraints and what :func:`graph_inputs` needs."""
    net = tagger.network_
    ensemble = isinstance(net, Ensemble)
    crf = net.crf
    constrained = not (crf.start_allowed.all() and crf.transitions_allowed.all() and crf.end_allowed.all())
    extra = {
        "tags": list(tagger.tags_),
        "scheme": tagger.scheme_,
        "model_scheme": tagger.model_scheme_,
        "decoder": "ensemble" if ensemble else net.decoder,
        **_crf_tables(crf),  # an ensemble's: the members' mean tables (rule scores), else zeros
        "allowed": {"start": crf.start_allowed.cpu().tolist(), "transitions": crf.transitions_allowed.cpu().tolist(),
                    "end": crf.end_allowed.cpu().tolist()} if constrained else None,
        "token_level": tagger.token_level_,
        "text_tokenizer": tagger._text_tokenizer(),
        "lowercase": bool(tagger.config_.data.lowercase),
        "vocab": list(tagger.vocab_.tokens),
    }
    from lstmkit.tasks.tagger.data import END, MAX_CHARS

    if tagger.bigram_vocab_ is not None:
        extra["bigram_vocab"], extra["bigram_end"] = list(tagger.bigram_vocab_.tokens), END
    if tagger.dictionary_ is not None:
        extra["dictionary"] = tagger.dictionary_.to_json()
    if tagger.char_vocab_ is not None:
        extra["char_vocab"], extra["max_chars"] = list(tagger.char_vocab_.tokens), MAX_CHARS
    if getattr(tagger, "char_lm_", None) is not None:
        extra["char_lm_vocab"], extra["char_lm_joiner"] = list(tagger.char_lm_.vocab.tokens), tagger._joiner()
    names = input_names(net)
    extra["inputs"] = {name: INPUT_DOCS[name] for name in names}
    if ensemble:
        extra["ensemble"] = _ensemble_extra(net)
        extra["outputs"] = {"emissions": "each member's per-token tag scores (members, batch, steps, tags) float32, "
                                         "zero at padded steps; decode with lstmkit.export.viterbi.decode (the "
                                         "members combined, then Viterbi: see ensemble.combine)"}
    else:
        extra["outputs"] = {"emissions": "per-token tag scores (batch, steps, tags) float32, zero at padded steps"
                                         + (" (log-probabilities)" if net.decoder == "softmax" else "")
                                         + "; decode with Viterbi (lstmkit.export.viterbi.decode)"}
    return extra


def graph_inputs(sidecar: dict, sentences: list) -> dict[str, np.ndarray]:
    """The graph's inputs for ``sentences``, from the sidecar alone (no model folder, no PyTorch model).

    Args:
        sidecar: the export's JSON sidecar (or :func:`sidecar_extra`'s dict).
        sentences: each a list of token strings, or a raw text (cut by the sidecar's
            ``text_tokenizer``, as ``predict`` cuts it).

    Returns:
        ``{input name: array}`` for every input the graph takes (see the module docstring).
    """
    tokens = []
    for n, sentence in enumerate(sentences):
        row = tokenize_with_offsets(sentence, sidecar["text_tokenizer"])[0] if isinstance(sentence, str) \
            else list(sentence)
        if not row:
            raise DataError(f"sentence {n + 1}: no tokens")
        tokens.append(row)
    looked_up = [[t.lower() for t in row] if sidecar["lowercase"] else row for row in tokens]
    vocab = Vocab(sidecar["vocab"])
    ids, lengths = pad_sequences([vocab.encode(row) for row in looked_up])
    feeds = {"ids": ids, "lengths": lengths}
    if "bigram_vocab" in sidecar:
        vocab, end = Vocab(sidecar["bigram_vocab"]), sidecar["bigram_end"]
        feeds["bigrams"] = pad_sequences([vocab.encode(f"{a} {b}" for a, b in zip(row, [*row[1:], end]))
                                          for row in looked_up])[0]
    if "dictionary" in sidecar:
        words = WordDictionary.from_json(sidecar["dictionary"], folds=1)
        codes = pad_sequences([words.codes(row) for row in tokens], empty_id=0)[0]  # (B, T) packed bits
        feeds["dictionary"] = codes.unsqueeze(-1).bitwise_and(BMES_BITS).ne(0).float()  # (B, T, 4)
    if "char_vocab" in sidecar:
        vocab, cut = Vocab(sidecar["char_vocab"]), int(sidecar["max_chars"])
        words = [[vocab.encode(list(t[:cut])) for t in row] for row in tokens]
        longest = max(len(w) for row in words for w in row)
        chars = torch.zeros(len(words), ids.size(1), longest, dtype=torch.long)
        char_lengths = torch.zeros(len(words), ids.size(1), dtype=torch.long)
        for b, row in enumerate(words):
            for t, word in enumerate(row):
                chars[b, t, : len(word)] = torch.tensor(word, dtype=torch.long)
                char_lengths[b, t] = len(word)
        feeds["chars"], feeds["char_lengths"] = chars, char_lengths
    if "char_lm_vocab" in sidecar:
        vocab, joiner = Vocab(sidecar["char_lm_vocab"]), sidecar["char_lm_joiner"]
        feeds.update(collate_lm([lm_inputs(row, joiner, vocab) for row in tokens]))
    return {name: value.numpy() for name, value in feeds.items()}


def export_spec(tagger) -> ExportSpec:
    """The :class:`ExportSpec` of a fitted :class:`~lstmkit.tasks.tagger.Tagger`."""
    tagger._check_fitted()
    net = tagger.network_.cpu().eval()
    extra = sidecar_extra(tagger)
    known = list(tagger.vocab_.tokens[2:]) or [Vocab.UNK]
    examples = [[known[i % len(known)] for i in range(n)] + ["<never-seen>"] for n in (5, 2, 0)]  # 6, 3, 1 tokens
    feeds = graph_inputs(extra, examples)
    names = input_names(net)
    ensemble = isinstance(net, Ensemble)
    return ExportSpec(
        module=EnsembleTaggerGraph(net) if ensemble else TaggerGraph(net),
        example_inputs=tuple(torch.from_numpy(feeds[name]) for name in names),
        input_names=names,
        output_names=["emissions"],
        dynamic_axes={**{name: INPUT_AXES[name] for name in names},
                      "emissions": {1: "batch", 2: "steps"} if ensemble else {0: "batch", 1: "steps"}},
        extra=extra,
    )
