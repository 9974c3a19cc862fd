"""The ``bbqa`` console script: the command line, started with the garbage collector held.

Importing numpy, Arrow, Typer and the audit's modules creates a few hundred thousand Python
objects, and the cyclic garbage collector keeps scanning them as they pile up (7 ms of a short
audit) although none of them is garbage. The collector is held while they load, and what they
created is then frozen out of its reach; it runs as usual for the rest of the run.

numpy's OpenBLAS starts a thread for every other core as it loads, and on two cores that
thread spun for about 0.1 s of CPU time in a 5,000-image audit (more threads on a bigger
machine). bbqa does no linear algebra, so the command line asks for one thread unless the user
chose a number.
"""

from __future__ import annotations

import gc
import os

BLAS_THREADS = "OPENBLAS_NUM_THREADS"


def limit_blas_threads() -> None:
    """Ask OpenBLAS for a single thread, unless ``OPENBLAS_NUM_THREADS`` is already set.

    Takes effect only before numpy is first imported.
    """
    os.environ.setdefault(BLAS_THREADS, "1")


def main() -> None:
    """Entry point of the ``bbqa`` console script and of ``python -m bbqa``."""
    limit_blas_threads()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        from bbqa.cli import main as run
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
    run()
