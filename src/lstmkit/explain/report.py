"""One explanation of one input: gates and cell states per step, and integrated gradients.

:func:`explain` talks to a task only through two hooks of its estimator:

* ``run_with_states(X)`` (the :class:`~lstmkit.tasks.base.Estimator` contract): the reference
  engine's gate activations with the trained weights (:mod:`lstmkit.explain.gates`);
* ``attribution_spec(x, target=None)`` -> :class:`~lstmkit.explain.attributions.AttributionSpec`:
  what integrated gradients differentiates (:mod:`lstmkit.explain.attributions`).

The result is what ``lstmkit explain --json`` prints (all lists and floats)::

    {"tokens": [n], "label": ..., "probability": p,
     "layer": "l0", "directions": ["forward", "backward"],
     "gates": {"input": n x (D*H), "forget": ..., "output": ...}, "cell": n x (D*H),
     "attributions": [n], "baseline": "...", "target": ..., "completeness": {...},
     "outputs": [K names], "step_kind": "token"}

``label`` is the output explained by default (the predicted class; a tagger's first entity; a
forecaster's first value) and the key after it, the spec's ``value_name`` (``probability``;
``forecast`` for a forecaster), its value. A spec with ``features`` adds ``features`` (F names)
and ``feature_attributions`` (n lists of F numbers, summing to ``attributions``).

``target`` may name an output (``spec.output_names``), one of its ``spec.aliases``, or give its
index; anything else is an :class:`ExplainError` that lists the outputs.
"""

from __future__ import annotations

from lstmkit.errors import LstmkitError
from lstmkit.explain.attributions import integrated_gradients
from lstmkit.explain.gates import last_layer_gates


class ExplainError(LstmkitError):
    """The model cannot be explained (its task has no hooks yet) or the request is wrong."""


def _hook(estimator, name: str):
    hook = getattr(estimator, name, None)
    if hook is None:
        raise ExplainError(f"explanations are not available for {estimator.task} models yet")
    return hook


def explain(estimator, x, target=None, n_steps: int = 64) -> dict:
    """Explain one input ``x`` (one item of ``inputs_from_texts`` / ``inputs_from_json``).

    ``target``: the output to explain, by name (a label, an entity, a forecast value), alias or
    index; default ``spec.target``, else the largest output (the predicted class).
    ``n_steps``: integration points of integrated gradients.
    """
    try:
        (states,) = _hook(estimator, "run_with_states")([x])
        spec = _hook(estimator, "attribution_spec")(x)
    except NotImplementedError as missing:
        raise ExplainError(str(missing) or f"explanations are not available for {estimator.task} models") from None
    target = resolve_target(spec, target)
    ig = integrated_gradients(spec, target=target, n_steps=n_steps)
    gates = last_layer_gates(states)
    steps = list(states.get("tokens") or states.get("steps") or spec.steps)
    if len(steps) != len(ig["attributions"]) or len(steps) != len(gates["cell"]):
        raise RuntimeError(f"{estimator.task}: run_with_states gives {len(gates['cell'])} steps, "
                           f"attribution_spec {len(ig['attributions'])}")
    import torch

    with torch.no_grad():
        outputs = spec.forward(spec.inputs)[0]
    default = spec.target if spec.target is not None else int(outputs.argmax())
    record = {
        "tokens": [str(s) for s in steps],
        "label": spec.output_names[default],
        spec.value_name: float(outputs[default]),
        "layer": gates["layer"],
        "directions": gates["directions"],
        "gates": {name: value.tolist() for name, value in gates["gates"].items()},
        "cell": gates["cell"].tolist(),
        "attributions": ig["attributions"],
        "baseline": spec.baseline_name,
        "target": ig["target_name"],
        "completeness": {"sum": sum(ig["attributions"]), "output": ig["output"],
                         "baseline_output": ig["baseline_output"], "delta": ig["delta"]},
        "outputs": [str(name) for name in spec.output_names],
        "value_name": spec.value_name,
        "step_kind": spec.step_kind,
    }
    if spec.features is not None:
        record["features"] = list(spec.features)
        record["feature_attributions"] = ig["feature_attributions"]
    return record


SHOWN_CHOICES = 40
"""An error about ``--target`` lists at most this many outputs."""


def resolve_target(spec, target) -> int | None:
    """``target`` (None, an output's name, an alias, or an index) -> the output's index."""
    if target is None:
        return None
    names = [str(n) for n in spec.output_names]
    if isinstance(target, int) and not isinstance(target, bool):
        index = target
    elif str(target) in names:
        return names.index(str(target))
    elif str(target) in spec.aliases:
        return spec.aliases[str(target)]
    elif str(target).strip().lstrip("-").isdigit():
        index = int(str(target))
    else:
        index = None
    if index is not None and 0 <= index < len(names):
        return index
    shown = ", ".join(names[:SHOWN_CHOICES]) + (f", ... ({len(names)} in all)" if len(names) > SHOWN_CHOICES else "")
    raise ExplainError(f"--target {target}: not an output of this model; {spec.outputs_label}: {shown}")
