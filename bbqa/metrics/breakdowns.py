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

from bbqa.match import Matches, Outcome, count_of, outcome_counts
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


def _outcome_grid(cls: npt.NDArray[np.int64], bucket: npt.NDArray[np.int64],
                  outcome: npt.NDArray[np.int8], n_classes: int, n_buckets: int
                  ) -> npt.NDArray[np.int64]:
    """Row counts per (class, bucket, outcome), with an extra last class summing all classes.

    One counting pass over the rows serves every outcome; a pass per outcome would read every
    row five times.
    """
    keep = (cls >= 0) & (bucket >= 0)
    grid = outcome_counts(cls[keep] * n_buckets + bucket[keep], outcome[keep],
                          n_classes * n_buckets).reshape(n_classes, n_buckets, -1)
    return np.concatenate([grid, grid.sum(axis=0, keepdims=True)])


def breakdowns(matches: Matches, rows: RowContext, classes: Sequence[str]) -> Breakdowns:
    """Rates by class x density bucket, x size bucket, and x scene tag (when images have one)."""
    outcome = matches.outcome
    dimensions = [("density", rows.density_bucket, rows.density_labels),
                  ("size", rows.size_bucket, SIZE_LABELS)]
    if rows.scene_names:
        dimensions.append(("scene", rows.scene, rows.scene_names))
    n_classes = len(classes)
    class_names = [*classes, ALL_CLASSES]
    parts: dict[str, list[npt.NDArray[np.generic]]] = {c: [] for c in BREAKDOWN_COLUMNS}
    for dimension, bucket, labels in dimensions:
        n_buckets = len(labels)
        by_golden = _outcome_grid(rows.golden_class, bucket, outcome, n_classes, n_buckets)
        by_batch = _outcome_grid(rows.batch_class, bucket, outcome, n_classes, n_buckets)
        counts = {
            "golden": count_of(by_golden, Outcome.MATCHED, Outcome.MISSING, Outcome.WRONG_CLASS),
            "missing": count_of(by_golden, Outcome.MISSING),
            "wrong_class": count_of(by_golden, Outcome.WRONG_CLASS),
            "judged": count_of(by_batch, Outcome.MATCHED, Outcome.WRONG_CLASS, Outcome.EXTRA),
            "extra": count_of(by_batch, Outcome.EXTRA),
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
