"""Progress on stderr while long stages run: shown on a terminal, silent in CI and with --quiet.

Example:
    >>> with Stages(enabled=False) as stages:
    ...     stages("match")
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.status import Status


class Stages:
    """A one-line spinner naming the current stage; a no-op when disabled.

    With ``profile`` it also times every stage and prints the table to stderr at the end.
    """

    def __init__(self, enabled: bool, console: Console | None = None,
                 profile: bool = False) -> None:
        self._console = console or Console(stderr=True)
        self._status: Status | None = None
        self._enabled = enabled and self._console.is_terminal
        self._profile = profile
        self._started = time.perf_counter()
        self._current = "start-up"
        self.timings: list[tuple[str, float]] = []

    def __enter__(self) -> Stages:
        if self._enabled:
            self._status = self._console.status("starting", spinner="dots")
            self._status.start()
        return self

    def __call__(self, stage: str) -> None:
        """Show that ``stage`` has started (and close the previous one's timing)."""
        now = time.perf_counter()
        self.timings.append((self._current, now - self._started))
        self._current, self._started = stage, now
        if self._status is not None:
            self._status.update(f"bbqa: {stage}")

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._status is not None:
            self._status.stop()
        self("done")
        if self._profile:
            from rich.table import Table

            table = Table(title="bbqa --profile", title_justify="left")
            table.add_column("stage")
            table.add_column("seconds", justify="right")
            for name, seconds in self.timings:
                table.add_row(name, f"{seconds:.3f}")
            table.add_row("total", f"{sum(s for _, s in self.timings):.3f}")
            Console(stderr=True).print(table)
