"""Arrow compute kernels called by name, without importing ``pyarrow.compute``.

Importing ``pyarrow.compute`` generates a Python wrapper for each of Arrow's few hundred
kernels, about 30 ms of every start-up; array methods such as ``take``, ``cast`` and
``dictionary_encode`` import it on first use. The kernels themselves live in the extension
module that ``pyarrow.compute`` wraps, and its ``call_function`` reaches any of them by name.

Example:
    >>> import pyarrow as pa
    >>> take(pa.array(["a", "b"]), pa.array([1, None, 0])).to_pylist()
    ['b', None, 'a']
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

try:
    from pyarrow._compute import CastOptions, JoinOptions, MakeStructOptions, RoundOptions
    from pyarrow._compute import call_function as _call_function
except ImportError:  # pragma: no cover - a pyarrow that moved its private module
    from pyarrow.compute import (
        CastOptions,
        JoinOptions,
        MakeStructOptions,
        RoundOptions,
    )
    from pyarrow.compute import call_function as _call_function


def call(name: str, *args: Any, options: Any = None) -> Any:
    """Arrow's kernel ``name`` on ``args`` (arrays or scalars)."""
    return _call_function(name, list(args), options)


def take(values: Any, indices: Any) -> Any:
    """``values[indices]``; null where an index is null."""
    return call("take", values, indices)


def as_text(values: Any) -> Any:
    """``values`` cast to Arrow strings (integers as decimal text)."""
    return call("cast", values, options=CastOptions.safe(pa.string()))


def rounded_text(values: Any, digits: int) -> Any:
    """Numbers rounded half to even at ``digits`` decimals, as text."""
    return as_text(call("round", values, options=RoundOptions(ndigits=digits)))


def join(*parts: Any, separator: str = "") -> Any:
    """Texts joined element-wise with ``separator``; null where any part is null. A part may
    be a Python string, repeated on every row."""
    texts = [_scalar(p, pa.string()) if isinstance(p, str) else p for p in (*parts, separator)]
    return call("binary_join_element_wise", *texts, options=JoinOptions())


def _scalar(value: Any, type: Any) -> Any:
    # Made through an array: pa.scalar probes for dateutil and pandas on every call.
    return pa.array([value], type)[0]


def text_or_null(condition: Any, text: Any) -> Any:
    """``text`` where ``condition`` holds, null elsewhere."""
    return call("if_else", condition, text, _scalar(None, pa.string()))


def when(conditions: list[Any], names: list[str], values: list[Any]) -> Any:
    """Per row, the value of the first true condition (null if none is)."""
    struct = call("make_struct", *conditions, options=MakeStructOptions(field_names=names))
    return call("case_when", struct, *values)


def list_values(lists: Any) -> Any:
    """The values of a list array, in order, with its offset applied (one level)."""
    return call("list_flatten", lists)


def dictionary_encode(values: Any) -> Any:
    """``values`` as a dictionary array (nulls stay null in the indices)."""
    return call("dictionary_encode", values)


def drop_null(values: Any) -> Any:
    """``values`` without its nulls."""
    return call("drop_null", values)


def fill_null(values: Any, fill: Any) -> Any:
    """``values`` with nulls replaced by the scalar ``fill`` (of the same type)."""
    return call("coalesce", values, _scalar(fill, values.type))
