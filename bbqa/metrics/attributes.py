"""Attribute agreement (occluded, truncated, difficult, COCO ``attributes``) on matched pairs.

For each attribute carried by both sets: n pairs where both boxes have a value, the agreement
rate, Cohen's kappa and the golden x batch value counts, overall and per golden class.

Example:
    >>> round(cohens_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"]), 4)
    0.5
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bbqa.dataset import Dataset
from bbqa.match import Matches, Outcome
from bbqa.metrics.breakdowns import ALL_CLASSES
from bbqa.metrics.rows import RowContext


def cohens_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Cohen's kappa of two raters' labels; NaN when chance agreement is already 1."""
    n = len(first)
    if n == 0:
        return math.nan
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    first_counts, second_counts = Counter(first), Counter(second)
    expected = sum(first_counts[v] * second_counts[v] for v in first_counts) / (n * n)
    if expected >= 1.0:
        return math.nan
    return (observed - expected) / (1.0 - expected)


@dataclass(frozen=True)
class AttributeAgreement:
    """Rows of (attribute, class): n, agreement, kappa and the value confusion counts."""

    rows: list[dict[str, Any]]
    not_comparable: dict[str, str]


def kappa_from_table(table: npt.NDArray[np.int64]) -> tuple[int, float, float]:
    """n, observed agreement and Cohen's kappa from a square rater-1 x rater-2 count table."""
    n = int(table.sum())
    if n == 0:
        return 0, math.nan, math.nan
    observed = float(np.trace(table)) / n
    expected = float(table.sum(axis=1) @ table.sum(axis=0)) / (n * n)
    kappa = math.nan if expected >= 1.0 else (observed - expected) / (1.0 - expected)
    return n, observed, kappa


def attribute_agreement(golden: Dataset, batch: Dataset, matches: Matches, rows: RowContext,
                        classes: Sequence[str]) -> AttributeAgreement:
    """Agreement of every attribute both sets carry, over matched pairs.

    Values are compared as text: the two sets' dictionaries are merged into one, then every
    (class, golden value, batch value) cell is counted at once.
    """
    gb, bb = golden.boxes, batch.boxes
    only_golden = sorted(set(gb.attributes) - set(bb.attributes))
    only_batch = sorted(set(bb.attributes) - set(gb.attributes))
    not_comparable = {**dict.fromkeys(only_golden, "golden only"),
                      **dict.fromkeys(only_batch, "batch only")}
    matched = matches.outcome == Outcome.MATCHED
    g, b = matches.golden[matched], matches.batch[matched]
    cls = rows.golden_class[matched]
    n_classes = len(classes)
    out: list[dict[str, Any]] = []
    for name in rows.compared_attributes:
        g_attr, b_attr = gb.attributes[name], bb.attributes[name]
        values = sorted(set(g_attr.values) | set(b_attr.values))
        index = {v: i for i, v in enumerate(values)}
        g_map = np.array([index[v] for v in g_attr.values] + [-1], np.int64)
        b_map = np.array([index[v] for v in b_attr.values] + [-1], np.int64)
        g_val, b_val = g_map[g_attr.codes[g]], b_map[b_attr.codes[b]]
        both = (g_val >= 0) & (b_val >= 0)
        k = len(values)
        cells = np.bincount((cls[both] * k + g_val[both]) * k + b_val[both],
                            minlength=n_classes * k * k).reshape(n_classes, k, k)
        tables = [(ALL_CLASSES, cells.sum(axis=0))]
        tables += [(classes[c], cells[c]) for c in range(n_classes) if cells[c].any()]
        for label, table in tables:
            n, agreement, kappa = kappa_from_table(table)
            out.append({
                "attribute": name, "class": label, "n": n, "agreement": agreement,
                "kappa": kappa,
                "confusion": [{"golden": values[i], "batch": values[j],
                               "count": int(table[i, j])}
                              for i, j in zip(*np.nonzero(table), strict=True)],
            })
    return AttributeAgreement(rows=out, not_comparable=not_comparable)
