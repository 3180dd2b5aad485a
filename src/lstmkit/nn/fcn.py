r"""A fully convolutional branch for padded batches of sequences (the FCN of LSTM-FCN / MLSTM-FCN).

Karim et al., "LSTM Fully Convolutional Networks for Time Series Classification" (2017) and
"Multivariate LSTM-FCNs for Time Series Classification" (2019) put beside an LSTM a stack of
temporal convolution blocks, globally average-pooled::

    x (B, T, F) --transpose--> (B, F, T)
      --[Conv1d(k_1, "same") -> BatchNorm -> ReLU -> SE]-->  (B, C_1, T)
      --[Conv1d(k_2, "same") -> BatchNorm -> ReLU -> SE]-->  (B, C_2, T)
      --[Conv1d(k_3, "same") -> BatchNorm -> ReLU]------->   (B, C_3, T)
      --global average pooling over the real steps------->  (B, C_3)

with ``C = 128, 256, 128`` filters and kernels ``k = 8, 5, 3``; the squeeze-and-excitation blocks
(Hu et al. 2018; MLSTM-FCN puts them after the first two blocks) rescale each channel ``c`` by
``s_c = sigmoid(W_2 relu(W_1 z))_c``, ``z = mean_t x_{c,t}`` the channel's mean over the real
steps, ``W_1: C -> C/r``, ``W_2: C/r -> C``.

Symbols: ``B`` batch, ``T`` padded length, ``F`` input features, ``C`` channels, ``L_b`` the
true length of sequence ``b`` (``1 <= L_b <= T``), ``m_{b,t} = 1`` for ``t < L_b``.

Exact on padded batches
-----------------------
A right-padded sequence gives the same output as the sequence alone (``T = L_b``), whatever the
padding holds (NaN included), in training and in evaluation:

* before every convolution the padded steps are set to 0 (``masked_fill``, not a product: NaN
  times 0 is NaN), so a real step near the end reads zeros past ``L_b``, which is exactly the
  zero padding ``"same"`` gives the sequence alone (``(k-1)//2`` zeros before, ``k//2`` after;
  for an even kernel the extra zero is on the right, as ``padding="same"`` puts it);
* :class:`MaskedBatchNorm1d` computes its training statistics over real steps only::

      mu_c = sum_{b,t} m_{b,t} x_{b,c,t} / N,   var_c = sum_{b,t} m_{b,t} (x_{b,c,t} - mu_c)^2 / N,
      N = sum_b L_b

  (``torch.nn.BatchNorm1d`` on the ``N`` real steps laid side by side gives the same numbers and
  running statistics); in evaluation it uses the running statistics, step by step;
* the squeeze of each SE block and the final pooling are means over real steps.

Pitfall: a batch norm or a global average pooling that counts padding makes a sequence's result
depend on the longest sequence in its batch (and on the pad value); the tests pad with NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FCN", "ConvBlock", "MaskedBatchNorm1d", "SqueezeExcite", "steps_mean"]


def steps_mean(x: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
    """``x (B, C, T)`` -> ``(B, C)``: each channel's mean over the real steps (``mask (B, T)``)."""
    total = x.masked_fill(~mask.unsqueeze(1), 0.0).sum(dim=2)  # (B, C)
    return total / lengths.unsqueeze(1).to(x.dtype)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """Batch norm over channels of ``x (B, C, T)`` whose statistics count only real steps.

    The parameters and buffers are :class:`torch.nn.BatchNorm1d`'s (``weight``, ``bias``,
    ``running_mean``, ``running_var``, ``num_batches_tracked``), updated as it updates them (the
    running variance with the unbiased estimate ``var * N / (N - 1)``).

    Forward: ``x (B, C, T)``, ``mask (B, T)`` bool -> ``(B, C, T)``; padded steps hold anything.
    """

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # type: ignore[override]
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        real = mask.unsqueeze(1)  # (B, 1, T)
        n = real.sum().to(x.dtype)  # N real steps
        mean = x.masked_fill(~real, 0.0).sum(dim=(0, 2)) / n  # (C,)
        centred = (x - mean[None, :, None]).masked_fill(~real, 0.0)  # (B, C, T), 0 at padding
        var = centred.pow(2).sum(dim=(0, 2)) / n  # (C,), biased: what normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                unbiased = var * n / (n - 1).clamp(min=1.0)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(unbiased.detach(), momentum)
        out = (x - mean[None, :, None]) * torch.rsqrt(var + self.eps)[None, :, None]
        if self.affine:
            out = out * self.weight[None, :, None] + self.bias[None, :, None]
        return out


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation over the real steps: ``x * sigmoid(W_2 relu(W_1 mean_t x))``.

    Args:
        channels: ``C``.
        reduction: ``r``; the bottleneck has ``max(C // r, 1)`` units.

    Forward: ``x (B, C, T)``, ``mask (B, T)``, ``lengths (B,)`` -> ``(B, C, T)``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.squeeze = nn.Linear(channels, hidden)
        self.excite = nn.Linear(hidden, channels)

    def forward(self, x: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        z = steps_mean(x, mask, lengths)  # (B, C)
        scale = torch.sigmoid(self.excite(torch.relu(self.squeeze(z))))  # (B, C)
        return x * scale.unsqueeze(2)


class ConvBlock(nn.Module):
    """``Conv1d(kernel, "same") -> MaskedBatchNorm1d -> ReLU [-> SqueezeExcite]``, padding zeroed first.

    Forward: ``x (B, C_in, T)``, ``mask (B, T)``, ``lengths (B,)`` -> ``(B, C_out, T)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, squeeze_excite: bool,
                 reduction: int = 16) -> None:
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)  # "same", the extra zero on the right
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)
        nn.init.kaiming_uniform_(self.conv.weight, nonlinearity="relu")  # He uniform, as the papers' Keras code
        self.norm = MaskedBatchNorm1d(out_channels)
        self.se = SqueezeExcite(out_channels, reduction) if squeeze_excite else None

    def forward(self, x: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        x = F.pad(x.masked_fill(~mask.unsqueeze(1), 0.0), self.pad)  # (B, C_in, k - 1 + T)
        x = torch.relu(self.norm(self.conv(x), mask))  # (B, C_out, T)
        return self.se(x, mask, lengths) if self.se is not None else x


class FCN(nn.Module):
    """Convolution blocks and global average pooling over each sequence's real steps.

    Args:
        input_size: ``F``.
        filters: the channels of each block (``128, 256, 128`` in the papers).
        kernels: each block's kernel size (``8, 5, 3``), as many as ``filters``.
        squeeze_excite: an SE block after every block but the last (MLSTM-FCN); False: none (LSTM-FCN).
        reduction: the SE bottleneck's ratio ``r``.

    Forward: ``x (B, T, F)`` batch first, ``lengths (B,)`` integers in ``1..T`` -> ``(B, filters[-1])``.
    No Python decision depends on the data, so the module traces and exports to ONNX as it is.
    """

    def __init__(self, input_size: int, filters: list[int], kernels: list[int], squeeze_excite: bool = True,
                 reduction: int = 16) -> None:
        super().__init__()
        if len(filters) != len(kernels) or not filters:
            raise ValueError(f"filters and kernels must be non-empty and as long; got {filters} and {kernels}")
        channels = [input_size, *filters]
        last = len(filters) - 1
        self.blocks = nn.ModuleList(
            ConvBlock(channels[n], channels[n + 1], kernels[n], squeeze_excite and n < last, reduction)
            for n in range(len(filters))
        )
        self.output_size = filters[-1]

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        lengths = lengths.to(device=x.device, dtype=torch.long)
        mask = torch.arange(x.size(1), device=x.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        h = x.transpose(1, 2)  # (B, F, T)
        for block in self.blocks:
            h = block(h, mask, lengths)  # (B, C_n, T)
        return steps_mean(h, mask, lengths)  # (B, C_last)
