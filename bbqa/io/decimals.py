"""Decimal numbers read straight from bytes with numpy, exactly as Python's ``float`` reads them.

A text of the form ``[+-]digits[.digits]`` (digits on at least one side of the dot) with at most
15 digits in all is the fraction N / 10**k of integers N < 10**15 and k <= 15. Both are exact
doubles, and IEEE division rounds their quotient correctly, which is the double ``float()``
returns for the text. Anything else (an exponent, more digits, white space, other characters)
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

MAX_DIGITS = 15
WIDTH = MAX_DIGITS + 2  # a sign, the digits and a dot; ``data`` needs this many spare bytes
# Powers of ten from Python integers: exact, whatever the C library's pow() does.
_POWERS_OF_TEN = np.array([float(10**k) for k in range(MAX_DIGITS + 1)])


def read_decimals(data: npt.NDArray[np.uint8], start: npt.NDArray[np.int64],
                  length: npt.NDArray[np.int64]
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The number in each ``data[start:start + length]``, and whether it was read here.

    Values are NaN where not read. ``data`` must extend ``WIDTH`` bytes past every text.
    """
    n = len(start)
    rows = sliding_window_view(data, WIDTH)[start] if n else np.zeros((0, WIDTH), np.uint8)
    first = rows[:, 0]
    signed = (first == ord("-")) | (first == ord("+"))
    read = (length >= 1) & (length <= WIDTH)
    mantissa = np.zeros(n, dtype=np.int64)
    digits = np.zeros(n, dtype=np.int64)
    after_dot = np.zeros(n, dtype=np.int64)
    dots = np.zeros(n, dtype=np.int64)
    for column in range(WIDTH):  # Horner's rule, one byte column at a time
        inside = column < length
        if column == 0:
            inside &= ~signed
        byte = rows[:, column]
        digit = ((byte - np.uint8(ord("0"))) < 10) & inside
        dot = (byte == ord(".")) & inside
        read &= digit | dot | ~inside
        mantissa = np.where(digit, mantissa * 10 + (byte.astype(np.int64) - ord("0")), mantissa)
        digits += digit
        after_dot += digit & (dots > 0)
        dots += dot
    read &= (digits >= 1) & (digits <= MAX_DIGITS) & (dots <= 1)
    values = mantissa / _POWERS_OF_TEN[np.minimum(after_dot, MAX_DIGITS)]
    values[first == ord("-")] *= -1.0  # -0 stays -0.0, as float("-0") has it
    values[~read] = np.nan
    return values, read
