"""Micro-batching: concurrent requests share forward passes.

Each request's inputs (already checked, in the task's own form: a list of ``n_r`` inputs) go into
an asyncio queue. One worker takes the first waiting request, waits up to ``max_wait_ms`` for more
(or until ``batch_inputs`` inputs are gathered), concatenates their inputs into one list of
``sum(n_r)`` inputs, and runs ``run(inputs) -> list of sum(n_r) results`` once, in a single
inference thread so the event loop stays free to accept requests; the results are split back
per request in order. Under load the wait costs nothing (the queue already holds many requests).
A lone client does not wait: once a pass has served a single request, the next request starts at
once, and waiting resumes as soon as a pass finds two or more requests together.

If a merged pass raises, each of its requests is rerun on its own, so one request's failure
(an input the task only rejects while predicting) is that request's error and not its
neighbours'.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch


@dataclass
class _Request:
    inputs: list
    future: asyncio.Future
    arrived: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Merge concurrent ``submit(inputs)`` calls into calls of ``run(all_inputs)``.

    ``run``: a list of inputs -> a list of as many results (e.g. ``estimator.predict_records``);
    it runs under ``torch.inference_mode()`` in one worker thread with ``threads`` intra-op threads.
    ``batching=False`` runs every request on its own (the baseline the benchmark compares with).

    Counters for tests and ``/info``: ``forward_passes`` (calls of ``run``), ``requests``.
    """

    def __init__(self, run: Callable[[list], list], max_wait_ms: float = 2.0, batch_inputs: int = 256,
                 batching: bool = True, threads: int | None = None) -> None:
        self.run = run
        self.max_wait = max_wait_ms / 1000.0
        self.batch_inputs = batch_inputs
        self.batching = batching
        self.threads = threads
        self.forward_passes = 0
        self.requests = 0
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="lstmkit-infer", initializer=self._init_thread)
        self._lock = threading.Lock()
        self._alone = False  # the last forward pass served one request: no other client is sending

    def _init_thread(self) -> None:
        if self.threads:  # intra-op threads belong to each thread: set this worker's own
            torch.set_num_threads(self.threads)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the worker on the running event loop."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._loop(), name="lstmkit-batcher")

    async def stop(self) -> None:
        """Stop the worker; requests still queued get a ``RuntimeError``."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        while self._queue is not None and not self._queue.empty():
            request = self._queue.get_nowait()
            if not request.future.done():
                request.future.set_exception(RuntimeError("the server is shutting down"))
        self._executor.shutdown(wait=False)

    # ------------------------------------------------------------------ use
    async def submit(self, inputs: list) -> list:
        """The results of ``run`` for ``inputs``, computed together with other waiting requests."""
        self.requests += 1
        if not inputs:
            return []
        loop = asyncio.get_running_loop()
        if not self.batching:
            return await loop.run_in_executor(self._executor, self._call, inputs)
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        request = _Request(inputs, loop.create_future())
        await self._queue.put(request)
        return await request.future

    async def submit_alone(self, inputs) -> list:
        """The results of ``run`` for ``inputs`` in a pass of their own (on the worker threads), with
        ``inputs`` passed as they are: a file's inputs keep what the reader knew of them (ids)."""
        self.requests += 1
        if not len(inputs):
            return []
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, inputs)

    def _call(self, inputs: list) -> list:
        """One forward pass (in the worker thread)."""
        with self._lock:
            self.forward_passes += 1
        with torch.inference_mode():
            results = self.run(inputs)
        if len(results) != len(inputs):
            raise RuntimeError(f"run returned {len(results)} results for {len(inputs)} inputs")
        return results

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].inputs)
            # Wait for company only while requests come together: after a pass that served a lone
            # request, the next one waits for nothing (one client gains nothing from the wait).
            deadline = batch[0].arrived + (0.0 if self._alone else self.max_wait)
            while size < self.batch_inputs:
                try:
                    request = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    try:
                        request = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                batch.append(request)
                size += len(request.inputs)
            self._alone = len(batch) == 1
            batch = [r for r in batch if not r.future.done()]  # a client that went away
            if batch:
                await self._run_batch(loop, batch)

    async def _run_batch(self, loop, batch: list[_Request]) -> None:
        merged = [x for request in batch for x in request.inputs]
        try:
            results = await loop.run_in_executor(self._executor, self._call, merged)
        except Exception as error:  # noqa: BLE001 - rerun alone, so the error is its own request's
            if len(batch) == 1:
                _settle(batch[0].future, error=error)
                return
            for request in batch:
                try:
                    _settle(request.future, await loop.run_in_executor(self._executor, self._call, request.inputs))
                except Exception as own:  # noqa: BLE001
                    _settle(request.future, error=own)
            return
        start = 0
        for request in batch:
            _settle(request.future, results[start:start + len(request.inputs)])
            start += len(request.inputs)


def _settle(future: asyncio.Future, result=None, error: BaseException | None = None) -> None:
    if future.done():  # cancelled: the client disconnected
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
