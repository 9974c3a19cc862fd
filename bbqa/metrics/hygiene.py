"""Hygiene checks on each set alone: duplicates, degenerate and out-of-image boxes, tiny boxes.

Example:
    >>> HYGIENE_CHECKS[0]
    'duplicate'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bbqa.dataset import Dataset
from bbqa.geometry import pair_iou
from bbqa.match import _candidate_pairs

HYGIENE_CHECKS = ("duplicate", "degenerate", "outside_image", "too_small")
HYGIENE_PAIR_CHUNK = 1 << 17
# Loader problem codes that are hygiene findings, and the check they count under.
_PROBLEM_CHECKS = {"degenerate": "degenerate", "negative_size": "degenerate",
                   "outside_image": "outside_image", "past_image_edge": "outside_image"}


@dataclass(frozen=True)
class HygieneFinding:
    """One hygiene finding: which set, which check, the box (and its twin), where, why."""

    set: str
    check: str
    box_id: str
    other_id: str | None
    image: str
    detail: str
    count: int = 1


def duplicate_pairs(dataset: Dataset, min_iou: float) -> tuple[npt.NDArray[np.int64],
                                                               npt.NDArray[np.int64],
                                                               npt.NDArray[np.float64]]:
    """Pairs of same-class boxes of one annotator on one image entry with IoU >= ``min_iou``."""
    b = dataset.boxes
    usable = np.flatnonzero(~b.crowd & b.valid)
    n_cat = max(len(dataset.categories), 1)
    n_ann = len(dataset.annotators) + 1
    key = ((b.image[usable].astype(np.int64) * n_ann + (b.annotator[usable] + 1)) * n_cat
           + b.category[usable])
    order = np.argsort(key, kind="stable")
    boxes, groups = usable[order], key[order]
    firsts, seconds, ious = [], [], []
    places = []
    # Small chunks: the audit runs this beside its tables, and each chunk's temporaries
    # (about 130 bytes a pair) add to that work's peak memory.
    for later, earlier in _candidate_pairs(groups, groups, later_only=True,
                                           chunk=HYGIENE_PAIR_CHUNK):
        i, j = boxes[earlier], boxes[later]
        iou = pair_iou(*b.coordinates(i), *b.coordinates(j))
        hit = iou >= min_iou
        firsts.append(i[hit])
        seconds.append(j[hit])
        ious.append(iou[hit])
        places.append(np.stack([earlier[hit], later[hit]]))
    if not firsts:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    # Listed by the later box of each pair, then the earlier one: one order whatever the chunks.
    where = np.concatenate(places, axis=1)
    order = np.lexsort((where[0], where[1]))
    return (np.concatenate(firsts)[order], np.concatenate(seconds)[order],
            np.concatenate(ious)[order])


def hygiene(dataset: Dataset, role: str, *, duplicate_iou: float = 0.9,
            min_size: float = 4.0) -> list[HygieneFinding]:
    """All hygiene findings of one set (``role`` is ``golden`` or ``batch``)."""
    b = dataset.boxes
    keys = dataset.images.key
    found: list[HygieneFinding] = []
    first, second, iou = duplicate_pairs(dataset, duplicate_iou)
    for i, j, v in zip(first.tolist(), second.tolist(), iou.tolist(), strict=True):
        found.append(HygieneFinding(role, "duplicate", str(b.ids[i]),
                                    str(b.ids[j]), str(keys[b.image[i]]),
                                    f"same class and annotator, IoU {v:.3f}"))
    for problem in dataset.problems:
        check = _PROBLEM_CHECKS.get(problem.code)
        if check is None:
            continue
        box_id = str(b.ids[problem.box]) if problem.box is not None else problem.location
        image = str(keys[b.image[problem.box]]) if problem.box is not None else ""
        found.append(HygieneFinding(role, check, box_id, None, image, problem.message,
                                    problem.count))
    small = np.flatnonzero(b.valid & ~b.crowd
                           & (np.minimum(b.x2 - b.x1, b.y2 - b.y1) < min_size))
    for i in small.tolist():
        found.append(HygieneFinding(role, "too_small", str(b.ids[i]), None,
                                    str(keys[b.image[i]]),
                                    f"{b.x2[i] - b.x1[i]:.1f} x {b.y2[i] - b.y1[i]:.1f} px, "
                                    f"under {min_size:g} px"))
    return found
