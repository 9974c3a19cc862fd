"""YOLO label rows of many files parsed at once from their bytes, with no Python string per value.

Plain label files hold only digits, signs, dots, exponents and white space. For those, numpy
finds every token and line over one buffer, and :mod:`bbqa.io.decimals` reads the numbers
exactly as ``float()`` does (those it does not take, exponents and long mantissas, go through
numpy's correctly rounded text cast). Anything else (another character, a byte that is not
ASCII, a row of the wrong width, a class id that is not a plain whole number in range) returns
``None``: the text parse in ``bbqa.io.yolo`` then decides, and reports every bad row where it is.

Example:
    >>> rows, file_of_row = read_rows([b"0 0.5 0.5 0.2 0.2\\n", b"\\n1 0.1 0.1 0.1 0.1"], 2)
    >>> rows[:, :3].tolist(), file_of_row.tolist()
    ([[1.0, 0.0, 0.5], [2.0, 1.0, 0.1]], [0, 1])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from bbqa.io.decimals import WIDTH, read_decimals
from bbqa.io.files import chunks

_PLAIN = b"0123456789.+-eE \t\n"
MAX_TOKEN = 32  # longer numbers are read by the text parse
CHUNK_BYTES = 4 << 20
Rows = tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]


def _tokens(text: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start and end of every run of non-blank bytes."""
    blank = (text == ord(" ")) | (text == ord("\t")) | (text == ord("\n"))
    starts = np.flatnonzero(~blank & np.append(True, blank[:-1]))
    ends = np.flatnonzero(~blank & np.append(blank[1:], True)) + 1
    return starts, ends


def _numbers(data: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],
             ends: npt.NDArray[np.int64]) -> npt.NDArray[np.float64] | None:
    """Every token as ``float()`` reads it; ``None`` if some token is not a number."""
    values, read = read_decimals(data, starts, ends - starts)
    other = np.flatnonzero(~read)
    if len(other) == 0:
        return values
    # Exponents and long mantissas ("0.45416666666666666"): numpy's text-to-double cast, the
    # correctly rounded conversion float() uses (a test holds them equal on such texts).
    length = ends[other] - starts[other]
    if length.max() > MAX_TOKEN:
        return None
    rows = sliding_window_view(data, MAX_TOKEN)[starts[other]]
    rows *= np.arange(MAX_TOKEN) < length[:, None]
    # The cast, like float(), takes "0_5" and digits of other scripts: the row-by-row reader
    # then says which token is no number.
    if ((rows == np.uint8(ord("_"))) | (rows >= 0x80)).any():
        return None
    try:
        values[other] = rows.view(f"S{MAX_TOKEN}").ravel().astype(np.float64)
    except ValueError:
        return None
    return values


def _whole_numbers(data: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],
                   ends: npt.NDArray[np.int64]) -> bool:
    """Whether every token is plain ASCII digits (what ``int()`` reads with no surprise)."""
    length = ends - starts
    if len(length) and length.max() > WIDTH:
        return False
    rows = sliding_window_view(data, WIDTH)[starts]
    inside = np.arange(WIDTH) < length[:, None]
    return bool((((rows - np.uint8(ord("0"))) < 10) | ~inside).all())


def read_rows(raws: list[bytes], n_classes: int) -> Rows | None:
    """Every file's rows as [line, class, cx, cy, w, h, score] and the file of each row, or
    ``None`` when some file is not plain or some row is not well formed.

    Files are read in chunks of about ``CHUNK_BYTES``, whose tables stay in the processor's
    caches whatever the number of files.
    """
    parts: list[Rows] = []
    for first, end in chunks(raws, CHUNK_BYTES):
        part = _read_chunk(raws[first:end], n_classes)
        if part is None:
            return None
        parts.append((part[0], part[1] + first))
    if not parts:
        return np.zeros((0, 7)), np.zeros(0, np.int64)
    return (np.concatenate([rows for rows, _ in parts]),
            np.concatenate([files for _, files in parts]))


def _read_chunk(raws: list[bytes], n_classes: int) -> Rows | None:
    """:func:`read_rows` for one chunk of files."""
    bodies = []
    for raw in raws:
        if b"\r" in raw:  # line ends as str.splitlines() sees them
            raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        bodies.append(raw)
    joined = b"\n".join([*bodies, bytes(MAX_TOKEN)])
    size = len(joined) - MAX_TOKEN
    if joined[:size].translate(None, _PLAIN):
        return None
    data = np.frombuffer(joined, np.uint8)
    lengths = np.fromiter(map(len, bodies), np.int64, count=len(bodies))
    file_start = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
    starts, ends = _tokens(data[:size])
    newlines = np.flatnonzero(data[:size] == ord("\n"))
    line = np.searchsorted(newlines, starts)  # lines before each token, over all files
    per_line = np.bincount(line)
    per_line = per_line[per_line > 0]
    if len(per_line) == 0:
        return np.zeros((0, 7)), np.zeros(0, np.int64)
    columns = int(per_line[0])
    if columns not in (5, 6) or not (per_line == columns).all():
        return None
    class_starts, class_ends = starts[0::columns], ends[0::columns]
    if not _whole_numbers(data, class_starts, class_ends):
        return None
    values = _numbers(data, starts, ends)
    if values is None:
        return None
    table = values.reshape(-1, columns)
    if not (table[:, 0] < n_classes).all():
        return None
    file_of_row = np.searchsorted(file_start, class_starts, side="right") - 1
    first_line = np.searchsorted(newlines, file_start)
    rows = np.full((len(table), 7), np.nan)
    rows[:, 0] = line[0::columns] - first_line[file_of_row] + 1
    rows[:, 1:1 + columns] = table
    return rows, file_of_row
