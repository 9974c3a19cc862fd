"""Per-annotator quality: outcome rates, IoU, localization bias with verdicts, IoU spread test.

Bias on matched pairs, with g the golden and b the batch box and w, h the golden box's size,
positive = looser: left = (g.x1 - b.x1)/w, right = (b.x2 - g.x2)/w, top = (g.y1 - b.y1)/h,
bottom = (b.y2 - g.y2)/h; looseness is their mean; shift_x = (right - left)/2 (positive: to the
right), shift_y = (bottom - top)/2 (positive: down); log_area_ratio = log(area_b / area_g).
Each is reported as a mean with a 95% Student-t interval.

Example:
    >>> verdict_for(0.05, 0.03, 0.07, n=100, margin=0.02, min_matched=30)
    'looser'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bbqa.arrays import distinct, group_order
from bbqa.dataset import Dataset, FloatArray
from bbqa.match import Matches, Outcome, outcome_counts
from bbqa.metrics.classes import iou_distribution
from bbqa.metrics.rows import RowContext, edge_offsets
from bbqa.metrics.stats import (
    holm_adjust,
    mean_interval,
    median,
    rate,
    student_t_sf,
    wilson_interval,
)

UNKNOWN = "(unknown)"
INSUFFICIENT = "insufficient data"
BIAS_MEASURES = ("left", "right", "top", "bottom", "looseness", "shift_x", "shift_y",
                 "log_area_ratio")
SPREAD_TEST = ("Brown-Forsythe: one-sided Welch t-test on |IoU - group median|, each annotator "
               "against all other matched pairs, Holm-adjusted across annotators")
SPREAD_ALPHA = 0.05


def verdict_for(mean: float, low: float, high: float, *, n: int, margin: float,
                min_matched: int) -> str:
    """``looser`` / ``tighter`` when the interval excludes 0 and |mean| > margin."""
    if n < min_matched or math.isnan(mean):
        return INSUFFICIENT
    if low > 0 and mean > margin:
        return "looser"
    if high < 0 and mean < -margin:
        return "tighter"
    return "consistent"


def shift_verdict_for(x: tuple[float, float, float], y: tuple[float, float, float], *, n: int,
                      margin: float, min_matched: int) -> str:
    """The stronger systematic shift beyond the margin: left, right, up, down, or none."""
    if n < min_matched:
        return INSUFFICIENT
    found: list[tuple[float, str]] = []
    for (mean, low, high), (negative, positive) in ((x, ("left", "right")), (y, ("up", "down"))):
        if (low > 0 or high < 0) and abs(mean) > margin:
            found.append((abs(mean), positive if mean > 0 else negative))
    return max(found)[1] if found else "none"


def bias_values(golden: Dataset, batch: Dataset, g: npt.NDArray[np.int64],
                b: npt.NDArray[np.int64]) -> dict[str, FloatArray]:
    """Per-pair bias measures (see module docstring) for golden boxes g and batch boxes b."""
    # Each coordinate gathered once: the measures below read each three or four times, and a
    # gather from a million boxes in pair order misses the cache on most of its reads.
    golden_box, batch_box = golden.boxes.coordinates(g), batch.boxes.coordinates(b)
    gx1, gy1, gx2, gy2 = golden_box
    bx1, by1, bx2, by2 = batch_box
    w = gx2 - gx1
    h = gy2 - gy1
    values = edge_offsets(golden_box, batch_box)
    values["looseness"] = (values["left"] + values["right"] + values["top"]
                           + values["bottom"]) / 4
    values["shift_x"] = ((bx1 + bx2) - (gx1 + gx2)) / (2 * w)
    values["shift_y"] = ((by1 + by2) - (gy1 + gy2)) / (2 * h)
    values["log_area_ratio"] = np.log((bx2 - bx1) * (by2 - by1) / (w * h))
    return values


def spread_p_value(z_own: FloatArray, z_rest: FloatArray) -> float:
    """One-sided Welch p that ``z_own`` deviations are larger on average than ``z_rest``.

    Both are Brown-Forsythe deviations (|IoU - median|), each centred on its own
    annotator's median, so a pool of annotators with different typical IoUs is not mistaken
    for a wide spread.
    """
    if len(z_own) < 2 or len(z_rest) < 2:
        return math.nan
    var_own = float(np.var(z_own, ddof=1)) / len(z_own)
    var_rest = float(np.var(z_rest, ddof=1)) / len(z_rest)
    if var_own + var_rest == 0:
        return math.nan
    t = (float(z_own.mean()) - float(z_rest.mean())) / math.sqrt(var_own + var_rest)
    df = (var_own + var_rest) ** 2 / (var_own**2 / (len(z_own) - 1)
                                      + var_rest**2 / (len(z_rest) - 1))
    return student_t_sf(t, df)


@dataclass(frozen=True)
class AnnotatorTables:
    """``annotators`` has one row per annotator; ``annotator_classes`` per annotator x class."""

    annotators: dict[str, list[Any]]
    annotator_classes: dict[str, list[Any]]


def _counts(row: npt.NDArray[np.int64]) -> dict[str, int]:
    """Named counts from one row of an outcome-count matrix (columns indexed by Outcome)."""
    counts = {o.label: int(row[o]) for o in Outcome}
    counts["golden"] = counts["matched"] + counts["missing"] + counts["wrong_class"]
    counts["judged"] = counts["matched"] + counts["wrong_class"] + counts["extra"]
    counts["boxes"] = counts["judged"] + counts["ignored"]
    return counts


def _rate_columns(counts: npt.NDArray[np.int64]) -> dict[str, FloatArray]:
    """Missing, wrong-class and extra rates with their Wilson bounds, for every row of an
    outcome-count matrix at once (columns indexed by Outcome)."""
    matched, wrong = counts[:, Outcome.MATCHED], counts[:, Outcome.WRONG_CLASS]
    golden = matched + counts[:, Outcome.MISSING] + wrong
    judged = matched + wrong + counts[:, Outcome.EXTRA]
    columns: dict[str, FloatArray] = {}
    for kind, k, n in (("missing", counts[:, Outcome.MISSING], golden),
                       ("wrong_class", wrong, golden),
                       ("extra", counts[:, Outcome.EXTRA], judged)):
        low, high = wilson_interval(k, n)
        columns[f"{kind}_rate"], columns[f"{kind}_low"], columns[f"{kind}_high"] = (
            rate(k, n), low, high)
    return columns


def _rates(row: dict[str, object], columns: dict[str, FloatArray], index: int) -> None:
    for name, values in columns.items():
        row[name] = float(values[index])


def _iou_columns(row: dict[str, object], ious: FloatArray) -> None:
    stats = iou_distribution(ious)
    for name in ("iou_mean", "iou_median", "iou_std", "iou_p10"):
        row[name] = stats[name]


def _images_per_annotator(annotator: npt.NDArray[np.int64], labeling: npt.NDArray[np.integer[Any]],
                          n_names: int) -> npt.NDArray[np.int64]:
    """How many labelings (image entries) each annotator has a row on."""
    n_labelings = int(labeling.max()) + 1 if len(labeling) else 1
    pair = annotator * n_labelings + labeling
    if n_names * n_labelings <= max(4 * len(pair), 1 << 16):
        # A flag per (annotator, labeling) pair, set in one pass: no sort of every row.
        seen = np.zeros(n_names * n_labelings, np.bool_)
        seen[pair] = True
        counts: npt.NDArray[np.int64] = seen.reshape(n_names, n_labelings).sum(axis=1)
        return counts
    return np.bincount(distinct(pair) // n_labelings, minlength=n_names)


def annotator_tables(
    golden: Dataset, batch: Dataset, matches: Matches, rows: RowContext,
    classes: Sequence[str], *, margin: float = 0.02, min_matched: int = 30,
) -> AnnotatorTables:
    """Build the per-annotator and per-annotator-per-class tables.

    Golden-side outcomes count under the golden box's class, batch-only ones under the batch
    box's class. Rows are grouped once by sorting; no pass over all rows per annotator.
    """
    names = [*rows.annotator_names, UNKNOWN]
    n_names, n_classes = len(names), len(classes)
    annotator = np.where(rows.annotator >= 0, rows.annotator, n_names - 1).astype(np.int64)
    outcome = matches.outcome.astype(np.int64)
    counts = outcome_counts(annotator, outcome, n_names)
    images = _images_per_annotator(annotator, matches.labeling, n_names)

    matched = matches.outcome == Outcome.MATCHED
    bias = bias_values(golden, batch, matches.golden[matched], matches.batch[matched])
    matched_annotator = annotator[matched]
    matched_class = rows.golden_class[matched]
    matched_iou = matches.iou[matched]
    order, bounds = group_order(matched_annotator, n_names)
    # The IoUs laid out by annotator: each one's values, and all the others', are then plain
    # slices (their order the same as gathering through ``order``, so the sums are too).
    grouped_iou = matched_iou[order]
    deviations = np.empty(len(grouped_iou))  # by annotator, as grouped_iou
    for a in range(n_names):
        own = grouped_iou[bounds[a]:bounds[a + 1]]
        if len(own):
            deviations[bounds[a]:bounds[a + 1]] = np.abs(own - median(own))

    present = [a for a in range(n_names) if counts[a].sum()]
    annotator_rates = _rate_columns(counts)
    per_annotator: list[dict[str, object]] = []
    for a in present:
        mine = order[bounds[a]:bounds[a + 1]]
        own_deviations = deviations[bounds[a]:bounds[a + 1]]
        named = _counts(counts[a])
        row: dict[str, object] = {
            "annotator": names[a], "images": int(images[a]),
            **{k: named[k] for k in ("boxes", "golden", "matched", "missing", "wrong_class",
                                     "extra", "ignored", "invalid")},
        }
        _rates(row, annotator_rates, a)
        _iou_columns(row, grouped_iou[bounds[a]:bounds[a + 1]])
        n = len(mine)
        intervals = {m: mean_interval(bias[m][mine]) for m in BIAS_MEASURES}
        for measure, (mean, low, high) in intervals.items():
            row[f"{measure}_mean"], row[f"{measure}_low"], row[f"{measure}_high"] = (
                mean, low, high)
        row["verdict"] = verdict_for(*intervals["looseness"], n=n, margin=margin,
                                     min_matched=min_matched)
        row["shift_verdict"] = shift_verdict_for(intervals["shift_x"], intervals["shift_y"],
                                                 n=n, margin=margin, min_matched=min_matched)
        row["iou_spread"] = float(own_deviations.mean()) if n else math.nan
        row["iou_spread_p"] = (spread_p_value(own_deviations, np.concatenate(
            [deviations[:bounds[a]], deviations[bounds[a + 1]:]])) if n >= min_matched
            else math.nan)
        per_annotator.append(row)
    adjusted = holm_adjust(np.array([r["iou_spread_p"] for r in per_annotator], dtype=float))
    for row, p in zip(per_annotator, adjusted.tolist(), strict=True):
        row["iou_spread_p_holm"] = p
        row["iou_spread_flag"] = bool(p < SPREAD_ALPHA) if not math.isnan(p) else False
        row["iou_spread_test"] = SPREAD_TEST

    class_of_row = np.where(rows.golden_class >= 0, rows.golden_class, rows.batch_class)
    known = class_of_row >= 0
    cell = annotator[known] * n_classes + class_of_row[known]
    cell_counts = outcome_counts(cell, outcome[known], n_names * n_classes)
    matched_cell = matched_annotator * n_classes + matched_class
    cell_order, cell_bounds = group_order(matched_cell, n_names * n_classes)
    cell_iou, cell_looseness = matched_iou[cell_order], bias["looseness"][cell_order]
    cell_rates = _rate_columns(cell_counts)
    per_class: list[dict[str, object]] = []
    for c in np.flatnonzero(cell_counts.sum(axis=1)).tolist():
        a, k = divmod(c, n_classes)
        named = _counts(cell_counts[c])
        in_cell = slice(cell_bounds[c], cell_bounds[c + 1])
        row = {"annotator": names[a], "class": classes[k],
               **{key: named[key] for key in ("boxes", "golden", "matched", "missing",
                                              "wrong_class", "extra")}}
        _rates(row, cell_rates, c)
        _iou_columns(row, cell_iou[in_cell])
        row["looseness_mean"] = (float(cell_looseness[in_cell].mean())
                                 if cell_bounds[c + 1] > cell_bounds[c] else math.nan)
        per_class.append(row)
    return AnnotatorTables(annotators=_columns(per_annotator),
                           annotator_classes=_columns(per_class))


def _columns(rows: list[dict[str, object]]) -> dict[str, list[Any]]:
    if not rows:
        return {}
    return {key: [row[key] for row in rows] for key in rows[0]}
