"""Per-row context of the outcome table: classes, annotator, scene density and size buckets,
edge offsets, and the ``loose`` and ``attribute_mismatch`` flags. Every metric table groups
these columns; none of them is computed twice.

Example:
    >>> density_labels((5, 15, 40))
    ('0', '1-5', '6-15', '16-40', '41+')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bbqa.align import Alignment
from bbqa.arrays import text_dictionary
from bbqa.dataset import Dataset, FloatArray
from bbqa.match import Matches, Outcome

IndexArray = npt.NDArray[np.int64]

DEFAULT_DENSITY_BOUNDS = (5, 15, 40)
SIZE_LABELS = ("small", "medium", "large")
# COCO's object-size limits, on the box area in pixels.
SMALL_AREA = 32.0**2
MEDIUM_AREA = 96.0**2
EDGES = ("left", "right", "top", "bottom")


def density_labels(bounds: Sequence[int]) -> tuple[str, ...]:
    """Bucket names for density upper bounds: ``0`` (no golden box) then ranges, then ``N+``."""
    labels = ["0"]
    low = 1
    for high in bounds:
        labels.append(f"{low}-{high}")
        low = high + 1
    labels.append(f"{low}+")
    return tuple(labels)


def parse_density_bins(text: str) -> tuple[int, ...]:
    """Parse ``--density-bins`` (increasing upper bounds such as ``5,15,40``).

    >>> parse_density_bins("3, 10")
    (3, 10)
    """
    try:
        bounds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"expected increasing whole numbers like 5,15,40, got {text!r}") from exc
    if not bounds or any(b < 1 for b in bounds) or list(bounds) != sorted(set(bounds)):
        raise ValueError(f"expected increasing whole numbers of at least 1, got {text!r}")
    return bounds


@dataclass(frozen=True)
class RowContext:
    """Columns aligned with the rows of :class:`~bbqa.match.Matches`."""

    golden_class: IndexArray
    batch_class: IndexArray
    annotator: IndexArray
    annotator_names: tuple[str, ...]
    density: IndexArray
    density_bucket: IndexArray
    density_labels: tuple[str, ...]
    size_bucket: IndexArray
    scene: IndexArray
    scene_names: tuple[str, ...]
    edges: dict[str, FloatArray]
    loose: npt.NDArray[np.bool_]
    attribute_mismatch: npt.NDArray[np.bool_]
    compared_attributes: tuple[str, ...]


def _class_of(index: IndexArray, categories: npt.NDArray[np.int32],
              mapping: npt.NDArray[np.int32]) -> IndexArray:
    out = np.full(len(index), -1, np.int64)
    present = index >= 0
    out[present] = mapping[categories[index[present]]]
    return out


def labeling_annotators(batch: Dataset) -> tuple[list[str], IndexArray]:
    """The annotator names (box-level names first, then image-level names not among them) and
    each labeling's annotator as an index into them (-1 when unknown).

    The image entry's own annotator wins; otherwise the most frequent annotator among its boxes
    (ties to the lower index).
    """
    # The image entries' names are coded once, in sorted order, then renumbered to positions.
    image_names, image_codes = text_dictionary(batch.images.annotator)
    names = list(batch.annotators)
    names += [a for a in image_names if a not in names]
    position = {name: i for i, name in enumerate(names)}
    renumber = np.array([position[a] for a in image_names] + [-1], np.int64)
    per_image: IndexArray = renumber[image_codes]
    boxes = batch.boxes
    known = boxes.annotator >= 0
    if known.any():
        n_names = len(names)
        key = boxes.image[known].astype(np.int64) * n_names + boxes.annotator[known]
        counts = np.bincount(key, minlength=len(batch.images) * n_names).reshape(-1, n_names)
        most = np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1)
        per_image = np.where(per_image >= 0, per_image, most)
    return names, per_image


Coordinates = tuple[FloatArray, FloatArray, FloatArray, FloatArray]


def edge_offsets(golden: Coordinates, batch: Coordinates) -> dict[str, FloatArray]:
    """How far each edge of the batch boxes lies outside the golden boxes' (inside:
    negative), as a share of the golden box's width (left, right) or height (top, bottom);
    both sides as ``x1, y1, x2, y2`` of the same pairs.

    >>> box = tuple(np.array([v]) for v in (0.0, 0.0, 10.0, 20.0))
    >>> wider = tuple(np.array([v]) for v in (-1.0, 0.0, 10.0, 22.0))
    >>> {k: v.tolist() for k, v in edge_offsets(box, wider).items()}
    {'left': [0.1], 'right': [0.0], 'top': [0.0], 'bottom': [0.1]}
    """
    gx1, gy1, gx2, gy2 = golden
    bx1, by1, bx2, by2 = batch
    width = gx2 - gx1
    height = gy2 - gy1
    return {"left": (gx1 - bx1) / width, "right": (bx2 - gx2) / width,
            "top": (gy1 - by1) / height, "bottom": (by2 - gy2) / height}


def _box_size_bucket(dataset: Dataset, index: IndexArray) -> IndexArray:
    x1, y1, x2, y2 = dataset.boxes.coordinates(index)
    with np.errstate(over="ignore"):  # a box too large to measure is simply large
        area = (x2 - x1) * (y2 - y1)
    return np.where(area < SMALL_AREA, 0, np.where(area < MEDIUM_AREA, 1, 2)).astype(np.int64)


def row_context(
    golden: Dataset, batch: Dataset, alignment: Alignment, matches: Matches,
    tolerance: float | FloatArray = 0.75,
    density_bounds: Sequence[int] = DEFAULT_DENSITY_BOUNDS,
) -> RowContext:
    """Derive every per-row grouping column and flag from the matches.

    ``tolerance`` is one value or one per class of ``alignment.classes``: a matched pair below
    its golden class's tolerance is ``loose``. Sizes are the golden box's COCO size class, or
    the batch box's where there is no golden box. Density is the number of golden boxes
    (crowd regions and excluded boxes not counted) on the labeled image.
    """
    n_classes = len(alignment.classes)
    tolerances = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), (n_classes,))
    g, b = matches.golden, matches.batch
    has_g, has_b = g >= 0, b >= 0
    golden_class = _class_of(g, golden.boxes.category, alignment.golden_class)
    batch_class = _class_of(b, batch.boxes.category, alignment.batch_class)

    names, per_labeling = labeling_annotators(batch)
    position = {name: i for i, name in enumerate(names)}
    box_annotator_map = np.array([position[a] for a in batch.annotators] + [-1], np.int64)
    labeling = matches.labeling.astype(np.int64)
    annotator = per_labeling[labeling] if len(labeling) else labeling
    if len(batch.boxes):
        own = box_annotator_map[batch.boxes.annotator[np.maximum(b, 0)]]
        annotator = np.where(has_b & (own >= 0), own, annotator)

    usable = ~golden.boxes.crowd & golden.boxes.valid
    per_image = np.bincount(golden.boxes.image[usable], minlength=len(golden.images))
    golden_image = alignment.labeling_to_golden[labeling].astype(np.int64)
    density = np.where(golden_image >= 0, per_image[np.maximum(golden_image, 0)], 0)
    bounds = np.asarray(density_bounds, dtype=np.int64)
    density_bucket = np.where(density == 0, 0, 1 + np.searchsorted(bounds, density, "left"))

    size_bucket = np.full(len(matches), -1, np.int64)
    size_bucket[has_g] = _box_size_bucket(golden, g[has_g])
    only_b = ~has_g & has_b
    size_bucket[only_b] = _box_size_bucket(batch, b[only_b])

    scenes = golden.images.scene
    names_of_scenes, scene_of_image = text_dictionary(scenes)
    scene_names = tuple(names_of_scenes)
    scene = np.where(golden_image >= 0, scene_of_image[np.maximum(golden_image, 0)]
                     if len(scene_of_image) else -1, -1)

    pair = has_g & has_b
    edges = {name: np.full(len(matches), np.nan) for name in EDGES}
    gi, bi = g[pair], b[pair]
    gb, bb = golden.boxes, batch.boxes
    for name, values in edge_offsets(gb.coordinates(gi), bb.coordinates(bi)).items():
        edges[name][pair] = values

    matched = matches.outcome == Outcome.MATCHED
    loose = matched & (matches.iou < tolerances[np.maximum(golden_class, 0)])
    compared = tuple(sorted(set(gb.attributes) & set(bb.attributes)))
    mismatch = np.zeros(len(matches), bool)
    for name in compared:
        # Both sides' codes in one numbering of their texts: equal numbers, equal texts (a
        # comparison of integers, not of a text per pair).
        g_values, b_values = gb.attributes[name].values, bb.attributes[name].values
        number = {text: i for i, text in enumerate(dict.fromkeys((*g_values, *b_values)))}
        g_number = np.array([number[v] for v in g_values] + [-1], np.int64)
        b_number = np.array([number[v] for v in b_values] + [-1], np.int64)
        g_code = gb.attributes[name].codes[gi]
        b_code = bb.attributes[name].codes[bi]
        both = (g_code >= 0) & (b_code >= 0)
        differs = both & (g_number[g_code] != b_number[b_code])
        mismatch[np.flatnonzero(pair)[differs]] = True
    mismatch &= matched
    return RowContext(
        golden_class=golden_class, batch_class=batch_class, annotator=annotator,
        annotator_names=tuple(names), density=density.astype(np.int64),
        density_bucket=density_bucket.astype(np.int64),
        density_labels=density_labels(density_bounds), size_bucket=size_bucket,
        scene=scene.astype(np.int64), scene_names=scene_names, edges=edges, loose=loose,
        attribute_mismatch=mismatch, compared_attributes=compared,
    )
