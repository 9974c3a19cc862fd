"""Loop-free overlap measures on xyxy boxes in continuous pixel-edge coordinates (no +1).

Example:
    >>> import numpy as np
    >>> a = np.array([[0.0, 0.0, 2.0, 2.0]])
    >>> b = np.array([[1.0, 0.0, 3.0, 2.0]])
    >>> pair_iou(*a.T, *b.T).round(4).tolist()
    [0.3333]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _intersection(
    ax1: FloatArray, ay1: FloatArray, ax2: FloatArray, ay2: FloatArray,
    bx1: FloatArray, by1: FloatArray, bx2: FloatArray, by2: FloatArray,
) -> FloatArray:
    width = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    height = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    result: FloatArray = np.maximum(width, 0.0) * np.maximum(height, 0.0)
    return result


def _area(x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray) -> FloatArray:
    result: FloatArray = np.maximum(x2 - x1, 0.0) * np.maximum(y2 - y1, 0.0)
    return result


def pair_iou(
    ax1: FloatArray, ay1: FloatArray, ax2: FloatArray, ay2: FloatArray,
    bx1: FloatArray, by1: FloatArray, bx2: FloatArray, by2: FloatArray,
) -> FloatArray:
    """IoU of box ``a[i]`` with box ``b[i]`` for every ``i`` (inputs broadcast).

    Boxes without area have IoU 0 with everything, themselves included: never NaN.
    """
    inter = _intersection(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2)
    union = _area(ax1, ay1, ax2, ay2) + _area(bx1, by1, bx2, by2) - inter
    out = np.zeros(np.broadcast(inter, union).shape, dtype=np.float64)
    np.divide(inter, union, out=out, where=(union > 0) & (inter > 0))
    return out


def pair_ioa(
    ax1: FloatArray, ay1: FloatArray, ax2: FloatArray, ay2: FloatArray,
    bx1: FloatArray, by1: FloatArray, bx2: FloatArray, by2: FloatArray,
) -> FloatArray:
    """Intersection of ``a[i]`` and ``b[i]`` over the area of ``a[i]`` (0 when ``a`` has none).

    This is how much of a batch box lies inside a golden crowd/ignore region.
    """
    inter = _intersection(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2)
    area = _area(ax1, ay1, ax2, ay2)
    out = np.zeros(inter.shape, dtype=np.float64)
    np.divide(inter, area, out=out, where=(area > 0) & (inter > 0))
    return out


def iou_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU of every row of ``a`` (n x 4, xyxy) with every row of ``b`` (m x 4): an n x m matrix.

    >>> iou_matrix(np.zeros((0, 4)), np.ones((3, 4))).shape
    (0, 3)
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    return pair_iou(
        a[:, 0, None], a[:, 1, None], a[:, 2, None], a[:, 3, None],
        b[None, :, 0], b[None, :, 1], b[None, :, 2], b[None, :, 3],
    )
