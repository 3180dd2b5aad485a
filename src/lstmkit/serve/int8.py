"""int8 dynamic quantisation of a trained network for CPU inference (``serve --int8``).

Two ways, chosen by :func:`quantize_estimator`:

* **the export graph in onnxruntime** (:class:`OnnxNetwork`), for tasks whose ONNX graph
  takes the network's own inference arguments (``ExportSpec.network_output``; the text
  classifier): the graph of ``lstmkit export --int8`` (int8 weights in the ``MatMul``/``Gemm``
  nodes and a ``DynamicQuantizeLSTM`` node), run in the network's place. The faster way: the
  whole model runs in onnxruntime's kernels, the recurrent layer as one node.
* **PyTorch's dynamic quantisation** (:func:`quantize_network`), for the other tasks, below.

``torch.ao.quantization.quantize_dynamic`` swaps ``torch.nn.LSTM``/``GRU``/``Linear`` modules for
int8 versions (weights stored as int8 with a per-tensor scale; activations quantised on the fly
at each matrix product). lstmkit's own recurrent layers (:mod:`lstmkit.nn.rnn`) are not
``torch.nn.LSTM`` subclasses, so quantize_dynamic would pass them by; but their weights are
``torch.nn.LSTM``'s by design. :func:`quantize_network` therefore replaces each of them by
:class:`Int8Recurrent`: a ``torch.nn.LSTM``/``GRU`` loaded with the same ``state_dict`` and then
quantised, fed a ``PackedSequence`` so that padding is exact (outputs zero past each length,
final states at each sequence's own last step, as lstmkit's layers promise). ``return_gates``
(explanations) still goes to the float layer, which the wrapper keeps. Linear layers are quantised
as they are; embeddings, the n-gram bag and pooling stay float. Nothing is written back: the
quantised copy lives only in the server.

``torch.ao.quantization`` is deprecated in favour of torchao, which quantises Linear layers but
has no recurrent layers; torch 2.13 still ships it, so it is used (its warnings silenced here).

The measured effect on the chn-reviews sentiment model is in docs/benchmarks.md
(``benchmarks/serve.py int8``).
"""

from __future__ import annotations

import copy
import tempfile
import threading
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmkit.nn import GRU, LSTM


class Int8Recurrent(nn.Module):
    """An int8 stand-in for a :class:`lstmkit.nn.LSTM` / ``GRU``: same call, same outputs' shapes.

    ``forward(input (B, T, I) or (T, B, I), hx=None, lengths=None (B,), return_gates=False)`` ->
    ``output (B, T, D*H)`` (zero at padded steps) and ``(h_n, c_n)`` (LSTM) or ``h_n``, each
    ``(L*D, B, H)``.
    """

    def __init__(self, layer: LSTM | GRU) -> None:
        super().__init__()
        torch_cls = nn.LSTM if isinstance(layer, LSTM) else nn.GRU
        plain = torch_cls(layer.input_size, layer.hidden_size, num_layers=layer.num_layers, bias=layer.bias,
                          batch_first=layer.batch_first, bidirectional=layer.bidirectional)
        plain.load_state_dict(layer.state_dict())
        with warnings.catch_warnings():  # torch 2.13 marks quantized tensor creation as deprecated
            warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*deprecated")
            warnings.filterwarnings(
                "ignore", message="torch.ao.quantization is deprecated", category=DeprecationWarning
            )
            self.quantized = torch.ao.quantization.quantize_dynamic(
                nn.Sequential(plain), {torch_cls}, dtype=torch.qint8
            )[0]
        self.float_layer = [layer]  # in a list: not a submodule (its weights stay out of state_dict)
        self.batch_first = layer.batch_first
        self.is_lstm = isinstance(layer, LSTM)

    def forward(self, input: Tensor, hx=None, lengths: Tensor | None = None, return_gates: bool = False):
        if return_gates:
            return self.float_layer[0](input, hx, lengths=lengths, return_gates=True)
        steps = input.size(1 if self.batch_first else 0)
        if lengths is None or int(lengths.min()) == steps:  # no padding: no packing needed
            return self.quantized(input, hx)
        packed = pack_padded_sequence(input, lengths.cpu(), batch_first=self.batch_first, enforce_sorted=False)
        output, hidden = self.quantized(packed, hx)
        output, _ = pad_packed_sequence(output, batch_first=self.batch_first, total_length=steps)
        return output, hidden


def quantize_network(network: nn.Module) -> nn.Module:
    """An int8 copy of ``network`` for CPU inference (the original is left as it is).

    Every :class:`lstmkit.nn.LSTM` / ``GRU`` becomes an :class:`Int8Recurrent`, every
    ``nn.Linear`` a dynamically quantised Linear. The copy is in eval mode on the CPU.
    """
    net = copy.deepcopy(network).cpu().eval()
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (LSTM, GRU)):
                setattr(parent, name, Int8Recurrent(child))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*deprecated")
        warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated", category=DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(net, {nn.Linear}, dtype=torch.qint8, inplace=True)


class OnnxNetwork(nn.Module):
    """The task's int8 ONNX graph (float with ``int8=False``, for comparisons), run by
    onnxruntime in the place of its float network.

    Made from an :class:`~lstmkit.tasks.base.ExportSpec` whose ``network_output`` is set (the
    graph takes the network's inference arguments): :func:`lstmkit.export.onnx.export_onnx`
    writes and checks the graph and quantises it (``--int8`` of ``lstmkit export``) into a
    temporary folder, onnxruntime loads it, the file is deleted. ``forward(*tensors)`` feeds the
    tensors to the graph by the spec's input names and returns ``network_output(outputs)``, what
    the float network would return. Inference only (eval mode, no gradients). ``operators``: the
    graph's node types (``DynamicQuantizeLSTM``, ``MatMulInteger``, ...).

    ``batch_size``: the inference batch size it runs best at, which :func:`quantize_estimator`
    gives the estimator. onnxruntime's LSTM node projects every step's input at once, a
    ``(T, B, 4 * D * H)`` float buffer (128 long reviews: about 100 MB); smaller batches keep it
    in the cache. Measured on the chn-reviews test split, length-sorted, 2 threads, median of 5
    (``benchmarks/serve.py int8``, docs/benchmarks.md): int8 at 16 / 32 / 64 / 128 reviews per
    batch 8,169 / 9,981 / 8,961 / 7,556 reviews/s; the float PyTorch network 6,137 at 128 (its
    default and best).
    """

    batch_size = 32

    def __init__(self, estimator, spec, int8: bool = True) -> None:
        super().__init__()
        import onnx

        from lstmkit.export.onnx import export_onnx

        with tempfile.TemporaryDirectory(prefix="lstmkit-int8-") as folder:
            path = Path(folder) / "model.onnx"
            export_onnx(estimator, path, int8=int8, spec=spec)
            self.graph = path.read_bytes()
        self.operators = sorted({node.op_type for node in onnx.load_from_string(self.graph).graph.node})
        self.input_names, self.network_output = list(spec.input_names), spec.network_output
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()

    def session(self, threads: int):
        """The onnxruntime session with ``threads`` intra-op threads (made on first use)."""
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
                self._sessions[threads] = ort.InferenceSession(self.graph, options, providers=["CPUExecutionProvider"])
            return self._sessions[threads]

    def forward(self, *tensors: Tensor):
        """Runs with as many threads as PyTorch would here (``torch.get_num_threads()``: one in
        the workers of :func:`lstmkit.inference.map_batches`, all cores for a lone batch)."""
        feeds = {name: t.detach().cpu().numpy() for name, t in zip(self.input_names, tensors)}
        outputs = self.session(max(1, torch.get_num_threads())).run(None, feeds)
        return self.network_output(*[torch.from_numpy(o) for o in outputs])


def quantize_estimator(estimator):
    """Give a fitted estimator an int8 network (``estimator.network_``), in place; returns it.

    Where the task's export graph can stand in for its network (``ExportSpec.network_output``:
    the text classifier), the network becomes :class:`OnnxNetwork` (the whole model in
    onnxruntime, int8 weights), run in batches of ``OnnxNetwork.batch_size``: the faster path
    (docs/benchmarks.md). Otherwise the PyTorch network is quantised (:func:`quantize_network`).
    """
    try:
        spec = estimator.export_module()
    except NotImplementedError:
        spec = None
    if spec is not None and spec.network_output is not None:
        estimator.network_ = OnnxNetwork(estimator, spec)
        estimator.inference_batch_size = min(estimator.inference_batch_size, OnnxNetwork.batch_size)
    else:
        estimator.network_ = quantize_network(estimator.network_)
    return estimator
