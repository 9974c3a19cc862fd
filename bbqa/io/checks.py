"""Per-box geometry checks every loader applies once its columns are built.

A box with a negative size cannot be represented and is reported as an error; a box of zero area
or wholly outside its image is kept for the record but excluded from matching; a box reaching
past the image edge by more than a pixel is kept as drawn (never clipped) with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from bbqa.dataset import FloatArray, Level, Problem

# A pixel of slack: exports often round a box that ends on the last pixel one step past it.
EDGE_TOLERANCE = 1.0
# Past this many, problems of one kind are summarised instead of listed one by one.
MAX_LISTED = 50
# A box's area must leave room for IoU's sum of two areas in a double (at most 1.8e308); no
# real image comes near (a gigapixel image is 1e9 square pixels).
MAX_AREA = 1e300


def check_geometry(
    x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray,
    width: FloatArray, height: FloatArray,
    locate: Callable[[int], str],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], list[Problem]]:
    """Check boxes against their images' sizes (``width``/``height`` given per box).

    Returns ``(keep, valid, problems)``: ``keep`` is False for boxes that cannot be represented
    (non-finite or negative size); ``valid`` is False for kept boxes excluded from matching.
    ``problems`` carry the row index into the *input* arrays in ``box``; callers re-point them.
    """
    problems: list[Problem] = []
    finite = np.isfinite(x1) & np.isfinite(y1) & np.isfinite(x2) & np.isfinite(y2)
    negative = finite & ((x2 < x1) | (y2 < y1))
    keep = finite & ~negative
    _report(problems, ~finite, Level.ERROR, "non_finite",
            "coordinates must be finite numbers, got NaN or infinity", locate, keep=False)
    _report(problems, negative, Level.ERROR, "negative_size",
            "expected a non-negative width and height, got a negative one", locate, keep=False)
    degenerate = keep & ((x2 == x1) | (y2 == y1))
    outside = keep & ~degenerate & ((x2 <= 0) | (y2 <= 0) | (x1 >= width) | (y1 >= height))
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is what is looked for
        too_large = keep & ~degenerate & ~outside & ~((x2 - x1) * (y2 - y1) <= MAX_AREA)
    sticking_out = keep & ~degenerate & ~outside & ~too_large & (
        (x1 < -EDGE_TOLERANCE) | (y1 < -EDGE_TOLERANCE)
        | (x2 > width + EDGE_TOLERANCE) | (y2 > height + EDGE_TOLERANCE)
    )
    _report(problems, degenerate, Level.WARNING, "degenerate",
            "box has zero width or height; it is excluded from matching", locate, keep=True)
    _report(problems, outside, Level.WARNING, "outside_image",
            "box lies wholly outside the image; it is excluded from matching", locate, keep=True)
    _report(problems, too_large, Level.ERROR, "too_large",
            f"box is too large to measure (over {MAX_AREA:.0e} square pixels, where the sum of "
            "two areas would overflow); it is excluded from matching", locate, keep=True)
    _report(problems, sticking_out, Level.WARNING, "past_image_edge",
            "box reaches past the image edge by more than 1 px; kept as drawn", locate, keep=True)
    valid = keep & ~degenerate & ~outside & ~too_large
    return keep, valid, problems


def _report(
    problems: list[Problem], mask: npt.NDArray[np.bool_], level: Level, code: str, message: str,
    locate: Callable[[int], str], *, keep: bool,
) -> None:
    rows = np.flatnonzero(mask)
    for row in rows[:MAX_LISTED].tolist():
        problems.append(Problem(level, code, message, locate(row), box=row if keep else None))
    if len(rows) > MAX_LISTED:
        problems.append(Problem(level, code, f"{len(rows) - MAX_LISTED} more boxes: {message}",
                                "(not listed one by one)", count=len(rows) - MAX_LISTED))


def repoint(problems: list[Problem], keep: npt.NDArray[np.bool_]) -> list[Problem]:
    """Re-point problems at rows of the table that keeps only the rows where ``keep`` holds."""
    new_index = np.cumsum(keep) - 1
    return [
        replace(p, box=int(new_index[p.box])) if p.box is not None and keep[p.box]
        else replace(p, box=None)
        for p in problems
    ]
