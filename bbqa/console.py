"""The ``bbqa`` console script: the command line, started with the garbage collector held.

Importing numpy, Arrow, Typer and the audit's modules creates a few hundred thousand Python
objects, and the cyclic garbage collector keeps scanning them as they pile up (7 ms of a short
audit) although none of them is garbage. The collector is held while they load, and what they
created is then frozen out of its reach; it runs as usual for the rest of the run.
"""

from __future__ import annotations

import gc


def main() -> None:
    """Entry point of the ``bbqa`` console script and of ``python -m bbqa``."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        from bbqa.cli import main as run
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
    run()
