"""``lstmkit serve``: every endpoint and error status over real HTTP, micro-batching, int8, the CLI.

The servers are real uvicorn servers on a free port (port 0) in a thread of the test process
(:class:`lstmkit.serve.server.ServerThread`), or, for the CLI, a ``python -m lstmkit serve``
subprocess. Predictions are compared with the Python API's (``predict_records``) as the reference.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from task_cases import CASES, fit_case
from textdata import english_reviews

from lstmkit import TextClassifier, __version__
from lstmkit.config import config_to_dict
from lstmkit.errors import DataError
from lstmkit.nn import GRU, LSTM
from lstmkit.serve.app import create_app
from lstmkit.serve.batching import MicroBatcher
from lstmkit.serve.int8 import Int8Recurrent, OnnxNetwork, quantize_estimator
from lstmkit.serve.server import ServerThread, make_server
from lstmkit.serve.settings import ServeSettings

ROOT = Path(__file__).resolve().parents[1]
PARAMS = dict(embedding_dim=8, hidden_size=8, ngram_buckets=512, lexicon_buckets=512, batch_size=16, epochs=2,
              lr=0.01, scheduler="none", patience=0, unlabeled_text=None)
TEXTS = ["good clean room", "awful rude staff", "the hotel was fine", "dirty and poor food", "lovely"]


@pytest.fixture(scope="module")
def model() -> TextClassifier:
    texts, labels = english_reviews(120)
    return TextClassifier(**PARAMS).fit(texts, labels)


@pytest.fixture(scope="module")
def server(model):
    settings = ServeSettings(max_batch=8, max_chars=200, max_body_bytes=20_000, max_wait_ms=2.0)
    with ServerThread(create_app(model, settings)) as running:
        yield running


def post(server, body, **kwargs) -> httpx.Response:
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return httpx.post(server.url + "/predict", content=body, headers={"Content-Type": "application/json"},
                      timeout=30, **kwargs)


def assert_json_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error, str) and error
    assert "Traceback" not in response.text
    for word in words:
        assert word in error, error


# ---------------------------------------------------------------------- endpoints
def test_health(server):
    """Bug: /health missing or not the contract's exact body."""
    response = httpx.get(server.url + "/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_info(server, model):
    """Bug: /info lacks the contract's task, labels, config or version, or they are not the model's."""
    info = httpx.get(server.url + "/info").json()
    assert info["task"] == "text-classifier"
    assert info["labels"] == model.labels_ == ["neg", "pos"]
    assert info["config"] == config_to_dict(model.config_)
    assert info["version"] == __version__
    assert info["takes_text"] is True and info["limits"]["max_batch"] == 8


def test_predict_matches_python_api(server, model):
    """Bug: the server's records differ from ``predict_records`` (another code path, order mixed up)."""
    response = post(server, {"inputs": TEXTS})
    assert response.status_code == 200
    assert response.json() == {"predictions": json.loads(json.dumps(model.predict_records(TEXTS)))}


def test_predict_empty_list(server):
    """Bug: an empty ``inputs`` list crashes instead of giving no predictions."""
    assert post(server, {"inputs": []}).json() == {"predictions": []}


def test_page(server):
    """Bug: GET / is missing, or the page loads something from the internet (no CDN: users may be offline)."""
    response = httpx.get(server.url + "/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<textarea" in page and 'fetch("predict"' in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("body, words", [
    (b'{"inputs": ["good"', ["not valid JSON"]),
    (b"\xff\xfe", ["not valid JSON"]),
    (b'["good room"]', ['{"inputs": [...]}', "a list"]),
    (b'{"texts": ["good room"]}', ['{"inputs": [...]}', "texts"]),
    (b'{"inputs": "good room"}', ['"inputs" must be a list', "string"]),
    # falsy non-lists: an `inputs or []` would answer 200 with no predictions
    (b'{"inputs": null}', ['"inputs" must be a list', "null"]),
    (b'{"inputs": {}}', ['"inputs" must be a list', "object"]),
    (b'{"inputs": ""}', ['"inputs" must be a list', "string"]),
    (b'{"inputs": 0}', ['"inputs" must be a list', "number"]),
    (b'{"inputs": false}', ['"inputs" must be a list', "boolean"]),
    (b'{}', ['{"inputs": [...]}', '"inputs" must be a list', "keys []"]),
    (b'""', ['{"inputs": [...]}', '"inputs" must be a list', "a string"]),
    (b'0', ['{"inputs": [...]}', '"inputs" must be a list', "a number"]),
    (b'null', ['{"inputs": [...]}', '"inputs" must be a list', "a null"]),
    # inputs are numbered from 1, as in the guides and every other message
    (b'{"inputs": ["fine", 3]}', ["input 2", "int"]),
    (b'{"inputs": [["good", "room"]]}', ["input 1"]),
    (b'{"inputs": [""]}', ["input 1 is empty"]),
    (b'{"inputs": ["ok", "   "]}', ["input 2 is empty"]),
])
def test_malformed_requests_are_422(server, body, words):
    """Bug: bad JSON or wrong shapes give a 500/200 or a traceback instead of a 422 naming the problem."""
    assert_json_error(post(server, body), 422, *words)


def test_too_many_inputs_is_413(server):
    """Bug: serve.max_batch not enforced (a client can send any number of inputs)."""
    assert_json_error(post(server, {"inputs": ["good"] * 9}), 413, "9 inputs", "serve.max_batch")
    assert post(server, {"inputs": ["good"] * 8}).status_code == 200


def test_too_long_text_is_413(server):
    """Bug: serve.max_chars not enforced; the error must name the input."""
    assert_json_error(post(server, {"inputs": ["good", "x" * 201]}), 413, "input 2", "201", "serve.max_chars")
    assert post(server, {"inputs": ["y" * 200]}).status_code == 200


def test_too_large_body_is_413(server):
    """Bug: a huge body is read and parsed whole (serve.max_body_bytes not enforced)."""
    assert_json_error(post(server, {"inputs": ["a"] * 5, "pad": "z" * 30_000}), 413, "serve.max_body_bytes")


def test_unknown_path_and_method_are_json(server):
    """Bug: 404/405 come back as HTML or FastAPI's own shape instead of the JSON error."""
    assert_json_error(httpx.get(server.url + "/nope"), 404, "Not Found")
    assert_json_error(httpx.get(server.url + "/predict"), 405, "Method Not Allowed")


def test_unexpected_error_is_500_without_internals(model, caplog):
    """Bug: an unexpected exception leaks a traceback or internals to the client, or is not logged."""
    broken = copy.deepcopy(model)

    def boom(X):
        raise RuntimeError("secret internal detail")

    broken.predict_records = boom
    with caplog.at_level(logging.ERROR, logger="lstmkit.serve"), ServerThread(create_app(broken)) as running:
        response = post(running, {"inputs": ["good"]})
    assert_json_error(response, 500, "internal server error")
    assert "secret" not in response.text
    assert any("secret internal detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)


# ---------------------------------------------------------------------- micro-batching
async def _concurrent(url: str, bodies: list) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=len(bodies))) as client:
        return await asyncio.gather(*(client.post(url + "/predict", json=b) for b in bodies))


def test_concurrent_requests_share_forward_passes(model):
    """Bug: micro-batching does not merge requests (one forward pass each), or splits results back
    to the wrong requests."""
    app = create_app(model, ServeSettings(max_wait_ms=100))
    texts = [f"{a} {b}" for a in ["good", "awful", "the room", "clean", "rude"]
             for b in ["staff", "food", "hotel", "view"]]
    with ServerThread(app) as running:
        before = app.state.batcher.forward_passes
        responses = asyncio.run(_concurrent(running.url, [{"inputs": [t]} for t in texts]))
        passes = app.state.batcher.forward_passes - before
    assert all(r.status_code == 200 for r in responses)
    assert passes < len(texts) / 2, f"{passes} forward passes for {len(texts)} concurrent requests"
    one_by_one = [model.predict_records([t])[0] for t in texts]
    for response, expected in zip(responses, one_by_one):
        (got,) = response.json()["predictions"]
        assert got["text"] == expected["text"] and got["label"] == expected["label"]
        for name, p in expected["probabilities"].items():
            assert got["probabilities"][name] == pytest.approx(p, abs=1e-5)


def test_without_batching_each_request_is_one_pass(model):
    """Bug: serve.batching=false still merges (the benchmark's baseline would be wrong)."""
    app = create_app(model, ServeSettings(batching=False))
    with ServerThread(app) as running:
        responses = asyncio.run(_concurrent(running.url, [{"inputs": [t]} for t in TEXTS]))
    assert all(r.status_code == 200 for r in responses)
    assert app.state.batcher.forward_passes == len(TEXTS)


def test_batcher_isolates_a_failing_request():
    """Bug: one request that fails while predicting fails every request merged with it."""

    def run(items):
        if "bad" in items:
            raise DataError("bad input")
        return [x.upper() for x in items]

    async def main():
        batcher = MicroBatcher(run, max_wait_ms=50)
        await batcher.start()
        try:
            return await asyncio.gather(
                batcher.submit(["a", "b"]), batcher.submit(["bad"]), batcher.submit(["c"]), return_exceptions=True
            )
        finally:
            await batcher.stop()

    first, second, third = asyncio.run(main())
    assert first == ["A", "B"] and third == ["C"]
    assert isinstance(second, DataError)


def test_a_lone_client_does_not_wait_for_company():
    """Bug: every request of a lone client waits max_wait_ms for others that never come (a fixed
    wait per request), while concurrent requests must still be merged after that."""
    passes = []

    def run(items):
        passes.append(list(items))
        return items

    async def main():
        batcher = MicroBatcher(run, max_wait_ms=3000)
        await batcher.start()
        try:
            await batcher.submit(["first"])  # may wait: nothing is known about the clients yet
            start = time.perf_counter()
            for i in range(3):  # one client, one request at a time
                await batcher.submit([f"alone {i}"])
            alone_seconds = time.perf_counter() - start
            together = await asyncio.gather(*(batcher.submit([f"together {i}"]) for i in range(4)))
            return alone_seconds, together
        finally:
            await batcher.stop()

    alone_seconds, together = asyncio.run(main())
    assert alone_seconds < 1.5, f"three lone requests took {alone_seconds:.2f} s (each waited for company)"
    assert together == [[f"together {i}"] for i in range(4)]
    assert len(passes) < 1 + 3 + 4  # the concurrent ones shared passes


def test_batcher_respects_batch_inputs():
    """Bug: a forward pass takes more inputs than serve.batch_inputs (memory blow-up under load)."""
    sizes = []

    def run(items):
        sizes.append(len(items))
        return items

    async def main():
        batcher = MicroBatcher(run, max_wait_ms=50, batch_inputs=4)
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit([i, i]) for i in range(6)))
        finally:
            await batcher.stop()

    results = asyncio.run(main())
    assert results == [[i, i] for i in range(6)]
    assert max(sizes) <= 4 and sum(sizes) == 12 and len(sizes) < 6


def test_inference_runs_without_autograd(model):
    """Bug: the forward pass records autograd graphs (slower, more memory) in the server."""
    seen = []
    watched = copy.deepcopy(model)
    original = watched.predict_records

    def spy(X):
        seen.append((torch.is_inference_mode_enabled(), torch.is_grad_enabled()))
        return original(X)

    watched.predict_records = spy
    with ServerThread(create_app(watched)) as running:
        assert post(running, {"inputs": ["good"]}).status_code == 200
    assert seen == [(True, False)]


# ---------------------------------------------------------------------- every task, one code path
def _close(a, b) -> bool:
    """Records equal, floats to 1e-4 relative (batch composition may change the last bits)."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5)
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("task", sorted(CASES))
def test_every_task_served_through_one_path(task, tmp_path):
    """Bug: a task's JSON inputs fail in the server, or merged requests of that task's input type
    (texts, token lists, sequences, forecasting contexts) come back different or in the wrong order."""
    estimator, case = fit_case(task, tmp_path)
    expected = json.loads(json.dumps(estimator.predict_records(estimator.inputs_from_json(case.json_inputs))))
    app = create_app(estimator, ServeSettings(max_wait_ms=100))
    with ServerThread(app) as running:
        info = httpx.get(running.url + "/info").json()
        together = post(running, {"inputs": case.json_inputs})
        alone = asyncio.run(_concurrent(running.url, [{"inputs": [item]} for item in case.json_inputs]))
        bad = post(running, {"inputs": [{"no": "such input"}, 17]})
    assert info["task"] == task
    assert together.status_code == 200 and _close(together.json()["predictions"], expected)
    assert [r.status_code for r in alone] == [200] * len(alone)
    assert _close([r.json()["predictions"][0] for r in alone], expected)
    assert_json_error(bad, 422, "input 1")  # counted from 1, for every task


def test_a_file_upload_reads_what_predict_input_reads(tmp_path):
    """The page refused a sequence model's own long CSV ("input 0, step 0, feature 0: None is not a
    number": it parsed the file itself). /predict_file reads the uploaded file as predict --input
    does: a long CSV or a .ts file gives predict_records of read_inputs; a file that does not fit
    names the columns it needs, and the file by its own name, never the server's temporary path."""
    est, case = fit_case("sequence-classifier", tmp_path)
    long_csv = case.write_train(tmp_path)
    ts = tmp_path / "few.ts"
    ts.write_text(
        "@problemName few\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel false\n"
        "@data\n0,1,2:0.5,0.1,0.2\n3,2:0,0\n",
        encoding="utf-8",
    )
    bad = "sequence,a,b\nq,1,2\n"
    settings = ServeSettings(max_batch=1000)
    with ServerThread(create_app(est, settings)) as running:

        def upload(name, content, **kwargs):
            return httpx.post(
                running.url + "/predict_file",
                params={"name": name} if name else None,
                content=content,
                timeout=30,
                **kwargs,
            )

        from_csv = upload("train.csv", long_csv.read_bytes())
        from_ts = upload("few.ts", ts.read_bytes())
        wrong = upload("mine.csv", bad.encode())
        nameless = upload("", b"a,b\n")
    with ServerThread(create_app(est, ServeSettings(max_batch=3))) as small:
        too_many = httpx.post(small.url + "/predict_file", params={"name": "train.csv"}, content=long_csv.read_bytes())
    assert from_csv.status_code == 200, from_csv.text
    expected = est.predict_records(est.read_inputs(long_csv))
    assert _close(from_csv.json()["predictions"], json.loads(json.dumps(expected)))
    assert from_csv.json()["predictions"][0]["sequence_id"] == "0"
    assert from_ts.status_code == 200 and _close(
        from_ts.json()["predictions"], json.loads(json.dumps(est.predict_records(est.read_inputs(ts))))
    )
    assert_json_error(wrong, 422, "mine.csv, line 1: no column 'sequence_id'", "sequence_id, a, b, label (optional)")
    assert "lstmkit-upload" not in wrong.text and "/tmp" not in wrong.text
    assert_json_error(nameless, 422, "?name=")
    assert_json_error(too_many, 413, "60 inputs", "serve.max_batch")


# ---------------------------------------------------------------------- int8
def test_int8_recurrent_exact_padding_and_close_to_float():
    """Bug: the int8 LSTM/GRU ignores lengths (padding changes results, padded outputs not zero,
    final states taken at the padded end), or its outputs are far from the float layer's."""
    torch.manual_seed(0)
    x = torch.randn(3, 7, 5)
    lengths = torch.tensor([7, 3, 5])
    for cls in (LSTM, GRU):
        layer = cls(5, 16, num_layers=2, batch_first=True, bidirectional=True).eval()
        quantized = Int8Recurrent(layer)
        with torch.inference_mode():
            out, hidden = quantized(x, lengths=lengths)
            ref_out, ref_hidden = layer(x, lengths=lengths)
        assert out.shape == ref_out.shape == (3, 7, 32)
        assert (out[1, 3:] == 0).all() and (out[2, 5:] == 0).all()
        assert (out - ref_out).abs().max() < 0.05
        h, ref_h = (hidden[0], ref_hidden[0]) if cls is LSTM else (hidden, ref_hidden)
        assert (h - ref_h).abs().max() < 0.05
        with torch.inference_mode():  # explanations (return_gates) use the float layer
            explained = quantized(x, lengths=lengths, return_gates=True)
        assert len(explained) == 3 and torch.allclose(explained[0], ref_out, atol=1e-5)


def test_server_runs_on_the_c_http_parser_and_uvloop(model):
    """Bug: httptools/uvloop dropped from the dependencies: uvicorn silently falls back to the
    pure-Python h11 parser and asyncio's loop (the int8 server answered 25% fewer requests/s)."""
    import asyncio as plain_asyncio

    config = make_server(create_app(copy.deepcopy(model))).config
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    if sys.platform != "win32":
        loop = config.get_loop_factory()()
        try:
            assert type(loop).__module__.startswith("uvloop"), type(loop)
            assert not isinstance(loop, plain_asyncio.SelectorEventLoop)
        finally:
            loop.close()


def test_int8_server_agrees_with_float(model):
    """Bug: --int8 breaks the network (errors, or predictions unlike the float model's), or
    changes the caller's estimator."""
    int8_model = copy.deepcopy(model)
    with ServerThread(create_app(int8_model, ServeSettings(int8=True))) as running:
        info = httpx.get(running.url + "/info").json()
        got = post(running, {"inputs": TEXTS}).json()["predictions"]
    assert info["int8"] is True
    # the text classifier's whole int8 graph runs in onnxruntime; the caller's model is untouched
    assert isinstance(int8_model.network_, OnnxNetwork) and not isinstance(model.network_, OnnxNetwork)
    assert "DynamicQuantizeLSTM" in int8_model.network_.operators
    # onnxruntime's LSTM runs 1.2-1.4x faster in batches of 32 than of 128 (docs/benchmarks.md)
    assert int8_model.inference_batch_size == OnnxNetwork.batch_size < model.inference_batch_size
    expected = model.predict_records(TEXTS)
    for g, e in zip(got, expected):
        for name, p in e["probabilities"].items():
            assert g["probabilities"][name] == pytest.approx(p, abs=0.05)
    assert [g["label"] for g in got] == [e["label"] for e in expected]


def test_int8_without_a_drop_in_graph_quantises_the_pytorch_network(tmp_path):
    """Bug: --int8 on a task whose export graph is not its network's stand-in (it has the
    scaling inside, other inputs) either crashes or silently stays float."""
    est, case = fit_case("sequence-classifier", tmp_path)
    X = est.read_inputs(case.write_train(tmp_path))
    expected = est.predict_records(X)
    quantized = quantize_estimator(copy.deepcopy(est))
    assert isinstance(quantized.network_.rnn, Int8Recurrent)
    got = quantized.predict_records(X)
    agree = np.mean([g["label"] == e["label"] for g, e in zip(got, expected)])
    assert agree >= 0.9, agree


def test_int8_forecaster_serves(tmp_path):
    """Bug: a network left without float parameters after quantisation (LSTM + Linear only)
    breaks the code that asks a network for its device (StopIteration inside the server)."""
    est, case = fit_case("forecaster", tmp_path)
    X = est.read_inputs(case.write_train(tmp_path))
    expected = est.predict_records(X)
    quantized = quantize_estimator(copy.deepcopy(est))
    assert not list(quantized.network_.parameters())  # the case the bug needs
    got = quantized.predict_records(X)
    assert len(got) == len(expected)


# ---------------------------------------------------------------------- the command
def _cli(*args, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "lstmkit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=kwargs.get("cwd"),
    )


def test_cli_serve_port_0_prints_address(model, tmp_path):
    """Bug: with --port 0 the server does not say which port it got, or Ctrl+C does not stop it cleanly."""
    model.save(tmp_path / "model")
    process = _cli("serve", str(tmp_path / "model"), "--port", "0", "--set", "serve.max_batch=2")
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0"), url
        assert httpx.get(url + "/health", timeout=30).json() == {"status": "ok"}
        assert post(type("S", (), {"url": url}), {"inputs": ["a", "b", "c"]}).status_code == 413
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args, words",
    [
        (["serve", "no/such/model"], ["no/such/model"]),
        (["serve", "MODEL", "--set", "serve.max_bach=3"], ["serve.max_bach", "serve.max_batch"]),
        (["serve", "MODEL", "--set", "serve.max_chars=0"], ["serve.max_chars", ">= 1"]),
        (["serve", "MODEL", "--host", "no.such.host.invalid"], ["--host no.such.host.invalid"]),
    ],
)
def test_cli_serve_user_errors(model, tmp_path, args, words):
    """Bug: a missing model folder, a bad setting or host gives a traceback instead of one line and exit 2."""
    from typer.testing import CliRunner

    from lstmkit.cli import app

    model.save(tmp_path / "model")
    result = CliRunner().invoke(app, [str(tmp_path / "model") if a == "MODEL" else a for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0]


def test_cli_port_in_use(model, tmp_path):
    """Bug: a port already taken gives a traceback instead of a message suggesting --port 0."""
    from typer.testing import CliRunner

    from lstmkit.cli import app

    model.save(tmp_path / "model")
    with ServerThread(create_app(model)) as running:
        port = running.url.rsplit(":", 1)[1]
        result = CliRunner().invoke(app, ["serve", str(tmp_path / "model"), "--port", port])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f":{port}" in result.stderr and "--port 0" in result.stderr


def test_listening_socket_is_tcp_for_nodelay():
    """Bug: the socket is made with proto 0, so asyncio never sets TCP_NODELAY on its connections and
    Nagle's algorithm with delayed ACKs adds ~40 ms to every response (measured: 48 ms -> 10 ms)."""
    import socket

    from lstmkit.serve.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        client = socket.create_connection(sock.getsockname())
        accepted, _ = sock.accept()
        assert accepted.proto == socket.IPPROTO_TCP
        client.close()
        accepted.close()
    finally:
        sock.close()
