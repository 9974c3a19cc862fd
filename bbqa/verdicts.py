"""The gate's vocabulary: how an interval is judged (:class:`Decision`) and what a check
concludes (:class:`Verdict`).

Kept apart from :mod:`bbqa.gate` so that the command line and the report renderers can name
them without loading the gate and the policy reader, which only a run with ``--policy`` uses.

Example:
    >>> Decision("lenient") is Decision.LENIENT, Verdict.FAIL.value
    (True, 'fail')
"""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    """How an interval turns into a verdict."""

    POINT = "point"
    LENIENT = "lenient"
    STRICT = "strict"


class Verdict(StrEnum):
    """The outcome of one check."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
