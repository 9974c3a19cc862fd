"""Array helpers shared by the loaders and the metrics.

Example:
    >>> distinct(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Mapping
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


def text_codes(texts: npt.NDArray[np.str_], index_of: Mapping[str, int]
               ) -> npt.NDArray[np.int64]:
    """Each text's index in ``index_of`` (-1 for the empty text and for texts not in it).

    Per-image names (scenes, annotators) repeat a handful of values over many images: each
    distinct value is looked up once.

    >>> text_codes(np.array(["b", "", "a", "b", "z"]), {"a": 0, "b": 1}).tolist()
    [1, -1, 0, 1, -1]
    """
    values, inverse = np.unique(texts, return_inverse=True)
    table = np.array([index_of.get(v, -1) if v else -1 for v in values.tolist()],
                     dtype=np.int64)
    codes: npt.NDArray[np.int64] = table[inverse.reshape(-1)]
    return codes


def text_dictionary(texts: npt.NDArray[np.str_]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The sorted distinct non-empty texts, and each text's index among them (-1 if empty):
    :func:`nonempty_distinct` and :func:`text_codes` from one sort.

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


def nonempty_distinct(texts: npt.NDArray[np.str_]) -> list[str]:
    """The sorted distinct non-empty texts.

    >>> nonempty_distinct(np.array(["b", "", "a", "b"]))
    ['a', 'b']
    """
    return [v for v in distinct(texts).tolist() if v]
