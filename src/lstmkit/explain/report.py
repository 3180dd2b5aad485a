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
     "attributions": [n], "baseline": "...", "target": ..., "completeness": {...}}
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

    ``target``: the output to explain, by name (a label) or index; default the predicted one.
    ``n_steps``: integration points of integrated gradients.
    """
    try:
        (states,) = _hook(estimator, "run_with_states")([x])
        spec = _hook(estimator, "attribution_spec")(x)
    except NotImplementedError as missing:
        raise ExplainError(str(missing) or f"explanations are not available for {estimator.task} models") from None
    if target is not None and not isinstance(target, int):
        names = [str(n) for n in spec.output_names]
        if str(target) not in names:
            raise ExplainError(f"--target {target}: not an output of this model; its outputs: {', '.join(names)}")
        target = names.index(str(target))
    ig = integrated_gradients(spec, target=target, n_steps=n_steps)
    gates = last_layer_gates(states)
    steps = list(states.get("tokens") or states.get("steps") or spec.steps)
    if len(steps) != len(ig["attributions"]) or len(steps) != len(gates["cell"]):
        raise RuntimeError(f"{estimator.task}: run_with_states gives {len(gates['cell'])} steps, "
                           f"attribution_spec {len(ig['attributions'])}")
    import torch

    with torch.no_grad():
        probabilities = spec.forward(spec.inputs)[0]
    predicted = int(probabilities.argmax())
    return {
        "tokens": [str(s) for s in steps],
        "label": spec.output_names[predicted],
        "probability": float(probabilities[predicted]),
        "layer": gates["layer"],
        "directions": gates["directions"],
        "gates": {name: value.tolist() for name, value in gates["gates"].items()},
        "cell": gates["cell"].tolist(),
        "attributions": ig["attributions"],
        "baseline": spec.baseline_name,
        "target": ig["target_name"],
        "completeness": {"sum": sum(ig["attributions"]), "output": ig["output"],
                         "baseline_output": ig["baseline_output"], "delta": ig["delta"]},
    }
