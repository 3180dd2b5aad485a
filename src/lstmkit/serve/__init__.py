"""``lstmkit serve``: a model over HTTP (FastAPI + uvicorn), with micro-batching and a page.

- :func:`~lstmkit.serve.app.create_app` — the app for a fitted estimator of any task
- :class:`~lstmkit.serve.settings.ServeSettings` — limits, batching, threads, int8
- :class:`~lstmkit.serve.batching.MicroBatcher` — concurrent requests share forward passes
- :class:`~lstmkit.serve.server.ServerThread` — the app on a free port in a thread
- :func:`~lstmkit.serve.int8.quantize_network` — int8 dynamic quantisation for CPU inference

The guide is docs/serving.md.
"""

from lstmkit.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app", "ServerThread"]


def __getattr__(name: str):  # FastAPI and uvicorn are imported only when the server is used
    if name == "create_app":
        from lstmkit.serve.app import create_app

        return create_app
    if name == "ServerThread":
        from lstmkit.serve.server import ServerThread

        return ServerThread
    raise AttributeError(name)
