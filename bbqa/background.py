"""Work run on other threads, each result (or error) collected when needed.

``concurrent.futures`` would do, but importing it (it brings ``logging``) costs every run
about 4 ms, and bbqa needs only two shapes: one task on its own thread (a loader, the input
fingerprints) and a few workers sharing a queue of tasks (the output files).

Example:
    >>> Task(lambda: 6 * 7).result()
    42
    >>> with Workers(2) as workers:
    ...     squares = [workers.submit(lambda n=n: n * n) for n in range(4)]
    ...     [t.result() for t in squares]
    [0, 1, 4, 9]
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Task(Generic[T]):
    """``work()``, run on a thread of its own unless a :class:`Workers` queue runs it."""

    def __init__(self, work: Callable[[], T], *, start: bool = True) -> None:
        self._work: Callable[[], T] | None = work
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        if start:
            threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        """Run the work here (once) and record its outcome."""
        work, self._work = self._work, None
        if work is None:
            return
        try:
            self._value = work()
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc
        finally:
            self._done.set()

    def cancel(self) -> bool:
        """Drop work that has not started; ``True`` if it will never run."""
        if self._work is None:
            return False
        self._work = None
        self._error = CancelledError("cancelled before it started")
        self._done.set()
        return True

    def wait(self) -> None:
        """Wait until the work has finished (or was cancelled), whatever its outcome."""
        self._done.wait()

    def result(self) -> T:
        """Wait for the work; its return value, or its exception raised here."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class CancelledError(Exception):
    """The task was cancelled before it ran."""


class Workers:
    """``count`` threads running submitted tasks in order; leaving the ``with`` block waits
    for the running ones and cancels those not yet started."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._queue: deque[Task[Any]] = deque()
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def __enter__(self) -> Workers:
        return self

    def submit(self, work: Callable[[], T]) -> Task[T]:
        """Queue ``work``; a thread is started for it while fewer than ``count`` exist."""
        task: Task[T] = Task(work, start=False)
        with self._ready:
            if self._closed:
                raise RuntimeError("submit after the workers were shut down")
            self._queue.append(task)
            self._ready.notify()
            if len(self._threads) < self._count:
                thread = threading.Thread(target=self._serve, daemon=True)
                self._threads.append(thread)
                thread.start()
        return task

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                task = self._queue.popleft()
            task.run()

    def shutdown(self) -> None:
        """Cancel queued tasks, let running ones finish, and end the threads."""
        with self._ready:
            self._closed = True
            for task in self._queue:
                task.cancel()
            self._queue.clear()
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.shutdown()
