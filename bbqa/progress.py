"""Progress on stderr while long stages run: shown on a terminal, silent in CI and with --quiet.

Example:
    >>> with Stages(enabled=False) as stages:
    ...     stages("match")
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.status import Status


class Stages:
    """A one-line spinner naming the current stage; a no-op when disabled."""

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self._status: Status | None = None
        self._enabled = enabled and self._console.is_terminal

    def __enter__(self) -> Stages:
        if self._enabled:
            self._status = self._console.status("starting", spinner="dots")
            self._status.start()
        return self

    def __call__(self, stage: str) -> None:
        """Show that ``stage`` has started."""
        if self._status is not None:
            self._status.update(f"bbqa: {stage}")

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._status is not None:
            self._status.stop()
