"""The ``forecaster`` task: multivariate history -> the next ``horizon`` steps of the target(s).

=================  ==========================================================
``config.py``      the settings (``data.*``, ``model.*``, ``train.*``)
``series.py``      :class:`Context`: a checked series from a CSV, a DataFrame or JSON
``network.py``     :class:`ForecastNet`: window norm -> (Bi)LSTM/GRU -> direct or autoregressive head
``estimator.py``   :class:`Forecaster`: windows, fit, forecasts with intervals, evaluation, model folder
``plot.py``        ``forecast.png``
``demo.py``        ``lstmkit demo weather``
=================  ==========================================================
"""

from lstmkit.tasks.forecaster.config import (
    ForecastDataConfig,
    ForecasterConfig,
    ForecastModelConfig,
)
from lstmkit.tasks.forecaster.estimator import Forecaster
from lstmkit.tasks.forecaster.network import ForecastNet
from lstmkit.tasks.forecaster.series import Context

__all__ = ["Context", "ForecastDataConfig", "ForecastModelConfig", "ForecastNet", "Forecaster", "ForecasterConfig"]
