"""The vocabulary: token strings <-> integer ids.

Id 0 is always the padding token ``<pad>`` and id 1 the unknown token ``<unk>``; then
come any ``extra_tokens`` (in the order given), then the corpus tokens by frequency.
A model folder stores the vocabulary as ``vocab.json``::

    {"format_version": 1, "tokens": ["<pad>", "<unk>", "的", "了", ...]}

so that the id of a token is its position in ``tokens``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from lstmkit.errors import ConfigError, ModelFolderError

__all__ = ["Vocab"]

_FORMAT_VERSION = 1


class Vocab:
    """A fixed list of tokens; a token's id is its index.

    >>> v = Vocab.build([["a", "b", "a"], ["c", "a", "b"]])
    >>> v.tokens
    ('<pad>', '<unk>', 'a', 'b', 'c')
    >>> v.encode(["a", "z"]), v.decode([4, 1])
    ([2, 1], ['c', '<unk>'])
    """

    PAD = "<pad>"
    UNK = "<unk>"
    PAD_ID = 0
    UNK_ID = 1

    def __init__(self, tokens: Sequence[str]):
        """Wrap a token list starting ``<pad>``, ``<unk>``; :meth:`build` counts a corpus."""
        tokens = list(tokens)
        if tokens[:2] != [self.PAD, self.UNK]:
            raise ValueError(
                f"a vocabulary must start with {self.PAD!r}, {self.UNK!r}; found {tokens[:2]}"
            )
        self._itos = tokens
        self._stoi = {token: i for i, token in enumerate(tokens)}
        if len(self._stoi) != len(tokens):
            duplicate = next(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"token {duplicate!r} appears twice in the vocabulary")

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        extra_tokens: Sequence[str] = (),
    ) -> Vocab:
        """Count the tokens of a corpus and keep the frequent ones.

        Args:
            token_lists: the tokenised texts.
            min_freq: keep tokens seen at least this many times.
            max_size: the largest ``len(vocab)``, counting ``<pad>``, ``<unk>`` and the
                extra tokens; the most frequent tokens are kept.
            extra_tokens: special tokens placed right after ``<pad>``, ``<unk>`` (duplicates
                ignored).

        Tokens are ordered by frequency, most frequent first; ties keep the order in
        which the tokens first appear in the corpus, so the result is deterministic.
        """
        if min_freq < 1:
            raise ConfigError(f"min_freq must be at least 1, got {min_freq}")
        tokens = list(dict.fromkeys([cls.PAD, cls.UNK, *extra_tokens]))
        if max_size is not None and max_size < len(tokens):
            raise ConfigError(
                f"max_size must be at least {len(tokens)} (the special tokens), got {max_size}"
            )
        counts: Counter[str] = Counter()
        for token_list in token_lists:
            counts.update(token_list)  # Counter keeps first-appearance order
        specials = set(tokens)
        # sorted() is stable: equal counts stay in first-appearance order.
        ranked = sorted(
            (t for t, n in counts.items() if n >= min_freq and t not in specials),
            key=lambda t: -counts[t],
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(tokens)]
        return cls(tokens + ranked)

    # ------------------------------------------------------------------ lookups

    @property
    def tokens(self) -> tuple[str, ...]:
        """All tokens, in id order."""
        return tuple(self._itos)

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._itos == other._itos

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token strings -> ids; a token not in the vocabulary becomes ``UNK_ID`` (1)."""
        stoi, unk = self._stoi, self.UNK_ID
        return [stoi.get(token, unk) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> token strings (raises IndexError for an id outside ``0 .. len-1``)."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self._itos):
                raise IndexError(f"token id {i} is outside the vocabulary (size {len(self)})")
            out.append(self._itos[i])
        return out

    # ------------------------------------------------------------------ saving

    def to_json(self) -> dict:
        """The plain-data form stored in a model folder's ``vocab.json``."""
        return {"format_version": _FORMAT_VERSION, "tokens": list(self._itos)}

    @classmethod
    def from_json(cls, data: dict, source: str | Path = "vocab.json") -> Vocab:
        """Rebuild from :meth:`to_json` output; ``source`` names the file in error messages."""
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise ModelFolderError(f"{source}: expected an object with a 'tokens' list")
        version = data.get("format_version", _FORMAT_VERSION)
        if version != _FORMAT_VERSION:
            raise ModelFolderError(f"{source}: unsupported vocabulary format_version {version!r}")
        tokens = data["tokens"]
        if not all(isinstance(t, str) for t in tokens):
            raise ModelFolderError(f"{source}: every token must be a string")
        try:
            return cls(tokens)
        except ValueError as err:
            raise ModelFolderError(f"{source}: {err}") from None

    def save(self, path: str | Path) -> None:
        """Write ``vocab.json`` (UTF-8, readable: one token per line)."""
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=1)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelFolderError(f"{path}: file not found") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelFolderError(f"{path}: not a valid vocabulary file ({err})") from None
        return cls.from_json(data, source=path)
