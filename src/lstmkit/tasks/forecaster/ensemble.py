"""A forecaster's seed ensemble: each quantile (or the point forecast) averaged over the members.

``forward`` returns what one :class:`ForecastNet` returns, ``(B, H, T, Q)`` in standardised units,
as the members' mean; the loss, the point forecast and validation are one network's, read on it. The
estimator calibrates the ensemble's quantiles on the validation windows after training, as it does
one network's, and sorts them, so they never cross.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.nn.ensemble import Ensemble
from lstmkit.tasks.forecaster.network import ForecastNet


class ForecastEnsemble(Ensemble):
    """Members' :class:`ForecastNet`; their forecasts averaged."""

    predict = ForecastNet.predict
    _batch_forward = ForecastNet._batch_forward
    validation_output = ForecastNet.validation_output

    def forward(self, past: Tensor, future: Tensor, static_numbers: Tensor | None = None,
                static_categories: Tensor | None = None) -> Tensor:
        """The members' mean forecast ``(B, H, T, Q)`` (see :meth:`ForecastNet.forward`)."""
        return torch.stack([member(past, future, static_numbers, static_categories)
                            for member in self.members]).mean(0)
