"""``lstmkit pretrain --text PATH ... --out DIR [--set key=value ...]``: character language models."""

from __future__ import annotations

from pathlib import Path

import typer

from lstmkit.cli.common import (
    config_option,
    device_option,
    epochs_option,
    seed_option,
    set_option,
    user_errors,
    with_shortcuts,
)


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def pretrain(
        texts: list[str] = typer.Option(
            ..., "--text", metavar="PATH",
            help="Text file(s), one document or sentence per line (repeat --text for more); or a bundled "
                 "corpus: peoples-daily (People's Daily without the pd-ner/pd-cws test block).",
        ),
        out: Path = typer.Option(..., "--out", metavar="DIR", help="Run folder: DIR/model, checkpoints, logs, plots."),
        valid: Path | None = typer.Option(
            None, "--valid", metavar="FILE", help="Held-out text file (default: 10% of the lines)."
        ),
        config: Path | None = config_option(),
        overrides: list[str] | None = set_option(),
        epochs: int | None = epochs_option(),
        seed: int | None = seed_option(),
        device: str | None = device_option(),
    ) -> None:
        """Train a forward and a backward character LSTM language model (task char-lm) on raw text."""
        from lstmkit.config import build_config
        from lstmkit.metrics.classification import metrics_line
        from lstmkit.tasks.charlm import CharLanguageModel, CharLMConfig
        from lstmkit.tasks.charlm.bundled import CORPORA, corpus_texts
        from lstmkit.tasks.charlm.corpus import Texts, read_texts

        settings = with_shortcuts(overrides, epochs=epochs, seed=seed, device=device)
        cfg = build_config(CharLMConfig, yaml_path=config, overrides=settings)
        corpus = Texts()
        for text in texts:
            corpus = corpus + (corpus_texts(text) if text in CORPORA and not Path(text).exists() else read_texts(text))
        held = read_texts(valid) if valid is not None else None
        model = CharLanguageModel(config=cfg)
        model.fit(corpus, valid=(held, None) if held is not None else None, out_dir=out, progress_bar=True)
        model.save(out / "model", metrics={"valid": model.valid_metrics_})
        typer.echo(metrics_line("validation", model.valid_metrics_))
        typer.echo(f"model saved to {out / 'model'}")
