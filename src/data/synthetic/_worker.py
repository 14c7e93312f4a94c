"""A single background thread that runs jobs in order, with a bound on queued jobs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["OrderedWorker"]


class OrderedWorker:
    """Runs jobs one at a time on a worker thread, in submission order.

    numpy and Arrow release the GIL in their loops, so a job (a month's ground
    truth, a table part's encoding) runs on the second core while the caller
    moves on. At most ``max_queued`` jobs wait, which bounds the memory their
    inputs hold; the first failure is re-raised by the next :meth:`submit` or
    by :meth:`wait`, and the jobs queued after it do not run. Several threads may
    submit: jobs run in the order their :meth:`submit` calls returned.
    """

    def __init__(self, max_queued: int = 2) -> None:
        self._max = max_queued
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: list[Future] = []
        self._lock = threading.Lock()
        self._failed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``, collecting finished jobs and waiting while the queue is full."""
        with self._lock:
            while self._pending and (len(self._pending) >= self._max
                                     or self._pending[0].done()):
                self._pending.pop(0).result()  # re-raises a failed job
            self._pending.append(self._pool.submit(self._run, fn, args))

    def _run(self, fn: Callable[..., Any], args: tuple) -> Any:
        if self._failed:  # an earlier job failed: its caller gets that error, nothing more runs
            return None
        try:
            return fn(*args)
        except BaseException:
            self._failed = True
            raise

    def wait(self) -> None:
        """Finish every queued job and stop the thread (re-raising the first failure)."""
        try:
            for f in self._pending:
                f.result()
        finally:
            self._pool.shutdown(wait=True)

    def cancel(self) -> None:
        """Drop the jobs not yet started, let the running one end, and stop the thread.

        For a caller that is failing: the jobs' own failures are not raised, so the
        caller's error is the one reported. Safe to call after :meth:`wait`.
        """
        with self._lock:
            for f in self._pending:
                f.cancel()
            self._pending = []
        self._pool.shutdown(wait=True, cancel_futures=True)
