"""A check on JSON text that Python's own parser leaves out: unpaired surrogate escapes.

JSON writes a character outside the Basic Multilingual Plane as two ``\\u`` escapes, the
halves of a UTF-16 surrogate pair (``"\\ud83d\\ude97"``). Half a pair on its own is not a
character. msgspec and Arrow refuse a document holding one; Python's ``json`` module turns it
into a string that no UTF-8 file, terminal or Arrow column can hold, so that an audit would
fail only when it writes its outputs. The readers that fall back to ``json`` ask this module
first, and report the escape where it is.

Example:
    >>> lone_surrogate(rb'{"name": "caf\\u00e9 \\ud83d\\ude97"}') is None
    True
    >>> lone_surrogate(rb'{"name": "\\ud800"}')
    10
"""

from __future__ import annotations

import re

# The quick test: no escape of a surrogate anywhere, which is nearly every file.
_ANY_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
# Every escape in order, so that an escaped backslash followed by "ud800" is not taken for one.
_ESCAPE = re.compile(rb"\\(u[dD][89a-fA-F][0-9a-fA-F]{2}|.)", re.DOTALL)
_HIGH_HALF = frozenset(b"89abAB")


def lone_surrogate(raw: bytes) -> int | None:
    """The offset of the first ``\\u`` escape in ``raw`` that is half a surrogate pair
    without its other half, or ``None``.

    >>> lone_surrogate(rb'["\\\\ud800", "\\udc00"]')  # an escaped backslash, then a low half
    13
    """
    if _ANY_SURROGATE.search(raw) is None:
        return None
    waiting_high: int | None = None  # a high half's offset, until its low half follows it
    for escape in _ESCAPE.finditer(raw):
        is_surrogate = len(escape.group(1)) == 5
        if waiting_high is not None:
            if is_surrogate and escape.start() == waiting_high + 6 \
                    and escape.group(1)[2] not in _HIGH_HALF:
                waiting_high = None
                continue
            return waiting_high
        if is_surrogate:
            if escape.group(1)[2] not in _HIGH_HALF:
                return escape.start()
            waiting_high = escape.start()
    return waiting_high


def describe_lone_surrogate(raw: bytes, offset: int) -> str:
    """What is wrong with the escape at ``offset``, for an error message.

    >>> describe_lone_surrogate(rb'"\\ud800"', 1)
    '\\\\ud800 is half of a UTF-16 surrogate pair without its other half, not a character'
    """
    escape = raw[offset:offset + 6].decode("ascii")
    return f"{escape} is half of a UTF-16 surrogate pair without its other half, not a character"
