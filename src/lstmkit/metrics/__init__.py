"""Metrics of the tasks: :mod:`~lstmkit.metrics.classification` (accuracy, F1, the confusion matrix),
:mod:`~lstmkit.metrics.tagging` (entity and segmentation scores) and :mod:`~lstmkit.metrics.forecast`
(MAE, MASE, quantile scores, baselines).

The classification names are also reachable here (``from lstmkit.metrics import metrics_line``), as
before these modules had a package; they load on first use.
"""


def __getattr__(name):  # PEP 562: ``lstmkit.metrics.<name>`` of the classification metrics
    import importlib

    # not ``from lstmkit.metrics import classification``: before the submodule is loaded that asks this
    # function for ``classification`` again, without end
    classification = importlib.import_module("lstmkit.metrics.classification")

    try:
        return getattr(classification, name)
    except AttributeError:
        raise AttributeError(f"module 'lstmkit.metrics' has no attribute {name!r}") from None
