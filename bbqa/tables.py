"""Audit results as Arrow tables: the schemas of ``boxes.parquet`` and ``classes.parquet``.

Example:
    >>> BOXES_SCHEMA.field("iou").type
    DataType(double)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from bbqa.audit import AuditResult
from bbqa.dataset import Dataset
from bbqa.match import Outcome
from bbqa.metrics.classes import COUNT_COLUMNS, IOU_COLUMNS

_COORDS = ("x1", "y1", "x2", "y2")

BOXES_SCHEMA = pa.schema(
    [
        ("labeling", pa.int32()),
        ("image", pa.string()),
        ("annotator", pa.string()),
        ("outcome", pa.string()),
        ("golden_id", pa.string()),
        ("batch_id", pa.string()),
        ("golden_class", pa.string()),
        ("batch_class", pa.string()),
        ("iou", pa.float64()),
        *[(f"golden_{c}", pa.float64()) for c in _COORDS],
        *[(f"batch_{c}", pa.float64()) for c in _COORDS],
    ]
)

CLASSES_SCHEMA = pa.schema(
    [
        ("class", pa.string()),
        *[(name, pa.int64()) for name in COUNT_COLUMNS],
        ("recall", pa.float64()),
        ("precision", pa.float64()),
        *[(name, pa.float64()) for name in IOU_COLUMNS],
    ]
)


def _lookup(names: list[str], index: npt.NDArray[np.int64]) -> pa.Array:
    """``names[index]`` as an Arrow string array, null where ``index`` is negative."""
    lookup = np.asarray(names if names else [""], dtype=np.str_)
    return pa.array(lookup[np.maximum(index, 0)], type=pa.string(), mask=index < 0)


def _gather(values: npt.NDArray[Any], index: npt.NDArray[np.int64]) -> pa.Array:
    """``values[index]`` as an Arrow array, null where ``index`` is negative."""
    present = index >= 0
    taken = values[np.where(present, index, 0)] if len(values) else np.zeros(len(index))
    if taken.dtype.kind == "U":
        return pa.array(taken, type=pa.string(), mask=~present)
    return pa.array(taken, mask=~present)


def labeling_annotators(batch: Dataset) -> npt.NDArray[np.int64]:
    """Each labeling's annotator (index into a names list built by :func:`annotator_names`).

    The image entry's own annotator wins; otherwise the most frequent annotator among its boxes
    (ties to the lower index); -1 when neither is known.
    """
    names = annotator_names(batch)
    position = {name: i for i, name in enumerate(names)}
    per_image = np.array(
        [position.get(a, -1) if a else -1 for a in batch.images.annotator.tolist()],
        dtype=np.int64)
    boxes = batch.boxes
    known = boxes.annotator >= 0
    if known.any():
        n_names = len(names)
        key = boxes.image[known].astype(np.int64) * n_names + boxes.annotator[known]
        counts = np.bincount(key, minlength=len(batch.images) * n_names).reshape(-1, n_names)
        most = np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1)
        per_image = np.where(per_image >= 0, per_image, most)
    return per_image


def annotator_names(batch: Dataset) -> list[str]:
    """Box-level annotator names, then image-level names not already among them."""
    names = list(batch.annotators)
    names += sorted({a for a in batch.images.annotator.tolist() if a and a not in names})
    return names


def boxes_table(result: AuditResult) -> pa.Table:
    """One row per outcome (see README, "boxes.parquet")."""
    m, golden, batch, alignment = result.matches, result.golden, result.batch, result.alignment
    classes = list(alignment.classes)
    g_class = np.where(m.golden >= 0, alignment.golden_class[
        golden.boxes.category[np.maximum(m.golden, 0)]] if len(golden.boxes) else -1, -1)
    b_class = np.where(m.batch >= 0, alignment.batch_class[
        batch.boxes.category[np.maximum(m.batch, 0)]] if len(batch.boxes) else -1, -1)
    names = annotator_names(batch)
    labeling = m.labeling.astype(np.int64)
    annotator = labeling_annotators(batch)[labeling] if len(labeling) else labeling
    if len(batch.boxes):
        box_annotator = batch.boxes.annotator[np.maximum(m.batch, 0)].astype(np.int64)
        annotator = np.where((m.batch >= 0) & (box_annotator >= 0), box_annotator, annotator)
    outcome_names = [o.label for o in Outcome]
    columns: dict[str, pa.Array] = {
        "labeling": pa.array(m.labeling, type=pa.int32()),
        "image": _gather(batch.images.key, labeling),
        "annotator": _lookup(names, annotator),
        "outcome": _lookup(outcome_names, m.outcome.astype(np.int64)),
        "golden_id": _gather(golden.boxes.source_id, m.golden),
        "batch_id": _gather(batch.boxes.source_id, m.batch),
        "golden_class": _lookup(classes, g_class.astype(np.int64)),
        "batch_class": _lookup(classes, b_class.astype(np.int64)),
        "iou": pa.array(m.iou, mask=np.isnan(m.iou)),
    }
    for side, dataset, index in (("golden", golden, m.golden), ("batch", batch, m.batch)):
        for c in _COORDS:
            columns[f"{side}_{c}"] = _gather(getattr(dataset.boxes, c), index)
    return pa.Table.from_pydict(columns, schema=BOXES_SCHEMA)


def classes_table(result: AuditResult) -> pa.Table:
    """One row per class (see README, "classes.parquet"), worst first."""
    table = result.classes
    order = table.order_worst_first()
    columns: dict[str, pa.Array] = {"class": pa.array([table.classes[i] for i in order],
                                                      type=pa.string())}
    for name in CLASSES_SCHEMA.names[1:]:
        values = np.asarray(table.columns[name])[order]
        if values.dtype.kind == "f":
            columns[name] = pa.array(values, mask=np.isnan(values))
        else:
            columns[name] = pa.array(values, type=pa.int64())
    return pa.Table.from_pydict(columns, schema=CLASSES_SCHEMA)
