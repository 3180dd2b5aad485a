"""Finding a font that has the glyphs of the labels a plot shows (Chinese ones, say).

matplotlib draws text in DejaVu Sans, which has no Chinese glyphs: a label such as 正面 comes
out as two empty boxes ("tofu"). matplotlib can fall back glyph by glyph along a list of
families (``font.family = ["DejaVu Sans", "WenQuanYi Zen Hei"]``), but it has to be told which
installed font has the glyphs. :func:`choose_fonts` finds one by asking each font's character
map (FreeType's, through ``matplotlib.ft2font.FT2Font``) whether it holds every character.

Pitfall: matplotlib lists the installed fonts once and caches the list
(``~/.cache/matplotlib/fontlist-*.json``), so a font installed afterwards
(``apt-get install fonts-wqy-zenhei``) stays invisible to it. When no listed font has the
glyphs, the font files of the system (``font_manager.findSystemFonts()``) that the list lacks
are added to it, once per process.

When no installed font has them, :func:`choose_fonts` says which characters are missing, and
the plot shows label numbers instead (see ``lstmkit.plots``). On Debian or Ubuntu
``apt-get install -y fonts-noto-cjk`` (or the smaller ``fonts-wqy-zenhei``) provides them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

BASE_FAMILY = "DejaVu Sans"
"""matplotlib's own font (shipped with it, so always there): Latin, Greek, Cyrillic, symbols."""

PREFERRED = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC",
             "Noto Sans CJK JP", "Noto Sans CJK KR", "Arial Unicode MS"]
"""Fonts tried first, in this order, when DejaVu Sans lacks glyphs: sans-serif CJK fonts that
look right beside DejaVu Sans. Any other installed font that has the glyphs is tried after."""

NOT_GLYPHS = ("Last Resort",)
"""Families that map every character to a placeholder picture (matplotlib ships "Last Resort
High-Efficiency" as its final fallback): they "have" every glyph, but draw boxes with the code point."""

INSTALL_HINT = "install a CJK font, e.g. `apt-get install fonts-noto-cjk` (Debian/Ubuntu)"


@dataclass(frozen=True)
class FontChoice:
    """What to draw some texts with.

    ``family``: the ``font.family`` list for matplotlib (DejaVu Sans, then the font that has
    the glyphs DejaVu Sans lacks, if one was needed and found). ``missing``: the characters
    that no font of ``family`` has, sorted; empty when every character can be drawn.
    """

    family: tuple[str, ...]
    missing: str = ""


@functools.cache
def charmap(path: str, face_index: int = 0) -> frozenset[int]:
    """The code points a font file's face has glyphs for (glyph index 0 is the missing box)."""
    return frozenset(code for code, glyph in FT2Font(path, face_index=face_index).get_charmap().items()
                     if glyph)


def _has(entry: font_manager.FontEntry, code: int) -> bool:
    try:
        return code in charmap(entry.fname, getattr(entry, "index", 0))
    except (OSError, RuntimeError, ValueError):  # an unreadable font file
        return False


def _drawable(text: str) -> set[str]:
    """The characters of ``text`` that need a glyph (not spaces or control characters)."""
    return {ch for ch in text if ch.isprintable() and not ch.isspace()}


def _candidates() -> list[font_manager.FontEntry]:
    """matplotlib's font list, the preferred families first (in :data:`PREFERRED` order)."""
    rank = {name: i for i, name in enumerate(PREFERRED)}
    entries = [e for e in font_manager.fontManager.ttflist
               if e.style == "normal" and not e.name.startswith(NOT_GLYPHS)]
    return sorted(entries, key=lambda e: (rank.get(e.name, len(rank)), e.name))


@functools.cache
def _add_unlisted_system_fonts() -> int:
    """Add the system's font files that matplotlib's cached list lacks; returns how many were added."""
    listed = {e.fname for e in font_manager.fontManager.ttflist}
    added = 0
    for path in font_manager.findSystemFonts():
        if path not in listed:
            try:
                font_manager.fontManager.addfont(path)
                added += 1
            except (OSError, RuntimeError, ValueError):
                continue
    return added


def _best_cover(needed: set[str]) -> tuple[str | None, set[str]]:
    """The family that has the most of ``needed`` (all, if one does), and what it lacks."""
    best, best_missing = None, needed
    for entry in _candidates():
        if entry.name == BASE_FAMILY:
            continue
        missing = {ch for ch in needed if not _has(entry, ord(ch))}
        if len(missing) < len(best_missing):
            best, best_missing = entry.name, missing
            if not missing:
                break
    return best, best_missing


def choose_fonts(texts: Iterable[str]) -> FontChoice:
    """The font family list that draws every character of ``texts``, or comes closest.

    >>> choose_fonts(["neg", "pos"]).family
    ('DejaVu Sans',)
    """
    return _choose(frozenset(ch for text in texts for ch in _drawable(str(text))))


@functools.cache
def _choose(chars: frozenset[str]) -> FontChoice:
    base = font_manager.findfont(BASE_FAMILY, fallback_to_default=True)
    needed = {ch for ch in chars if ord(ch) not in charmap(base)}
    if not needed:
        return FontChoice((BASE_FAMILY,))
    family, missing = _best_cover(needed)
    if missing and _add_unlisted_system_fonts():
        family, missing = _best_cover(needed)
    names = (BASE_FAMILY,) + ((family,) if family else ())
    return FontChoice(names, "".join(sorted(missing)))


def clear_cache() -> None:
    """Forget earlier choices (after installing or adding fonts in this process)."""
    _choose.cache_clear()
    _add_unlisted_system_fonts.cache_clear()
