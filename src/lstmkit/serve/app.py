"""The HTTP API of ``lstmkit serve``: one FastAPI app over any task's estimator.

=======================  ==================================================================
``GET /health``          ``{"status": "ok"}``
``GET /info``            ``{"task", "labels", "config", "version", "takes_text", "limits", "int8"}``
``POST /predict``        ``{"inputs": [...]}`` -> ``{"predictions": [...]}``, one record per input
``POST /predict_file``   a data file's bytes (``?name=FILE.csv``: its suffix says the format), read as
                         ``predict --input`` reads it -> ``{"predictions": [...]}`` (the page's upload)
``GET /``                a small page to try the model by hand (page.html, no external files)
=======================  ==================================================================

``/predict`` is one code path for every task: the body is parsed and checked here (JSON object,
an ``inputs`` list, the limits of :class:`~lstmkit.serve.settings.ServeSettings`), then
``estimator.inputs_from_json`` turns the items into the task's inputs (its
:class:`~lstmkit.errors.DataError` names the bad item) and the
:class:`~lstmkit.serve.batching.MicroBatcher` runs ``estimator.predict_records`` on them together
with other requests that arrived meanwhile.

Errors are JSON ``{"error": message}``, never a traceback:

======  =================================================================================
422     the body is not JSON, not an object with an ``inputs`` list, or an input is malformed
        or empty (the task's ``DataError``, or any other user error while predicting)
413     more than ``serve.max_batch`` inputs, a text longer than ``serve.max_chars``, or a body
        over ``serve.max_body_bytes``
404     unknown path; 405: wrong method
500     anything unexpected: ``{"error": "internal server error"}``; the traceback goes to
        the server's log (logger ``lstmkit.serve``)
======  =================================================================================
"""

from __future__ import annotations

import json
import logging
import tempfile
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from lstmkit.config import config_to_dict
from lstmkit.errors import DataError, LstmkitError
from lstmkit.runtime import tune_process
from lstmkit.serve.batching import MicroBatcher
from lstmkit.serve.settings import ServeSettings
from lstmkit.training.threads import serving_threads
from lstmkit.version import __version__

log = logging.getLogger("lstmkit.serve")


class RequestError(Exception):
    """A request the client must change: ``status`` (413, 422) and a message for it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def parse_inputs(body: bytes, settings: ServeSettings) -> list:
    """A ``/predict`` body -> its ``inputs`` list (JSON values), checked against the limits.

    Raises :class:`RequestError` (422 for the form, 413 for the size) naming what is wrong.
    """
    if len(body) > settings.max_body_bytes:
        raise RequestError(413, f"the request body has {len(body):,} bytes; the most is "
                                f"{settings.max_body_bytes:,} (serve.max_body_bytes)")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(422, f"the body is not valid JSON: {error}") from None
    if not isinstance(payload, dict) or "inputs" not in payload:
        got = f"an object with keys {sorted(payload)}" if isinstance(payload, dict) else f"a {_json_type(payload)}"
        raise RequestError(422, f'the body must be a JSON object {{"inputs": [...]}} ("inputs" must be a list); '
                                f'got {got}')
    inputs = payload["inputs"]
    if not isinstance(inputs, list):
        raise RequestError(422, f'"inputs" must be a list; got a {_json_type(inputs)}')
    check_sizes(inputs, settings)
    return inputs


def check_sizes(inputs, settings: ServeSettings) -> None:
    """``serve.max_batch`` and ``serve.max_chars`` for a list of inputs (:class:`RequestError` 413)."""
    if len(inputs) > settings.max_batch:
        raise RequestError(413, f"{len(inputs)} inputs in one request; the most is {settings.max_batch} "
                                "(serve.max_batch): split them over several requests")
    for n, item in enumerate(inputs, start=1):  # inputs are numbered from 1 in every message, as in the guides
        chars = _text_chars(item)
        if chars > settings.max_chars:
            raise RequestError(413, f"input {n}: {chars:,} characters; the most is {settings.max_chars:,} "
                                    "(serve.max_chars)")


def read_upload(estimator, name: str, body: bytes):
    """An uploaded file's inputs, read by ``estimator.read_inputs`` as ``predict --input`` reads a
    file named ``name`` (only its last part counts; its suffix says the format). Errors name the
    file by that name."""
    filename = Path(name.replace("\\", "/")).name
    if not Path(filename).suffix:
        raise RequestError(422, "name the file with ?name=FILE (its suffix, such as .csv, says how to read it)")
    with tempfile.TemporaryDirectory(prefix="lstmkit-upload-") as folder:
        path = Path(folder) / filename
        path.write_bytes(body)
        try:
            return estimator.read_inputs(path)
        except LstmkitError as error:  # name the file as the client knows it, not by the temporary path
            raise DataError(str(error).replace(str(path), filename)) from None


def _text_chars(item) -> int:
    """Characters of a text input: a string, or a list of token strings (0 for other JSON)."""
    if isinstance(item, str):
        return len(item)
    if isinstance(item, list) and item and all(isinstance(t, str) for t in item):
        return sum(len(t) for t in item)
    return 0


def _json_type(value) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def model_info(estimator, settings: ServeSettings) -> dict:
    """What ``GET /info`` returns: the task, its labels (classes or tags; None for a forecaster),
    the model's whole config, the lstmkit version, and the server's limits."""
    labels = getattr(estimator, "labels_", None)
    if labels is None:
        labels = getattr(estimator, "tags_", None)
    return {
        "task": estimator.task,
        "labels": list(labels) if labels is not None else None,
        "config": config_to_dict(estimator.config_),
        "version": __version__,
        "takes_text": estimator.takes_text,
        "limits": {"max_batch": settings.max_batch, "max_chars": settings.max_chars,
                   "max_body_bytes": settings.max_body_bytes},
        "int8": settings.int8,
    }


def create_app(estimator, settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI app serving a fitted ``estimator`` (any task).

    ``settings.int8`` quantises the estimator's network in place (:mod:`lstmkit.serve.int8`).
    The micro-batcher starts and stops with the app (its lifespan); ``app.state.batcher`` holds
    it (its ``forward_passes`` counter is what the tests read).
    """
    tune_process()  # the oneDNN cache cap (lstmkit.runtime); it applies where no model has run yet
    settings = settings or ServeSettings()
    estimator._check_fitted()
    if settings.int8:
        from lstmkit.serve.int8 import quantize_estimator

        quantize_estimator(estimator)
    batcher = MicroBatcher(estimator.predict_records, max_wait_ms=settings.max_wait_ms,
                           batch_inputs=settings.batch_inputs, batching=settings.batching,
                           threads=serving_threads(settings.threads))
    info = model_info(estimator, settings)
    page = files("lstmkit.serve").joinpath("page.html").read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(title=f"lstmkit {estimator.task}", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.batcher = batcher
    app.state.estimator = estimator
    app.state.settings = settings

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        return _error(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):  # pragma: no cover - belt and braces
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
        return _error(500, "internal server error")

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/info")
    async def get_info():
        return info

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return HTMLResponse(page)

    @app.post("/predict")
    async def predict(request: Request):
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_body_bytes:
            return _error(413, f"the request body has {int(declared):,} bytes; the most is "
                               f"{settings.max_body_bytes:,} (serve.max_body_bytes)")
        try:
            items = parse_inputs(await request.body(), settings)
            inputs = estimator.inputs_from_json(items)
            return {"predictions": await batcher.submit(inputs)}
        except RequestError as error:
            return _error(error.status, str(error))
        except LstmkitError as error:  # the task's DataError for a bad item, or one found while predicting
            return _error(422, str(error))
        except Exception:  # never a traceback to the client (logged)
            log.exception("POST /predict failed")
            return _error(500, "internal server error")

    @app.post("/predict_file")
    async def predict_file(request: Request, name: str = ""):
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_body_bytes:
            return _error(413, f"the file has {int(declared):,} bytes; the most is "
                               f"{settings.max_body_bytes:,} (serve.max_body_bytes)")
        try:
            body = await request.body()
            if len(body) > settings.max_body_bytes:
                raise RequestError(413, f"the file has {len(body):,} bytes; the most is "
                                        f"{settings.max_body_bytes:,} (serve.max_body_bytes)")
            inputs = await run_in_threadpool(read_upload, estimator, name, body)
            check_sizes(inputs, settings)
            return {"predictions": await batcher.submit_alone(inputs)}
        except RequestError as error:
            return _error(error.status, str(error))
        except LstmkitError as error:
            return _error(422, str(error))
        except Exception:  # never a traceback to the client (logged)
            log.exception("POST /predict_file failed")
            return _error(500, "internal server error")

    return app
