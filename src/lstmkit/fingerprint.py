"""A data fingerprint over the real bytes: what a run folder remembers of its training data.

``json.dumps(data, default=str)`` is not a fingerprint: numpy abbreviates arrays of more
than 1,000 elements with ``...``, so two different series of the same shape print alike.
:func:`data_fingerprint` feeds SHA-256 the bytes themselves, tagged by type and length so
that ``["ab"]`` and ``["a", "b"]`` (or an int 1 and a string "1") differ:

=================================  =================================================
value                              what is hashed
=================================  =================================================
str / bytes                        UTF-8 bytes, with their length
bool, int, float, None             ``repr``
numpy array / torch tensor         dtype, shape and the contiguous buffer
list / tuple                       length, then each item
dict / Mapping                     length, then each (key, value) in key order
pandas DataFrame / Series          columns, index and every value (pandas' row hashes)
dataclass                          its fields, as a dict
=================================  =================================================
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any


def data_fingerprint(*values: Any) -> str:
    """Hex SHA-256 of ``values`` (see the module docstring); equal data, equal digest."""
    digest = hashlib.sha256()
    for value in values:
        _feed(digest, value)
    return digest.hexdigest()


def _feed(h, value: Any) -> None:  # one branch per kind, as in the table above
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        h.update(b"s%d:" % len(data) + data)
    elif isinstance(value, (bytes, bytearray)):
        h.update(b"b%d:" % len(value) + bytes(value))
    elif value is None or isinstance(value, (bool, int, float)):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    elif type(value).__module__ == "numpy" and hasattr(value, "dtype"):  # numpy array or scalar
        import numpy as np

        array = np.ascontiguousarray(value)
        if array.dtype == object:
            h.update(b"o%d:" % array.size)
            for item in array.ravel().tolist():
                _feed(h, item)
        else:
            h.update(f"a{array.dtype.str}{array.shape}:".encode())
            h.update(array.tobytes())
    elif type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        _feed(h, value.detach().cpu().numpy())
    elif type(value).__module__.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            _feed(h, [str(c) for c in value.columns])
        _feed(h, pd.util.hash_pandas_object(value, index=True).to_numpy())
    elif isinstance(value, Mapping):
        h.update(b"d%d:" % len(value))
        for key in sorted(value, key=repr):
            _feed(h, key)
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(b"l%d:" % len(value))
        for item in value:
            _feed(h, item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _feed(h, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    else:
        raise TypeError(f"cannot fingerprint a {type(value).__name__}")
