"""onnxruntime against PyTorch on a CPU: single-text latency, batched throughput, int8 accuracy.

Run (after ``make demo``)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/onnx_speed.py runs/demo-sentiment/model [--texts 500] [--threads 1]

It exports the model folder with ``lstmkit.export.onnx.export_onnx`` (float32, and int8 with
``int8=True``) to a temporary folder and, on the chn-reviews test split, times the model part
(token ids -> probabilities; tokenising is the same for both and left out):

* single text: ``--texts`` test reviews one at a time, p50 / p99 latency in ms;
* batched: all test reviews in batches of 64 (in test-file order, so lengths are mixed), texts/s;

for PyTorch (the network as ``predict_proba`` runs it: the fused engine, ``inference_mode``),
onnxruntime float32 and onnxruntime int8; and the test accuracy of each (int8 changes the
numbers slightly). Prints one table in Markdown (docs/benchmarks.md keeps the measured one).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import lstmkit
from lstmkit.data.batching import pad_sequences
from lstmkit.data.datasets import load_dataset
from lstmkit.export.onnx import export_onnx


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--texts", type=int, default=500, help="texts timed one at a time")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clf = lstmkit.load(args.model_dir)
    texts, labels = load_dataset("chn-reviews")["test"][:2]
    encoded = [ids or [1] for ids in clf.encode(texts)]
    truth = np.asarray(clf.classes_.encode(labels))
    net = clf.network_.eval()

    with tempfile.TemporaryDirectory() as tmp:
        paths = {"onnxruntime fp32": Path(tmp) / "m.onnx", "onnxruntime int8": Path(tmp) / "q.onnx"}
        export_onnx(clf, paths["onnxruntime fp32"])
        export_onnx(clf, paths["onnxruntime int8"], int8=True)
        sizes = {name: path.stat().st_size / 2**20 for name, path in paths.items()}
        sessions = {name: session(path, args.threads) for name, path in paths.items()}

        def run_torch(ids, lengths):
            with torch.inference_mode():
                return torch.softmax(net(ids, lengths), -1).numpy()

        runners = {"pytorch": run_torch}
        for name, s in sessions.items():
            runners[name] = lambda ids, lengths, s=s: s.run(None, {"ids": ids.numpy(), "lengths": lengths.numpy()})[0]

        rows = []
        for name, run in runners.items():
            for ids in encoded[:20]:  # warm-up
                run(*pad_sequences([ids]))
            latencies = []
            for ids in encoded[: args.texts]:
                padded, lengths = pad_sequences([ids])
                start = time.perf_counter()
                run(padded, lengths)
                latencies.append((time.perf_counter() - start) * 1e3)
            predictions, start = [], time.perf_counter()
            for i in range(0, len(encoded), args.batch):
                predictions.append(run(*pad_sequences(encoded[i : i + args.batch])).argmax(1))
            seconds = time.perf_counter() - start
            accuracy = float((np.concatenate(predictions) == truth).mean())
            rows.append((name, statistics.median(latencies), percentile(latencies, 99), len(encoded) / seconds,
                         accuracy, sizes.get(name)))

    print(f"{len(encoded)} chn-reviews test texts, {args.threads} thread(s), batch {args.batch}\n")
    print("| runtime | single text p50 (ms) | p99 (ms) | batched (texts/s) | test accuracy | file (MB) |")
    print("|---|---|---|---|---|---|")
    for name, p50, p99, throughput, accuracy, size in rows:
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {throughput:.0f} | {accuracy:.4f} | "
              f"{'' if size is None else f'{size:.1f}'} |")


if __name__ == "__main__":
    main()
