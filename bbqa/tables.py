"""Audit results as Arrow tables: the schemas of ``boxes.parquet`` and ``classes.parquet``.

Example:
    >>> BOXES_SCHEMA.field("iou").type
    DataType(double)
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from bbqa import arrow_kernels as kernels
from bbqa.arrays import group_order, take_or_missing
from bbqa.auditing import AuditResult, Matched
from bbqa.dataset import Boxes
from bbqa.match import Outcome
from bbqa.metrics.classes import COUNT_COLUMNS, IOU_COLUMNS
from bbqa.metrics.defects import BOX_FORMATS, DEFECT_TYPES, defect_rows
from bbqa.metrics.rows import EDGES, SIZE_LABELS

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
        ("density", pa.int64()),
        ("density_bucket", pa.string()),
        ("size_bucket", pa.string()),
        ("scene", pa.string()),
        *[(f"edge_{e}", pa.float64()) for e in EDGES],
        ("loose", pa.bool_()),
        ("attribute_mismatch", pa.bool_()),
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


def _lookup(names: list[str], index: npt.NDArray[np.int64], *,
            coded: bool = False) -> pa.Array:
    """``names[index]`` as an Arrow string array, null where ``index`` is negative; with
    ``coded``, as a dictionary array of those names (no text copied per row)."""
    if not names and not coded:
        return pa.nulls(len(index), pa.string())
    indices = kernels.from_numpy(np.asarray(index, dtype=np.int32), mask=index < 0)
    if coded:
        return pa.DictionaryArray.from_arrays(indices, pa.array(names, pa.string()))
    return kernels.take(pa.array(names, pa.string()), indices)


def _gather(values: npt.NDArray[Any], index: npt.NDArray[np.int64]) -> pa.Array:
    """``values[index]`` as an Arrow array, null where ``index`` is negative."""
    present = index >= 0
    if values.dtype.kind == "U":
        # Converting the source column once and taking from it beats converting the gathered
        # copy: the gather repeats golden ids once per labeling.
        if not len(values):
            return pa.nulls(len(index), pa.string())
        return kernels.take(kernels.from_numpy(values), kernels.from_numpy(index, mask=~present))
    taken = values[np.where(present, index, 0)] if len(values) else np.zeros(len(index))
    return kernels.from_numpy(taken, mask=~present)


def _gather_ids(boxes: Boxes, index: npt.NDArray[np.int64]) -> pa.Array:
    """The source ids of rows ``index`` as text (integer ids are cast by Arrow), null where
    ``index`` is negative."""
    return kernels.as_text(_gather(boxes.ids, index))


def boxes_table(result: Matched | AuditResult, *, coded: bool = False) -> pa.Table:
    """One row per outcome (see README, "boxes.parquet").

    With ``coded``, the columns of names (annotator, outcome, classes, buckets, scene,
    attributes) are dictionary arrays over their few values instead of a text per row: the
    same values, built and written to Parquet in less time, for the file writer.
    """
    m, golden, batch, alignment = result.matches, result.golden, result.batch, result.alignment
    lookup = partial(_lookup, coded=coded)
    rows = result.rows
    classes = list(alignment.classes)
    g_class, b_class = rows.golden_class, rows.batch_class
    names = list(rows.annotator_names)
    labeling = m.labeling.astype(np.int64)
    annotator = rows.annotator
    outcome_names = [o.label for o in Outcome]
    columns: dict[str, pa.Array] = {
        "labeling": kernels.from_numpy(m.labeling, type=pa.int32()),
        "image": _gather(batch.images.key, labeling),
        "annotator": lookup(names, annotator),
        "outcome": lookup(outcome_names, m.outcome.astype(np.int64)),
        "golden_id": _gather_ids(golden.boxes, m.golden),
        "batch_id": _gather_ids(batch.boxes, m.batch),
        "golden_class": lookup(classes, g_class.astype(np.int64)),
        "batch_class": lookup(classes, b_class.astype(np.int64)),
        "iou": kernels.from_numpy(m.iou, mask=np.isnan(m.iou)),
    }
    for side, dataset, index in (("golden", golden, m.golden), ("batch", batch, m.batch)):
        for c in _COORDS:
            columns[f"{side}_{c}"] = _gather(getattr(dataset.boxes, c), index)
    columns["density"] = kernels.from_numpy(rows.density, type=pa.int64())
    columns["density_bucket"] = lookup(list(rows.density_labels), rows.density_bucket)
    columns["size_bucket"] = lookup(list(SIZE_LABELS), rows.size_bucket)
    columns["scene"] = lookup(list(rows.scene_names), rows.scene)
    for edge in EDGES:
        values = rows.edges[edge]
        columns[f"edge_{edge}"] = kernels.from_numpy(values, mask=np.isnan(values))
    columns["loose"] = kernels.from_numpy(rows.loose)
    columns["attribute_mismatch"] = kernels.from_numpy(rows.attribute_mismatch)
    schema = (pa.schema([f.with_type(columns[f.name].type) for f in BOXES_SCHEMA]) if coded
              else BOXES_SCHEMA)
    table = pa.Table.from_pydict(columns, schema=schema)
    for side, dataset, index in (("golden", golden, m.golden), ("batch", batch, m.batch)):
        for name, attribute in sorted(dataset.boxes.attributes.items()):
            codes = take_or_missing(attribute.codes, index)
            table = table.append_column(f"{side}_attr_{name}",
                                        lookup(list(attribute.values), codes))
    return table


def classes_table(result: AuditResult) -> pa.Table:
    """One row per class (see README, "classes.parquet"), worst first."""
    table = result.classes
    order = table.order_worst_first()
    columns: dict[str, pa.Array] = {"class": pa.array([table.classes[i] for i in order],
                                                      type=pa.string())}
    for name in CLASSES_SCHEMA.names[1:]:
        values = np.asarray(table.columns[name])[order]
        if values.dtype.kind == "f":
            columns[name] = kernels.from_numpy(values, mask=np.isnan(values))
        else:
            columns[name] = kernels.from_numpy(values, type=pa.int64())
    return pa.Table.from_pydict(columns, schema=CLASSES_SCHEMA)


def _from_columns(columns: dict[str, Any]) -> pa.Table:
    """A table from numpy or list columns, NaN floats and empty texts as nulls, object arrays
    as strings."""
    arrays: dict[str, pa.Array] = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            arrays[name] = kernels.from_numpy(values, mask=np.isnan(values))
        elif isinstance(values, np.ndarray) and values.dtype.kind == "U":
            arrays[name] = kernels.from_numpy(values, mask=values == "")
        elif isinstance(values, np.ndarray) and values.dtype.kind == "O":
            arrays[name] = pa.array([None if v is None or v == "" else str(v)
                                     for v in values.tolist()], type=pa.string())
        elif isinstance(values, list) and values and isinstance(values[0], float):
            arrays[name] = pa.array([None if np.isnan(v) else v for v in values],
                                    type=pa.float64())
        elif isinstance(values, np.ndarray):
            arrays[name] = kernels.from_numpy(values)
        else:
            arrays[name] = pa.array(values, type=_list_type(values))
    return pa.table(arrays)


def _list_type(values: list[Any]) -> pa.DataType | None:
    """The type ``pa.array`` infers for a list of texts, integers or booleans (``None`` for
    any other list: inferred there). Named, because inferring probes for ``dateutil`` on
    every call, a failed import when it is not installed (0.1 ms a column)."""
    kinds = set(map(type, values))
    if kinds and kinds <= {str, type(None)} and str in kinds:
        return pa.string()
    if kinds == {int} and min(values) >= -2**63 and max(values) < 2**63:
        return pa.int64()
    if kinds == {bool}:
        return pa.bool_()
    return None


def breakdowns_table(result: AuditResult) -> pa.Table:
    """``breakdowns.parquet``: rates by class x dimension x bucket."""
    return _from_columns(result.breakdowns.columns)


def confusion_table(result: AuditResult) -> pa.Table:
    """``confusion.parquet``: the whole golden x batch class matrix, one row per cell."""
    c = result.confusion
    i, j = np.meshgrid(np.arange(len(c.rows)), np.arange(len(c.columns)), indexing="ij")
    return pa.table({
        "golden_class": pa.array([c.rows[k] for k in i.ravel().tolist()], pa.string()),
        "batch_class": pa.array([c.columns[k] for k in j.ravel().tolist()], pa.string()),
        "count": kernels.from_numpy(c.counts.ravel(), type=pa.int64()),
    })


def annotators_table(result: AuditResult) -> pa.Table:
    """``annotators.parquet``: one row per annotator."""
    return _from_columns(result.annotators.annotators)


def annotator_classes_table(result: AuditResult) -> pa.Table:
    """``annotator_classes.parquet``: one row per annotator x class."""
    return _from_columns(result.annotators.annotator_classes)


def attributes_table(result: AuditResult) -> pa.Table:
    """``attributes.parquet``: agreement per attribute (and class), with value confusion."""
    rows = result.attributes.rows
    confusion_type = pa.list_(pa.struct([("golden", pa.string()), ("batch", pa.string()),
                                         ("count", pa.int64())]))
    return pa.table({
        "attribute": pa.array([r["attribute"] for r in rows], pa.string()),
        "class": pa.array([r["class"] for r in rows], pa.string()),
        "n": pa.array([r["n"] for r in rows], pa.int64()),
        "agreement": pa.array([r["agreement"] for r in rows], pa.float64(), from_pandas=True),
        "kappa": pa.array([r["kappa"] for r in rows], pa.float64(), from_pandas=True),
        "confusion": pa.array([r["confusion"] for r in rows], confusion_type),
    })


def hygiene_table(result: AuditResult) -> pa.Table:
    """``hygiene.parquet``: one row per hygiene finding."""
    found = result.hygiene
    return pa.table({
        "set": pa.array([f.set for f in found], pa.string()),
        "check": pa.array([f.check for f in found], pa.string()),
        "box_id": pa.array([f.box_id for f in found], pa.string()),
        "other_id": pa.array([f.other_id for f in found], pa.string()),
        "image": pa.array([f.image or None for f in found], pa.string()),
        "detail": pa.array([f.detail for f in found], pa.string()),
        "count": pa.array([f.count for f in found], pa.int64()),
    })


def images_table(result: AuditResult) -> pa.Table:
    """``images.parquet``: outcome and defect counts per labeling, most defects first."""
    return _from_columns(result.images.columns)


def _native_boxes(result: Matched | AuditResult, side: str, index: npt.NDArray[np.int64],
                  labeling: npt.NDArray[np.int64]) -> pa.Array:
    """Boxes as text in the batch's own convention (see :data:`BOX_FORMATS`); null if absent."""
    dataset = result.golden if side == "golden" else result.batch
    fmt = _batch_format(result)
    # Texts are made for the rows that have this side's box only, then spread out with nulls
    # between: formatting numbers is the costly part, and a defect often has one box (this
    # side may have none at all).
    present = index >= 0
    rows = np.flatnonzero(present)
    x1, y1, x2, y2 = dataset.boxes.coordinates(index[rows])
    if fmt == "voc":
        numbers, digits = (x1 + 1, y1 + 1, x2, y2), 2
    elif fmt == "yolo":
        w = result.batch.images.width[labeling[rows]]
        h = result.batch.images.height[labeling[rows]]
        numbers, digits = ((x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w,
                           (y2 - y1) / h), 6
    else:
        numbers, digits = (x1, y1, x2 - x1, y2 - y1), 2
    texts = [kernels.rounded_text(kernels.from_numpy(v), digits) for v in numbers]
    return _spread(kernels.join(*texts, separator=" "), present)


def _spread(values: pa.Array, present: npt.NDArray[np.bool_]) -> pa.Array:
    """One value of ``values`` for each true entry of ``present``, in order; null elsewhere."""
    position = np.cumsum(present, dtype=np.int64) - 1
    return kernels.take(values, kernels.from_numpy(position.astype(np.int32), mask=~present))


def _batch_format(result: Matched | AuditResult) -> str:
    return result.batch.format if result.batch.format in BOX_FORMATS else "coco"


def _attribute_changes(result: Matched | AuditResult, r: npt.NDArray[np.int64]) -> pa.Array:
    """``name=golden value (was batch value)`` for each attribute that differs, joined; null
    on rows without an attribute mismatch. The texts are made for the mismatched rows only (a
    tenth of the corrections or so), then spread out with nulls between."""
    flagged = result.rows.attribute_mismatch[r]
    mismatched = r[flagged]
    # A mismatch is a matched pair's: both boxes exist.
    g, b = result.matches.golden[mismatched], result.matches.batch[mismatched]
    parts = []
    for name in result.rows.compared_attributes:
        ga = result.golden.boxes.attributes[name]
        ba = result.batch.boxes.attributes[name]
        g_text = _lookup(list(ga.values), ga.codes[g].astype(np.int64))
        b_text = _lookup(list(ba.values), ba.codes[b].astype(np.int64))
        differs = kernels.call("not_equal", g_text, b_text)
        text = kernels.join(name + "=", g_text, " (was ", b_text, ")")
        parts.append(kernels.text_or_null(differs, text))
    if not parts:
        return pa.nulls(len(r), pa.string())
    joined = parts[0]
    for part in parts[1:]:
        # Both present: "a; b"; otherwise whichever is present (null_handling="skip" has
        # returned empty arrays for all-null inputs in some pyarrow versions).
        joined = kernels.call("coalesce", kernels.join(joined, part, separator="; "), joined,
                              part)
    return _spread(joined, flagged)


def _actions(kind: npt.NDArray[np.int64], parts: dict[str, tuple[Any, ...]]) -> pa.Array:
    """Each row's action: the texts and per-row columns of ``parts[DEFECT_TYPES[kind]]``
    joined (null where a column is null). Each defect type's text is built on its own rows
    only, then the rows are put back in order."""
    order, bounds = group_order(kind, len(DEFECT_TYPES))
    pieces = []
    for i, defect in enumerate(DEFECT_TYPES):
        if bounds[i] == bounds[i + 1]:
            continue
        rows = kernels.from_numpy(order[bounds[i]:bounds[i + 1]].astype(np.int32))
        pieces.append(kernels.join(*[part if isinstance(part, str) else kernels.take(part, rows)
                                     for part in parts[defect]]))
    if not pieces:
        return pa.array([], pa.string())
    back = np.empty(len(order), np.int32)
    back[order] = np.arange(len(order), dtype=np.int32)
    return kernels.take(pa.concat_arrays(pieces), kernels.from_numpy(back))


def corrections_table(result: Matched | AuditResult) -> pa.Table:
    """``corrections.parquet`` / ``corrections.csv``: one row per defect to fix, both boxes
    in the batch's own coordinate convention, and a plain-words action."""
    m, rows = result.matches, result.rows
    r, kind = defect_rows(m, rows)
    labeling = m.labeling[r].astype(np.int64)
    g, b = m.golden[r], m.batch[r]
    classes = list(result.alignment.classes)
    golden_class = _lookup(classes, rows.golden_class[r])
    batch_class = _lookup(classes, rows.batch_class[r])
    golden_box = _native_boxes(result, "golden", g, labeling)
    batch_box = _native_boxes(result, "batch", b, labeling)
    changes = _attribute_changes(result, r)

    action = _actions(kind, {
        "missing": ("draw missing ", golden_class, " at ", golden_box),
        "wrong_class": ("relabel ", batch_class, " -> ", golden_class),
        "loose": ("redraw ", golden_class, " box ", batch_box, " as ", golden_box),
        "attribute_mismatch": ("set ", changes),
        "extra": ("delete extra ", batch_class, " box at ", batch_box),
        "invalid": ("fix or delete invalid ", batch_class, " box ", batch_box),
    })
    fmt = _batch_format(result)
    return pa.table({
        "image": _gather(result.batch.images.key, labeling),
        "labeling": kernels.from_numpy(labeling.astype(np.int32)),
        "annotator": _lookup(list(rows.annotator_names), rows.annotator[r]),
        "defect": _lookup(list(DEFECT_TYPES), kind),
        "golden_id": _gather_ids(result.golden.boxes, g),
        "batch_id": _gather_ids(result.batch.boxes, b),
        "golden_class": golden_class,
        "batch_class": batch_class,
        "iou": kernels.from_numpy(m.iou[r], mask=np.isnan(m.iou[r])),
        "box_format": pa.repeat(kernels.scalar(BOX_FORMATS[fmt], pa.string()), len(r)),
        "golden_box": golden_box,
        "batch_box": batch_box,
        "action": action,
    })
