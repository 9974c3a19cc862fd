"""Allocator settings for the short-lived process of a command-line audit.

glibc's malloc gives freed memory back to the system as soon as the top of the heap is free,
and maps every large array afresh. An audit of a million boxes allocates and frees hundreds of
such arrays, and every fresh page is zeroed by the kernel on first touch: measured here, one to
two seconds of system time at 850,000 boxes a set. Keeping freed memory in the process for
reuse removes most of it; peak memory is about the same, since the memory is reused rather
than added to.

Every thread allocates from the one main arena too. By default glibc gives each thread that
allocates its own arena, and memory one thread frees (a loader's columns, a writer's
temporaries) stays in that thread's arena where the main thread cannot reuse it: with one
arena, an 850,000-box audit peaked about 115 MB lower and ran 0.18 s faster. Big arrays are
all that reach malloc (Python objects have their own allocator, Arrow has mimalloc), so
threads seldom wait for its lock.

Transparent huge pages are turned off for the process too. Where the system hands them out on
request (numpy and Arrow ask for them on big allocations), a fault on one may first compact
memory to find 2 MB free; on this project's machine that made the system time of an 850,000-box
audit swing between 1 and 2 s, and turning them off made the run 0.4 s faster and steady
(more, smaller page faults, each cheap).

Small runs gain too: a 5,000-image audit, whose arrays are a few MB, touched whole 2 MB pages
and peaked about 30 MB higher with them (158 against 128 MiB).

Only the ``audit`` command calls this, for every input size, once its modules are imported and
before its loaders start: a library must not change its host process's allocator.

Example:
    >>> tune_allocator() in (True, False)
    True
"""

from __future__ import annotations

import ctypes
import sys

# prctl option (linux/prctl.h): no transparent huge pages for this process.
_PR_SET_THP_DISABLE = 41
# mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_LARGEST = 2**31 - 1  # mallopt takes a C int


def tune_allocator() -> bool:
    """Keep freed memory for reuse, in one arena for all threads, and take no transparent
    huge pages (Linux; the malloc settings need glibc); ``True`` if they were applied.

    Call it before starting threads: a thread that has allocated keeps its arena."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        # Linux 3.15 and later; an older kernel refuses it and keeps its default.
        ulong = ctypes.c_ulong
        libc.prctl(ctypes.c_int(_PR_SET_THP_DISABLE), ulong(1), ulong(0), ulong(0), ulong(0))
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, _LARGEST), (_M_TRIM_THRESHOLD, _LARGEST), (_M_TOP_PAD, 1 << 28),
        (_M_ARENA_MAX, 1)))
