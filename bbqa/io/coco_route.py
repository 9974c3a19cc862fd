"""Which COCO reader is faster for a file, judged from a few small samples of its bytes.

Arrow's JSON reader builds a column for every field it meets, polygons included; the typed
decode (``coco_typed``) keeps polygons as undecoded bytes and skips fields bbqa does not read,
but builds an object per annotation. Without polygons Arrow is about 1.5 times faster; with
them it builds tens of numbers per box that nobody reads, and it falls behind from about six
polygon points a box on (medians on 209,000 generated boxes, Arrow against typed: 0.48 against
0.56 s at four points, 0.61 against 0.61 s at six, 0.75 against 0.69 s at eight, 1.52 against
0.72 s at 32; 1.5 against 0.66 s on TACO's real polygons, about 50 points a box, repeated to
239,000 boxes).

The number of values per box is estimated by the commas per ``"bbox"`` key in four 64 KB
samples spread over the file, which takes about 0.4 ms. A wrong guess only costs speed:
both readers give the same dataset.

Example:
    >>> box = b'{"id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4]'
    >>> arrow_is_faster([(box + b"},") * 900])
    True
    >>> polygon = b', "segmentation": [[' + b"1.5, " * 40 + b"1]]"
    >>> arrow_is_faster([(box + polygon + b"},") * 300])
    False
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

# Above this many commas per box the typed decode is the faster reader. A box with its usual
# fields (ids, bbox, area, iscrowd, two attributes) has about 12; the readers took the same
# time at 24 (six polygon points). Alone in a process Arrow's crossover moves up with size
# (about ten points at 850,000 boxes), but a whole audit of such a file at eight points was
# still faster with the typed decode (5.1 against 5.5 s) and 0.5 GB smaller at its peak.
MAX_COMMAS_PER_BOX = 24.0
SAMPLE_BYTES = 1 << 16
SAMPLES = 4


def samples(handle_fd: int, size: int) -> list[bytes]:
    """``SAMPLES`` pieces of ``SAMPLE_BYTES`` at evenly spaced offsets; none if unreadable."""
    with contextlib.suppress(OSError):
        return [os.pread(handle_fd, SAMPLE_BYTES, size * k // (SAMPLES + 1))
                for k in range(1, SAMPLES + 1)]
    return []


def arrow_is_faster(pieces: Sequence[bytes]) -> bool:
    """Whether Arrow's reader should take a file these pieces were sampled from.

    Annotations that carry polygons but no ``bbox`` go to the typed decode directly: the
    Arrow reader would decline them after parsing the whole file.
    """
    boxes = sum(piece.count(b'"bbox"') for piece in pieces)
    if boxes == 0:
        return not any(b'"segmentation"' in piece for piece in pieces)
    commas = sum(piece.count(b",") for piece in pieces)
    return commas <= MAX_COMMAS_PER_BOX * boxes
