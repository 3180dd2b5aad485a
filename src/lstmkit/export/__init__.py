"""ONNX export of any task's model (:func:`lstmkit.export.onnx.export_onnx`) and the pieces that
make a network exportable: :class:`~lstmkit.export.rnn.ExportableRecurrent` (LSTM/GRU/RNN stacks,
exact on padding, dynamic batch and length) and :class:`~lstmkit.export.ngrams.ExportableNgramTfidf`;
:mod:`lstmkit.export.viterbi` decodes an exported tagger's emissions in plain numpy."""

from lstmkit.export.rnn import ExportableRecurrent

__all__ = ["ExportableRecurrent", "export_onnx"]


def __getattr__(name):  # onnx and onnxruntime load only when exporting
    if name == "export_onnx":
        from lstmkit.export.onnx import export_onnx

        return export_onnx
    raise AttributeError(name)
