"""Explanations: gate activations and cell states per step (:mod:`~lstmkit.explain.gates`),
integrated-gradients attributions (:mod:`~lstmkit.explain.attributions`), both for one input
(:func:`~lstmkit.explain.report.explain`), and the PNG (:mod:`~lstmkit.explain.plots`)."""

from lstmkit.explain.report import ExplainError, explain

__all__ = ["ExplainError", "explain"]
