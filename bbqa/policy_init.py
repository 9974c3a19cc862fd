"""A starter policy measured on a pilot batch (``bbqa policy init --from PILOT_AUDIT_DIR``).

The pilot's audit folder (``bbqa audit --out``) holds every matched pair; per class the
starter sets each threshold just outside the pilot's 95% interval, so the pilot itself passes
and a later delivery fails only when it is measurably worse:

- ``min_median_iou`` / ``min_p10_iou``: the lower bound of the quantile's order-statistic
  interval, less 0.01, rounded down to 0.01;
- ``tolerance``: a tier by the class's typical object size (COCO small 0.70, medium 0.75,
  large 0.80), because one pixel of error costs a small box far more IoU than a large one;
- ``max_*_rate``: the upper Wilson bound of the pilot's rate, rounded up to 0.005.

Example:
    >>> round_down(0.8347), round_up_rate(0.0123)
    (0.83, 0.015)
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bbqa.errors import UsageError
from bbqa.metrics.stats import quantile_interval, wilson_interval

SIZE_TOLERANCE = {"small": 0.70, "medium": 0.75, "large": 0.80}
MIN_SUPPORT = 50


def round_down(value: float, step: float = 0.01) -> float:
    """``value`` rounded down to a multiple of ``step``."""
    return round(math.floor(value / step + 1e-9) * step, 4)


def round_up_rate(value: float, step: float = 0.005) -> float:
    """``value`` rounded up to a multiple of ``step``, at most 1."""
    return min(round(math.ceil(value / step - 1e-9) * step, 4), 1.0)


def _read_rows(folder: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    path = folder / "boxes.parquet"
    if not path.is_file():
        raise UsageError(f"{folder} is not a pilot audit folder: no boxes.parquet (run "
                         "`bbqa audit ... --out DIR` on the pilot first)")
    columns = ["outcome", "golden_class", "batch_class", "iou", "size_bucket"]
    try:
        present = set(pq.read_schema(path).names)
        missing = [c for c in columns if c not in present]
        if missing:  # Arrow's own message lists the file's whole schema
            raise UsageError(f"{path} is not an audit's boxes.parquet: it has no "
                             f"{', '.join(missing)} column")
        table = pq.read_table(path, columns=columns)
    except UsageError:
        raise
    except Exception as exc:  # pyarrow raises several kinds for a foreign or broken file
        raise UsageError(f"cannot read {path}: {exc}") from exc
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _quote(name: str) -> str:
    return json.dumps(name)  # a TOML basic string is a JSON string


def starter_policy(folder: Path) -> str:
    """The text of a commented starter policy from a pilot audit folder."""
    rows = _read_rows(folder)
    by_class: dict[str, dict[str, Any]] = {}
    for row in rows:
        for side in ("golden_class", "batch_class"):
            name = row[side]
            if name is not None and name not in by_class:
                by_class[name] = {"ious": [], "sizes": Counter(), "golden": 0, "missing": 0,
                                  "wrong_class": 0, "judged": 0, "extra": 0}
        g, b = row["golden_class"], row["batch_class"]
        outcome = row["outcome"]
        if outcome in ("matched", "missing", "wrong_class"):
            stats = by_class[g]
            stats["golden"] += 1
            stats["sizes"][row["size_bucket"]] += 1
            if outcome != "matched":
                stats[outcome] += 1
            else:
                stats["ious"].append(row["iou"])
        if outcome in ("matched", "wrong_class", "extra"):
            by_class[b]["judged"] += 1
            if outcome == "extra":
                by_class[b]["extra"] += 1
    lines = [
        f"# Starter policy measured on the pilot audit in {folder}.",
        "# Each threshold sits just outside the pilot's 95% interval: the pilot passes, a",
        "# delivery fails when it is measurably worse. Review every number before use.",
        "version = 1",
        "",
        "[defaults]",
        "match_iou = 0.5",
        "tolerance = 0.75",
        f"min_support = {MIN_SUPPORT}          # fewer golden boxes: a warning, not a verdict",
        "",
    ]
    for name in sorted(by_class):
        stats = by_class[name]
        ious = np.sort(np.asarray(stats["ious"], dtype=np.float64))
        if stats["golden"] == 0:
            lines += [f"# {name}: only in the batch ({stats['extra']} extra boxes); no "
                      "thresholds", ""]
            continue
        size = stats["sizes"].most_common(1)[0][0] if stats["sizes"] else "medium"
        tolerance = SIZE_TOLERANCE.get(size, 0.75)
        lines.append(f"[classes.{_quote(name)}]")
        lines.append(f"# pilot: {stats['golden']} golden boxes, {len(ious)} matched, mostly "
                     f"{size} objects")
        lines.append(f"tolerance = {tolerance:.2f}")
        if len(ious):
            for key, p in (("min_median_iou", 0.5), ("min_p10_iou", 0.1)):
                low, high = quantile_interval(ious, p)
                value = float(np.quantile(ious, p))
                lines.append(f"{key} = {round_down(max(low - 0.01, 0.0)):.2f}  "
                             f"# pilot {value:.3f} [{low:.3f}, {high:.3f}]")
            loose = int(np.count_nonzero(ious < tolerance))
            lines.append(_rate_line("max_loose_rate", loose, len(ious)))
        lines.append(_rate_line("max_missing_rate", stats["missing"], stats["golden"]))
        lines.append(_rate_line("max_wrong_class_rate", stats["wrong_class"], stats["golden"]))
        if stats["judged"]:
            lines.append(_rate_line("max_extra_rate", stats["extra"], stats["judged"]))
        if stats["golden"] < MIN_SUPPORT:
            lines.append(f"# only {stats['golden']} golden boxes: these checks will warn "
                         "until a delivery has more")
        lines.append("")
    return "\n".join(lines)


def _rate_line(key: str, k: int, n: int) -> str:
    low, high = wilson_interval(np.array([k]), np.array([n]))
    return (f"{key} = {round_up_rate(float(high[0]))}  # pilot {k / n:.3f} "
            f"[{float(low[0]):.3f}, {float(high[0]):.3f}], {k} of {n}")
