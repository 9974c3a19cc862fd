"""Inter-annotator agreement: Krippendorff's alpha per IoU threshold (overall and per class),
pairwise F1 / IoU / class agreement (overall, per class, scene and density), an annotator x
annotator matrix, and bootstrap intervals over pictures.

Example:
    >>> bootstrap_interval(np.array([[1.0, 1.0], [0.0, 1.0]]), lambda s: s[..., 0],
    ...                    draws=2, seed=0)[0] <= 1.0
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bbqa.agreement.alpha import (
    ABSENT,
    build_units,
    majority_class,
    picture_alpha,
    unit_values,
)
from bbqa.agreement.pictures import Picture
from bbqa.arrays import distinct, take_or_missing
from bbqa.dataset import Boxes, Dataset, Images
from bbqa.metrics.rows import DEFAULT_DENSITY_BOUNDS, density_labels

FloatArray = npt.NDArray[np.float64]
OVERALL = "(all)"


def bootstrap_interval(per_picture: FloatArray, statistic: Callable[[FloatArray], FloatArray],
                       draws: int, seed: int, confidence: float = 0.95
                       ) -> tuple[float, float]:
    """Percentile bootstrap over pictures: resample rows of ``per_picture`` with replacement.

    ``statistic`` maps summed columns (draws x columns) to one value per draw.
    """
    n = len(per_picture)
    if n == 0 or draws <= 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(draws, n))
    sums = per_picture[index].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = statistic(sums)
    values = values[~np.isnan(values)]
    if not len(values):
        return math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class AgreementResult:
    """Everything ``bbqa agree`` measured."""

    annotators: tuple[str, ...]
    classes: tuple[str, ...]
    pictures: int
    pictures_compared: int
    thresholds: tuple[float, ...]
    rows: list[dict[str, Any]]
    pairs: dict[str, list[Any]]
    matrix: list[dict[str, Any]]
    flagged: list[str]
    summary: dict[str, Any]


def _annotator_dataset(dataset: Dataset, pictures: Sequence[Picture], name: str,
                       agnostic: bool) -> tuple[Dataset, npt.NDArray[np.int64]]:
    """One annotator's boxes as a dataset keyed by picture, and each row's original box."""
    keys: list[str] = []
    widths: list[float] = []
    heights: list[float] = []
    parts: list[tuple[int, npt.NDArray[np.int64]]] = []
    for picture in pictures:
        if name not in picture.annotators:
            continue
        parts.append((len(keys), picture.boxes[picture.annotators.index(name)]))
        keys.append(picture.key)
        widths.append(picture.width)
        heights.append(picture.height)
    image = np.concatenate([np.full(len(b), i, np.int64) for i, b in parts]) if parts else \
        np.zeros(0, np.int64)
    original = np.concatenate([b for _, b in parts]) if parts else np.zeros(0, np.int64)
    b = dataset.boxes
    category = np.zeros(len(original), np.int64) if agnostic else b.category[original]
    order = np.lexsort((b.source_id[original], category, image))
    original, image, category = original[order], image[order], category[order]
    boxes = Boxes.build(image=image, category=category, x1=b.x1[original], y1=b.y1[original],
                        x2=b.x2[original], y2=b.y2[original],
                        source_id=b.source_id[original], valid=b.valid[original])
    names = ["*"] if agnostic else list(dataset.categories)
    return Dataset.build(Images.build(keys, widths, heights), names, boxes), original


def agree(dataset: Dataset, pictures: Sequence[Picture], *, thresholds: Sequence[float] = (0.5,),
          bootstrap: int = 1000, seed: int = 0, min_agreement: float = 0.70,
          density_bounds: Sequence[int] = DEFAULT_DENSITY_BOUNDS) -> AgreementResult:
    """Measure agreement on every picture labeled by at least two annotators."""
    from bbqa.align import align
    from bbqa.match import Outcome, match

    classes = dataset.categories
    n_classes = len(classes)
    compared = [p for p in pictures if len(p.annotators) >= 2]
    annotators = sorted({a for p in compared for a in p.annotators})
    rows: list[dict[str, Any]] = []

    # Krippendorff's alpha, per threshold, overall and per majority class of the units.
    alpha_summary = {}
    for t in thresholds:
        per_picture = np.full(len(compared), np.nan)
        per_class = np.full((len(compared), n_classes), np.nan)
        for i, picture in enumerate(compared):
            values = unit_values(build_units(picture.labelings, t), picture.labelings)
            per_picture[i] = picture_alpha(values, n_classes)
            majority = np.array([majority_class(v) for v in values], np.int64)
            for c in distinct(majority[majority != ABSENT]).tolist():
                per_class[i, c] = picture_alpha([v for v, k in zip(values, majority,
                                                                    strict=True) if k == c],
                                                n_classes)
        low, high = bootstrap_interval(per_picture[:, None], lambda s: s[:, 0] / len(compared),
                                       bootstrap, seed)
        value = float(per_picture.mean()) if len(compared) else math.nan
        rows.append(_row("alpha", t, "overall", OVERALL, value, low, high, len(compared)))
        alpha_summary[str(t)] = {"alpha": value, "ci95": [low, high]}
        for c in range(n_classes):
            have = ~np.isnan(per_class[:, c])
            if not have.any():
                continue
            column = np.column_stack([np.nan_to_num(per_class[:, c]), have.astype(float)])
            low, high = bootstrap_interval(column, lambda s: s[:, 0] / s[:, 1], bootstrap, seed)
            rows.append(_row("alpha", t, "class", classes[c], float(per_class[have, c].mean()),
                             low, high, int(have.sum())))

    # Pairwise comparisons with the audit's matcher, at the first threshold.
    t = thresholds[0]
    picture_index = {p.key: i for i, p in enumerate(compared)}
    density = np.array([np.mean([len(lab.boxes) for lab in p.labelings]) for p in compared])
    labels = density_labels(density_bounds)
    bounds = np.asarray(density_bounds, dtype=np.float64)
    density_bucket = np.where(density == 0, 0, 1 + np.searchsorted(bounds, density, "left"))
    scenes = sorted({p.scene for p in compared if p.scene})
    per_picture_matched = np.zeros((len(compared), n_classes))
    per_picture_boxes = np.zeros((len(compared), n_classes))
    iou_by_picture_class: list[list[list[float]]] = [[[] for _ in range(n_classes)]
                                                     for _ in compared]
    agnostic_totals = np.zeros(2)
    pairs: dict[str, list[Any]] = {k: [] for k in (
        "annotator_a", "annotator_b", "image", "outcome", "id_a", "id_b", "class_a", "class_b",
        "iou")}
    matrix = []
    datasets = {a: _annotator_dataset(dataset, compared, a, False) for a in annotators}
    agnostic = {a: _annotator_dataset(dataset, compared, a, True) for a in annotators}
    for i, a in enumerate(annotators):
        for b in annotators[i + 1:]:
            (da, oa), (db, ob) = datasets[a], datasets[b]
            alignment = align(da, db)
            if not len(alignment.audited):
                continue
            m = match(da, db, alignment, t)
            shared = distinct(m.labeling)
            pair_pictures = [picture_index[k] for k in db.images.key[shared].tolist()]
            g_cls = take_or_missing(da.boxes.category, m.golden)
            b_cls = take_or_missing(db.boxes.category, m.batch)
            pic = np.array([picture_index[k] for k in
                            db.images.key[m.labeling].tolist()], np.int64)
            matched = m.outcome == Outcome.MATCHED
            np.add.at(per_picture_matched, (pic[matched], g_cls[matched]), 1.0)
            for side_cls in (g_cls, b_cls):
                present = side_cls >= 0
                np.add.at(per_picture_boxes, (pic[present], side_cls[present]), 1.0)
            for p_i, c_i, v in zip(pic[matched].tolist(), g_cls[matched].tolist(),
                                   m.iou[matched].tolist(), strict=True):
                iou_by_picture_class[p_i][c_i].append(v)
            # Class agreement: a class-agnostic matching of the same pair.
            (ga, goa), (gb, gob) = agnostic[a], agnostic[b]
            am = match(ga, gb, align(ga, gb), t)
            am_matched = am.outcome == Outcome.MATCHED
            same = (dataset.boxes.category[goa[am.golden[am_matched]]]
                    == dataset.boxes.category[gob[am.batch[am_matched]]])
            agnostic_totals += [int(am_matched.sum()), int(same.sum())]
            n_a = int((m.golden >= 0).sum())
            n_b = int((m.batch >= 0).sum())
            n_matched = int(matched.sum())
            matrix.append({
                "annotator_a": a, "annotator_b": b, "pictures": len(pair_pictures),
                "boxes_a": n_a, "boxes_b": n_b, "matched": n_matched,
                "f1": 2 * n_matched / (n_a + n_b) if n_a + n_b else math.nan,
                "iou_mean": float(m.iou[matched].mean()) if n_matched else math.nan,
                "class_agreement": float(same.mean()) if len(same) else math.nan,
            })
            _record_pairs(pairs, a, b, m, da, db, oa, ob, dataset)
    # Pairwise figures, overall and by class, scene and density bucket.
    groups: list[tuple[str, str, npt.NDArray[np.bool_], slice | int]] = [
        ("overall", OVERALL, np.ones(len(compared), bool), slice(None))]
    groups += [("class", classes[c], np.ones(len(compared), bool), c) for c in range(n_classes)]
    groups += [("scene", s, np.array([p.scene == s for p in compared]), slice(None))
               for s in scenes]
    groups += [("density", labels[k], density_bucket == k, slice(None))
               for k in range(len(labels))]
    for group, name, picture_mask, cls in groups:
        matched_col = per_picture_matched[:, cls]
        boxes_col = per_picture_boxes[:, cls]
        if matched_col.ndim > 1:
            matched_col, boxes_col = matched_col.sum(axis=1), boxes_col.sum(axis=1)
        matched_col = np.where(picture_mask, matched_col, 0.0)
        boxes_col = np.where(picture_mask, boxes_col, 0.0)
        if boxes_col.sum() == 0:
            continue
        ious = [v for p_i in np.flatnonzero(picture_mask).tolist()
                for c_i in (range(n_classes) if isinstance(cls, slice) else [cls])
                for v in iou_by_picture_class[p_i][c_i]]
        f1 = 2 * matched_col.sum() / boxes_col.sum()
        column = np.column_stack([matched_col, boxes_col])[picture_mask]
        low, high = bootstrap_interval(column, lambda s: 2 * s[:, 0] / s[:, 1], bootstrap,
                                       seed)
        rows.append(_row("f1", t, group, name, float(f1), low, high, int(boxes_col.sum())))
        if ious:
            iou_values = np.asarray(ious, dtype=np.float64)
            for measure, value in (("iou_mean", iou_values.mean()),
                                   ("iou_median", np.median(iou_values)),
                                   ("iou_p10", np.quantile(iou_values, 0.1))):
                rows.append(_row(measure, t, group, name, float(value), math.nan, math.nan,
                                 len(iou_values)))
    class_agreement = (agnostic_totals[1] / agnostic_totals[0] if agnostic_totals[0]
                       else math.nan)
    rows.append(_row("class_agreement", t, "overall", OVERALL, float(class_agreement),
                     math.nan, math.nan, int(agnostic_totals[0])))
    first = thresholds[0]
    flagged = sorted(r["bucket"] for r in rows if r["measure"] == "alpha"
                     and r["group"] == "class" and r["threshold"] == first
                     and r["value"] < min_agreement)
    summary = {
        "schema_version": 1,
        "command": "agree",
        "pictures": len(pictures),
        "pictures_compared": len(compared),
        "annotators": annotators,
        "thresholds": list(thresholds),
        "alpha": alpha_summary,
        "class_agreement": None if math.isnan(class_agreement) else float(class_agreement),
        "min_agreement": min_agreement,
        "flagged_classes": flagged,
        "bootstrap": {"draws": bootstrap, "seed": seed},
        "class_rule": "a unit's class is the class most of its boxes carry (ties: the class "
                      "listed first); per-class alpha uses the units of that class only",
    }
    return AgreementResult(annotators=tuple(annotators), classes=classes,
                           pictures=len(pictures), pictures_compared=len(compared),
                           thresholds=tuple(thresholds), rows=rows, pairs=pairs, matrix=matrix,
                           flagged=flagged, summary=summary)


def _row(measure: str, threshold: float, group: str, bucket: str, value: float, low: float,
         high: float, n: int) -> dict[str, Any]:
    return {"measure": measure, "threshold": threshold, "group": group, "bucket": bucket,
            "value": value, "low": low, "high": high, "n": n}


def _record_pairs(pairs: dict[str, list[Any]], a: str, b: str, m: Any, da: Dataset,
                  db: Dataset, oa: npt.NDArray[np.int64], ob: npt.NDArray[np.int64],
                  dataset: Dataset) -> None:
    from bbqa.match import Outcome

    names = {Outcome.MATCHED: "matched", Outcome.WRONG_CLASS: "wrong_class",
             Outcome.MISSING: "only_a", Outcome.EXTRA: "only_b"}
    for o, g, bb, lab, iou in zip(m.outcome.tolist(), m.golden.tolist(), m.batch.tolist(),
                                  m.labeling.tolist(), m.iou.tolist(), strict=True):
        if o not in names:
            continue
        pairs["annotator_a"].append(a)
        pairs["annotator_b"].append(b)
        pairs["image"].append(str(db.images.key[lab]))
        pairs["outcome"].append(names[Outcome(o)])
        pairs["id_a"].append(str(dataset.boxes.ids[oa[g]]) if g >= 0 else None)
        pairs["id_b"].append(str(dataset.boxes.ids[ob[bb]]) if bb >= 0 else None)
        pairs["class_a"].append(dataset.categories[da.boxes.category[g]] if g >= 0 else None)
        pairs["class_b"].append(dataset.categories[db.boxes.category[bb]] if bb >= 0 else None)
        pairs["iou"].append(None if math.isnan(iou) else iou)
