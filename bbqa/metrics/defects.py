"""Defects a vendor must fix, per image and as a corrections list.

A golden box is defective when it is missing, drawn with the wrong class, loose (IoU below
its class tolerance) or attribute-mismatched; every extra or invalid batch box is a defect.

Example:
    >>> DEFECT_TYPES
    ('missing', 'wrong_class', 'loose', 'attribute_mismatch', 'extra', 'invalid')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bbqa.dataset import Dataset
from bbqa.match import Matches, Outcome, count_of, outcome_counts
from bbqa.metrics.rows import RowContext

DEFECT_TYPES = ("missing", "wrong_class", "loose", "attribute_mismatch", "extra", "invalid")
BOX_FORMATS = {
    "coco": "x y w h (COCO, pixels)",
    "voc": "xmin ymin xmax ymax (VOC, 1-based inclusive)",
    "yolo": "cx cy w h (YOLO, normalized)",
}


def defect_masks(matches: Matches, rows: RowContext) -> dict[str, npt.NDArray[np.bool_]]:
    """One boolean mask over the outcome rows per defect type."""
    return {
        "missing": matches.outcome == Outcome.MISSING,
        "wrong_class": matches.outcome == Outcome.WRONG_CLASS,
        "loose": rows.loose,
        "attribute_mismatch": rows.attribute_mismatch,
        "extra": matches.outcome == Outcome.EXTRA,
        "invalid": matches.outcome == Outcome.INVALID,
    }


@dataclass(frozen=True)
class ImageTable:
    """One row per audited labeling: outcome and defect counts."""

    columns: dict[str, npt.NDArray[np.generic]]


def image_table(batch: Dataset, matches: Matches, rows: RowContext) -> ImageTable:
    """Outcome and defect counts per labeling, most defects first."""
    # Labelings are small integers: which occur, and each row's rank among them, in one pass.
    present = np.bincount(matches.labeling, minlength=1) > 0
    labelings = np.flatnonzero(present).astype(np.int64)
    slot = (np.cumsum(present) - 1)[matches.labeling]
    n = len(labelings)

    def count(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        return np.bincount(slot[mask], minlength=n).astype(np.int64)

    outcomes = outcome_counts(slot, matches.outcome, n)
    masks = defect_masks(matches, rows)
    # A golden box that is both loose and attribute-mismatched is one defective box.
    defective = (masks["missing"] | masks["wrong_class"] | masks["loose"]
                 | masks["attribute_mismatch"] | masks["extra"] | masks["invalid"])
    matched = matches.outcome == Outcome.MATCHED
    iou_sum = np.bincount(slot[matched], weights=matches.iou[matched], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou_mean = iou_sum / count_of(outcomes, Outcome.MATCHED)
    first_row = np.searchsorted(slot, np.arange(n))
    names = np.array([*rows.annotator_names, ""], dtype=np.str_)
    defects = count(defective)
    columns: dict[str, npt.NDArray[np.generic]] = {
        "labeling": labelings.astype(np.int32),
        "image": batch.images.key[labelings],
        "annotator": names[rows.annotator[first_row]],
        "density": rows.density[first_row],
        "golden": count_of(outcomes, Outcome.MATCHED, Outcome.MISSING, Outcome.WRONG_CLASS),
        "batch": count_of(outcomes, Outcome.MATCHED, Outcome.WRONG_CLASS, Outcome.EXTRA,
                          Outcome.IGNORED),
        "missing": count_of(outcomes, Outcome.MISSING),
        "wrong_class": count_of(outcomes, Outcome.WRONG_CLASS),
        "loose": count(masks["loose"]),
        "attribute_mismatch": count(masks["attribute_mismatch"]),
        "extra": count_of(outcomes, Outcome.EXTRA),
        "invalid": count_of(outcomes, Outcome.INVALID),
        "defects": defects,
        "iou_mean": iou_mean,
    }
    order = np.lexsort((columns["labeling"], -defects))
    return ImageTable(columns={k: v[order] for k, v in columns.items()})


def defect_rows(matches: Matches, rows: RowContext) -> tuple[npt.NDArray[np.int64],
                                                             npt.NDArray[np.int64]]:
    """Each defect as (outcome row, defect type index into :data:`DEFECT_TYPES`), ordered by
    labeling, then outcome row, then type. A loose, attribute-mismatched pair is two defects."""
    masks = defect_masks(matches, rows)
    row = np.concatenate([np.flatnonzero(masks[d]) for d in DEFECT_TYPES]).astype(np.int64)
    kind = np.concatenate([np.full(int(masks[d].sum()), i, np.int64)
                           for i, d in enumerate(DEFECT_TYPES)])
    order = np.lexsort((kind, row, matches.labeling[row]))
    return row[order], kind[order]
