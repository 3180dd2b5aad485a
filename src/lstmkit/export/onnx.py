"""``lstmkit export MODEL_DIR --format onnx --out FILE``: any task's model as an ONNX graph.

One code path for every task: the task's :meth:`~lstmkit.tasks.base.Estimator.export_module`
gives a tensor-only module with example inputs (:class:`~lstmkit.tasks.base.ExportSpec`; its
recurrent layers go through :class:`lstmkit.export.rnn.ExportableRecurrent`, so the graph takes
any batch size and length and is exact on padded batches), and :func:`export_onnx`

1. writes the graph with ``torch.onnx.export`` (TorchScript exporter, opset 17; the recurrent
   layers become ONNX ``LSTM`` / ``GRU`` / ``RNN`` nodes), to a temporary file renamed into
   place, so a failed export never leaves half a file;
2. checks it: onnxruntime's outputs on the example inputs must equal PyTorch's to ``1e-4``
   (:class:`ExportError` otherwise), and with ``int8=True`` quantises the weights of the
   ``MatMul``/``Gemm``/``LSTM``/``GRU`` nodes to int8 (onnxruntime's dynamic quantisation);
3. writes the sidecar ``FILE.onnx.json`` beside it (:func:`sidecar_path`): the task's ``extra``
   (labels, the tokenizer and vocabulary of a text model, a tagger's CRF transitions and tag
   names; by convention ``inputs`` / ``outputs`` describe each tensor in words), then
   ``format``, ``task``, ``opset``, ``int8``, ``input_names``, ``output_names``,
   ``dynamic_axes`` and ``max_abs_diff`` (these win over ``extra``'s keys of the same name).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from lstmkit.errors import LstmkitError
from lstmkit.files import atomic_write, atomic_write_text
from lstmkit.version import __version__

OPSET = 17
"""The ONNX opset written (onnxruntime 1.16 and later run it)."""
TOLERANCE = 1e-4
"""Largest difference allowed between onnxruntime's and PyTorch's outputs on the example inputs."""
SIDECAR_FORMAT_VERSION = 1


class ExportError(LstmkitError):
    """The model could not be exported, or the exported graph does not compute what PyTorch does."""


def sidecar_path(onnx_path: str | Path) -> Path:
    """``model.onnx`` -> ``model.onnx.json``: what the graph needs beside it."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(onnx_path.name + ".json")


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _torch_outputs(module: torch.nn.Module, inputs: tuple) -> list[np.ndarray]:
    with torch.inference_mode():
        out = module(*inputs)
    return [_numpy(o) for o in (out if isinstance(out, (tuple, list)) else (out,))]


def run_onnx(path: str | Path, feeds: dict[str, np.ndarray], threads: int = 1) -> list[np.ndarray]:
    """Run an ONNX file with onnxruntime on the CPU: ``{input name: array}`` -> the outputs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _write_graph(spec, path: Path) -> None:
    module = spec.module.cpu().eval()
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer notes
        warnings.simplefilter("ignore")
        torch.onnx.export(module, spec.example_inputs, str(path), input_names=spec.input_names,
                          output_names=spec.output_names, dynamic_axes=spec.dynamic_axes,
                          opset_version=OPSET, dynamo=False, do_constant_folding=True)


def _quantize(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # its advice to pre-process the graph first, on every call
    try:
        # reduce_range: 7-bit weights. On x86 CPUs without VNNI onnxruntime multiplies u8 x s8 pairs
        # with VPMADDUBSW, whose 16-bit sums saturate with full-range weights: an autoregressive
        # forecaster's int8 graph was off by 0.33 standard deviations on one series (0.002 with it).
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, reduce_range=True,
                         op_types_to_quantize=["MatMul", "Gemm", "LSTM", "GRU"])
    finally:
        logging.disable(previous)


def export_onnx(estimator, out: str | Path, int8: bool = False, spec=None) -> dict:
    """Export a fitted estimator to ``out`` (an ``.onnx`` file) and its sidecar; returns the sidecar.

    ``spec``: the estimator's :class:`~lstmkit.tasks.base.ExportSpec` when the caller already has it
    (default: ``estimator.export_module()``).

    The sidecar holds ``max_abs_diff``: the largest difference between onnxruntime's and
    PyTorch's outputs on the example inputs (with ``int8``, the quantised graph's, which is not
    held to :data:`TOLERANCE`).
    """
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ExportError(f"--out {out}: the file name must end in .onnx")
    if out.is_dir():
        raise ExportError(f"--out {out} is a folder; give a file name ending in .onnx")
    try:
        spec = spec if spec is not None else estimator.export_module()
    except NotImplementedError as missing:
        raise ExportError(str(missing) or f"export is not available for {estimator.task} models") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    feeds = {name: _numpy(value) for name, value in zip(spec.input_names, spec.example_inputs)}
    expected = _torch_outputs(spec.module, spec.example_inputs)
    with tempfile.TemporaryDirectory(prefix=".lstmkit-export-", dir=out.parent) as scratch:
        graph = Path(scratch) / "model.onnx"
        try:
            _write_graph(spec, graph)
        except Exception as error:  # noqa: BLE001 - the exporter's own errors name the unsupported operator
            raise ExportError(f"torch.onnx.export failed for this {estimator.task} model: "
                              f"{type(error).__name__}: {str(error).splitlines()[0][:300]}") from None
        got = run_onnx(graph, feeds)
        diff = max(float(np.max(np.abs(g - e))) if e.size else 0.0 for g, e in zip(got, expected))
        if not diff <= TOLERANCE:
            raise ExportError(f"the exported graph differs from PyTorch by {diff:.3g} (> {TOLERANCE}) on the "
                              "example inputs; not written")
        if int8:
            quantized = Path(scratch) / "model.int8.onnx"
            _quantize(graph, quantized)
            graph = quantized
            got = run_onnx(graph, feeds)
            diff = max(float(np.max(np.abs(g - e))) if e.size else 0.0 for g, e in zip(got, expected))
        atomic_write(out, lambda tmp: os.replace(graph, tmp))
    sidecar = {
        **(spec.extra or {}),
        "format": "lstmkit-onnx",
        "format_version": SIDECAR_FORMAT_VERSION,
        "task": estimator.task,
        "lstmkit_version": __version__,
        "onnx_file": out.name,
        "opset": OPSET,
        "int8": int8,
        "input_names": spec.input_names,
        "output_names": spec.output_names,
        "dynamic_axes": spec.dynamic_axes,
        "max_abs_diff": diff,
    }
    atomic_write_text(sidecar_path(out), json.dumps(sidecar, ensure_ascii=False, indent=1))
    return sidecar
