"""map_batches: same results and order as a plain loop, no gradients, thread setting restored."""

import threading

import pytest
import torch

from lstmkit.inference import map_batches


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_results_follow_batch_order_and_match_a_plain_loop(two_threads):
    layer = torch.nn.Linear(4, 3)
    batches = [torch.randn(n, 4) for n in (5, 1, 7, 2, 3)]
    got = map_batches(layer, batches)
    for out, batch in zip(got, batches):
        torch.testing.assert_close(out, layer(batch).detach())
        assert not out.requires_grad


def test_workers_run_single_threaded_without_grad_and_the_setting_stays(two_threads):
    seen = []

    def probe(batch):
        seen.append((threading.current_thread().name, torch.get_num_threads(), torch.is_inference_mode_enabled()))
        return batch

    assert map_batches(probe, range(6)) == list(range(6))
    assert all(name.startswith("lstmkit-batch") and threads == 1 and inference for name, threads, inference in seen)
    assert torch.get_num_threads() == 2  # the caller's setting
    assert threads_of_a_new_thread() == 2  # and the process default


def threads_of_a_new_thread() -> int:
    found = []
    thread = threading.Thread(target=lambda: found.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return found[0]


def test_errors_propagate_and_leave_the_setting_alone(two_threads):
    def fail(batch):
        raise ValueError(f"bad batch {batch}")

    with pytest.raises(ValueError, match="bad batch"):
        map_batches(fail, [1, 2])
    assert torch.get_num_threads() == 2


def test_overlapping_calls_from_several_threads(two_threads):
    """Two callers in flight at once (a server's threads) share the workers, and neither
    changes the other's or the process's thread setting."""
    first_inside, release = threading.Event(), threading.Event()
    results = {}

    def slow(batch):
        first_inside.set()
        release.wait(5)
        return batch * 10

    first = threading.Thread(target=lambda: results.update(first=map_batches(slow, [1, 2])))
    first.start()
    first_inside.wait(5)
    second = threading.Thread(target=lambda: results.update(second=map_batches(lambda b: b, [3, 4])))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert results == {"first": [10, 20], "second": [3, 4]}
    assert torch.get_num_threads() == 2 and threads_of_a_new_thread() == 2


def test_one_thread_or_one_batch_runs_in_the_calling_thread():
    torch.set_num_threads(1)
    names = map_batches(lambda b: threading.current_thread().name, [1, 2, 3])
    assert set(names) == {threading.current_thread().name}
    assert map_batches(lambda b: b * 2, []) == []
