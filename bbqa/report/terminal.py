"""The human report: a summary and the per-class IoU table, rendered with Rich.

Example:
    >>> sparkline([0, 1, 4, 8])
    ' ▁▄█'
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from bbqa.auditing import AuditResult
from bbqa.dataset import Level, Problem
from bbqa.metrics.breakdowns import ALL_CLASSES
from bbqa.metrics.hygiene import HygieneFinding
from bbqa.report.sections import DEFAULT_SECTIONS, Section
from bbqa.verdicts import Verdict

if TYPE_CHECKING:  # the gate loads only for a run with --policy
    from bbqa.gate import GateResult

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
    defects = s.get("defects")
    if defects:
        kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in defects["by_type"].items()
                          if n)
        table.add_row("defects", f"{defects['total']} ({_fmt(defects['per_100_golden'], 1)} "
                                 f"per 100 golden boxes, tolerance {s['tolerance']}): {kinds}")
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


# Rows of the breakdown and confusion sections shown by default.
TOP_CELLS = 8


def breakdown_table(result: AuditResult, limit: int = TOP_CELLS) -> Table:
    """The class x bucket cells with the highest missing rate (the lower 95% bound decides)."""
    c = result.breakdowns.columns
    table = Table(title="Worst cells: missing rate by class x density / size / scene "
                        "(sorted by the lower 95% bound)", title_justify="left")
    for name in ("dimension", "bucket", "class", "golden", "missing", "missing rate",
                 "wrong class", "extra", "extra rate"):
        table.add_column(name, justify="left" if name in ("dimension", "bucket", "class")
                         else "right", no_wrap=True)
    low = np.nan_to_num(np.asarray(c["missing_low"], float), nan=-1.0)
    order = np.lexsort((np.asarray(c["class"]).astype(str), -low))
    for i in order[:limit].tolist():
        table.add_row(str(c["dimension"][i]), str(c["bucket"][i]), str(c["class"][i]),
                      str(int(c["golden"][i])), str(int(c["missing"][i])),
                      _interval(c["missing_rate"][i], c["missing_low"][i], c["missing_high"][i]),
                      str(int(c["wrong_class"][i])), str(int(c["extra"][i])),
                      _interval(c["extra_rate"][i], c["extra_low"][i], c["extra_high"][i]))
    return table


def _interval(value: float, low: float, high: float) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.1%} [{low:.1%}, {high:.1%}]"


def confusion_table(result: AuditResult, limit: int = TOP_CELLS) -> Table:
    """The largest confusions, misses and extras by class."""
    table = Table(title="Top class confusions (golden → batch)", title_justify="left")
    for name in ("golden", "batch", "count"):
        table.add_column(name, justify="right" if name == "count" else "left", no_wrap=True)
    for golden_class, batch_class, count in result.confusion.top(limit):
        table.add_row(golden_class, batch_class, str(count))
    return table


def annotator_table(result: AuditResult) -> Table:
    """Per-annotator outcome rates, IoU, looseness with its interval, and the verdicts."""
    a = result.annotators.annotators
    table = Table(title=f"Annotators (bias margin {result.options.bias_margin:g}, at least "
                        f"{result.options.min_matched} matched pairs for a verdict)",
                  title_justify="left")
    for name in ("annotator", "images", "boxes", "matched", "missing", "extra", "wrong cls",
                 "IoU mean", "p10", "looseness [95% CI]", "verdict", "shift", "IoU spread"):
        table.add_column(name, justify="left" if name in ("annotator", "verdict", "shift")
                         else "right", no_wrap=True)
    for i in range(len(a.get("annotator", []))):
        spread = f"{a['iou_spread'][i]:.3f}" if not math.isnan(a["iou_spread"][i]) else "—"
        if a["iou_spread_flag"][i]:
            spread += f" wider (p={a['iou_spread_p_holm'][i]:.1g})"
        verdict = str(a["verdict"][i])
        table.add_row(
            str(a["annotator"][i]), str(a["images"][i]), str(a["boxes"][i]),
            str(a["matched"][i]), _fmt_rate(a["missing_rate"][i]), _fmt_rate(a["extra_rate"][i]),
            _fmt_rate(a["wrong_class_rate"][i]), _fmt(a["iou_mean"][i]), _fmt(a["iou_p10"][i]),
            f"{_signed(a['looseness_mean'][i])} [{_signed(a['looseness_low'][i])}, "
            f"{_signed(a['looseness_high'][i])}]",
            Text(verdict, style="red" if verdict in ("looser", "tighter") else ""),
            str(a["shift_verdict"][i]), spread,
        )
    return table


def _fmt_rate(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.1%}"


def _signed(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:+.3f}"


def attribute_table(result: AuditResult) -> Table:
    """Agreement and Cohen's kappa per attribute."""
    table = Table(title="Attribute agreement on matched pairs", title_justify="left")
    for name in ("attribute", "n", "agreement", "kappa", "golden → batch disagreements"):
        table.add_column(name, justify="left" if name[0] in "ag" and name != "agreement"
                         else "right", no_wrap=True)
    for row in result.attributes.rows:
        if row["class"] != ALL_CLASSES:
            continue
        off = ", ".join(f"{c['golden']}→{c['batch']} {c['count']}" for c in row["confusion"]
                        if c["golden"] != c["batch"])
        table.add_row(str(row["attribute"]), str(row["n"]), _fmt_rate(float(row["agreement"])),
                      _fmt(float(row["kappa"])), off)
    return table


def hygiene_text(result: AuditResult) -> Text:
    """Hygiene counts per set."""
    counts = result.summary["hygiene"]
    text = Text()
    text.append("Hygiene ", style="bold")
    text.append(f"(duplicates at IoU >= {result.options.duplicate_iou:g}, boxes under "
                f"{result.options.min_box_size:g} px)\n")
    for role in ("golden", "batch"):
        text.append(f"  {role}: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                              for k, v in counts[role].items()) + "\n")
    return text


def images_table(result: AuditResult, limit: int | None = None) -> Table:
    """The labelings with the most defects, for reviewers."""
    c = result.images.columns
    limit = result.options.top_images if limit is None else limit
    defects = result.summary["defects"]
    title = (f"Images with the most defects ({defects['total']} defects, "
             f"{_fmt(defects['per_100_golden'], 1)} per 100 golden boxes)")
    table = Table(title=title, title_justify="left")
    for name in ("image", "annotator", "golden", "defects", "missing", "wrong cls", "loose",
                 "attr", "extra"):
        table.add_column(name, justify="left" if name in ("image", "annotator") else "right",
                         no_wrap=True)
    for i in range(min(limit, len(c["image"]))):
        if int(c["defects"][i]) == 0:
            break
        table.add_row(str(c["image"][i]), str(c["annotator"][i] or "—"), str(c["golden"][i]),
                      str(c["defects"][i]), str(c["missing"][i]), str(c["wrong_class"][i]),
                      str(c["loose"][i]), str(c["attribute_mismatch"][i]), str(c["extra"][i]))
    return table


def render(result: AuditResult, console: Console,
           sections: Sequence[Section] = DEFAULT_SECTIONS) -> None:
    """Print the chosen sections of the human report to ``console``."""
    chosen = set(Section) if Section.ALL in sections else set(sections)
    parts: list[Any] = []
    if Section.SUMMARY in chosen:
        parts += [summary_table(result), Text()]
    if Section.CLASSES in chosen:
        parts += [class_table(result), Text()]
    if Section.BREAKDOWNS in chosen and len(result.breakdowns):
        parts += [breakdown_table(result), Text()]
    if Section.CONFUSION in chosen:
        parts += [confusion_table(result), Text()]
    if Section.ANNOTATORS in chosen and result.annotators.annotators:
        parts += [annotator_table(result), Text()]
    if Section.ATTRIBUTES in chosen and result.attributes.rows:
        parts += [attribute_table(result), Text()]
    if Section.IMAGES in chosen:
        parts += [images_table(result), Text()]
    if Section.HYGIENE in chosen:
        parts.append(hygiene_text(result))
    if Section.FINDINGS in chosen:
        parts += _findings(result)
    console.print(Group(*parts))


def _findings(result: AuditResult) -> list[Any]:
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
    if s["attributes_not_comparable"]:
        notes.append("attributes not comparable: " + ", ".join(
            f"{k} ({v})" for k, v in s["attributes_not_comparable"].items()) + "\n")
    parts: list[Any] = [notes] if notes else []
    if result.golden_warnings:
        parts.append(problems_text("golden warnings", result.golden_warnings))
    if result.findings:
        parts.append(problems_text("batch findings", result.findings))
    return parts


def render_gate(gate: GateResult, console: Console) -> None:
    """The gate's verdict: failed and warned checks with value, interval, threshold and n."""
    shown = [c for c in gate.checks if c.verdict in (Verdict.FAIL, Verdict.WARN)]
    status = Text("PASSED" if gate.success else "FAILED",
                  style="bold green" if gate.success else "bold red")
    headline = Text("Gate ")
    headline.append_text(status)
    headline.append(f" — policy {gate.policy_path}, {len(gate.checks)} checks: "
                    f"{gate.count(Verdict.PASS)} passed, {gate.count(Verdict.FAIL)} failed, "
                    f"{gate.count(Verdict.WARN)} warned, {gate.count(Verdict.SKIP)} skipped "
                    f"({gate.decision.value} decision, {gate.confidence:.0%} intervals)")
    if not shown:
        console.print(headline)
        return
    table = Table(title="Failed and warned checks", title_justify="left")
    for name in ("verdict", "check", "scope", "subject", "value", "interval", "threshold",
                 "n", "note"):
        table.add_column(name, justify="right" if name in ("value", "n") else "left",
                         no_wrap=name != "note")
    for c in shown:
        interval = (f"[{c.low:.3f}, {c.high:.3f}]" if c.low is not None and c.high is not None
                    else "—")
        bound = "≤" if c.kind == "max" else "≥"
        table.add_row(Text(c.verdict, style="red" if c.verdict == Verdict.FAIL else "yellow"),
                      c.name, c.scope, c.subject,
                      "—" if c.value is None else f"{c.value:.3f}", interval,
                      "—" if c.threshold is None else f"{bound} {c.threshold:g}", str(c.n),
                      c.note)
    console.print(Group(table, headline))


def render_validation(summary: dict[str, Any], gate: GateResult,
                      found: Sequence[HygieneFinding], console: Console) -> None:
    """The validation report: what was read, each check, and the first findings."""
    text = Text()
    text.append("bbqa validate ", style="bold")
    text.append(f"{summary['batch']}: {summary['images']} images, {summary['boxes']} boxes, "
                f"{len(summary['classes'])} classes\n")
    for check in gate.checks:
        style = {"pass": "green", "fail": "red", "warn": "yellow"}.get(check.verdict, "")
        text.append(f"  {check.verdict:<5}", style=style)
        text.append(f" {check.name}: {int(check.value or 0)}"
                    + (f" ({check.note})" if check.note else "") + "\n")
    for finding in found[:LISTED_PROBLEMS]:
        text.append(f"  {finding.check}: {finding.box_id}"
                    + (f" ~ {finding.other_id}" if finding.other_id else "")
                    + (f" on {finding.image}" if finding.image else "")
                    + f": {finding.detail}\n")
    if len(found) > LISTED_PROBLEMS:
        text.append(f"  … and {len(found) - LISTED_PROBLEMS} more hygiene findings (all in "
                    "--report json)\n")
    status = "PASSED" if gate.success else "FAILED"
    text.append(f"Validation {status}\n", style="bold green" if gate.success else "bold red")
    console.print(text)
