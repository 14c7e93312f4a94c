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


def test_cancel_drops_waiting_jobs_and_stops_the_thread():
    started, gate, done = threading.Event(), threading.Event(), []
    before = threading.active_count()
    worker = OrderedWorker(max_queued=4)
    worker.submit(lambda: (started.set(), gate.wait()))
    for i in range(3):
        worker.submit(done.append, i)
    assert started.wait(5)
    stopper = threading.Thread(target=worker.cancel)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive()  # it lets the running job end
    gate.set()
    stopper.join(5)
    assert not stopper.is_alive()
    assert done == []  # the queued jobs never ran
    assert threading.active_count() == before
    worker.cancel()  # twice is harmless
