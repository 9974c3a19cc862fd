"""The human report: a summary and the per-class IoU table, rendered with Rich.

Example:
    >>> sparkline([0, 1, 4, 8])
    ' ▁▄█'
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from bbqa.audit import AuditResult
from bbqa.dataset import Level, Problem

_BARS = " ▁▂▃▄▅▆▇█"
# How many golden warnings and batch findings are printed before the rest is summarised.
LISTED_PROBLEMS = 5


def sparkline(counts: Sequence[int]) -> str:
    """One character per bin, its height proportional to the count (blank for zero)."""
    peak = max(counts) if len(counts) else 0
    if peak <= 0:
        return " " * len(counts)
    return "".join(_BARS[math.ceil(c / peak * (len(_BARS) - 1))] if c else " " for c in counts)


def _fmt(value: float, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.{digits}f}"


def _pct(entry: dict[str, Any]) -> str:
    if entry["rate"] is None:
        return "—"
    low, high = entry["ci95"]
    return f"{entry['rate']:.1%} [{low:.1%}, {high:.1%}]"


def summary_table(result: AuditResult) -> Table:
    """The headline figures: images, boxes, outcome counts and rates with 95% intervals."""
    s = result.summary
    images, outcomes = s["images"], s["outcomes"]
    table = Table(title="bbqa audit", show_header=False, title_justify="left", box=None,
                  padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("golden", f"{s['golden']}  ({images['golden']} images)")
    table.add_row("batch", f"{s['batch']}  ({images['batch_labelings']} labelings)")
    table.add_row(
        "images",
        f"{images['audited_labelings']} labelings of {images['audited_images']} images audited, "
        f"{images['not_delivered']} not delivered, {images['not_audited']} not audited"
        + (f", {images['size_mismatch']} size mismatch" if images["size_mismatch"] else ""),
    )
    table.add_row("boxes", f"{s['boxes']['golden']} golden, {s['boxes']['batch']} batch "
                           f"(IoU threshold {s['iou_threshold']}, image key {s['image_key']})")
    table.add_row("outcomes", ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in outcomes.items()
                                        if v or k in ("matched", "missing", "extra")))
    table.add_row("recall", _pct(s["recall"]))
    table.add_row("precision", _pct(s["precision"]))
    table.add_row("missing", _pct(s["missing_rate"]))
    table.add_row("wrong class", _pct(s["wrong_class_rate"]))
    table.add_row("extra", _pct(s["extra_rate"]))
    iou = s["iou"]
    table.add_row("IoU", f"mean {_fmt(iou['iou_mean'])}, median {_fmt(iou['iou_median'])}, "
                         f"p10 {_fmt(iou['iou_p10'])}")
    return table


def class_table(result: AuditResult) -> Table:
    """Per-class counts, recall/precision and IoU distribution, worst median IoU first."""
    ct = result.classes
    edges = ct.histogram_edges
    table = Table(title=f"Per-class IoU of matched pairs (histogram {edges[0]:.2f}–1.00)",
                  title_justify="left")
    for name in ("class", "golden", "batch", "matched", "missing", "extra", "wrong cls",
                 "recall", "prec.", "mean", "std", "p10", "p25", "median", "p75", "p90", "min"):
        table.add_column(name, justify="left" if name == "class" else "right", no_wrap=True)
    table.add_column("histogram", no_wrap=True)
    c = ct.columns
    for i in ct.order_worst_first().tolist():
        if c["golden"][i] + c["batch"][i] == 0:
            continue
        table.add_row(
            ct.classes[i],
            *(str(int(c[k][i])) for k in ("golden", "batch", "matched", "missing", "extra",
                                          "wrong_class")),
            _fmt(float(c["recall"][i]), 2), _fmt(float(c["precision"][i]), 2),
            *(_fmt(float(c[k][i])) for k in ("iou_mean", "iou_std", "iou_p10", "iou_p25",
                                              "iou_median", "iou_p75", "iou_p90", "iou_min")),
            Text(sparkline(ct.histogram[i].tolist()), style="cyan"),
        )
    return table


def problems_text(title: str, problems: Sequence[Problem]) -> Text:
    """A short list of problems, the first few by location, the rest counted."""
    text = Text()
    total = sum(p.count for p in problems)
    errors = sum(p.count for p in problems if p.level is Level.ERROR)
    text.append(f"{title}: {total} ({errors} errors, {total - errors} warnings)\n", style="bold")
    by_code: Counter[str] = Counter()
    for p in problems:
        by_code[p.code] += p.count
    text.append("  " + ", ".join(f"{code} {n}" for code, n in by_code.most_common()) + "\n")
    for p in problems[:LISTED_PROBLEMS]:
        style = "red" if p.level is Level.ERROR else "yellow"
        text.append(f"  {p.level.value}: ", style=style)
        text.append(f"{p.location}: {p.message}\n")
    hidden = sum(p.count for p in problems[LISTED_PROBLEMS:])
    if hidden:
        text.append(f"  … and {hidden} more (all are in summary.json with --out)\n")
    return text


def render(result: AuditResult, console: Console) -> None:
    """Print the whole human report to ``console``."""
    parts: list[Any] = [summary_table(result), Text(), class_table(result)]
    s = result.summary
    notes = Text()
    if s["images"]["not_delivered_keys"]:
        notes.append("not delivered: " + ", ".join(s["images"]["not_delivered_keys"])
                     + (" …" if s["images"]["not_delivered"] > len(
                         s["images"]["not_delivered_keys"]) else "") + "\n")
    if s["images"]["not_audited_keys"]:
        notes.append("not audited: " + ", ".join(s["images"]["not_audited_keys"])
                     + (" …" if s["images"]["not_audited"] > len(
                         s["images"]["not_audited_keys"]) else "") + "\n")
    if s["classes_only_in_batch"]:
        notes.append("classes only in the batch: " + ", ".join(s["classes_only_in_batch"]) + "\n")
    if s["classes_only_in_golden"]:
        notes.append("classes only in the golden set: " + ", ".join(s["classes_only_in_golden"])
                     + "\n")
    if notes:
        parts += [Text(), notes]
    if result.golden_warnings:
        parts.append(problems_text("golden warnings", result.golden_warnings))
    if result.findings:
        parts.append(problems_text("batch findings", result.findings))
    console.print(Group(*parts))
