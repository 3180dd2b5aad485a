"""Which file the data being scored came from, for the messages of errors and warnings.

``evaluate(X, y)`` keeps scikit-learn's signature, so it takes no file name; a caller that read the
data from a file names it around the call, and the estimator's messages name it::

    with data_named("test.conll"):
        metrics = tagger.evaluate(X, y)   # "test.conll: its tags are BIO, the model's BIOES ..."

Data read by lstmkit's readers mostly carries its own file and lines (``Labels``, ``Sentences``,
a forecaster's contexts); the name here covers what does not: an empty file, a whole-file problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

_SOURCE: ContextVar[str | Path | None] = ContextVar("lstmkit_data_source", default=None)


@contextmanager
def data_named(source: str | Path | None) -> Iterator[None]:
    """For the time of the block, the data being scored came from ``source`` (a file name)."""
    token = _SOURCE.set(source)
    try:
        yield
    finally:
        _SOURCE.reset(token)


def data_name() -> str | Path | None:
    """The file named by the innermost :func:`data_named` block, or None."""
    return _SOURCE.get()
