"""The sequence classifier's hook for ONNX export: the whole network as one graph.

``features (B, T, F) float32, lengths (B,) int64`` -> by mode:

* one label per sequence: ``probabilities (B, C)``;
* per-step labels: ``probabilities (B, T, C)`` (zero at padded steps);
* per-step values: ``values (B, T)`` in the target's units (zero at padded steps).

The feature scaling (``scaler.json``) is part of the graph, so it takes the raw features; the
recurrent layers are :class:`lstmkit.export.rnn.ExportableRecurrent` (exact on padded batches of
any batch size and length), and pooling is the text classifier's branch-free
:func:`lstmkit.tasks.text.export.pool`. An ``lstm_fcn`` model's convolution branch
(:class:`lstmkit.nn.fcn.FCN`) goes in as it is: it makes no Python decision on the data, masks
padding by index arithmetic and, in evaluation, its batch norm is an affine map per channel.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.export.rnn import ExportableRecurrent, steps_mask
from lstmkit.tasks.base import ExportSpec
from lstmkit.tasks.text.export import pool


class SequenceGraph(nn.Module):
    """``predict_proba`` (or the per-step values) as a graph; shares the trained weights."""

    def __init__(self, net: nn.Module, mean: np.ndarray | None, scale: np.ndarray | None) -> None:
        super().__init__()
        self.net = net.eval()
        self.rnn = ExportableRecurrent(net.rnn)
        n = net.rnn.input_size
        self.register_buffer("mean", torch.as_tensor(mean if mean is not None else np.zeros(n), dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale if scale is not None else np.ones(n), dtype=torch.float32))

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        net = self.net
        mask = steps_mask(lengths, features.size(1)).unsqueeze(2)  # (B, T, 1)
        x = (features - self.mean) / self.scale * mask  # (B, T, F), padding zeroed
        states, _ = self.rnn(x, lengths)  # (B, T, D*H)
        if net.mode == "sequence":
            pooled = pool(net.pooling, states, lengths)  # (B, P)
            if net.fcn is not None:
                pooled = torch.cat([pooled, net.fcn(x, lengths)], dim=1)  # (B, P + K)
            return torch.softmax(net.head(pooled), dim=-1)  # (B, C)
        out = net.head(states) * mask  # (B, T, C)
        if net.mode == "step_label":
            return torch.softmax(out, dim=-1) * mask  # (B, T, C)
        return (out.squeeze(2) * net.target_scale + net.target_mean) * mask.squeeze(2)  # (B, T)


def export_spec(clf) -> ExportSpec:
    """The :class:`ExportSpec` of a fitted :class:`~lstmkit.tasks.sequence.SequenceClassifier`."""
    clf._check_fitted()
    net = clf.network_.cpu().eval()
    scaler = clf.scaler_
    graph = SequenceGraph(net, scaler.mean_ if scaler is not None else None,
                          scaler.scale_ if scaler is not None else None)
    n_features, lengths = net.rnn.input_size, torch.tensor([5, 3, 1])
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(3, 5, n_features, generator=generator)
    if scaler is not None:
        features = features * graph.scale + graph.mean  # about the training data's range
    output = "values" if net.mode == "step_value" else "probabilities"
    axes = {0: "batch"} if net.mode == "sequence" else {0: "batch", 1: "steps"}
    return ExportSpec(
        module=graph,
        example_inputs=(features, lengths),
        input_names=["features", "lengths"],
        output_names=[output],
        dynamic_axes={"features": {0: "batch", 1: "steps"}, "lengths": {0: "batch"}, output: axes},
        extra={
            "labels": clf.labels_.labels if net.mode != "step_value" else None,
            "mode": net.mode,
            "inputs": {"features": "raw (unscaled) features (batch, steps, features) float32, right-padded",
                       "lengths": "true lengths (batch,) int64, 1 <= lengths <= steps"},
        },
    )
