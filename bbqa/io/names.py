"""Names that label many rows (annotators), numbered in the order they first appear.

A COCO file names an image's annotator, and sometimes each annotation's, as text or as an
integer id. A dataset numbers its annotators in the order they first appear, images first, then
annotations. Names the Arrow reader read stay in Arrow and are hashed there: looked up in a dict
one row at a time they took 19 ms of the build of a batch of 122,000 images (4 ms hashed), and
a batch whose 790,000 annotations each name their annotator took 0.25 to 0.29 s to build
instead of 0.14 to 0.16 s. Names in Python lists (the typed decode's, which made an object per
annotation already) are numbered in Python, so that a small file does not import Arrow for
them.

Example:
    >>> names, codes = first_appearance([["ann_b", None, 7], ["ann_b", "ann_a"]])
    >>> names, [c.tolist() for c in codes]
    (['ann_b', '7', 'ann_a'], [[0, -1, 1], [0, 2]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

# A column of names: a Python list of texts, integers and None, or an Arrow string or int64
# array (null: no name).
Names = Any


def none_named(values: Names) -> bool:
    """Whether no row has a name.

    >>> none_named([None, None]), none_named([None, "ann_a"])
    (True, False)
    """
    if isinstance(values, list):
        return values.count(None) == len(values)
    return bool(values.null_count == len(values))


def as_list(values: Names) -> list[str | int | None]:
    """The names as a Python list (``None`` where there is none)."""
    return values if isinstance(values, list) else list(values.to_pylist())


def as_texts(values: Names) -> list[str | int | None] | npt.NDArray[np.str_]:
    """The names as numpy text, straight from an Arrow column whose names are all present and
    ASCII (no Python string per name), else as a Python list.

    >>> as_texts([None, "ann_a"])
    [None, 'ann_a']
    """
    if not isinstance(values, list):
        from bbqa import arrow_kernels as kernels

        texts = kernels.ascii_texts(values)
        if texts is not None:
            return texts
    return as_list(values)


def first_appearance(parts: Sequence[Names]) -> tuple[list[str], list[npt.NDArray[np.int32]]]:
    """The distinct names of ``parts``, taken in turn, in order of first appearance (an integer
    as the decimal text ``str`` gives it), and for each part each row's index among them (-1
    where the row has none)."""
    if all(isinstance(part, list) for part in parts):
        return _in_python(parts)
    return _in_arrow(parts)


def _in_python(parts: Sequence[list[str | int | None]]
               ) -> tuple[list[str], list[npt.NDArray[np.int32]]]:
    position: dict[str, int] = {}
    codes = []
    for part in parts:
        texts = [None if v is None else str(v) for v in part]
        for text in texts:
            if text is not None:
                position.setdefault(text, len(position))
        codes.append(np.array([-1 if t is None else position[t] for t in texts], np.int32))
    return list(position), codes


def name_texts(values: Names) -> Any:
    """Names as an Arrow string array: an integer as the decimal text ``str`` gives it, ``None``
    (or an Arrow null) as null.

    >>> name_texts([3, None, "x"]).to_pylist()
    ['3', None, 'x']
    """
    import pyarrow as pa

    from bbqa import arrow_kernels as kernels

    if isinstance(values, pa.Array):
        return values if pa.types.is_string(values.type) else kernels.as_text(values)
    try:
        return pa.array(values, pa.string())  # all text (or None): the usual case
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Integers among the names: Arrow takes them as a column of their own type only.
        try:
            return kernels.as_text(pa.array(values, pa.int64()))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return pa.array([None if v is None else str(v) for v in values], pa.string())


def _in_arrow(parts: Sequence[Names]) -> tuple[list[str], list[npt.NDArray[np.int32]]]:
    """Arrow's dictionary encoding numbers values as it meets them; that order is checked
    (each row's number at most one above every number before it) and restored by a sort if a
    version of Arrow ever numbers them otherwise."""
    import pyarrow as pa

    from bbqa import arrow_kernels as kernels

    encoded = kernels.dictionary_encode(pa.concat_arrays([name_texts(p) for p in parts]))
    names: list[str] = encoded.dictionary.to_pylist()
    codes = np.asarray(kernels.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False),
                       dtype=np.int32)
    present = codes[codes >= 0]
    if len(present) and (present[0] != 0 or
                         (present[1:] > np.maximum.accumulate(present)[:-1] + 1).any()):
        names, codes = _renumbered(names, codes, present)
    bounds = np.cumsum([len(p) for p in parts])[:-1]
    return names, list(np.split(codes, bounds))


def _renumbered(names: list[str], codes: npt.NDArray[np.int32], present: npt.NDArray[np.int32]
                ) -> tuple[list[str], npt.NDArray[np.int32]]:
    """``codes`` renumbered so that the names run in order of first appearance."""
    distinct, first = np.unique(present, return_index=True)
    by_appearance = distinct[np.argsort(first, kind="stable")]
    new_code = np.full(len(names) + 1, -1, np.int32)  # the extra last entry keeps -1 as -1
    new_code[by_appearance] = np.arange(len(by_appearance), dtype=np.int32)
    return [names[i] for i in by_appearance.tolist()], new_code[codes]
