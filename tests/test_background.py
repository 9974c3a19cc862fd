"""bbqa.background: tasks on their own thread, and a few workers sharing a queue."""

from __future__ import annotations

import threading
import time
from functools import partial

import pytest

from bbqa.background import CancelledError, Task, Workers


def test_a_task_hands_back_its_value_or_its_error() -> None:
    assert Task(lambda: [1, 2]).result() == [1, 2]
    where: list[str] = []
    Task(lambda: where.append(threading.current_thread().name)).wait()
    assert where and where[0] != threading.current_thread().name

    def fail() -> None:
        raise ValueError("bad input")

    failing = Task(fail)
    with pytest.raises(ValueError, match="bad input"):
        failing.result()
    with pytest.raises(ValueError, match="bad input"):  # asked twice, raised twice
        failing.result()


def test_workers_run_at_most_their_count_at_once_and_every_task_once() -> None:
    running, peak, lock = [0], [0], threading.Lock()
    ran: list[int] = []

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
            ran.append(n)
        return n * 10

    with Workers(2) as workers:
        tasks = [workers.submit(partial(work, n)) for n in range(8)]
        assert [t.result() for t in tasks] == [n * 10 for n in range(8)]
    assert peak[0] == 2
    assert sorted(ran) == list(range(8))


def test_leaving_early_cancels_what_has_not_started() -> None:
    release = threading.Event()
    started = threading.Event()

    def block() -> str:
        started.set()
        release.wait(5)
        return "finished"

    def fail() -> None:
        raise OSError("disk full")

    made: dict[str, Task[str]] = {}

    def leave_with_an_error() -> None:
        with Workers(1) as workers:
            made["first"] = workers.submit(block)
            made["queued"] = workers.submit(lambda: "never")
            started.wait(5)
            threading.Timer(0.05, release.set).start()
            Task(fail).result()

    with pytest.raises(OSError, match="disk full"):
        leave_with_an_error()
    first, queued = made["first"], made["queued"]
    # The running task finished before the block was left; the queued one never ran.
    assert first.result() == "finished"
    with pytest.raises(CancelledError):
        queued.result()
    closed = Workers(1)
    closed.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        closed.submit(lambda: None)
