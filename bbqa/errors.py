"""The exception hierarchy: one base, one subclass per layer, each carrying its location.

The CLI maps these to exit codes (see README, "Exit codes"); the library only raises them.

Example:
    >>> err = InputError("expected 5 columns, got 4", path="labels/a.txt", line=3)
    >>> str(err)
    'labels/a.txt:3: expected 5 columns, got 4'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class BbqaError(Exception):
    """Base of every error bbqa raises on purpose."""


class UsageError(BbqaError):
    """The command line or library call asked for something that cannot be done."""


class InputError(BbqaError):
    """A file could not be read as the format it claims to be.

    ``path`` names the file; ``line`` (text, XML) or ``pointer`` (a JSON location such as
    ``annotation id 17``) says where. ``role`` is filled in by the caller that knows whether the
    file is the golden set or a vendor batch, which decides the exit code.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        pointer: str | None = None,
        role: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.pointer = pointer
        self.role = role
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where}:{self.line}"
        if self.pointer:
            where = f"{where}: {self.pointer}" if where else self.pointer
        if where:
            prefix = f"{self.role} " if self.role else ""
            return f"{prefix}{where}: {self.message}"
        return f"{self.role}: {self.message}" if self.role else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields survive pickling (a load in a worker process raises these).
        return (_rebuild_input_error, (self.message, self.path, self.line, self.pointer,
                                       self.role))

    def with_role(self, role: str) -> InputError:
        """Return the same error marked as coming from ``golden`` or ``batch`` input."""
        return InputError(
            self.message, path=self.path, line=self.line, pointer=self.pointer, role=role
        )


def _rebuild_input_error(message: str, path: str | None, line: int | None,
                         pointer: str | None, role: str | None) -> InputError:
    return InputError(message, path=path, line=line, pointer=pointer, role=role)


class NothingToCompareError(BbqaError):
    """Golden set and batch share no image, so there is nothing to evaluate."""


def reason(error: BaseException) -> str:
    """The short reason of an I/O or decoding error (``strerror`` when the OS gives one)."""
    return getattr(error, "strerror", None) or str(error)
