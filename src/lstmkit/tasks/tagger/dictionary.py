"""Word-boundary features from a dictionary (SoftLexicon-style B/M/E/S word matches).

For a sentence of tokens ``c_0 .. c_{n-1}`` (characters, for Chinese) and a set of words ``D``,
every dictionary word found in the sentence marks its tokens (Ma et al., 2020, "SoftLexicon",
reduced to the four sets' indicators)::

    f[i, B] = 1  if some w = c_i .. c_{i+L-1} in D with 2 <= L <= max_word   (a word begins at i)
    f[i, M] = 1  if some such w covers i strictly inside                    (i is inside a word)
    f[i, E] = 1  if some w = c_{i-L+1} .. c_i in D with 2 <= L <= max_word   (a word ends at i)
    f[i, S] = 1  if c_i in D                                                (a one-token word)

so ``f`` is ``(n, 4)``, fed to the LSTM beside the token vectors. All matches count, not one
segmentation: the network learns which to trust.

Cross-fitting. A dictionary built from the training data knows every word of every training
sentence, so on training data the features are never missing a word, while on new text the
unseen words (names, most entities) are. Left alone, the network learns to trust the
dictionary more than it deserves. So each source sentence falls in one of ``K`` folds (by a
hash of its text) and the dictionary remembers which folds each word came from; a training
sentence of fold ``k`` is featurised with only the words also seen outside fold ``k`` --
it sees its own rare words as new text would. Validation, test and new text use every word.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from lstmkit.errors import ConfigError, DataError

__all__ = ["WordDictionary", "fold_of"]

B, M, E, S = range(4)
BMES_BITS = torch.tensor([1 << B, 1 << M, 1 << E, 1 << S])


def fold_of(tokens: Sequence[str], folds: int) -> int:
    """The cross-fitting fold of a sentence: CRC-32 of its text, modulo ``folds`` (stable across runs)."""
    return zlib.crc32("".join(tokens).encode("utf-8")) % folds


class WordDictionary:
    """A set of words, each with the bit mask of the folds it was seen in (see the module docstring).

    Args:
        words: ``{word: fold bit mask}``; a mask of all ones (``-1``) means "seen everywhere"
            (a word list from a file, or the dictionary restored from a model folder).
        max_word: the longest word matched, in tokens.
        joiner: how tokens join into a word (``""`` for characters, ``" "`` for words).
    """

    def __init__(self, words: dict[str, int], max_word: int, folds: int, joiner: str = ""):
        self.words = words
        self.max_word = max_word
        self.folds = folds
        self.joiner = joiner

    @classmethod
    def from_segmented(cls, sentences: Iterable[Sequence[str]], max_word: int, folds: int,
                       joiner: str = "") -> WordDictionary:
        """From segmented sentences (lists of words); each word remembers its sentences' folds."""
        words: dict[str, int] = {}
        for sentence in sentences:
            bit = 1 << fold_of(sentence, folds)
            for word in sentence:
                words[word] = words.get(word, 0) | bit
        return cls(words, max_word, folds, joiner)

    @classmethod
    def from_file(cls, path: str | Path, max_word: int, folds: int, joiner: str = "") -> WordDictionary:
        """One word per line (UTF-8; blank lines skipped); no fold information (no cross-fitting)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"model.dictionary: {path}: file not found")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise DataError("not UTF-8 text (save the dictionary as UTF-8)", path) from None
        words = {line.strip(): -1 for line in lines if line.strip()}
        if not words:
            raise DataError("the dictionary holds no words", path)
        return cls(words, max_word, folds, joiner)

    def __len__(self) -> int:
        return len(self.words)

    def features(self, tokens: Sequence[str], held_out_fold: int | None = None) -> torch.Tensor:
        """``(n, 4)`` float B/M/E/S indicators of ``tokens``; ``held_out_fold``: leave out the
        words seen only in that fold (a training sentence's own fold)."""
        return torch.tensor(self.codes(tokens, held_out_fold), dtype=torch.long).unsqueeze(1).bitwise_and(
            BMES_BITS).ne(0).float().reshape(len(tokens), 4)

    def codes(self, tokens: Sequence[str], held_out_fold: int | None = None) -> list[int]:
        """The features of :meth:`features` packed per token: bit ``k`` is feature ``k`` (B, M, E, S)."""
        n = len(tokens)
        codes = [0] * n
        words, prefixes, join = self.words, self._prefixes(), self.joiner
        keep = -1 if held_out_fold is None else ~(1 << held_out_fold)
        for i in range(n):
            mask = words.get(tokens[i])
            if mask is not None and mask & keep:
                codes[i] |= 1 << S
            word = tokens[i]
            for j in range(i + 1, min(i + self.max_word, n)):
                word = word + join + tokens[j]
                if word not in prefixes:  # no longer word starts this way: stop early
                    break
                mask = words.get(word)
                if mask is not None and mask & keep:
                    codes[i] |= 1 << B
                    codes[j] |= 1 << E
                    for k in range(i + 1, j):
                        codes[k] |= 1 << M
        return codes

    def _prefixes(self) -> set[str]:
        """Every proper prefix of every word (in whole tokens) and the words themselves."""
        if getattr(self, "_prefix_set", None) is None:
            prefixes = set(self.words)
            if self.joiner:
                for word in self.words:
                    parts = word.split(self.joiner)
                    prefixes.update(self.joiner.join(parts[:k]) for k in range(1, len(parts)))
            else:
                for word in self.words:
                    prefixes.update(word[:k] for k in range(1, len(word)))
            self._prefix_set = prefixes
        return self._prefix_set

    def to_json(self) -> dict:
        """The words (sorted) for the model folder; inference needs no folds."""
        return {"words": sorted(self.words), "max_word": self.max_word, "joiner": self.joiner}

    @classmethod
    def from_json(cls, data: dict, folds: int) -> WordDictionary:
        return cls({w: -1 for w in data["words"]}, int(data["max_word"]), folds, data.get("joiner", ""))
