"""Missing, wrong-class and extra rates by class x scene density, object size and scene tag.

Golden-side counts (golden, missing, wrong_class) group by the golden box's class; batch-side
counts (judged batch boxes, extra) by the batch box's class. Each rate carries its count, its
denominator and a 95% Wilson interval. Every dimension also has an ``(all)`` class row.

Example:
    >>> columns = ["dimension", "bucket", "class", "golden", "missing", "missing_rate"]
    >>> all(c in BREAKDOWN_COLUMNS for c in columns)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bbqa.match import Matches, Outcome
from bbqa.metrics.rows import SIZE_LABELS, RowContext
from bbqa.metrics.stats import rate, wilson_interval

ALL_CLASSES = "(all)"
RATES = (("missing", "golden"), ("wrong_class", "golden"), ("extra", "judged"))
BREAKDOWN_COLUMNS = (
    "dimension", "bucket", "class", "golden", "missing", "wrong_class", "judged", "extra",
    *[name for kind, _ in RATES for name in (f"{kind}_rate", f"{kind}_low", f"{kind}_high")],
)


@dataclass(frozen=True)
class Breakdowns:
    """A long table: one row per (dimension, bucket, class) with any box in it."""

    columns: dict[str, npt.NDArray[np.generic]]

    def __len__(self) -> int:
        return len(self.columns["class"])


def _grid(mask: npt.NDArray[np.bool_], cls: npt.NDArray[np.int64],
          bucket: npt.NDArray[np.int64], n_classes: int, n_buckets: int
          ) -> npt.NDArray[np.int64]:
    """Counts per (class, bucket), with an extra last row summing all classes."""
    keep = mask & (cls >= 0) & (bucket >= 0)
    flat = np.bincount(cls[keep] * n_buckets + bucket[keep], minlength=n_classes * n_buckets)
    grid = flat.reshape(n_classes, n_buckets)
    return np.vstack([grid, grid.sum(axis=0, keepdims=True)]).astype(np.int64)


def breakdowns(matches: Matches, rows: RowContext, classes: Sequence[str]) -> Breakdowns:
    """Rates by class x density bucket, x size bucket, and x scene tag (when images have one)."""
    outcome = matches.outcome
    golden_side = matches.where_any(Outcome.MATCHED, Outcome.MISSING, Outcome.WRONG_CLASS)
    judged = matches.where_any(Outcome.MATCHED, Outcome.WRONG_CLASS, Outcome.EXTRA)
    dimensions = [("density", rows.density_bucket, rows.density_labels),
                  ("size", rows.size_bucket, SIZE_LABELS)]
    if rows.scene_names:
        dimensions.append(("scene", rows.scene, rows.scene_names))
    n_classes = len(classes)
    class_names = [*classes, ALL_CLASSES]
    parts: dict[str, list[npt.NDArray[np.generic]]] = {c: [] for c in BREAKDOWN_COLUMNS}
    for dimension, bucket, labels in dimensions:
        n_buckets = len(labels)
        counts = {
            "golden": _grid(golden_side, rows.golden_class, bucket, n_classes, n_buckets),
            "missing": _grid(outcome == Outcome.MISSING, rows.golden_class, bucket, n_classes,
                             n_buckets),
            "wrong_class": _grid(outcome == Outcome.WRONG_CLASS, rows.golden_class, bucket,
                                 n_classes, n_buckets),
            "judged": _grid(judged, rows.batch_class, bucket, n_classes, n_buckets),
            "extra": _grid(outcome == Outcome.EXTRA, rows.batch_class, bucket, n_classes,
                           n_buckets),
        }
        present = (counts["golden"] + counts["judged"]) > 0
        cls_index, bucket_index = np.nonzero(present)
        parts["dimension"].append(np.full(len(cls_index), dimension, dtype=object))
        parts["bucket"].append(np.array(labels, dtype=object)[bucket_index])
        parts["class"].append(np.array(class_names, dtype=object)[cls_index])
        for name, grid in counts.items():
            parts[name].append(grid[cls_index, bucket_index])
        for kind, denominator in RATES:
            k = counts[kind][cls_index, bucket_index]
            n = counts[denominator][cls_index, bucket_index]
            low, high = wilson_interval(k, n)
            parts[f"{kind}_rate"].append(rate(k, n))
            parts[f"{kind}_low"].append(low)
            parts[f"{kind}_high"].append(high)
    return Breakdowns(columns={name: np.concatenate(values) if values else np.zeros(0)
                               for name, values in parts.items()})
