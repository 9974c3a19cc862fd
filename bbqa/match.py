"""Optimal one-to-one matching of a batch against a golden set, vectorized over the dataset.

Pass 1 matches within (labeling, class), pass 2 class-agnostically within a labeling on what is
left (``wrong_class``); left-over golden boxes are ``missing``, left-over batch boxes ``extra``,
or ``ignored`` inside a golden crowd/ignore region. See README, "Matching".

Example:
    >>> from bbqa.dataset import Boxes, Dataset, Images
    >>> from bbqa.align import align
    >>> images = Images.build(["a.jpg"], [100], [100])
    >>> golden = Dataset.build(images, ["car"], Boxes.build([0], [0], [0.], [0.], [10.], [10.],
    ...                        ["1"]))
    >>> batch = Dataset.build(images, ["car"], Boxes.build([0], [0], [1.], [0.], [10.], [10.],
    ...                       ["9"]))
    >>> m = match(golden, batch, align(golden, batch))
    >>> [Outcome(o).name for o in m.outcome], m.iou.round(2).tolist()
    (['MATCHED'], [0.9])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from bbqa import progress
from bbqa.align import Alignment
from bbqa.arrays import key_starts
from bbqa.assign import best_assignment, components
from bbqa.dataset import Dataset, FloatArray
from bbqa.geometry import pair_ioa, pair_iou

IndexArray = npt.NDArray[np.int64]

# Candidate pairs are generated in chunks of at most this many, so that an image with thousands
# of boxes of one class costs time but never a quadratic amount of memory. At 65,536 pairs a
# chunk's dozen temporaries (0.5 MB each) stay in the CPU's caches: scoring pass one's 2.4
# million pairs at 850,000 boxes took 115 ms in chunks of a million, 91 ms in these.
PAIR_CHUNK = 1 << 16


class Outcome(IntEnum):
    """What became of a box (or pair of boxes) in the audit."""

    MATCHED = 0
    WRONG_CLASS = 1
    MISSING = 2
    EXTRA = 3
    IGNORED = 4
    REGION = 5
    INVALID = 6

    @property
    def label(self) -> str:
        """The lower-case name used in tables and Parquet."""
        return self.name.lower()


def outcome_counts(group: IndexArray, outcome: npt.NDArray[np.integer[Any]], n_groups: int
                   ) -> IndexArray:
    """How many rows of each outcome each group has (``0 <= group < n_groups``): an
    ``n_groups`` x ``len(Outcome)`` table, columns indexed by :class:`Outcome`, from one pass.

    >>> outcome_counts(np.array([0, 1, 1]), np.array([0, 2, 2]), 2)[:, :3].tolist()
    [[1, 0, 0], [0, 0, 2]]
    """
    width = len(Outcome)
    counts = np.bincount(group.astype(np.int64) * width + outcome, minlength=n_groups * width)
    table: IndexArray = counts.reshape(n_groups, width).astype(np.int64)
    return table


def count_of(counts: IndexArray, *outcomes: Outcome) -> IndexArray:
    """Per group, the rows with any of ``outcomes``, from an :func:`outcome_counts` table (its
    leading axes kept)."""
    total: IndexArray = counts[..., [int(o) for o in outcomes]].sum(axis=-1)
    return total


@dataclass(frozen=True)
class Matches:
    """One row per outcome: a pair, a lone golden box, a lone batch box, or a golden region.

    ``golden`` and ``batch`` index the golden and batch box tables (-1 where absent); ``iou`` is
    NaN unless the row is a pair. Rows are ordered by labeling, then outcome, then box.
    """

    labeling: npt.NDArray[np.int32]
    outcome: npt.NDArray[np.int8]
    golden: IndexArray
    batch: IndexArray
    iou: FloatArray

    def __len__(self) -> int:
        return int(self.outcome.shape[0])

    def where(self, outcome: Outcome) -> npt.NDArray[np.bool_]:
        """Boolean mask of the rows with ``outcome``."""
        mask: npt.NDArray[np.bool_] = self.outcome == outcome
        return mask

    def where_any(self, *outcomes: Outcome) -> npt.NDArray[np.bool_]:
        """Boolean mask of the rows with any of ``outcomes`` (one lookup per row, where
        ``np.isin`` sorts or builds a table on every call)."""
        wanted = np.zeros(len(Outcome), np.bool_)
        wanted[[int(o) for o in outcomes]] = True
        mask: npt.NDArray[np.bool_] = wanted[self.outcome]
        return mask


@dataclass(frozen=True)
class _Side:
    """Boxes taking part in one pass: which box, which group, and its coordinates."""

    box: IndexArray
    group: IndexArray


def _group_ranges(golden_group: IndexArray, batch_group: IndexArray) -> tuple[IndexArray,
                                                                               IndexArray]:
    """For each batch key, the [low, high) positions of the equal keys in ``golden_group``.

    Both arrays are sorted. Keys of a pass span about as many values as there are boxes
    (labeling x class): the start of every key value, from one count and a running sum, is
    then several times faster than two binary searches per box. Sparse or negative keys
    take the binary searches.
    """
    if len(golden_group) == 0 or len(batch_group) == 0:
        empty = np.zeros(len(batch_group), np.int64)
        return empty, empty
    smallest = min(int(golden_group[0]), int(batch_group[0]))
    span = max(int(golden_group[-1]), int(batch_group[-1])) + 1
    if smallest < 0 or span > 4 * max(len(golden_group), len(batch_group)):
        low = np.searchsorted(golden_group, batch_group, side="left").astype(np.int64)
        high = np.searchsorted(golden_group, batch_group, side="right").astype(np.int64)
        return low, high
    starts = key_starts(golden_group, span).astype(np.int64, copy=False)
    return starts[batch_group], starts[batch_group + 1]


def _candidate_pairs(golden_group: IndexArray, batch_group: IndexArray, *,
                     later_only: bool = False, chunk: int | None = None
                     ) -> Iterator[tuple[IndexArray, IndexArray]]:
    """All (golden position, batch position) pairs sharing a group key, in chunks of about
    ``chunk`` pairs (:data:`PAIR_CHUNK` by default; more only when one batch position alone
    has more).

    Both group arrays must be sorted. Positions index those arrays. A generator: only one
    chunk of pairs exists at a time. ``later_only`` pairs an array with itself: each position
    only with the later positions of its group, so every unordered pair comes once.
    """
    chunk = chunk or PAIR_CHUNK
    low, high = _group_ranges(golden_group, batch_group)
    if later_only:
        low = np.maximum(low, np.arange(1, len(batch_group) + 1, dtype=np.int64))
    counts = high - low
    total = int(counts.sum())
    if total == 0:
        return
    ends = np.cumsum(counts)
    step = progress.count(total, "pairs")
    start_batch = 0
    n_batch = len(batch_group)
    while start_batch < n_batch:
        base = int(ends[start_batch - 1]) if start_batch else 0
        stop_batch = int(np.searchsorted(ends, base + chunk, side="right"))
        stop_batch = max(stop_batch, start_batch + 1)
        part_counts = counts[start_batch:stop_batch]
        n_pairs = int(part_counts.sum())
        if n_pairs:
            batch_pos = np.repeat(np.arange(start_batch, stop_batch, dtype=np.int64), part_counts)
            first_of_row = np.repeat(np.cumsum(part_counts) - part_counts, part_counts)
            golden_pos = low[batch_pos] + (np.arange(n_pairs, dtype=np.int64) - first_of_row)
            yield golden_pos, batch_pos
            step(n_pairs)
        start_batch = stop_batch


def _thresholded_edges(
    golden: Dataset, batch: Dataset, gside: _Side, bside: _Side, threshold: FloatArray
) -> tuple[IndexArray, IndexArray, FloatArray]:
    """Candidate pairs with IoU >= the golden box's threshold, as positions into the sides."""
    kept_g, kept_b, kept_iou = [], [], []
    for gpos, bpos in _candidate_pairs(gside.group, bside.group):
        iou = pair_iou(*golden.boxes.coordinates(gside.box[gpos]),
                       *batch.boxes.coordinates(bside.box[bpos]))
        keep = iou >= threshold[gpos]
        kept_g.append(gpos[keep])
        kept_b.append(bpos[keep])
        kept_iou.append(iou[keep])
    if not kept_g:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(kept_g), np.concatenate(kept_b), np.concatenate(kept_iou)


def optimal_assignment(
    golden: Dataset, batch: Dataset, gside: _Side, bside: _Side, threshold: FloatArray
) -> tuple[IndexArray, IndexArray, FloatArray]:
    """The one-to-one assignment with the largest total IoU among pairs at or above threshold.

    Returns positions into ``gside`` and ``bside`` and the IoU of each assigned pair. Groups
    whose acceptable pairs are disjoint single pairs are taken as they are; every other
    connected group is solved exactly, with its rows and columns in source-id order so that the
    answer never depends on the order of the input.
    """
    g, b, iou = _thresholded_edges(golden, batch, gside, bside, threshold)
    if len(g) == 0:
        return g, b, iou
    g_degree = np.bincount(g, minlength=len(gside.box))
    b_degree = np.bincount(b, minlength=len(bside.box))
    single = (g_degree[g] == 1) & (b_degree[b] == 1)
    out_g, out_b, out_iou = [g[single]], [b[single]], [iou[single]]
    rest = ~single
    if rest.any():
        solved = _solve_components(golden, batch, gside, bside, g[rest], b[rest], iou[rest])
        out_g.append(solved[0])
        out_b.append(solved[1])
        out_iou.append(solved[2])
    return np.concatenate(out_g), np.concatenate(out_b), np.concatenate(out_iou)


def _solve_components(
    golden: Dataset, batch: Dataset, gside: _Side, bside: _Side,
    g: IndexArray, b: IndexArray, iou: FloatArray,
) -> tuple[IndexArray, IndexArray, FloatArray]:
    component = components(g, b)
    # Lay each component out by the golden and batch boxes' source ids and geometry, so that
    # ties between equal totals are broken the same way whatever the input order was.
    gbox, bbox = gside.box[g], bside.box[b]
    gb, bb = golden.boxes, batch.boxes
    order = np.lexsort((b, bb.y2[bbox], bb.x2[bbox], bb.y1[bbox], bb.x1[bbox],
                        bb.ids[bbox], g, gb.y2[gbox], gb.x2[gbox], gb.y1[gbox],
                        gb.x1[gbox], gb.ids[gbox], component))
    g, b, iou, component = g[order], b[order], iou[order], component[order]
    row = _rank_within(component, g)
    col = _rank_within(component, b)
    chosen = best_assignment(component, row, col, iou)
    return g[chosen], b[chosen], iou[chosen]


def _rank_within(component: IndexArray, node: IndexArray) -> IndexArray:
    """Each node's position among its component's nodes, in order of first appearance.

    ``component`` must be sorted; a node belongs to exactly one component.
    """
    unique, first, inverse = np.unique(node, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")
    # Nodes ordered by first appearance are grouped by component (components are sorted), so
    # subtracting the position of each component's first node gives the rank within it.
    node_component = component[first[by_first]]
    starts = np.flatnonzero(np.r_[True, node_component[1:] != node_component[:-1]])
    start_of = np.repeat(starts, np.diff(np.r_[starts, len(unique)]))
    rank = np.empty(len(unique), np.int64)
    rank[by_first] = np.arange(len(unique)) - start_of
    result: IndexArray = rank[inverse]
    return result


def _golden_per_labeling(
    golden: Dataset, alignment: Alignment, golden_usable: npt.NDArray[np.bool_]
) -> tuple[IndexArray, IndexArray]:
    """Replicate each golden image's usable boxes once per labeling of that image.

    Returns (golden box index, labeling) for every replica, sorted by labeling then box.
    """
    offsets = golden.image_offsets()
    labelings = alignment.audited.astype(np.int64)
    targets = alignment.labeling_to_golden[labelings]
    counts = (offsets[targets + 1] - offsets[targets]).astype(np.int64)
    n = int(counts.sum())
    labeling = np.repeat(labelings, counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    box = np.repeat(offsets[targets].astype(np.int64), counts) + (np.arange(n) - first)
    keep = golden_usable[box]
    return box[keep], labeling[keep]


@dataclass(frozen=True)
class _PassResult:
    """Pairs a pass assigned (with their labeling) and the boxes it left, by labeling."""

    golden: IndexArray
    batch: IndexArray
    iou: FloatArray
    labeling: IndexArray
    golden_left: IndexArray
    golden_left_labeling: IndexArray
    batch_left: IndexArray
    batch_left_labeling: IndexArray


def _one_pass(
    golden: Dataset, batch: Dataset,
    g_box: IndexArray, g_labeling: IndexArray, b_box: IndexArray, b_labeling: IndexArray,
    g_key: IndexArray, b_key: IndexArray, threshold_by_golden_box: FloatArray,
) -> _PassResult:
    """Optimal assignment within groups of equal key (a labeling, or a labeling and class)."""
    g_order = np.argsort(g_key, kind="stable")
    b_order = np.argsort(b_key, kind="stable")
    gside = _Side(box=g_box[g_order], group=g_key[g_order])
    bside = _Side(box=b_box[b_order], group=b_key[b_order])
    gpos, bpos, iou = optimal_assignment(golden, batch, gside, bside,
                                         threshold_by_golden_box[gside.box])
    g_left = np.ones(len(gside.box), bool)
    g_left[gpos] = False
    b_left = np.ones(len(bside.box), bool)
    b_left[bpos] = False
    g_labeling, b_labeling = g_labeling[g_order], b_labeling[b_order]
    return _PassResult(
        golden=gside.box[gpos], batch=bside.box[bpos], iou=iou, labeling=b_labeling[bpos],
        golden_left=gside.box[g_left], golden_left_labeling=g_labeling[g_left],
        batch_left=bside.box[b_left], batch_left_labeling=b_labeling[b_left],
    )


def match(
    golden: Dataset,
    batch: Dataset,
    alignment: Alignment,
    iou_threshold: float | FloatArray = 0.5,
) -> Matches:
    """Match every labeling of the batch against its golden image.

    ``iou_threshold`` is one value or one value per class of ``alignment.classes``. Pass 2 uses
    the golden box's class threshold; crowd regions absorb a left-over batch box when the
    intersection over the batch box's area reaches the batch box's class threshold.
    """
    n_classes = len(alignment.classes)
    thresholds = np.broadcast_to(np.asarray(iou_threshold, dtype=np.float64), (n_classes,))
    gb, bb = golden.boxes, batch.boxes
    golden_class = alignment.golden_class[gb.category] if len(gb) else gb.category
    batch_class = alignment.batch_class[bb.category] if len(bb) else bb.category

    g_box_all, g_labeling_all = _golden_per_labeling(golden, alignment, np.ones(len(gb), bool))
    is_region = gb.crowd[g_box_all]
    g_usable = ~is_region & gb.valid[g_box_all]
    g_box, g_labeling = g_box_all[g_usable], g_labeling_all[g_usable]
    region_box, region_labeling = g_box_all[is_region], g_labeling_all[is_region]

    audited_labeling = alignment.labeling_to_golden >= 0
    in_audit = audited_labeling[bb.image] if len(bb) else np.zeros(0, bool)
    b_all = np.flatnonzero(in_audit).astype(np.int64)
    b_invalid = b_all[~bb.valid[b_all]]
    b_box = b_all[bb.valid[b_all]]
    b_labeling = bb.image[b_box].astype(np.int64)

    # Pass 1: per labeling and class; pass 2: class-agnostic, per labeling, on what is left.
    first = _one_pass(golden, batch, g_box, g_labeling, b_box, b_labeling,
                      g_labeling * n_classes + golden_class[g_box],
                      b_labeling * n_classes + batch_class[b_box], thresholds[golden_class])
    second = _one_pass(golden, batch, first.golden_left, first.golden_left_labeling,
                       first.batch_left, first.batch_left_labeling, first.golden_left_labeling,
                       first.batch_left_labeling, thresholds[golden_class])
    left_b, left_labeling = second.batch_left, second.batch_left_labeling

    # Left-over batch boxes inside a golden crowd/ignore region are ignored, not extra.
    ignored = _inside_regions(golden, batch, region_box, region_labeling, left_b, left_labeling,
                              thresholds[batch_class[left_b]])

    parts = [
        (first.labeling, Outcome.MATCHED, first.golden, first.batch, first.iou),
        (second.labeling, Outcome.WRONG_CLASS, second.golden, second.batch, second.iou),
        (second.golden_left_labeling, Outcome.MISSING, second.golden_left, None, None),
        (left_labeling[~ignored], Outcome.EXTRA, None, left_b[~ignored], None),
        (left_labeling[ignored], Outcome.IGNORED, None, left_b[ignored], None),
        (region_labeling, Outcome.REGION, region_box, None, None),
        (bb.image[b_invalid].astype(np.int64), Outcome.INVALID, None, b_invalid, None),
    ]
    return _assemble(parts)


def _inside_regions(
    golden: Dataset, batch: Dataset, region_box: IndexArray, region_labeling: IndexArray,
    left_b: IndexArray, left_labeling: IndexArray, threshold: FloatArray,
) -> npt.NDArray[np.bool_]:
    inside = np.zeros(len(left_b), bool)
    if len(region_box) == 0 or len(left_b) == 0:
        return inside
    r_order = np.argsort(region_labeling, kind="stable")
    l_order = np.argsort(left_labeling, kind="stable")
    r_group, l_group = region_labeling[r_order], left_labeling[l_order]
    for rpos, lpos in _candidate_pairs(r_group, l_group):
        ioa = pair_ioa(*batch.boxes.coordinates(left_b[l_order][lpos]),
                       *golden.boxes.coordinates(region_box[r_order][rpos]))
        hit = lpos[ioa >= threshold[l_order][lpos]]
        inside[l_order[hit]] = True
    return inside


def _assemble(
    parts: list[tuple[IndexArray, Outcome, IndexArray | None, IndexArray | None,
                      FloatArray | None]],
) -> Matches:
    labeling, outcome, golden, batch, iou = [], [], [], [], []
    for lab, kind, g, b, v in parts:
        n = len(lab)
        labeling.append(lab.astype(np.int32))
        outcome.append(np.full(n, int(kind), np.int8))
        golden.append(g.astype(np.int64) if g is not None else np.full(n, -1, np.int64))
        batch.append(b.astype(np.int64) if b is not None else np.full(n, -1, np.int64))
        iou.append(v if v is not None else np.full(n, np.nan))
    all_labeling = np.concatenate(labeling)
    all_outcome = np.concatenate(outcome)
    all_golden = np.concatenate(golden)
    all_batch = np.concatenate(batch)
    order = _row_order(all_labeling, all_outcome, all_golden, all_batch)
    return Matches(
        labeling=all_labeling[order],
        outcome=all_outcome[order],
        golden=all_golden[order],
        batch=all_batch[order],
        iou=np.concatenate(iou)[order],
    )


def _row_order(labeling: npt.NDArray[np.int32], outcome: npt.NDArray[np.int8],
               golden: IndexArray, batch: IndexArray) -> npt.NDArray[np.intp]:
    """``np.lexsort((batch, golden, outcome, labeling))``: rows by labeling, outcome, golden
    box, batch box (-1 for none).

    Where the four fit one 63-bit key (a million boxes a set over a million labelings do), one
    stable sort of that key gives the same order: the parts arrive as runs already in order,
    which the stable sort merges, four times faster than the lexsort's four passes.
    """
    if len(labeling) == 0:
        return np.zeros(0, np.intp)
    golden_span = int(golden.max()) + 2
    batch_span = int(batch.max()) + 2
    outcome_span = len(Outcome)
    if (int(labeling.min()) < 0
            or (int(labeling.max()) + 1) * outcome_span * golden_span * batch_span >= 2**63):
        return np.lexsort((batch, golden, outcome, labeling))
    key = labeling.astype(np.int64) * outcome_span + outcome
    key *= golden_span
    key += golden + 1
    key *= batch_span
    key += batch + 1
    return np.argsort(key, kind="stable")
