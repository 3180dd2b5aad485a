"""Raw text files for a language model: one document or sentence per line.

:func:`read_texts` gives a :class:`Texts` (a ``list`` of the non-blank lines) that remembers each
line's file and number, and names its files with their SHA-256 (what a language model's
``config.json`` records as its corpus).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lstmkit.data.formats.tables import decode_text
from lstmkit.errors import DataError


class Texts(list):
    """Texts (strings) that remember where each came from (``where(i) -> (path, line)``) and the
    files they were read from (``files``: ``[{"path", "sha256", "lines"}]``)."""

    def __init__(self, texts=(), origins=(), files=()):
        super().__init__(texts)
        self.origins: list[tuple[Path | None, int | None]] = list(origins)
        self.files: list[dict] = list(files)

    def where(self, index: int) -> tuple[Path | None, int | None]:
        return self.origins[index] if index < len(self.origins) else (None, None)

    def __add__(self, other):
        if not isinstance(other, Texts):
            return list(self) + list(other)
        return Texts([*self, *other], [*self.origins, *other.origins], [*self.files, *other.files])


def read_texts(path: str | Path) -> Texts:
    """The non-blank lines of a UTF-8 text file (a trailing ``\\r`` dropped), with their line numbers.

    Raises:
        DataError: naming the file (and the line of any byte that is not UTF-8) for a missing,
            unreadable or empty file.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path)
    if path.is_dir():
        raise DataError("is a folder, expected a text file (one text per line)", path)
    text = decode_text(path)
    texts = Texts()
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            texts.append(line)
            texts.origins.append((path, number))
    if not texts:
        raise DataError("no text found (expected one text per line)", path)
    texts.files.append({"path": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                        "lines": len(texts)})
    return texts
