"""Progress on stderr while long stages run: shown on a terminal, silent in CI and with --quiet.

A stage is named by calling the :class:`Stages` object. Code deep inside a stage (a loader going
through 5,000 files, the matcher going through its pairs) reports how much work it has with
:func:`count`, without being handed the display: outside an enabled display that is a no-op.
Work on another thread beside the stages (the hygiene checks) runs under :func:`beside`: its
counts and time are kept apart, for ``--profile``, and the display shows the main thread's.

Example:
    >>> with Stages(enabled=False) as stages:
    ...     stages("loading")
    ...     step = count(3, "files")
    ...     for _ in range(3):
    ...         step(1)
    >>> stages.counted["loading"]
    (3, 3, 'files')
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Rich loads only when a display is made: loaders import this module.
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn, TaskID

Step = Callable[[int], None]

_active: Stages | None = None
# The label of the work this thread does beside the stages, if any (see beside()).
_thread = threading.local()


def _ignore(_n: int) -> None:
    return None


def count(total: int, unit: str) -> Step:
    """Announce ``total`` units of work (``unit``: "files", "pairs") in the running stage.

    Returns the function to call with each step's size. Cheap enough to call per file; callers
    on a per-box path call it per chunk.
    """
    if _active is None:
        return _ignore
    return _active.count(total, unit)


@contextmanager
def beside(stage: str) -> Iterator[None]:
    """Run a block of work on this thread beside the main thread's stages.

    What it counts goes under ``"<stage> (beside)"`` rather than the running stage, and its
    time is recorded under that name for ``--profile``; the display keeps showing the stages.

    >>> with Stages(enabled=False) as stages:
    ...     stages("match")
    ...     with beside("hygiene"):
    ...         count(4, "pairs")(4)
    >>> stages.counted
    {'hygiene (beside)': (4, 4, 'pairs')}
    """
    label = f"{stage} (beside)"
    started = time.perf_counter()
    _thread.label = label
    try:
        yield
    finally:
        _thread.label = None
        active = _active
        if active is not None:
            active.beside_timings.append((label, time.perf_counter() - started))


def silence() -> None:
    """Stop reporting from this process (a worker process must not draw on the terminal)."""
    global _active
    _active = None


def _counts_column() -> ProgressColumn:
    """``1,234/5,000 files`` once the stage has announced its work, else nothing."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Counts(ProgressColumn):
        def render(self, task: Any) -> Text:
            if task.total is None:
                return Text("")
            unit = task.fields.get("unit", "")
            return Text(f"{int(task.completed):,}/{int(task.total):,} {unit}",
                        style="progress.download")

    return Counts()


class Stages:
    """The current stage on one line, with a bar and counts where the stage announced its work;
    a no-op display when disabled (the counts are still kept, for ``--profile``).

    With ``profile`` it also times every stage and prints the table to stderr at the end.
    """

    def __init__(self, enabled: bool, console: Console | None = None,
                 profile: bool = False) -> None:
        if console is None and (enabled or profile):
            # Only a display or a profile table needs Rich: a quiet run never imports it.
            from rich.console import Console

            console = Console(stderr=True)
        self._console = console
        self._enabled = enabled and console is not None and console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._profile = profile
        self._started = time.perf_counter()
        self._current = "start-up"
        self.timings: list[tuple[str, float]] = []
        self.beside_timings: list[tuple[str, float]] = []
        self.counted: dict[str, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Stages:
        global _active
        if self._enabled:
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _counts_column(),
                console=self._console, transient=True)
            self._task = self._progress.add_task("bbqa: starting", total=None)
            self._progress.start()
        _active = self
        return self

    def __call__(self, stage: str) -> None:
        """Show that ``stage`` has started (and close the previous one's timing)."""
        now = time.perf_counter()
        self.timings.append((self._current, now - self._started))
        self._current, self._started = stage, now
        if self._progress is not None and self._task is not None:
            # A fresh task: resetting one keeps its total, and a stage's bar starts unknown.
            self._progress.remove_task(self._task)
            self._task = self._progress.add_task(f"bbqa: {stage}", total=None)

    def count(self, total: int, unit: str) -> Step:
        """See :func:`count`."""
        beside_label: str | None = getattr(_thread, "label", None)
        stage = beside_label or self._current
        with self._lock:  # golden set and batch may load in two threads
            done, before, _ = self.counted.get(stage, (0, 0, unit))
            # A stage may announce work more than once (two loaders, two matching passes):
            # the counts add up.
            self.counted[stage] = (done, before + total, unit)
        # Work beside the stages is counted, not drawn: the bar belongs to the current stage.
        progress, task = (self._progress, self._task) if beside_label is None else (None, None)
        if progress is not None and task is not None:
            progress.update(task, total=before + total, completed=done, unit=unit)

        def step(n: int) -> None:
            with self._lock:
                finished, announced, _ = self.counted[stage]
                self.counted[stage] = (finished + n, announced, unit)
            if progress is not None and task is not None and self._task == task:
                progress.advance(task, n)

        return step

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        global _active
        if _active is self:
            _active = None
        if self._progress is not None:
            self._progress.stop()
        self("done")
        if self._profile:
            from rich.table import Table

            table = Table(title="bbqa --profile", title_justify="left")
            table.add_column("stage")
            table.add_column("seconds", justify="right")
            table.add_column("work", justify="right")

            def add_rows(timings: list[tuple[str, float]]) -> None:
                for name, seconds in timings:
                    _, total, unit = self.counted.get(name, (0, 0, ""))
                    table.add_row(name, f"{seconds:.3f}", f"{total:,} {unit}" if total else "")

            add_rows(self.timings)
            table.add_row("total", f"{sum(s for _, s in self.timings):.3f}", "")
            if self.beside_timings:
                # On another thread, within the stages' time: not part of the total.
                table.add_section()
                add_rows(self.beside_timings)
            assert self._console is not None  # made in __init__ for a profile
            self._console.print(table)
