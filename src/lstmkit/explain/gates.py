"""Gate activations and cell states per step, from a task's ``run_with_states`` (reference engine).

``run_with_states`` gives, per input, ``gates[layer][name]`` arrays ``(T, H)`` for every layer and
direction (``"l0"``, ``"l0_reverse"``, ...; LSTM ``i, f, g, o, c``; GRU ``r, z, n``) and the last
layer's ``outputs (T, D*H)``. :func:`last_layer_gates` keeps the last layer and puts the
directions side by side (forward first), which is what ``explain --json`` prints:

* LSTM: ``gates = {"input": i, "forget": f, "output": o}`` and ``cell = c``;
* GRU: ``gates = {"reset": r, "update": z}`` and ``cell = h`` (a GRU has no separate cell
  state; its hidden state plays that part);

each a list of T lists of ``D*H`` floats.
"""

from __future__ import annotations

import numpy as np

LSTM_NAMES = {"i": "input", "f": "forget", "o": "output"}
GRU_NAMES = {"r": "reset", "z": "update"}


def states_record(outputs, gates: dict) -> dict:
    """One item of ``run_with_states`` from a recurrent layer's ``return_gates=True`` call on a
    batch of one: ``outputs (1, T, D*H)`` and ``gates[layer][name] (1, T, H)`` tensors ->
    ``{"gates": {layer: {name: (T, H)}}, "outputs": (T, D*H)}`` as numpy arrays."""
    return {"gates": {layer: {name: value[0].numpy() for name, value in acts.items()}
                      for layer, acts in gates.items()},
            "outputs": outputs[0].numpy()}


def _layers(gates: dict) -> tuple[str, str | None]:
    """The last layer's forward and backward keys (``"l1"``, ``"l1_reverse"`` or None)."""
    last = max(int(key[1:].split("_")[0]) for key in gates)
    return f"l{last}", (f"l{last}_reverse" if f"l{last}_reverse" in gates else None)


def last_layer_gates(record: dict) -> dict:
    """``{"layer", "directions", "gates": {name: (T, D*H)}, "cell": (T, D*H)}`` as numpy arrays.

    ``record`` is one item of ``run_with_states``.
    """
    gates = record["gates"]
    forward, backward = _layers(gates)
    keys = [forward] + ([backward] if backward else [])

    def joined(name: str) -> np.ndarray:
        return np.concatenate([np.asarray(gates[key][name], dtype=np.float64) for key in keys], axis=-1)

    names = LSTM_NAMES if "f" in gates[forward] else GRU_NAMES
    out = {"layer": forward, "directions": ["forward", "backward"][: len(keys)],
           "gates": {label: joined(name) for name, label in names.items()}}
    out["cell"] = joined("c") if "c" in gates[forward] else np.asarray(record["outputs"], dtype=np.float64)
    return out


def most_active_units(values: np.ndarray, k: int) -> list[int]:
    """The ``k`` units of ``values (T, U)`` that vary most over the steps (largest std; the
    largest mean |value| when there is a single step), most active first."""
    score = values.std(axis=0) if len(values) > 1 else np.abs(values).mean(axis=0)
    return [int(u) for u in np.argsort(-score, kind="stable")[:k]]
