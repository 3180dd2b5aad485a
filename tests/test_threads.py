"""Thread sizing (OMP_NUM_THREADS, CPU affinity, torchrun's local ranks) and restoring torch's count."""

from __future__ import annotations

import os

import pytest
import torch

from lstmkit.training import threads
from lstmkit.training.threads import (
    auto_threads,
    available_cores,
    resolve_threads,
    torch_threads,
)


@pytest.fixture
def eight_cores_pinned_to_six(monkeypatch):
    """A machine of 8 cores where this process may run on 6 (taskset / cpuset)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)


def test_affinity_not_cpu_count(eight_cores_pinned_to_six):
    """Bug guarded: sizing by os.cpu_count() (8) oversubscribes a process pinned to 6 cores."""
    assert available_cores() == 6
    assert auto_threads({}) == 6


def test_cpu_count_where_there_is_no_affinity(monkeypatch):
    """Bug guarded: crashing on macOS/Windows, which lack os.sched_getaffinity."""
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert available_cores() == 3 and auto_threads({}) == 3


@pytest.mark.parametrize(("environ", "expected"), [
    ({"OMP_NUM_THREADS": "2"}, 2),                                  # the user's explicit choice
    ({"OMP_NUM_THREADS": "2", "LOCAL_WORLD_SIZE": "4"}, 2),         # already per process: not divided
    ({"OMP_NUM_THREADS": "12"}, 12),                                # honoured even above the cores
    ({"LOCAL_WORLD_SIZE": "2"}, 3),                                 # torchrun: 6 cores / 2 ranks
    ({"LOCAL_WORLD_SIZE": "4"}, 1),                                 # 6 // 4
    ({"LOCAL_WORLD_SIZE": "16"}, 1),                                # never 0
    ({"OMP_NUM_THREADS": "", "LOCAL_WORLD_SIZE": "3"}, 2),          # empty means unset
    ({"OMP_NUM_THREADS": "zero"}, 6),                               # malformed: ignored
    ({"OMP_NUM_THREADS": "0", "LOCAL_WORLD_SIZE": "0"}, 6),         # not >= 1: ignored
])
def test_auto_threads_by_hand(eight_cores_pinned_to_six, environ, expected):
    """Bugs guarded: ignoring OMP_NUM_THREADS, dividing it again by the ranks, not dividing the
    cores by LOCAL_WORLD_SIZE, returning 0 threads, crashing on a malformed variable."""
    assert auto_threads(environ) == expected


def test_auto_threads_reads_os_environ_by_default(eight_cores_pinned_to_six, monkeypatch):
    """Bug guarded: an ``environ`` default bound at import time (a stale copy of the environment)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert auto_threads() == 5
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")
    assert auto_threads() == 2


def test_resolve_threads(eight_cores_pinned_to_six):
    """Bug guarded: an explicit train.num_threads overridden by the automatic choice."""
    assert resolve_threads(3, {"OMP_NUM_THREADS": "1"}) == 3
    assert resolve_threads(0, {"OMP_NUM_THREADS": "1"}) == 1
    assert resolve_threads(0, {}) == 6
    with pytest.raises(ValueError, match="num_threads"):
        resolve_threads(-1)


def test_serving_threads_leave_a_core_to_the_event_loop(eight_cores_pinned_to_six, monkeypatch):
    """Bug guarded: a server sized like a training run (every core for torch) starves its own event
    loop: on 2 cores 16 clients got 125 requests/s instead of 569."""
    assert threads.serving_threads(0, {}) == 5  # 6 cores this process may use, one for the loop
    assert threads.serving_threads(0, {"OMP_NUM_THREADS": "4"}) == 4  # the user's choice
    assert threads.serving_threads(2, {"OMP_NUM_THREADS": "4"}) == 2  # serve.threads wins
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert threads.serving_threads(0, {}) == 1  # never 0
    with pytest.raises(ValueError, match="num_threads"):
        threads.serving_threads(-1)


def test_torch_threads_restores_the_callers_count():
    """Bug guarded: leaving torch.set_num_threads changed after training (or after an error)."""
    before = torch.get_num_threads()
    other = 2 if before != 2 else 1
    try:
        with torch_threads(other) as n:
            assert n == other and torch.get_num_threads() == other
        assert torch.get_num_threads() == before
        with pytest.raises(RuntimeError, match="boom"), torch_threads(other):
            raise RuntimeError("boom")
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)


def test_module_is_importable_without_side_effects():
    """Bug guarded: importing lstmkit.training.threads changing torch's thread count."""
    before = torch.get_num_threads()
    import importlib

    importlib.reload(threads)
    assert torch.get_num_threads() == before
