"""Krippendorff's alpha for boxes, built as ``AGREEMENT.md`` specifies (the construction of
Tschirschwitz et al., GCPR 2022, and its kalphacv library, ``bbox`` mode).

Per picture, boxes are placed into *units* by matching each later annotator against the
earlier ones at an IoU threshold; an annotator without a box in a unit holds the value
*absent*; nominal alpha is computed per picture and the dataset value is the unweighted mean of
the per-picture values, each rounded to 4 decimals.

Example:
    >>> # Two annotators, one unit each with the same class: perfect agreement.
    >>> picture_alpha([[0, 0]], n_values=1)
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bbqa.geometry import iou_matrix

FloatArray = npt.NDArray[np.float64]
# The value of an empty cell. Real values are category indices >= 0.
ABSENT = -1


@dataclass(frozen=True)
class Labeling:
    """One annotator's boxes on one picture: xyxy rows, category index, source ids."""

    boxes: FloatArray
    category: npt.NDArray[np.int64]
    source_id: Sequence[str]


def acceptable(iou: FloatArray, threshold: float) -> npt.NDArray[np.bool_]:
    """IoU strictly above the threshold, tested as the reference does: (1 - IoU) < (1 - t)."""
    result: npt.NDArray[np.bool_] = (1.0 - iou) < (1.0 - threshold)
    return result


def pairing_step(candidates: FloatArray, pending: FloatArray, threshold: float
                 ) -> list[tuple[int, int]]:
    """Pairs (candidate row, pending row) of one pairing step, "assign first, threshold after".

    Boxes without any acceptable partner are dropped; the rest are assigned one-to-one so that
    every box of the smaller side gets a partner and the sum of raw IoUs (sub-threshold values
    included) is largest; assigned pairs that are not acceptable are then discarded.
    """
    if len(candidates) == 0 or len(pending) == 0:
        return []
    ious = iou_matrix(candidates, pending)
    ok = acceptable(ious, threshold)
    rows = np.flatnonzero(ok.any(axis=1))
    cols = np.flatnonzero(ok.any(axis=0))
    if len(rows) == 0 or len(cols) == 0:
        return []
    sub = ious[np.ix_(rows, cols)]
    if sub.shape == (1, 1):
        assigned = [(0, 0)]
    else:
        from scipy.optimize import linear_sum_assignment

        r, c = linear_sum_assignment(1.0 - sub)
        assigned = list(zip(r.tolist(), c.tolist(), strict=True))
    return [(int(rows[i]), int(cols[j])) for i, j in assigned if ok[rows[i], cols[j]]]


def build_units(labelings: Sequence[Labeling], threshold: float) -> list[list[int]]:
    """Units of one picture: ``units[u][a]`` is annotator ``a``'s box in unit ``u``, or -1.

    ``labelings`` are in annotator order; within each, boxes are taken in the order given
    (callers order them by source id, which is how ties are broken).
    """
    m = len(labelings)
    units: list[list[int]] = [[b] + [-1] * (m - 1) for b in range(len(labelings[0].boxes))]
    for n in range(1, m):
        pending = list(range(len(labelings[n].boxes)))
        for r in range(n):
            if not pending:
                break
            open_units = [u for u, unit in enumerate(units) if unit[n] < 0 and unit[r] >= 0]
            if not open_units:
                continue
            candidate_boxes = [units[u][r] for u in open_units]
            pairs = pairing_step(labelings[r].boxes[candidate_boxes],
                                 labelings[n].boxes[pending], threshold)
            placed = set()
            for ci, pi in pairs:
                units[open_units[ci]][n] = pending[pi]
                placed.add(pending[pi])
            pending = [p for p in pending if p not in placed]
        for p in pending:
            units.append([-1] * n + [p] + [-1] * (m - n - 1))
    return units


def unit_values(units: Sequence[Sequence[int]], labelings: Sequence[Labeling]
                ) -> list[list[int]]:
    """The value table: the category of each cell's box, or :data:`ABSENT`."""
    return [[int(labelings[a].category[box]) if box >= 0 else ABSENT
             for a, box in enumerate(unit)] for unit in units]


def picture_alpha(values: Sequence[Sequence[int]], n_values: int) -> float:
    """Nominal alpha of one picture's value table (units x annotators), rounded to 4 places.

    Every unit has one value per annotator (absent included). A table with at most one
    distinct value scores 1; NaN scores 0. The sum runs over values ascending, absent first,
    as the reference evaluates it.
    """
    if not values:
        return 1.0
    m = len(values[0])
    table = np.asarray(values, dtype=np.int64) + 1  # absent -> 0, category k -> k + 1
    size = n_values + 1
    if len(np.unique(table)) <= 1:
        return 1.0
    coincidence = np.zeros((size, size))
    weight = 1.0 / (m - 1)
    for i in range(m):
        for j in range(m):
            if i != j:
                np.add.at(coincidence, (table[:, i], table[:, j]), weight)
    totals = coincidence.sum(axis=1)
    n = totals.sum()
    observed = 0.0
    expected = 0.0
    for c in range(size):
        for k in range(size):
            if c != k:
                observed += coincidence[c, k]
                expected += totals[c] * totals[k] / (n - 1)
    alpha = 1.0 - observed / expected if expected else math.nan
    return 0.0 if math.isnan(alpha) else round(float(alpha), 4)


def majority_class(values: Sequence[int]) -> int:
    """The class most boxes of a unit carry (ties to the lowest index); absent never counts."""
    present = [v for v in values if v != ABSENT]
    counts = np.bincount(present) if present else np.zeros(0, np.int64)
    return int(np.argmax(counts)) if len(counts) else ABSENT
