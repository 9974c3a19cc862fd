"""Lint a delivery without a golden set (``bbqa validate``): schema problems, hygiene, and
classes nobody asked for. The result is a :class:`~bbqa.gate.GateResult`, so every CI report
format works for it too.

Example:
    >>> VALIDATE_CHECKS[:2]
    ('schema_errors', 'unknown_classes')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bbqa.arrays import distinct
from bbqa.dataset import Dataset, Level
from bbqa.errors import InputError
from bbqa.gate import Check, GateResult
from bbqa.io.sidefiles import parse_json, read_text
from bbqa.metrics.hygiene import HYGIENE_CHECKS, HygieneFinding, hygiene
from bbqa.verdicts import Decision, Verdict

VALIDATE_CHECKS = ("schema_errors", "unknown_classes", *(f"hygiene_{c}" for c in HYGIENE_CHECKS))


def read_class_list(path: Path) -> list[str]:
    """Expected class names: one per line, or a JSON list."""
    text = read_text(path, "class list")
    if path.suffix.lower() == ".json":
        names = parse_json(text, path)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InputError("expected a JSON list of class names", path=path)
        return names
    return [line.strip() for line in text.splitlines() if line.strip()]


def _count_check(name: str, subject: str, count: int, verdict_if_any: Verdict,
                 note: str) -> Check:
    verdict = verdict_if_any if count else Verdict.PASS
    return Check(name=name, scope="batch", subject=subject, kind="max", value=float(count),
                 low=None, high=None, threshold=0.0, n=count, verdict=verdict.value,
                 source="validate", note=note if count else "")


def validate(batch: Dataset, expected_classes: Iterable[str] | None = None, *,
             duplicate_iou: float = 0.9, min_box_size: float = 4.0,
             fail_on_warning: bool = False) -> tuple[GateResult, dict[str, Any],
                                                      list[HygieneFinding]]:
    """Check a delivery on its own. Errors fail it; hygiene findings are warnings."""
    errors = [p for p in batch.problems if p.level is Level.ERROR]
    checks = [_count_check("schema_errors", "findings", sum(p.count for p in errors),
                           Verdict.FAIL,
                           "; ".join(f"{p.location}: {p.message}" for p in errors[:3]))]
    used = {batch.categories[c] for c in distinct(batch.boxes.category).tolist()}
    unknown: list[str] = []
    if expected_classes is not None:
        unknown = sorted(used - set(expected_classes))
        per_class = Counter(batch.categories[c] for c in batch.boxes.category.tolist())
        checks.append(_count_check(
            "unknown_classes", "classes", sum(per_class[n] for n in unknown), Verdict.FAIL,
            "boxes of classes not expected: " + ", ".join(unknown)))
    found = hygiene(batch, "batch", duplicate_iou=duplicate_iou, min_size=min_box_size)
    counts: Counter[str] = Counter()
    for f in found:
        counts[f.check] += f.count
    for check in HYGIENE_CHECKS:
        checks.append(_count_check(f"hygiene_{check}", check, counts[check], Verdict.WARN,
                                   f"{counts[check]} {check.replace('_', ' ')} boxes"))
    gate = GateResult(checks=tuple(checks), decision=Decision.POINT, confidence=0.95,
                      fail_on_warning=fail_on_warning, policy_path="(validate)",
                      skipped_keys=())
    summary = {
        "schema_version": 1,
        "command": "validate",
        "batch": batch.path,
        "images": len(batch.images),
        "boxes": len(batch.boxes),
        "classes": sorted(used),
        "unknown_classes": unknown,
        "hygiene": dict(counts),
        "findings": [{"level": p.level.value, "code": p.code, "location": p.location,
                      "message": p.message, "count": p.count} for p in batch.problems],
    }
    return gate, summary, found
