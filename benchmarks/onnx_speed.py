"""onnxruntime against PyTorch on a CPU: single-input latency, batched throughput, int8 accuracy.

Run (after ``make demo``, or ``lstmkit demo ner`` / ``cws`` / ``weather``)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/onnx_speed.py runs/demo-sentiment/model [--repeats 500] [--threads 1]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/onnx_speed.py runs/demo-ner/model [--data test.conll]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/onnx_speed.py runs/demo-weather/model [--data test.csv]

It exports the model folder with ``lstmkit.export.onnx.export_onnx`` (float32, and int8 with
``int8=True``) to a temporary folder and times, on the model's test data, the part both runtimes
share (making the inputs is the same for both and left out):

* single input: ``--repeats`` inputs one at a time, p50 / p99 latency in ms;
* batched: every test input in batches of ``--batch`` (in file order, so lengths are mixed), inputs/s;

for PyTorch (as ``predict`` runs the network: the fused engine, ``inference_mode``), onnxruntime
float32 and onnxruntime int8, with each one's test score (int8 changes the numbers slightly).
Prints one table in Markdown (docs/benchmarks.md keeps the measured ones). By task:

* **text-classifier** (chn-reviews test split): token ids -> probabilities; score: accuracy.
* **tagger** (``--data`` CoNLL file; default the test split of pd-cws for a BMES model, else
  pd-ner): the inputs of :func:`lstmkit.tasks.tagger.export.graph_inputs` -> tags: PyTorch's
  emissions and ``CRF.decode``, against the graph's emissions and the numpy Viterbi of
  :mod:`lstmkit.export.viterbi`; score: entity F1 (word F1 for BMES) against the gold tags.
* **forecaster** (``--data`` CSV; default seattle-weather's test year): every window of the test
  series (stride 1) -> forecast in the targets' units (PyTorch: the network on standardised
  windows and the inverse scaling; the graph takes raw windows); score: MAE of the P50.
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
from lstmkit.export.onnx import export_onnx


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def time_runtime(run, singles: list, batches: list, score) -> tuple[float, float, float, float]:
    """``run(input) -> output``: p50 and p99 ms of ``singles`` one at a time, then inputs/s over
    ``batches`` and ``score(outputs of the batches)``."""
    for one in singles[:20]:  # warm-up
        run(one)
    latencies = []
    for one in singles:
        start = time.perf_counter()
        run(one)
        latencies.append((time.perf_counter() - start) * 1e3)
    outputs, start = [], time.perf_counter()
    for batch in batches:
        outputs.append(run(batch))
    seconds = time.perf_counter() - start
    return statistics.median(latencies), percentile(latencies, 99), seconds, score(outputs)


# --------------------------------------------------------------------------- text classifier


def text_case(clf, args):
    """Runners over ``(ids, lengths)``; score: accuracy on chn-reviews' test split."""
    from lstmkit.data.datasets import load_dataset

    texts, labels = load_dataset("chn-reviews")["test"][:2]
    encoded = [ids or [1] for ids in clf.encode(texts)]
    truth = np.asarray(clf.labels_.encode(labels))
    net = clf.network_.eval()

    def run_torch(feeds):
        with torch.inference_mode():
            return torch.softmax(net(torch.from_numpy(feeds["ids"]), torch.from_numpy(feeds["lengths"])), -1).numpy()

    def feeds(lists):
        ids, lengths = pad_sequences(lists)
        return {"ids": ids.numpy(), "lengths": lengths.numpy()}

    singles = [feeds([ids]) for ids in encoded[: args.repeats]]
    batches = [feeds(encoded[i: i + args.batch]) for i in range(0, len(encoded), args.batch)]
    accuracy = lambda outputs: float((np.concatenate([o.argmax(1) for o in outputs]) == truth).mean())  # noqa: E731
    return (
        f"{len(encoded)} chn-reviews test texts",
        "texts",
        "test accuracy",
        run_torch,
        lambda s, f: s.run(None, f)[0],
        singles,
        batches,
        accuracy,
    )


# --------------------------------------------------------------------------- tagger


def tagger_case(tagger, args):
    """Runners over ``graph_inputs`` feeds, each giving tag lists; score: F1 against the gold tags."""
    from lstmkit.export.viterbi import decode
    from lstmkit.metrics.tagging import tagging_metrics
    from lstmkit.tasks.tagger.export import graph_inputs, sidecar_extra

    if args.data:
        X, y = tagger.read_data(args.data)
        source = str(args.data)
    else:
        from lstmkit.data.datasets import load_dataset

        name = "pd-cws" if tagger.scheme_ == "BMES" else "pd-ner"
        X, y = load_dataset(name)["test"]
        source = f"{name} test split"
    X, y = list(X), list(y)
    sidecar = sidecar_extra(tagger)
    net = tagger.network_.eval()

    def run_torch(feeds):
        with torch.inference_mode():
            batch = {k: torch.from_numpy(v) for k, v in feeds.items()}
            paths = net.decode(net.emissions(batch), batch)
        return [tagger._from_model_scheme([tagger.tags_[i] for i in p]) for p in paths]

    def run_onnx(s, feeds):
        return decode(s.run(None, feeds)[0], feeds["lengths"], sidecar)

    singles = [graph_inputs(sidecar, [x]) for x in X[: args.repeats]]
    batches = [graph_inputs(sidecar, X[i : i + args.batch]) for i in range(0, len(X), args.batch)]
    f1 = lambda outputs: float(tagging_metrics(y, [t for o in outputs for t in o], tagger.scheme_)["f1"])  # noqa: E731
    return (
        f"{len(X)} sentences ({source}, {sum(map(len, X))} tokens)",
        "sentences",
        "test F1",
        run_torch,
        run_onnx,
        singles,
        batches,
        f1,
    )


# --------------------------------------------------------------------------- forecaster


def forecaster_case(fc, args):
    """Runners over windows of the test series, each giving the P50 (W, H, T); score: its MAE."""
    from lstmkit.data.formats.timeseries import calendar_features
    from lstmkit.tasks.forecaster.export import sidecar_extra

    if args.data:
        series, source = fc.read_data(args.data)[0], str(args.data)
    else:
        from lstmkit.data.datasets.timeseries import load_seattle_weather

        frame = load_seattle_weather(context=fc.config_.model.lookback)["test"][0]
        series, source = fc._contexts(frame, future_rows=0)[0], "seattle-weather test year"
    L, H = fc.config_.model.lookback, fc.config_.model.horizon
    windows = fc._windows(series, stride=1, source=source)  # standardised, as the network reads them
    T, n_future = fc.n_targets_, len(fc.config_.data.future_covariates)
    sidecar = sidecar_extra(fc)
    raw = {"history": np.stack([series.values[o - L : o] for o in windows.origins])}  # (W, L, C) file units
    if n_future:
        raw["future_covariates"] = np.stack([series.values[o : o + H, -n_future:] for o in windows.origins])
    if sidecar["calendar"]:
        raw["calendar"] = np.stack([calendar_features(series.time[o - L : o + H], fc.freq_) for o in windows.origins])
    raw = {k: v.astype(np.float32) for k, v in raw.items()}
    truth = fc._unscale(windows.y)  # (W, H, T)
    net, mean, scale = fc.network_.eval(), fc.scaler_.mean_[:T], fc.scaler_.scale_[:T]

    def run_torch(feeds):
        with torch.inference_mode():
            out = net.predict(torch.from_numpy(feeds["past"]), torch.from_numpy(feeds["future"])).numpy()
        return net.point(torch.from_numpy(out)).numpy() * scale + mean  # (B, H, T)

    def run_onnx(s, feeds):
        out = s.run(None, {k: v for k, v in feeds.items() if k not in ("past", "future")})[0]
        return out[..., out.shape[-1] // 2] if out.ndim == 4 else out

    inputs = {**raw, "past": windows.past.astype(np.float32), "future": windows.future_known.astype(np.float32)}
    cut = lambda a, b: {k: v[a:b] for k, v in inputs.items()}  # noqa: E731
    singles = [cut(i, i + 1) for i in range(min(args.repeats, len(truth)))]
    batches = [cut(i, i + args.batch) for i in range(0, len(truth), args.batch)]
    mae = lambda outputs: float(np.abs(np.concatenate(outputs) - truth).mean())  # noqa: E731
    return (
        f"{len(truth)} windows ({source}, lookback {L}, horizon {H})",
        "windows",
        "test MAE (P50)",
        run_torch,
        run_onnx,
        singles,
        batches,
        mae,
    )


CASES = {"text-classifier": text_case, "tagger": tagger_case, "forecaster": forecaster_case}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument(
        "--repeats", "--texts", type=int, default=500, dest="repeats", help="inputs timed one at a time"
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, help="test data in the task's format (tagger: CoNLL; forecaster: CSV)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = lstmkit.load(args.model_dir)
    if model.task not in CASES:
        raise SystemExit(f"no benchmark for {model.task} models; tasks: {', '.join(CASES)}")
    what, unit, metric, run_torch, run_session, singles, batches, score = CASES[model.task](model, args)
    n = sum(len(b[next(iter(b))]) for b in batches)

    with tempfile.TemporaryDirectory() as tmp:
        paths = {"onnxruntime fp32": Path(tmp) / "m.onnx", "onnxruntime int8": Path(tmp) / "q.onnx"}
        export_onnx(model, paths["onnxruntime fp32"])
        export_onnx(model, paths["onnxruntime int8"], int8=True)
        sizes = {name: path.stat().st_size / 2**20 for name, path in paths.items()}
        runners = {"pytorch": run_torch}
        for name, path in paths.items():
            runners[name] = lambda feeds, s=session(path, args.threads): run_session(s, feeds)
        rows = []
        for name, run in runners.items():
            p50, p99, seconds, value = time_runtime(run, singles, batches, score)
            rows.append((name, p50, p99, n / seconds, value, sizes.get(name)))

    print(f"{model.task}: {what}, {args.threads} thread(s), batch {args.batch}\n")
    print(f"| runtime | single input p50 (ms) | p99 (ms) | batched ({unit}/s) | {metric} | file (MB) |")
    print("|---|---|---|---|---|---|")
    for name, p50, p99, throughput, value, size in rows:
        print(
            f"| {name} | {p50:.2f} | {p99:.2f} | {throughput:.0f} | {value:.4f} | "
            f"{'' if size is None else f'{size:.2f}'} |"
        )


if __name__ == "__main__":
    main()
