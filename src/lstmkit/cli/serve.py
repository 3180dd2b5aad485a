"""``lstmkit serve MODEL_DIR``: the HTTP API and the page of :mod:`lstmkit.serve.app`."""

from __future__ import annotations

from pathlib import Path

import typer

SERVE_SET_HELP = ("serve.KEY=VALUE: a server setting, e.g. serve.max_batch=32 or serve.max_chars=2000 "
                  "(repeat --set for more; keys: see docs/serving.md).")


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the ``lstmkit`` app."""
    from lstmkit.cli.common import user_errors

    @app.command()
    @user_errors
    def serve(
        model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="A model folder written by `lstmkit train`."),
        host: str = typer.Option(
            "127.0.0.1", "--host", metavar="HOST", help="Address to listen on (0.0.0.0: every interface)."
        ),
        port: int = typer.Option(8000, "--port", metavar="PORT", help="Port to listen on (0: a free one, printed)."),
        int8: bool = typer.Option(False, "--int8", help="Quantise the LSTM and Linear layers to int8 (CPU; faster)."),
        max_wait_ms: float | None = typer.Option(
            None, "--max-wait-ms", metavar="MS", help="Shortcut for --set serve.max_wait_ms=MS (micro-batching wait)."
        ),
        config: Path | None = typer.Option(
            None, "--config", metavar="FILE.yaml", help="YAML file with a serve: section."
        ),
        overrides: list[str] | None = typer.Option(None, "--set", metavar="serve.KEY=VALUE", help=SERVE_SET_HELP),
    ) -> None:
        """Serve a model over HTTP: GET /health, GET /info, POST /predict, and a page at /."""
        import torch

        from lstmkit.io import load
        from lstmkit.serve.app import create_app
        from lstmkit.serve.server import bind, make_server, url_of
        from lstmkit.serve.settings import serve_settings
        from lstmkit.training.threads import serving_threads

        settings_list = list(overrides or [])
        if int8:
            settings_list.append("serve.int8=true")
        if max_wait_ms is not None:
            settings_list.append(f"serve.max_wait_ms={max_wait_ms}")
        settings = serve_settings(config, settings_list)
        torch.set_num_threads(serving_threads(settings.threads))
        estimator = load(model_dir)
        application = create_app(estimator, settings)
        sock = bind(host, port)
        typer.echo(
            f"serving {model_dir} ({estimator.task}{', int8' if settings.int8 else ''}) on {url_of(sock)}"
            " (Ctrl+C to stop)",
            err=True,
        )
        typer.echo(url_of(sock))  # stdout: the address alone, for scripts started with --port 0
        try:
            make_server(application).run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn shuts down gracefully on Ctrl+C, then re-raises it
            pass  # stopping a server with Ctrl+C is the normal way to end it: exit 0
        typer.echo("server stopped", err=True)
