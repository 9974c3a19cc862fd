"""The box around a COCO segmentation: polygons, uncompressed RLE or compressed RLE.

Example:
    >>> segmentation_box([[10, 10, 20, 10, 20, 30]])
    [10.0, 10.0, 10.0, 20.0]
    >>> segmentation_box({"size": [4, 4], "counts": [5, 2, 9]})
    [1.0, 1.0, 1.0, 2.0]
"""

from __future__ import annotations

from typing import Any


class SegmentationError(ValueError):
    """The segmentation cannot give a box (too few points, malformed RLE)."""


def _polygon_box(polygons: list[Any]) -> list[float]:
    xs: list[float] = []
    ys: list[float] = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in polygon):
            raise SegmentationError("is not a list of number lists")
        if len(polygon) < 6 or len(polygon) % 2:
            raise SegmentationError(f"has a polygon of {len(polygon)} numbers; expected at "
                                    "least 3 points (6 numbers, x y pairs)")
        xs += polygon[0::2]
        ys += polygon[1::2]
    if not xs:
        raise SegmentationError("has no polygon")
    x1, y1 = float(min(xs)), float(min(ys))
    return [x1, y1, float(max(xs)) - x1, float(max(ys)) - y1]


def decode_counts(text: str) -> list[int]:
    """COCO's compressed RLE string to run lengths (the pycocotools encoding)."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise SegmentationError("has a truncated compressed RLE string")
            chunk = ord(text[position]) - 48
            value |= (chunk & 0x1F) << (5 * shift)
            more = bool(chunk & 0x20)
            position += 1
            shift += 1
            if not more and chunk & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def _rle_box(rle: dict[str, Any]) -> list[float]:
    size = rle.get("size")
    counts = rle.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        raise SegmentationError("has an RLE without a [height, width] size")
    height = size[0]
    if isinstance(counts, str):
        counts = decode_counts(counts)
    if not isinstance(counts, list) or not all(isinstance(v, int) and v >= 0 for v in counts):
        raise SegmentationError("has RLE counts that are not run lengths")
    # Runs alternate background / foreground in column-major order.
    position = 0
    xs: list[int] = []
    ys: list[int] = []
    for index, run in enumerate(counts):
        if index % 2 and run:
            first, last = position, position + run - 1
            xs += [first // height, last // height]
            if first // height != last // height:
                ys += [0, height - 1]
            else:
                ys += [first % height, last % height]
        position += run
    if not xs:
        raise SegmentationError("is an empty mask")
    x1, y1 = min(xs), min(ys)
    return [float(x1), float(y1), float(max(xs) + 1 - x1), float(max(ys) + 1 - y1)]


def segmentation_box(segmentation: Any) -> list[float]:
    """``[x, y, w, h]`` of the tightest box around a COCO segmentation."""
    if isinstance(segmentation, list):
        return _polygon_box(segmentation)
    if isinstance(segmentation, dict):
        return _rle_box(segmentation)
    raise SegmentationError(f"is a {type(segmentation).__name__}, not polygons or RLE")
