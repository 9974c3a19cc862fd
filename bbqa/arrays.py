"""Array helpers shared by the loaders and the metrics.

Example:
    >>> distinct(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

_T = TypeVar("_T", bound=np.generic)


def distinct(values: npt.NDArray[_T]) -> npt.NDArray[_T]:
    """The sorted distinct values of an integer or text array, as ``np.unique`` gives them.

    Written out because ``np.unique`` imports ``numpy.ma`` on first use (about 8 ms of a
    short run's start-up).
    """
    ordered = np.sort(values, axis=None)
    if ordered.size < 2:
        return ordered
    first = np.empty(ordered.size, np.bool_)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def take_or_missing(values: npt.NDArray[Any], index: npt.NDArray[np.integer[Any]]
                    ) -> npt.NDArray[np.int64]:
    """``values[index]`` as int64, -1 where ``index`` is -1 (a row with no box on that side),
    also when ``values`` is empty.

    >>> take_or_missing(np.array([7, 8]), np.array([1, -1])).tolist()
    [8, -1]
    >>> take_or_missing(np.array([], np.int32), np.array([-1, -1])).tolist()
    [-1, -1]
    """
    if not len(values):
        return np.full(len(index), -1, np.int64)
    return np.where(index >= 0, values[np.maximum(index, 0)], -1).astype(np.int64)


def group_order(key: npt.NDArray[np.integer[Any]], n_keys: int
                ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """A stable order that groups equal keys (``0 <= key < n_keys``), and each key's
    ``[bounds[k], bounds[k + 1])`` range in it.

    >>> order, bounds = group_order(np.array([2, 0, 2, 1]), 3)
    >>> order.tolist(), bounds.tolist()
    ([1, 3, 0, 2], [0, 1, 2, 4])
    """
    # numpy sorts 16-bit integers stably by radix, several times faster than the merge sort
    # it uses for wider ones; group keys (classes, annotators, defect types) nearly always fit.
    narrow = key.astype(np.int16) if n_keys <= np.iinfo(np.int16).max else key
    order = np.argsort(narrow, kind="stable")
    return order, key_starts(key, n_keys)


def key_starts(key: npt.NDArray[np.integer[Any]], n_keys: int) -> npt.NDArray[np.intp]:
    """Where each key value's run begins once the keys are sorted (``0 <= key < n_keys``),
    and their count at the end: key ``k``'s rows are ``[starts[k], starts[k + 1])``. One count
    and a running sum, no sort.

    >>> key_starts(np.array([2, 0, 2]), 4).tolist()
    [0, 1, 1, 3, 3]
    """
    starts = np.zeros(n_keys + 1, np.intp)
    np.cumsum(np.bincount(key, minlength=n_keys), out=starts[1:])
    return starts


def increasing(values: npt.NDArray[Any]) -> bool:
    """Whether every value is greater than the one before (numbers or text).

    >>> increasing(np.array([1, 5, 9])), increasing(np.array(["b", "a"]))
    (True, False)
    """
    return bool(np.greater(values[1:], values[:-1]).all())


def decimal_texts(values: npt.NDArray[np.integer]) -> npt.NDArray[np.str_]:
    """Non-negative integers as decimal text (``values.astype(str)``).

    Line and object numbers are small and repeat: their texts are made once each and
    gathered, ten times faster than numpy's integer-to-text cast, which is used for large
    values.

    >>> decimal_texts(np.array([3, 10, 3])).tolist()
    ['3', '10', '3']
    """
    largest = int(values.max()) if values.size else 0
    if values.size and values.min() >= 0 and largest <= max(1024, values.size):
        texts = np.array([str(n) for n in range(largest + 1)])
        gathered: npt.NDArray[np.str_] = texts[values]
        return gathered
    return values.astype(np.str_)


def text_dictionary(texts: npt.NDArray[np.str_]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The sorted distinct non-empty texts, and each text's index among them (-1 if empty),
    from one sort (per-image names such as scenes and annotators repeat a few values).

    >>> names, codes = text_dictionary(np.array(["b", "", "a", "b"]))
    >>> names, codes.tolist()
    (['a', 'b'], [1, -1, 0, 1])
    """
    values, inverse = np.unique(texts, return_inverse=True)
    distinct_texts: list[str] = values.tolist()
    empty = bool(distinct_texts) and distinct_texts[0] == ""  # "" sorts first
    table = np.arange(len(distinct_texts), dtype=np.int64) - int(empty)
    codes: npt.NDArray[np.int64] = table[inverse.reshape(-1)]
    return distinct_texts[int(empty):], codes
