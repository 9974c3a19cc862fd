"""Arrow arrays and compute kernels without the imports that cost a short run its start-up.

Kernels are called by name, without importing ``pyarrow.compute``; numpy arrays become Arrow
arrays from their buffers, without the ``numpy.ma`` check in ``pa.array``.

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

import os
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

try:
    from pyarrow._compute import CastOptions, JoinOptions, RoundOptions
    from pyarrow._compute import call_function as _call_function
except ImportError:  # pragma: no cover - a pyarrow that moved its private module
    from pyarrow.compute import (
        CastOptions,
        JoinOptions,
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


# From 2**52 on a double holds only whole numbers: nothing to round.
_NO_DECIMALS = 2.0**52


def rounded_text(values: Any, digits: int) -> Any:
    """Numbers rounded half to even at ``digits`` decimals, as text.

    A number of 2**52 or more (or an infinity) is written as it is: it has no decimals, and
    Arrow's rounding multiplies by ``10**digits`` first, which overflows near the largest
    double (a box of 1e308 pixels is valid JSON).
    """
    rounding = RoundOptions(ndigits=digits)
    plain = call("less", call("abs", values), scalar(_NO_DECIMALS, pa.float64()))
    if call("all", plain).as_py() is not False:  # nearly always: every number is ordinary
        return as_text(call("round", values, options=rounding))
    rounded = call("round", call("if_else", plain, values, scalar(0.0, pa.float64())),
                   options=rounding)
    return as_text(call("if_else", plain, rounded, values))


def join(*parts: Any, separator: str = "") -> Any:
    """Texts joined element-wise with ``separator``; null where any part is null. A part may
    be a Python string, repeated on every row."""
    texts = [scalar(p, pa.string()) if isinstance(p, str) else p for p in (*parts, separator)]
    return call("binary_join_element_wise", *texts, options=JoinOptions())


def scalar(value: Any, type: Any) -> Any:
    """``pa.scalar(value, type)``, made through an array: ``pa.scalar`` probes for dateutil and
    pandas on every call."""
    return pa.array([value], type)[0]


def text_or_null(condition: Any, text: Any) -> Any:
    """``text`` where ``condition`` holds, null elsewhere."""
    return call("if_else", condition, text, scalar(None, pa.string()))


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
    return call("coalesce", values, scalar(fill, values.type))


def from_numpy(values: npt.NDArray[Any], *, mask: npt.NDArray[np.bool_] | None = None,
               type: Any = None) -> Any:
    """``pa.array(values, mask=mask, type=type)`` for a 1-D numpy array of numbers, booleans
    or text, built from its buffers.

    ``pa.array`` checks every numpy input against ``numpy.ma.MaskedArray``, and the first such
    check imports ``numpy.ma`` (8 ms of a short run). Text is encoded to UTF-8 with numpy and
    laid out as Arrow's offsets and bytes.

    >>> from_numpy(np.array([1.5, 2.0]), mask=np.array([False, True])).to_pylist()
    [1.5, None]
    >>> from_numpy(np.array(["a", "é"])).to_pylist()
    ['a', 'é']
    """
    n = len(values)
    arrow_type = type or (pa.string() if values.dtype.kind == "U"
                          else pa.from_numpy_dtype(values.dtype))
    if values.dtype.kind == "U" and arrow_type != pa.string():
        return pa.array(values.tolist(), arrow_type, mask=mask)  # rare: large or binary text
    validity, null_count = None, 0
    if mask is not None and mask.any():
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
        null_count = int(np.count_nonzero(mask))
    if values.dtype.kind == "U":
        return _text_from_numpy(values, validity, null_count, mask)
    if values.dtype.kind == "b":
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
    else:
        data = pa.py_buffer(np.ascontiguousarray(values, dtype=arrow_type.to_pandas_dtype()))
    return pa.Array.from_buffers(arrow_type, n, [validity, data], null_count=null_count)


def _text_from_numpy(values: npt.NDArray[np.str_], validity: Any, null_count: int,
                     mask: npt.NDArray[np.bool_] | None) -> Any:
    """UTF-8 bytes and 32-bit offsets: Arrow's ``string`` layout."""
    code_points = np.ascontiguousarray(values).view(np.uint32).reshape(
        len(values), values.dtype.itemsize // 4)
    table: npt.NDArray[np.unsignedinteger[Any]]
    if code_points.max(initial=0) < 0x80:
        # ASCII, as file names and ids nearly always are: each code point is its own UTF-8
        # byte. numpy's encode takes a Python call per text, 15 times slower.
        table = code_points
        lengths = np.strings.str_len(values).astype(np.int64)
    else:
        encoded = np.strings.encode(values, "utf-8")
        table = encoded.view(np.uint8).reshape(len(values), encoded.dtype.itemsize)
        lengths = np.strings.str_len(encoded).astype(np.int64)
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:  # past what 32-bit offsets address: pa.array says so
        return pa.array(values.tolist(), pa.string(), mask=mask)
    data = table[np.arange(table.shape[1]) < lengths[:, None]].astype(np.uint8)
    return pa.Array.from_buffers(pa.string(), len(values),
                                 [validity, pa.py_buffer(offsets.astype(np.int32)),
                                  pa.py_buffer(data)], null_count=null_count)


def ascii_texts(values: Any) -> npt.NDArray[np.str_] | None:
    """An Arrow string array as a numpy text array, read from its offsets and bytes without
    a Python string per value; ``None`` unless every value is present and ASCII (the caller
    then takes the values one by one).

    File names and ids are nearly always ASCII, and 122,000 of them take 6 ms this way
    against 17 ms through ``to_pylist`` and ``np.array``. numpy text drops trailing NUL
    characters, as ``np.array`` of the same strings does.

    >>> ascii_texts(pa.array(["a.jpg", "", "dir/b.png"])).tolist()
    ['a.jpg', '', 'dir/b.png']
    >>> ascii_texts(pa.array(["é"])) is None, ascii_texts(pa.array(["a", None])) is None
    (True, True)
    """
    n = len(values)
    if not pa.types.is_string(values.type) or values.null_count:
        return None
    if n == 0:
        return np.zeros(0, "<U1")
    offsets = np.frombuffer(values.buffers()[1], np.int32, count=n + 1, offset=4 * values.offset)
    data_buffer = values.buffers()[2]
    data = (np.frombuffer(data_buffer, np.uint8)[offsets[0]:offsets[-1]]
            if data_buffer is not None else np.zeros(0, np.uint8))
    if data.size and int(data.max()) >= 0x80:
        return None
    lengths = np.diff(offsets)
    width = max(int(lengths.max()), 1)
    # Row i's bytes fill the first lengths[i] cells of its row, in order: one masked store.
    table = np.zeros((n, width), np.uint8)
    table[np.arange(width, dtype=np.int32) < lengths[:, None]] = data
    # Each ASCII byte is its own code point; zeros after a text are numpy's padding. (A cast
    # from bytes ("S") to text goes through a decoder per value, 30 times slower.)
    texts: npt.NDArray[np.str_] = table.astype(np.uint32).view(f"U{width}").reshape(n)
    return texts


def write_parquet(table: Any, path: str | os.PathLike[str], *,
                  use_dictionary: bool | list[str] = True, store_schema: bool = True,
                  statistics: bool | list[str] = True) -> None:
    """``pyarrow.parquet.write_table(table, path, use_dictionary=..., store_schema=...,
    write_statistics=statistics)``, the same bytes, through the writer that function wraps.

    ``pyarrow.parquet`` imports ``pyarrow.fs``, and with it the cloud file systems and
    ``ssl`` (10 ms of a short run), to resolve the path; a local path needs none of them.
    The other options are ``write_table``'s defaults (a test compares the files byte for byte).
    """
    try:
        from pyarrow._parquet import ParquetWriter
    except ImportError:  # pragma: no cover - a pyarrow that moved its private module
        import pyarrow.parquet as pq

        pq.write_table(table, path, use_dictionary=use_dictionary, store_schema=store_schema,
                       write_statistics=statistics)
        return
    writer = ParquetWriter(os.fspath(path), table.schema, use_dictionary=use_dictionary,
                           compression="snappy", version="2.6", write_statistics=statistics,
                           writer_engine_version="V2", data_page_version="1.0",
                           store_schema=store_schema)
    try:
        writer.write_table(table)
    finally:
        writer.close()
