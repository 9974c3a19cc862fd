"""Defects a vendor must fix, per image and as a corrections list.

A golden box is defective when it is missing, drawn with the wrong class, loose (IoU below
its class tolerance) or attribute-mismatched; every extra or invalid batch box is a defect.

Example:
    >>> DEFECT_TYPES
    ('missing', 'wrong_class', 'loose', 'attribute_mismatch', 'extra', 'invalid')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bbqa.dataset import Dataset
from bbqa.match import Matches, Outcome
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
    labelings = np.unique(matches.labeling).astype(np.int64)
    slot = np.searchsorted(labelings, matches.labeling)
    n = len(labelings)

    def count(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        return np.bincount(slot[mask], minlength=n).astype(np.int64)

    masks = defect_masks(matches, rows)
    # A golden box that is both loose and attribute-mismatched is one defective box.
    defective = (masks["missing"] | masks["wrong_class"] | masks["loose"]
                 | masks["attribute_mismatch"] | masks["extra"] | masks["invalid"])
    golden = count(np.isin(matches.outcome, [Outcome.MATCHED, Outcome.MISSING,
                                             Outcome.WRONG_CLASS]))
    matched = matches.outcome == Outcome.MATCHED
    iou_sum = np.bincount(slot[matched], weights=matches.iou[matched], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou_mean = iou_sum / count(matched)
    first_row = np.searchsorted(slot, np.arange(n))
    names = np.array([*rows.annotator_names, ""], dtype=object)
    columns: dict[str, npt.NDArray[np.generic]] = {
        "labeling": labelings.astype(np.int32),
        "image": batch.images.key[labelings].astype(object),
        "annotator": names[rows.annotator[first_row]],
        "density": rows.density[first_row],
        "golden": golden,
        "batch": count(np.isin(matches.outcome, [Outcome.MATCHED, Outcome.WRONG_CLASS,
                                                 Outcome.EXTRA, Outcome.IGNORED])),
        **{name: count(mask) for name, mask in masks.items()},
        "defects": count(defective),
        "iou_mean": iou_mean,
    }
    order = np.lexsort((columns["labeling"], -count(defective)))
    return ImageTable(columns={k: v[order] for k, v in columns.items()})


def _native_boxes(dataset: Dataset, index: npt.NDArray[np.int64], fmt: str,
                  widths: npt.NDArray[np.float64], heights: npt.NDArray[np.float64]
                  ) -> list[str | None]:
    b = dataset.boxes
    present = index >= 0
    i = np.maximum(index, 0)
    x1, y1, x2, y2 = b.x1[i], b.y1[i], b.x2[i], b.y2[i]
    if fmt == "voc":
        values = np.stack([x1 + 1, y1 + 1, x2, y2], 1)
        text = [f"{a:g} {c:g} {d:g} {e:g}" for a, c, d, e in values.round(2).tolist()]
    elif fmt == "yolo":
        values = np.stack([(x1 + x2) / 2 / widths, (y1 + y2) / 2 / heights,
                           (x2 - x1) / widths, (y2 - y1) / heights], 1)
        text = [f"{a:.6f} {c:.6f} {d:.6f} {e:.6f}" for a, c, d, e in values.tolist()]
    else:
        values = np.stack([x1, y1, x2 - x1, y2 - y1], 1)
        text = [f"{a:g} {c:g} {d:g} {e:g}" for a, c, d, e in values.round(2).tolist()]
    return [t if p else None for t, p in zip(text, present.tolist(), strict=True)]


def corrections(golden: Dataset, batch: Dataset, matches: Matches, rows: RowContext,
                classes: Sequence[str]) -> dict[str, list[object]]:
    """One row per defect, with both boxes in the batch's own coordinate convention."""
    fmt = batch.format if batch.format in BOX_FORMATS else "coco"
    masks = defect_masks(matches, rows)
    labeled = np.concatenate([np.flatnonzero(masks[d]) for d in DEFECT_TYPES])
    kinds = np.concatenate([np.full(int(masks[d].sum()), d, dtype=object)
                            for d in DEFECT_TYPES])
    order = np.lexsort((labeled, matches.labeling[labeled]))
    r, kinds = labeled[order], kinds[order]
    labeling = matches.labeling[r].astype(np.int64)
    widths, heights = batch.images.width[labeling], batch.images.height[labeling]
    g, b = matches.golden[r], matches.batch[r]
    golden_box = _native_boxes(golden, g, fmt, widths, heights)
    batch_box = _native_boxes(batch, b, fmt, widths, heights)
    class_names = np.array([*classes, ""], dtype=object)
    g_class = class_names[rows.golden_class[r]]
    b_class = class_names[rows.batch_class[r]]
    names = np.array([*rows.annotator_names, ""], dtype=object)
    mismatch_text = _attribute_changes(golden, batch, matches, rows, r)
    actions = []
    for k, gc, bc, gbox, bbox, change in zip(
            kinds.tolist(), g_class.tolist(), b_class.tolist(), golden_box, batch_box,
            mismatch_text, strict=True):
        if k == "missing":
            actions.append(f"draw missing {gc} at {gbox}")
        elif k == "wrong_class":
            actions.append(f"relabel {bc} -> {gc}")
        elif k == "loose":
            actions.append(f"redraw {gc} box {bbox} as {gbox}")
        elif k == "attribute_mismatch":
            actions.append(f"set {change}")
        elif k == "extra":
            actions.append(f"delete extra {bc} box at {bbox}")
        else:
            actions.append(f"fix or delete invalid {bc} box {bbox}")
    return {
        "image": batch.images.key[labeling].tolist(),
        "labeling": labeling.tolist(),
        "annotator": [n or None for n in names[rows.annotator[r]].tolist()],
        "defect": kinds.tolist(),
        "golden_id": [str(golden.boxes.source_id[i]) if i >= 0 else None for i in g.tolist()],
        "batch_id": [str(batch.boxes.source_id[i]) if i >= 0 else None for i in b.tolist()],
        "golden_class": [c or None for c in g_class.tolist()],
        "batch_class": [c or None for c in b_class.tolist()],
        "iou": [None if np.isnan(v) else v for v in matches.iou[r].tolist()],
        "box_format": [BOX_FORMATS[fmt]] * len(r),
        "golden_box": golden_box,
        "batch_box": batch_box,
        "action": actions,
    }


def _attribute_changes(golden: Dataset, batch: Dataset, matches: Matches, rows: RowContext,
                       r: npt.NDArray[np.int64]) -> list[str]:
    """For each row, ``name=golden value (was batch value)`` for attributes that differ."""
    parts: list[list[str]] = [[] for _ in range(len(r))]
    flagged = np.flatnonzero(rows.attribute_mismatch[r])
    g, b = matches.golden[r[flagged]], matches.batch[r[flagged]]
    for name in rows.compared_attributes:
        ga, ba = golden.boxes.attributes[name], batch.boxes.attributes[name]
        gv = np.array([*ga.values, ""], dtype=object)[ga.codes[g]]
        bv = np.array([*ba.values, ""], dtype=object)[ba.codes[b]]
        for k, (x, y) in enumerate(zip(gv.tolist(), bv.tolist(), strict=True)):
            if x and y and x != y:
                parts[flagged[k]].append(f"{name}={x} (was {y})")
    return ["; ".join(p) for p in parts]
