"""The generator's background worker: jobs in order, a bounded queue, failures re-raised."""

from __future__ import annotations

import threading

import pytest
from earlywarning.data.synthetic._worker import OrderedWorker


def test_jobs_run_in_submission_order():
    done: list[int] = []
    worker = OrderedWorker(max_queued=2)
    for i in range(20):
        worker.submit(done.append, i)
    worker.wait()
    assert done == list(range(20))


def test_the_queue_never_holds_more_than_its_bound():
    gate = threading.Event()
    worker = OrderedWorker(max_queued=3)
    for _ in range(3):
        worker.submit(gate.wait)
    assert len(worker._pending) == 3
    submitted = threading.Event()
    t = threading.Thread(target=lambda: (worker.submit(lambda: None), submitted.set()))
    t.start()
    assert not submitted.wait(0.2)  # a fourth job waits for room
    gate.set()
    t.join(5)
    assert submitted.is_set()
    worker.wait()


def test_a_failed_job_is_reraised():
    worker = OrderedWorker()

    def fail() -> None:
        raise RuntimeError("disk full")

    worker.submit(fail)
    with pytest.raises(RuntimeError, match="disk full"):
        worker.wait()
