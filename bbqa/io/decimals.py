"""Decimal numbers read straight from bytes with numpy, exactly as Python's ``float`` reads them.

A text of the form ``[+-]digits[.digits]`` (digits on at least one side of the dot) is the
fraction N / 10**k of integers. When N <= 2**53 and k <= 18, both are exact doubles, and IEEE
division rounds their quotient correctly, which is the double ``float()`` returns for the text
(Clinger's fast path). Anything else (an exponent, a larger N, white space, other characters)
is marked for the caller to read with ``float()``.

Example:
    >>> data = np.frombuffer(b"0.25 -3 1e5 +.5" + bytes(WIDTH), np.uint8)
    >>> values, read = read_decimals(data, np.array([0, 5, 8, 12]), np.array([4, 2, 3, 3]))
    >>> values.tolist(), read.tolist()
    ([0.25, -3.0, nan, 0.5], [True, True, False, True])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

MAX_DIGITS = 18  # N stays within int64 while it is built
MAX_EXACT = 2**53  # the largest N every double up to it is exact for
WIDTH = MAX_DIGITS + 2  # a sign, the digits and a dot; ``data`` needs this many spare bytes
# Powers of ten from Python integers: exact, whatever the C library's pow() does.
_POWERS_OF_TEN = np.array([float(10**k) for k in range(MAX_DIGITS + 1)])


def read_decimals(data: npt.NDArray[np.uint8], start: npt.NDArray[np.int64],
                  length: npt.NDArray[np.int64]
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The number in each ``data[start:start + length]``, and whether it was read here.

    Values are NaN where not read. ``data`` must extend ``WIDTH`` bytes past every text.
    """
    values = np.full(len(start), np.nan)
    read = np.zeros(len(start), dtype=bool)
    candidate = np.flatnonzero((length >= 1) & (length <= WIDTH))
    if len(candidate) == 0:
        return values, read
    length = length[candidate]
    rows = sliding_window_view(data, WIDTH)[start[candidate]]
    # Texts of one layout (length, sign, where the dot is) have their digits in the same
    # columns: each layout is read column by column with no per-text masks.
    sign = (rows[:, 0] == ord("+")) + 2 * (rows[:, 0] == ord("-"))
    dot = (rows == ord(".")).argmax(axis=1)  # the first dot; 0 also when there is none
    dot = np.where((rows[np.arange(len(rows)), dot] == ord(".")) & (dot < length), dot, WIDTH)
    layout = (length * (WIDTH + 1) + dot) * 3 + sign
    order = np.argsort(layout.astype(np.int16), kind="stable")  # a radix sort: few layouts
    rows, layout = rows[order], layout[order]
    numbers = np.full(len(rows), np.nan)
    taken = np.zeros(len(rows), dtype=bool)
    bounds = np.flatnonzero(np.diff(layout)) + 1
    for first, end in zip([0, *bounds.tolist()], [*bounds.tolist(), len(rows)], strict=True):
        code = int(layout[first])
        signed, dot_at, size = code % 3, code // 3 % (WIDTH + 1), code // 3 // (WIDTH + 1)
        columns = [c for c in range(1 if signed else 0, size) if c != dot_at]
        if not 1 <= len(columns) <= MAX_DIGITS:
            continue
        block = rows[first:end]
        mantissa = np.zeros(end - first, dtype=np.int64)
        good = np.ones(end - first, dtype=bool)
        for column in columns:  # Horner's rule over the digit columns
            digit = block[:, column] - np.uint8(ord("0"))  # wraps around below "0"
            good &= digit < 10
            mantissa *= 10
            mantissa += digit
        good &= mantissa <= MAX_EXACT
        decimals = size - 1 - dot_at if dot_at < WIDTH else 0
        number = mantissa / _POWERS_OF_TEN[decimals]
        numbers[first:end] = np.where(good, -number if signed == 2 else number, np.nan)
        taken[first:end] = good
    values[candidate[order]] = numbers  # -0 stays -0.0, as float("-0") has it
    read[candidate[order]] = taken
    return values, read


def number_from_text(text: str) -> float:
    """``float(text)`` for a number written in a label file, without what only Python's own
    literals allow: underscores between digits (``float("1_0")`` is 10) and digits of other
    scripts (``float("\u0661\u0662")`` is 12). Raises ``ValueError`` as ``float()`` does.

    >>> number_from_text(" 1e-05 "), number_from_text("-inf")
    (1e-05, -inf)
    >>> number_from_text("1_0")
    Traceback (most recent call last):
    ValueError: not a number: '1_0'
    """
    if not plain_number_text(text):
        raise ValueError(f"not a number: {text!r}")
    return float(text)


def plain_number_text(text: str) -> bool:
    """Whether ``text`` is free of what only Python's own literals allow in a number (an
    underscore, a character beyond ASCII), so that ``float()``, ``int()`` and numpy's cast
    read it as a label file means it.

    >>> plain_number_text("12"), plain_number_text("1_2"), plain_number_text("\u0661")
    (True, False, False)
    """
    return "_" not in text and text.isascii()
