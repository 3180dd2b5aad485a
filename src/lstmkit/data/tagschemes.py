"""Tag schemes for sequence tagging: BIO, BIOES and BMES, and the spans their tags mark.

A tag is ``PREFIX-TYPE`` (``B-PER``) or a bare prefix (``O``; ``B``, ``I``, ... for chunks
without a type). The prefixes:

=======  ===========================================================================
``B``    Begin: first token of an entity (of a word, in BMES)
``I``    Inside: a later token of an entity (BIO, BIOES)
``E``    End: last token of an entity of two or more tokens (BIOES; BMES: of a word)
``S``    Single: an entity (a word, in BMES) of one token (BIOES, BMES)
``M``    Middle: a token inside a word, neither first nor last (BMES only)
``O``    Outside: no entity (BIO, BIOES; never with a type)
=======  ===========================================================================

Schemes
-------
``BIO`` (IOB2)
    Tags ``O``, ``B-X``, ``I-X``: ``B-PER I-PER O B-LOC``.
``BIOES`` (also called IOBES)
    ``BIO`` plus ``E-X`` and ``S-X``: ``B-PER E-PER O S-LOC``.
``BMES``
    Chinese word segmentation, one tag per character, no types and no ``O``:
    ``上海 / 是 / 中国`` -> ``B E S B E``.

Spans of ill-formed sequences
-----------------------------
A tagger can predict sequences that break the scheme (``O I-PER``, ``B-LOC I-PER``,
``O E-PER``). :func:`entities` reads them exactly as seqeval's ``get_entities`` does in its
default (non-strict) mode, so lstmkit's entity-level metrics equal seqeval's. Walking the tags
left to right, with the previous tag ``prev`` (``O`` before the first token) and the current
tag ``cur``:

- the open entity **ends** before ``cur`` when ``prev`` is ``E`` or ``S``; or ``prev`` is
  ``B``/``I`` and ``cur`` is ``B``, ``S`` or ``O``; or ``prev`` is not ``O`` and its type
  differs from ``cur``'s;
- an entity **starts** at ``cur`` when ``cur`` is ``B`` or ``S``; or ``cur`` is ``I``/``E``
  and ``prev`` is ``E``, ``S`` or ``O``; or ``cur`` is not ``O`` and its type differs from
  ``prev``'s.

So ``O I-PER I-PER`` is one PER, ``B-LOC I-PER`` is a LOC then a PER, ``B-PER I-PER``
followed by ``B-PER`` is two PERs. Chunks without a type get the type ``"_"``, as in seqeval.
BMES is read by the same rules with ``M`` for ``I``: every character then belongs to exactly
one word, whatever the tags (``B B`` is two words, ``E`` at the start is a word by itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lstmkit.errors import DataError
from lstmkit.nn.crf import SCHEMES

__all__ = [
    "SCHEMES",
    "tag_problem",
    "looks_like_scheme_tag",
    "detect_scheme",
    "entities",
    "bio_to_bioes",
    "bioes_to_bio",
    "as_read",
    "words_from_bmes",
    "bmes_tags",
]

#: Entity type given to chunks whose tags carry no type (``B``, ``I``), as seqeval does.
UNTYPED = "_"
#: Entity type of the words :func:`entities` finds in BMES tags.
WORD = "word"

_PREFIXES = "BIESMO"
_BMES = frozenset("BMES")


def tag_problem(tag: str) -> str | None:
    """What is wrong with one tag, or None for a tag of BIO, BIOES or BMES.

    Good: ``O``; a bare ``B``, ``I``, ``E``, ``S`` or ``M``; ``B-X``, ``I-X``, ``E-X``,
    ``S-X`` with a non-empty type ``X`` (which may itself hold ``-``).
    """
    if not isinstance(tag, str) or not tag:
        return f"empty tag {tag!r}"
    prefix, hyphen, entity_type = tag.partition("-")
    if prefix not in _PREFIXES or len(prefix) != 1:
        return f"tag {tag!r} has an unknown prefix (use O, B-, I-, E-, S-, or B/M/E/S)"
    if not hyphen:
        return None
    if prefix == "O":
        return f"tag {tag!r}: O takes no type"
    if prefix == "M":
        return f"tag {tag!r}: M (BMES word segmentation) takes no type"
    if not entity_type:
        return f"tag {tag!r} has an empty type (write e.g. {prefix}-PER)"
    return None


def _where(sequences, index: int, position: int) -> tuple[object, int | None, str]:
    """``(path, line, fallback text)`` naming token ``position`` of sequence ``index``."""
    if hasattr(sequences, "where"):
        path, line = sequences.where(index)
        if path is not None:
            return path, (line + position if line is not None else None), ""
    return None, None, f"sentence {index + 1}, token {position + 1}: "


def looks_like_scheme_tag(tag: str) -> bool:
    """Whether ``tag`` is written like a tag of a scheme (``O``, or one letter and a hyphen:
    ``B-PER``, ``I-``, ``X-PER``), so it must be a correct one; plain labels such as POS tags
    (``NN``, ``n``, ``-LRB-``) are not."""
    return tag == "O" or (len(tag) >= 2 and tag[1] == "-" and tag[0].isalpha())


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str | None:
    """The scheme of a tagged data set: ``"BIO"``, ``"BIOES"``, ``"BMES"``, or None.

    - ``"BMES"`` when every tag is exactly ``B``, ``M``, ``E`` or ``S`` (no types);
    - else, when every tag is a BIO/BIOES tag (``O``, ``B-X``, ``I-X``, ``E-X``, ``S-X``, or
      bare ``B``, ``I``, ``E``, ``S``): ``"BIOES"`` if any starts with ``E`` or ``S``, else
      ``"BIO"``;
    - else None, *plain labels* (part-of-speech tags: ``NN``, ``n``, ``M``), when no tag is
      written like a scheme tag (``O`` or a letter and a hyphen, see
      :func:`looks_like_scheme_tag`): each token is its own class.

    Args:
        tag_sequences: the tags of each sentence. When it is
            :class:`lstmkit.data.formats.conll.Sentences` (from :func:`~lstmkit.data.formats.conll.read_conll`),
            errors name the file and line of the offending tag.

    Raises:
        DataError: a mix that fits no scheme: a bad scheme-like tag (``X-PER``, ``I-``);
            plain labels next to ``O`` or prefixed tags (IO tags such as ``PER``); ``M`` next
            to tags of other schemes; typed chunk tags (``B-PER``) with untyped ones (``B``);
            no tags at all.
    """
    first_seen: dict[str, tuple[int, int]] = {}  # tag -> (sentence, token) of its first use
    for index, tags in enumerate(tag_sequences):
        for position, tag in enumerate(tags):
            if tag not in first_seen:
                first_seen[tag] = (index, position)
    if not first_seen:
        raise DataError("no tags to detect the tag scheme from")

    def fail(tag: str, message: str):
        path, line, at = _where(tag_sequences, *first_seen[tag])
        raise DataError(at + message, path, line)

    in_order = sorted(first_seen, key=first_seen.__getitem__)
    if set(in_order) <= _BMES:
        return "BMES"
    scheme_like = [t for t in in_order if looks_like_scheme_tag(t)]
    if not scheme_like:
        return None
    for tag in in_order:
        problem = tag_problem(tag)
        if problem:
            fail(tag, f"{problem}; other tags are like {scheme_like[0]!r}")
        if tag == "M":
            fail(tag, f"tag 'M' (BMES word segmentation) mixed with {scheme_like[0]!r}: BMES uses only B, M, E, S")
    typed = [t for t in in_order if "-" in t]
    untyped = [t for t in in_order if "-" not in t and t != "O"]
    if typed and untyped:
        late = max(typed[0], untyped[0], key=first_seen.__getitem__)
        fail(late, f"tags with a type ({typed[0]!r}) mixed with tags without one ({untyped[0]!r})")
    return "BIOES" if any(t[0] in "ES" for t in in_order) else "BIO"


def _parts(tags: Sequence[str], scheme: str) -> list[tuple[str, str]]:
    """``(prefix, type)`` per tag (``M`` read as ``I``), checking each belongs to ``scheme``."""
    allowed = {"BIO": "BIO", "BIOES": "BIOES", "BMES": "BMES"}[scheme]
    parts = []
    for position, tag in enumerate(tags):
        problem = tag_problem(tag)
        prefix, _, entity_type = tag.partition("-") if not problem else ("", "", "")
        if problem or prefix not in allowed or (scheme == "BMES" and entity_type):
            raise ValueError(f"token {position + 1}: tag {tag!r} is not a {scheme} tag")
        parts.append(("I" if prefix == "M" else prefix, entity_type))
    return parts


def _check_scheme(scheme: str) -> str:
    name = str(scheme).upper()
    if name not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    return name


def _chunks(parts: list[tuple[str, str]]) -> list[tuple[str, int, int]]:
    """seqeval's non-strict chunking (rules in the module docstring) over ``(prefix, type)``.

    Returns ``(type, start, end)`` with ``end`` exclusive; ``type`` is ``""`` when untyped.
    """
    spans = []
    prev, prev_type, begin = "O", "", 0
    for i, (cur, cur_type) in enumerate([*parts, ("O", "")]):
        ends = (
            prev in "ES"
            or (prev in "BI" and cur in "BSO")
            or (prev != "O" and prev_type != cur_type)
        )
        starts = (
            cur in "BS"
            or (cur in "IE" and prev in "ESO")
            or (cur != "O" and prev_type != cur_type)
        )
        if ends:
            spans.append((prev_type, begin, i))
        if starts:
            begin = i
        prev, prev_type = cur, cur_type
    return spans


def entities(tags: Sequence[str], scheme: str | None) -> list[tuple[str, int, int]]:
    """The entities (words, for BMES) that one sentence's tags mark.

    Args:
        tags: the ``n`` tags of one sentence.
        scheme: ``"BIO"``, ``"BIOES"`` or ``"BMES"`` (case-insensitive), or None for plain
            labels (see :func:`detect_scheme`): then every token is a span of its own tag.

    Returns:
        ``[(type, start, end)]`` in order, ``end`` exclusive (``tags[start:end]`` is the
        entity). For BIO and BIOES this is seqeval's ``get_entities(tags)`` (default mode) with
        ``end + 1``; chunks without a type have type ``"_"``. For BMES every span has type
        ``"word"`` and the spans cover ``0..n`` without gaps.

    Raises:
        ValueError: an unknown scheme, or a tag that does not belong to it.

    >>> entities(["B-PER", "I-PER", "O", "I-LOC"], "BIO")
    [('PER', 0, 2), ('LOC', 3, 4)]
    """
    if scheme is None:
        return [(tag, i, i + 1) for i, tag in enumerate(tags)]
    name = _check_scheme(scheme)
    spans = _chunks(_parts(tags, name))
    if name == "BMES":
        return [(WORD, start, end) for _, start, end in spans]
    return [(entity_type or UNTYPED, start, end) for entity_type, start, end in spans]


def _retag(n: int, spans: list[tuple[str, int, int]], bioes: bool) -> list[str]:
    """``n`` tags marking ``spans`` (type ``""`` = untyped), in BIOES or BIO."""
    tags = ["O"] * n
    for entity_type, start, end in spans:
        suffix = f"-{entity_type}" if entity_type else ""
        if bioes and end - start == 1:
            tags[start] = "S" + suffix
            continue
        tags[start] = "B" + suffix
        for i in range(start + 1, end):
            tags[i] = "I" + suffix
        if bioes:
            tags[end - 1] = "E" + suffix
    return tags


def bio_to_bioes(tags: Sequence[str]) -> list[str]:
    """BIO tags -> BIOES tags marking the same entities (as :func:`entities` reads them).

    ``B-X I-X I-X`` -> ``B-X I-X E-X``; ``B-X`` alone -> ``S-X``. Ill-formed input is read
    by seqeval's rules first: ``O I-X`` -> ``O S-X``.
    """
    return _retag(len(tags), _chunks(_parts(tags, "BIO")), bioes=True)


def bioes_to_bio(tags: Sequence[str]) -> list[str]:
    """BIOES tags -> BIO tags marking the same entities: ``E-X`` -> ``I-X``, ``S-X`` -> ``B-X``
    (ill-formed input read by seqeval's rules first)."""
    return _retag(len(tags), _chunks(_parts(tags, "BIOES")), bioes=False)


def as_read(tags: Sequence[str], scheme: str) -> list[str]:
    """The legal tags of ``scheme`` marking the spans seqeval and conlleval read in ``tags``.

    Legal tags come back unchanged; an illegal move is replaced by what it is read as:
    ``O I-LOC`` -> ``O B-LOC`` and ``B-PER I-LOC`` -> ``B-PER B-LOC`` (an ``I-`` after ``O`` or
    after another type starts a new entity); in BIOES an entity left open is closed
    (``B-X O`` -> ``S-X O``); in BMES ``B B`` -> ``S S`` (every character in one word).

    >>> as_read(["B-PER", "I-LOC", "O", "I-LOC"], "BIO")
    ['B-PER', 'B-LOC', 'O', 'B-LOC']
    """
    name = _check_scheme(scheme)
    spans = _chunks(_parts(tags, name))
    if name == "BMES":
        return bmes_tags(["x" * (end - start) for _, start, end in spans])
    return _retag(len(tags), spans, bioes=name == "BIOES")


def words_from_bmes(chars: Sequence[str], tags: Sequence[str]) -> list[str]:
    """Join characters into words by their BMES tags: ``"上海是", B E S`` -> ``["上海", "是"]``.

    Ill-formed tags are read by the rules of the module docstring (``B B`` is two words), so
    ``"".join(words) == "".join(chars)`` always holds.

    Raises:
        ValueError: ``chars`` and ``tags`` differ in length, or a tag is not B, M, E or S.
    """
    if len(chars) != len(tags):
        raise ValueError(f"{len(chars)} characters but {len(tags)} tags")
    return ["".join(chars[start:end]) for _, start, end in entities(tags, "BMES")]


def bmes_tags(words: Iterable[str]) -> list[str]:
    """The BMES tag of every character of ``words``: ``["上海", "是"]`` -> ``B E S``.

    A word of one character is ``S``; a longer one ``B``, ``M`` for each middle character,
    then ``E``.

    Raises:
        ValueError: an empty word.
    """
    tags = []
    for index, word in enumerate(words):
        if not word:
            raise ValueError(f"word {index + 1} is empty")
        tags.extend(["S"] if len(word) == 1 else ["B", *["M"] * (len(word) - 2), "E"])
    return tags
