"""``POST /predict`` fuzzed, for every registered task: a prediction or a clear 4xx, never a 500.

The app of ``lstmkit serve`` (:func:`lstmkit.serve.app.create_app`) runs in process (Starlette's
``TestClient``, lifespan and micro-batcher included) over a tiny model of each task trained
from ``tests/task_cases.py``. Bodies are random bytes, JSON of any shape, and the task's own
valid inputs damaged (an item replaced by any JSON value: nested lists, NaN and Infinity,
huge numbers, empty strings and lists, 100 KB strings). The only allowed answers:

* 200 with one JSON-ready prediction per input;
* 413 or 422 with ``{"error": "<a message>"}``.

A 500 (the app's catch-all for an exception a task let through), another status, a body that is
not JSON, or a request taking longer than :data:`HANG_S` fails the test. Runs are derandomized;
``docs/reliability.md`` records the counts.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import (
    HealthCheck,
    currently_in_test_context,
    event as hypothesis_event,
    example,
    given,
    settings,
    strategies as st,
)
from task_cases import CASES, fit_case
from timelimit import time_limit as _time_limit

from lstmkit.tasks import TASKS

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from lstmkit.serve.app import create_app

EXAMPLES = 100
"""Examples per task and target."""
HANG_S = 30.0

FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def time_limit(seconds: float):
    """:func:`timelimit.time_limit` raising :class:`TimeoutError`."""
    return _time_limit(seconds, TimeoutError, "the request")

@pytest.fixture(scope="module", params=sorted(TASKS))
def served(request, tmp_path_factory):
    """``(task name, TestClient, the case's valid JSON inputs)`` for one trained task."""
    name = request.param
    if name not in CASES:
        pytest.skip(f"no TaskCase for {name} yet")
    est, case = fit_case(name, tmp_path_factory.mktemp(name))
    with TestClient(create_app(est), raise_server_exceptions=False) as client:
        yield name, client, case.json_inputs


def event(name: str) -> None:
    """Count an outcome in ``--hypothesis-show-statistics`` (outside a hypothesis test: nothing)."""
    if currently_in_test_context():
        hypothesis_event(name)


def post(client: TestClient, body: bytes, content_type: str = "application/json"):
    """POST ``body`` to /predict and check the answer is one the contract allows; returns it."""
    with time_limit(HANG_S):
        response = client.post("/predict", content=body, headers={"content-type": content_type})
    assert response.status_code in (200, 413, 422), \
        f"status {response.status_code} for {body[:200]!r}: {response.text[:300]}"
    payload = response.json()  # always JSON
    if response.status_code == 200:
        event("200 predictions")
        inputs = json.loads(body)["inputs"]
        assert isinstance(payload["predictions"], list) and len(payload["predictions"]) == len(inputs)
        json.dumps(payload, allow_nan=False)  # JSON-ready records: no NaN or Infinity
    else:
        event(f"{response.status_code} error")
        assert isinstance(payload.get("error"), str) and payload["error"].strip(), payload
    return response


# ---------------------------------------------------------------------- strategies
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    st.sampled_from(["", " ", "\x00", "x" * 100_000, "好" * 50, "\u2028"]))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                           max_leaves=12)


@st.composite
def damaged_inputs(draw, valid: list) -> list:
    """The task's valid inputs with some items replaced, dropped or repeated."""
    items = list(valid)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["replace", "drop", "repeat", "nest"]))
        if not items:
            items.append(draw(JSON_VALUES))
            continue
        i = draw(st.integers(0, len(items) - 1))
        if kind == "replace":
            items[i] = draw(JSON_VALUES)
        elif kind == "drop":
            del items[i]
        elif kind == "repeat":
            items.append(items[i])
        elif isinstance(items[i], list) and items[i]:  # damage one level down (a row of a sequence)
            inner = list(items[i])
            inner[draw(st.integers(0, len(inner) - 1))] = draw(JSON_VALUES)
            items[i] = inner
    return items


def dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")  # NaN / Infinity as Python writes them


# ---------------------------------------------------------------------- the properties
@FUZZ
@given(data=st.data())
def test_fuzz_predict_inputs(served, data):
    """Bug caught: an input of an unexpected shape or type (a nested list, NaN, a huge number, a
    dict) reaching the network and coming back as a 500 instead of a 422 naming the item."""
    name, client, valid = served
    inputs = data.draw(damaged_inputs(valid))
    post(client, dumps({"inputs": inputs}))


@FUZZ
@given(body=st.one_of(st.binary(max_size=200), JSON_VALUES.map(dumps),
                      st.dictionaries(st.sampled_from(["inputs", "input", "texts"]), JSON_VALUES).map(dumps)))
@example(body=b"")
@example(body=b'{"inputs": [1e999]}')
@example(body=b'{"inputs": NaN}')
@example(body=b"\xff\xfe{\x00}\x00")
def test_fuzz_predict_body(served, body):
    """Bug caught: a body that is not JSON, not UTF-8, or JSON of another shape answered by a 500."""
    post(client=served[1], body=body)


def test_valid_inputs_still_predict(served):
    """Bug caught: a fuzz suite that passes because everything is refused."""
    name, client, valid = served
    response = post(client, dumps({"inputs": valid}))
    assert response.status_code == 200, response.text
