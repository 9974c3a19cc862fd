"""Per-class outcome counts, recall/precision and the IoU distribution of matched pairs.

Example:
    >>> round(iou_distribution(np.array([0.6, 0.8, 0.9, 1.0]))["iou_median"], 6)
    0.85
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bbqa.align import Alignment
from bbqa.arrays import group_order
from bbqa.dataset import Dataset, FloatArray
from bbqa.match import Matches, Outcome
from bbqa.metrics.stats import linear_quantiles, rate

QUANTILES = {"iou_p10": 0.10, "iou_p25": 0.25, "iou_median": 0.50, "iou_p75": 0.75,
             "iou_p90": 0.90}
IOU_COLUMNS = ("iou_mean", "iou_std", "iou_min", *QUANTILES)
COUNT_COLUMNS = ("golden", "batch", "matched", "missing", "extra", "wrong_class", "ignored",
                 "invalid")
HISTOGRAM_BINS = 10


def iou_distribution(values: FloatArray, *, presorted: bool = False) -> dict[str, float]:
    """Mean, sample standard deviation, minimum and quantiles (numpy's linear rule) of IoUs.

    Empty input gives NaN everywhere; the standard deviation needs two values. ``presorted``
    says ``values`` is in ascending order, so the quantiles are read off without a selection.
    """
    if len(values) == 0:
        return dict.fromkeys(IOU_COLUMNS, float("nan"))
    stats = {
        "iou_mean": float(values.mean()),
        "iou_std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
        "iou_min": float(values.min()),
    }
    quantiles = linear_quantiles(values, list(QUANTILES.values()), presorted=presorted)
    stats.update({name: float(q) for name, q in zip(QUANTILES, quantiles, strict=True)})
    return stats


def sorted_histogram(sorted_values: FloatArray, edges: FloatArray) -> npt.NDArray[np.int64]:
    """``np.histogram(sorted_values, bins=edges)[0]`` for values already in ascending order.

    Bins are half-open ``[edges[i], edges[i + 1])`` except the last, which holds its right
    edge. Given explicit edges, ``np.histogram`` sorts its input to count by binary search; the
    values here are sorted already, so the search is all that is left.

    >>> sorted_histogram(np.array([0.1, 0.5, 0.5, 1.0]), np.array([0.0, 0.5, 1.0])).tolist()
    [1, 3]
    """
    cuts = np.concatenate([np.searchsorted(sorted_values, edges[:-1], side="left"),
                           np.searchsorted(sorted_values, edges[-1:], side="right")])
    counts: npt.NDArray[np.int64] = np.diff(cuts).astype(np.int64)
    return counts


@dataclass(frozen=True)
class ClassTable:
    """One row per class, columns as numpy arrays; ``histogram`` is classes x bins."""

    classes: tuple[str, ...]
    columns: dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]
    histogram: npt.NDArray[np.int64]
    histogram_edges: FloatArray

    def order_worst_first(self) -> npt.NDArray[np.intp]:
        """Row order for display: lowest median IoU first, classes without pairs by recall."""
        median = np.nan_to_num(np.asarray(self.columns["iou_median"], float), nan=-1.0)
        recall = np.nan_to_num(np.asarray(self.columns["recall"], float), nan=2.0)
        has_any = (np.asarray(self.columns["golden"]) + np.asarray(self.columns["batch"])) > 0
        return np.lexsort((np.array(self.classes), recall, median, ~has_any))


def class_table(
    golden: Dataset, batch: Dataset, alignment: Alignment, matches: Matches,
    iou_floor: float = 0.5,
) -> ClassTable:
    """Build the per-class table from the matches.

    Counts use the golden box's class for ``golden``, ``matched``, ``missing`` and
    ``wrong_class``, and the batch box's class for ``batch``, ``extra``, ``ignored`` and
    ``invalid``. ``batch`` counts every valid batch box of an audited labeling (a wrong-class
    pair's batch box counts under its own class).
    """
    n = len(alignment.classes)
    g_class = np.full(len(matches), -1, np.int64)
    b_class = np.full(len(matches), -1, np.int64)
    has_g = matches.golden >= 0
    has_b = matches.batch >= 0
    g_class[has_g] = alignment.golden_class[golden.boxes.category[matches.golden[has_g]]]
    b_class[has_b] = alignment.batch_class[batch.boxes.category[matches.batch[has_b]]]

    def count(mask: npt.NDArray[np.bool_], cls: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.bincount(cls[mask], minlength=n).astype(np.int64)

    matched = matches.where(Outcome.MATCHED)
    wrong = matches.where(Outcome.WRONG_CLASS)
    columns: dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]] = {
        "matched": count(matched, g_class),
        "missing": count(matches.where(Outcome.MISSING), g_class),
        "wrong_class": count(wrong, g_class),
        "extra": count(matches.where(Outcome.EXTRA), b_class),
        "ignored": count(matches.where(Outcome.IGNORED), b_class),
        "invalid": count(matches.where(Outcome.INVALID), b_class),
    }
    columns["golden"] = columns["matched"] + columns["missing"] + columns["wrong_class"]
    columns["batch"] = (columns["matched"] + count(wrong, b_class) + columns["extra"]
                        + columns["ignored"])
    columns["recall"] = rate(columns["matched"], columns["golden"])
    columns["precision"] = rate(columns["matched"], columns["batch"] - columns["ignored"])

    matched_class = g_class[matched]
    matched_iou = matches.iou[matched]
    # Grouped by class with a radix sort, then each class's IoUs sorted on their own: the
    # order a (class, IoU) lexsort gives, at a third of its cost.
    order, bounds = group_order(matched_class, n)
    grouped_iou = matched_iou[order]
    stats = {name: np.full(n, np.nan) for name in IOU_COLUMNS}
    edges = np.linspace(min(iou_floor, 1.0), 1.0, HISTOGRAM_BINS + 1)
    histogram = np.zeros((n, HISTOGRAM_BINS), np.int64)
    for c in range(n):
        values = np.sort(grouped_iou[bounds[c]:bounds[c + 1]])
        for name, value in iou_distribution(values, presorted=True).items():
            stats[name][c] = value
        histogram[c] = sorted_histogram(np.clip(values, edges[0], 1.0), edges)
    columns.update(stats)
    return ClassTable(classes=alignment.classes, columns=columns, histogram=histogram,
                      histogram_edges=edges)
