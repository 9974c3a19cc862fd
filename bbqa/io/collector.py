"""Pause Python's cyclic garbage collector while a loader builds its many small objects.

A loader makes hundreds of thousands of short-lived objects (parsed XML elements, split text
lines, decoded annotations) that hold no reference cycles. The collector would walk them again
and again without finding anything to free: pausing it saves about a tenth of a load.

Example:
    >>> import gc
    >>> with paused():
    ...     gc.isenabled()
    False
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Disable the collector inside the block; restore whatever state it had before."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
