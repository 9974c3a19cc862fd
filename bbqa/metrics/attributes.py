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

    rows: list[dict[str, object]]
    not_comparable: dict[str, str]


def _codes_to_text(values: tuple[str, ...], codes: npt.NDArray[np.int32]) -> npt.NDArray[
        np.str_]:
    lookup = np.array([*values, ""], dtype=np.str_)
    result: npt.NDArray[np.str_] = lookup[codes]
    return result


def attribute_agreement(golden: Dataset, batch: Dataset, matches: Matches, rows: RowContext,
                        classes: Sequence[str]) -> AttributeAgreement:
    """Agreement of every attribute both sets carry, over matched pairs."""
    gb, bb = golden.boxes, batch.boxes
    only_golden = sorted(set(gb.attributes) - set(bb.attributes))
    only_batch = sorted(set(bb.attributes) - set(gb.attributes))
    not_comparable = {**dict.fromkeys(only_golden, "golden only"),
                      **dict.fromkeys(only_batch, "batch only")}
    matched = matches.outcome == Outcome.MATCHED
    g, b = matches.golden[matched], matches.batch[matched]
    cls = rows.golden_class[matched]
    out: list[dict[str, object]] = []
    for name in rows.compared_attributes:
        g_attr, b_attr = gb.attributes[name], bb.attributes[name]
        g_code, b_code = g_attr.codes[g], b_attr.codes[b]
        both = (g_code >= 0) & (b_code >= 0)
        g_text = _codes_to_text(g_attr.values, g_code[both])
        b_text = _codes_to_text(b_attr.values, b_code[both])
        pair_class = cls[both]
        groups = [(ALL_CLASSES, np.ones(len(g_text), bool))]
        groups += [(classes[c], pair_class == c) for c in np.unique(pair_class).tolist()]
        for label, mask in groups:
            first, second = g_text[mask].tolist(), b_text[mask].tolist()
            n = len(first)
            confusion = Counter(zip(first, second, strict=True))
            out.append({
                "attribute": name,
                "class": label,
                "n": n,
                "agreement": (sum(a == b for a, b in zip(first, second, strict=True)) / n
                              if n else math.nan),
                "kappa": cohens_kappa(first, second),
                "confusion": [{"golden": gv, "batch": bv, "count": count}
                              for (gv, bv), count in sorted(confusion.items())],
            })
    return AttributeAgreement(rows=out, not_comparable=not_comparable)
