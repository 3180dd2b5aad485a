"""Serving speed of the sentiment model: HTTP load at several concurrencies, memory, and int8.

Run after ``make demo`` (on a quiet machine; every number depends on the CPU and its load)::

    .venv/bin/python benchmarks/serve.py load runs/demo-sentiment/model   # ~3 minutes
    .venv/bin/python benchmarks/serve.py memory runs/demo-sentiment/model # 20,000 requests, ~2 minutes
    .venv/bin/python benchmarks/serve.py int8 runs/demo-sentiment/model   # ~2 minutes

``load``: starts ``lstmkit serve MODEL --port 0`` as a subprocess (with micro-batching, and again
with ``serve.batching=false``), and a load generator (aiohttp, asyncio) on 127.0.0.1 sends
chn-reviews test reviews, one per ``POST /predict``, from 1, 16 and 64 concurrent clients:
``--requests`` per level (default 2,000), at most ``--seconds`` per level. It prints a Markdown
table of requests/s and p50/p99 latency, and the same reviews through the Python API
(``predict_records``) one at a time and in batches of 64: the ceiling without HTTP.
``memory``: 20,000 requests from 16 clients while the server's RSS is sampled every second;
prints the RSS after warm-up, the peak and the end.
``int8``: accuracy on the whole chn-reviews test split and reviews/s (batched, and one at a time,
through ``predict``: tokenising included) of the float model (PyTorch: what ``serve`` runs), the
same graph in onnxruntime in float32, PyTorch's own int8 quantisation, and what ``serve --int8``
runs (the int8 graph in onnxruntime; :mod:`lstmkit.serve.int8`); then both through ``predict`` at
inference batch sizes 8-256, and the speed-up from ``--pairs`` back-to-back pairs of passes.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import statistics
import subprocess
import sys
import threading
import time

import lstmkit
from lstmkit.data.datasets import load_dataset


def reviews(n: int | None = None) -> tuple[list[str], list[str]]:
    texts, labels = load_dataset("chn-reviews")["test"]
    texts, labels = list(texts), list(labels)
    if n is not None:
        texts = (texts * (n // len(texts) + 1))[:n]
    return texts, labels


# ---------------------------------------------------------------------- the server, as a user starts it
class Server:
    """``python -m lstmkit serve MODEL --port 0 [--set ...]`` in a subprocess; ``url`` from its stdout."""

    def __init__(self, model_dir: str, settings: list[str]) -> None:
        command = [sys.executable, "-m", "lstmkit", "serve", model_dir, "--host", "127.0.0.1", "--port", "0"]
        for item in settings:
            command += ["--set", item]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise SystemExit(f"the server did not start: {' '.join(command)}")
        import httpx

        for _ in range(300):
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


async def _load(url: str, texts: list[str], concurrency: int, seconds: float) -> dict:
    """``len(texts)`` requests (one text each) from ``concurrency`` clients; stops after ``seconds``."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    next_index = 0
    stop_at = time.perf_counter() + seconds

    async def client(session):
        nonlocal next_index, errors
        while next_index < len(texts) and time.perf_counter() < stop_at:
            text = texts[next_index]
            next_index += 1
            start = time.perf_counter()
            async with session.post(url + "/predict", json={"inputs": [text]}) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {"n": len(latencies), "rps": len(latencies) / elapsed, "errors": errors,
            "p50": 1000 * latencies[len(latencies) // 2], "p99": 1000 * latencies[int(len(latencies) * 0.99)]}


def load_command(args) -> None:
    texts = reviews(args.requests)[0]
    print("| server | clients | requests | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, settings in (("micro-batching", []), ("one pass per request", ["serve.batching=false"])):
        server = Server(args.model_dir, settings + args.set)
        try:
            asyncio.run(_load(server.url, texts[:200], 4, 30))  # warm-up
            for concurrency in args.concurrency:
                r = asyncio.run(_load(server.url, texts, concurrency, args.seconds))
                print(f"| {name} | {concurrency} | {r['n']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
                      f"{r['errors']} |", flush=True)
        finally:
            server.stop()
    model = lstmkit.load(args.model_dir)
    sample = texts[: min(len(texts), 1000)]
    model.predict_records(sample[:100])
    latencies = []
    for text in sample:
        start = time.perf_counter()
        model.predict_records([text])
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    print(f"| Python API, one at a time | 1 | {len(sample)} | {len(sample) / sum(latencies):.0f} | "
          f"{1000 * latencies[len(latencies) // 2]:.1f} | {1000 * latencies[int(len(latencies) * 0.99)]:.1f} | 0 |")
    start = time.perf_counter()
    for i in range(0, len(texts), 64):
        model.predict_records(texts[i:i + 64])
    elapsed = time.perf_counter() - start
    print(f"| Python API, batches of 64 | - | {len(texts)} | {len(texts) / elapsed:.0f} | - | - | 0 |")


def memory_command(args) -> None:
    texts = reviews(args.requests)[0]
    server = Server(args.model_dir, args.set)
    samples: list[float] = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append(server.rss_mb())
            done.wait(1.0)

    try:
        asyncio.run(_load(server.url, texts[:500], 16, 60))  # warm-up
        after_warmup = server.rss_mb()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        r = asyncio.run(_load(server.url, texts, 16, 3600))
        done.set()
        sampler.join()
        end = server.rss_mb()
    finally:
        server.stop()
    quarter = max(1, len(samples) // 4)
    quarters = " / ".join(f"{max(samples[i * quarter:(i + 1) * quarter] or samples[-1:]):.0f}" for i in range(4))
    print(f"{r['n']} requests from 16 clients: {r['rps']:.0f}/s, {r['errors']} errors; server RSS after warm-up "
          f"{after_warmup:.0f} MB, max per quarter of the run {quarters} MB, peak {max(samples):.0f} MB, "
          f"end {end:.0f} MB ({len(samples)} samples)")


def int8_command(args) -> None:
    import torch

    from lstmkit.serve.int8 import OnnxNetwork, quantize_estimator, quantize_network

    texts, labels = reviews()
    model = lstmkit.load(args.model_dir)
    threads = torch.get_num_threads()
    served = quantize_estimator(copy.deepcopy(model))  # what serve --int8 runs
    onnx_float = copy.deepcopy(model)
    onnx_float.network_ = OnnxNetwork(onnx_float, onnx_float.export_module(), int8=False)
    torch_int8 = copy.deepcopy(model)
    torch_int8.network_ = quantize_network(torch_int8.network_)
    print(f"chn-reviews test split: {len(texts)} reviews, torch and onnxruntime threads {threads}")
    print("| model | accuracy | macro F1 | reviews/s (batched) | reviews/s (one at a time) |")
    print("|---|---:|---:|---:|---:|")
    for name, estimator in (("float32, PyTorch (`serve`)", model), ("float32, onnxruntime", onnx_float),
                            ("int8, PyTorch dynamic quantisation", torch_int8),
                            ("int8, onnxruntime (`serve --int8`)", served)):
        metrics = estimator.evaluate(texts, labels)
        estimator.predict(texts[:200])
        best = 0.0
        for _ in range(args.repeats):
            start = time.perf_counter()
            estimator.predict(texts)
            best = max(best, len(texts) / (time.perf_counter() - start))
        one = texts[:300]
        start = time.perf_counter()
        for text in one:
            estimator.predict([text])
        single = len(one) / (time.perf_counter() - start)
        print(f"| {name} | {100 * metrics['accuracy']:.2f} | {100 * metrics['macro_f1']:.2f} | {best:.0f} | "
              f"{single:.0f} |", flush=True)
    batch_size_sweep(texts, model, served, args.repeats)
    paired_speedup(texts, model, served, args.pairs)


def paired_speedup(texts: list[str], model, served, pairs: int) -> None:
    """The int8 speed-up on the whole split, each at its default batch size, from ``pairs``
    back-to-back pairs of passes (float then int8, then the other way round): the median of the
    per-pair ratios and their range. Pairs cancel the drift of a shared machine, which moves
    single passes by 20% or more."""
    def speed(estimator) -> float:
        start = time.perf_counter()
        estimator.predict(texts)
        return len(texts) / (time.perf_counter() - start)

    floats, int8s = [], []
    for i in range(pairs):
        first, second = (model, served) if i % 2 == 0 else (served, model)
        a, b = speed(first), speed(second)
        floats.append(a if first is model else b)
        int8s.append(b if first is model else a)
    ratios = sorted(q / f for f, q in zip(floats, int8s))
    print(f"\nPaired ({pairs} pairs, each at its default batch size): float {statistics.median(floats):.0f}, int8 "
          f"{statistics.median(int8s):.0f} reviews/s; int8/float per pair: median {statistics.median(ratios):.2f}x, "
          f"range {ratios[0]:.2f}-{ratios[-1]:.2f}x")


def batch_size_sweep(texts: list[str], model, served, repeats: int) -> None:
    """Reviews/s of the whole split through ``predict`` at several inference batch sizes, float
    (PyTorch) against ``serve --int8``: for each case a warm-up pass, then ``repeats`` passes,
    reported as their median. (Cases run one after the other, not in turns: a pass of one
    engine right after the other's ran 10-20% slower.)"""
    sizes = (8, 16, 32, 64, 128, 256)
    defaults = {"float": model.inference_batch_size, "int8": served.inference_batch_size}
    speeds: dict[tuple[str, int], list[float]] = {}
    for size in sizes:
        for name, estimator in (("float", model), ("int8", served)):
            estimator.inference_batch_size = size
            estimator.predict(texts)
            for _ in range(repeats):
                start = time.perf_counter()
                estimator.predict(texts)
                speeds.setdefault((name, size), []).append(len(texts) / (time.perf_counter() - start))
    model.inference_batch_size, served.inference_batch_size = defaults["float"], defaults["int8"]
    print(f"\nBy inference batch size (median of {repeats} passes; * the default):")
    print("| reviews per batch | float32, PyTorch | int8, onnxruntime | ratio |")
    print("|---:|---:|---:|---:|")
    for size in sizes:
        f, q = (statistics.median(speeds[(name, size)]) for name in ("float", "int8"))
        marks = ["*" if defaults[name] == size else "" for name in ("float", "int8")]
        print(f"| {size} | {f:.0f}{marks[0]} | {q:.0f}{marks[1]} | {q / f:.2f}x |", flush=True)
    best = {name: max(sizes, key=lambda s, n=name: statistics.median(speeds[(n, s)])) for name in ("float", "int8")}
    f, q = statistics.median(speeds[("float", best["float"])]), statistics.median(speeds[("int8", defaults["int8"])])
    print(f"int8 at its default ({defaults['int8']}) against float at its best size ({best['float']}): {q / f:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("load", "memory", "int8"):
        p = sub.add_parser(name)
        p.add_argument("model_dir")
        p.add_argument("--set", action="append", default=[], metavar="serve.KEY=VALUE",
                       help="server settings for load/memory (e.g. serve.int8=true)")
    sub.choices["load"].add_argument("--requests", type=int, default=2000)
    sub.choices["load"].add_argument("--seconds", type=float, default=30.0)
    sub.choices["load"].add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")],
                                     default=[1, 16, 64])
    sub.choices["memory"].add_argument("--requests", type=int, default=20_000)
    sub.choices["int8"].add_argument("--repeats", type=int, default=5)
    sub.choices["int8"].add_argument("--pairs", type=int, default=15)
    args = parser.parse_args()
    {"load": load_command, "memory": memory_command, "int8": int8_command}[args.command](args)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
