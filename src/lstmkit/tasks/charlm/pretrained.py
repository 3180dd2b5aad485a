"""A pretrained character language model inside another task's model (``model.char_lm`` of the
tagger and the text classifier): Flair's contextual string embeddings.

A token gets the forward language model's state after its last character and the backward
one's after (reading backwards) its first (:mod:`lstmkit.tasks.charlm.features`), ``2 H_lm``
numbers concatenated to its other features before the task's BiLSTM. The language model reads
the sentence as text: the tokens joined without spaces for character tokens, with one space
between words otherwise.

:class:`PretrainedCharLM` is what the task keeps of the language model: its character
vocabulary, its network settings and the corpus it was trained on (``char_lm.json`` in the
task's model folder), while its weights are the task network's ``char_lm.*`` tensors, so the
model folder needs nothing outside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from lstmkit.config import config_from_dict, config_to_dict
from lstmkit.data.vocab import Vocab
from lstmkit.tasks.charlm.bundled import load_char_lm
from lstmkit.tasks.charlm.config import CharLMModelConfig
from lstmkit.tasks.charlm.features import lm_inputs
from lstmkit.tasks.charlm.network import CharLMNet


class PretrainedCharLM:
    """The language model's vocabulary and settings, and its weights while a tagger is being built."""

    def __init__(self, vocab: Vocab, model: CharLMModelConfig, corpus: list, source: str, state_dict=None):
        self.vocab, self.model, self.corpus, self.source = vocab, model, corpus, source
        self.state_dict = state_dict

    @classmethod
    def from_spec(cls, spec: str) -> PretrainedCharLM:
        """The language model ``model.char_lm`` names (a folder or a bundled name), weights included."""
        lm = load_char_lm(spec)
        return cls(lm.vocab_, lm.config_.model, lm.corpus_, spec, lm.network_.state_dict())

    def network(self) -> CharLMNet:
        """A :class:`CharLMNet` of these settings (with the pretrained weights, when known)."""
        net = CharLMNet(len(self.vocab), self.model)
        if self.state_dict is not None:
            net.load_state_dict(self.state_dict)
        return net

    @property
    def output_size(self) -> int:
        return 2 * self.model.hidden_size

    def encode(self, tokens: Sequence[str], joiner: str) -> dict[str, list[int]]:
        """One sentence's language-model inputs (:func:`lstmkit.tasks.charlm.features.lm_inputs`)."""
        return lm_inputs(tokens, joiner, self.vocab)

    def to_json(self) -> dict:
        return {"source": self.source, "corpus": self.corpus, "model": config_to_dict(self.model),
                "vocab": self.vocab.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> PretrainedCharLM:
        model = config_from_dict(CharLMModelConfig, data["model"], source="char_lm.json")
        return cls(Vocab.from_json(data["vocab"], "char_lm.json"), model, data.get("corpus", []), data["source"])
