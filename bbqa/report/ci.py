"""Machine-readable gate reports for CI: JSON, JUnit XML, GitHub workflow commands, Markdown.

Each renderer turns (summary, gate) into text and computes nothing.

Example:
    >>> sorted(f.value for f in ReportFormat)
    ['github', 'json', 'junit', 'markdown']
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bbqa.text import XML_FORBIDDEN
from bbqa.verdicts import Verdict

if TYPE_CHECKING:  # the gate loads only for a run with --policy
    from bbqa.gate import Check, GateResult


def quoteattr(text: str) -> str:
    """An XML attribute value in double quotes (html.escape: xml.sax would import urllib)."""
    from html import escape  # imported on use: most runs write no XML

    return f'"{escape(text, quote=True)}"'


# GitHub shows at most this many annotations one by one; the rest are summarised.
GITHUB_LISTED = 10


class ReportFormat(StrEnum):
    """Formats of ``--report FORMAT[:PATH]``."""

    JSON = "json"
    JUNIT = "junit"
    GITHUB = "github"
    MARKDOWN = "markdown"


def document(summary: Mapping[str, Any], gate: GateResult | None) -> dict[str, Any]:
    """The summary document with the gate added (``summary.json``'s schema plus ``gate``)."""
    doc = dict(summary)
    doc["gate"] = gate.to_json() if gate is not None else None
    doc["success"] = gate.success if gate is not None else True
    return doc


def render_json(summary: Mapping[str, Any], gate: GateResult | None) -> str:
    """The summary and the gate as strict JSON (see :func:`strict_json`)."""
    return strict_json(document(summary, gate))


def strict_json(document: Any) -> str:
    """``document`` as indented JSON ending in a newline, in which a number that is not
    finite (an agreement with no pair to measure, say) is written ``null``.

    >>> strict_json({"f1": float("nan"), "ci95": (0.5, float("inf"))}).split()
    ['{', '"f1":', 'null,', '"ci95":', '[', '0.5,', 'null', ']', '}']
    """
    return json.dumps(_finite_or_null(document), indent=2, allow_nan=False) + "\n"


def _finite_or_null(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    return value


def render_junit(summary: Mapping[str, Any], gate: GateResult | None) -> str:
    """One JUnit testcase per check; failures as <failure>, warnings and skips as <skipped>."""
    from html import escape
    checks = gate.checks if gate is not None else ()
    failures = sum(c.verdict == Verdict.FAIL for c in checks)
    skipped = sum(c.verdict in (Verdict.WARN, Verdict.SKIP) for c in checks)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<testsuites name="bbqa" tests="{len(checks)}" failures="{failures}" '
             f'errors="0" skipped="{skipped}">',
             f'  <testsuite name={quoteattr("bbqa audit " + str(summary.get("batch", "")))} '
             f'tests="{len(checks)}" failures="{failures}" errors="0" skipped="{skipped}">']
    for check in checks:
        attrs = f"classname={quoteattr(f'bbqa.{check.scope}')} name={quoteattr(check.title)}"
        text = escape(check.describe())
        if check.verdict == Verdict.FAIL:
            lines.append(f"    <testcase {attrs}>")
            lines.append(f'      <failure message={quoteattr(check.describe())} '
                         f'type="{check.name}">{text}</failure>')
            lines.append("    </testcase>")
        elif check.verdict in (Verdict.WARN, Verdict.SKIP):
            lines.append(f"    <testcase {attrs}>")
            lines.append(f"      <skipped message={quoteattr(check.verdict + ': ' + check.note)}"
                         " />")
            lines.append("    </testcase>")
        else:
            lines.append(f"    <testcase {attrs}>")
            lines.append(f"      <system-out>{text}</system-out>")
            lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return XML_FORBIDDEN.sub(lambda found: f"\\u{ord(found.group()):04x}", "\n".join(lines))


def _workflow_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_github(summary: Mapping[str, Any], gate: GateResult | None) -> str:
    """GitHub Actions workflow commands: the first failures and warnings, then a summary."""
    lines = []
    if gate is None:
        return f"::notice title=bbqa::audited without a policy: {_headline(summary)}\n"
    for verdict, command in ((Verdict.FAIL, "error"), (Verdict.WARN, "warning")):
        chosen = [c for c in gate.checks if c.verdict == verdict]
        for check in chosen[:GITHUB_LISTED]:
            lines.append(f"::{command} title=bbqa {check.name}::"
                         f"{_workflow_escape(check.describe())}")
        if len(chosen) > GITHUB_LISTED:
            lines.append(f"::{command} title=bbqa::{len(chosen) - GITHUB_LISTED} more checks "
                         f"{'failed' if verdict == Verdict.FAIL else 'warned'} (see the JSON "
                         "or JUnit report)")
    status = "passed" if gate.success else "FAILED"
    lines.append(f"::notice title=bbqa gate {status}::{_statistics(gate)}; "
                 f"{_workflow_escape(_headline(summary))}")
    return "\n".join(lines) + "\n"


def _headline(summary: Mapping[str, Any]) -> str:
    recall = summary.get("recall", {}).get("rate")
    iou = summary.get("iou", {}).get("iou_median")
    parts = [f"{summary.get('boxes', {}).get('golden', 0)} golden boxes"]
    if recall is not None:
        parts.append(f"recall {recall:.1%}")
    if iou is not None:
        parts.append(f"median IoU {iou:.3f}")
    return ", ".join(parts)


def _statistics(gate: GateResult) -> str:
    return (f"{len(gate.checks)} checks: {gate.count(Verdict.PASS)} passed, "
            f"{gate.count(Verdict.FAIL)} failed, {gate.count(Verdict.WARN)} warned, "
            f"{gate.count(Verdict.SKIP)} skipped ({gate.decision.value} decision, "
            f"{gate.confidence:.0%} confidence)")


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _in_cell(text: str) -> str:
    """Text that stays inside one cell of a Markdown table: a line break would end the row,
    and a ``|`` ends the cell even inside backticks."""
    return " ".join(text.splitlines()).replace("|", "\\|")


def _code(text: str) -> str:
    """``text`` as inline code in a table cell, whatever backticks it holds.

    >>> _code("car"), _code("a|b"), _code("x`y")
    ('`car`', '`a\\\\|b`', '`` x`y ``')
    """
    text = _in_cell(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _table(checks: list[Check]) -> list[str]:
    lines = ["| check | subject | value | interval | threshold | n | verdict |",
             "|---|---|---|---|---|---|---|"]
    for c in checks:
        interval = f"[{_cell(c.low)}, {_cell(c.high)}]" if c.low is not None else "—"
        bound = "≤" if c.kind == "max" else "≥"
        threshold = f"{bound} {c.threshold:.4g}" if c.threshold is not None else "—"
        subject = f"{c.scope} {_code(c.subject)}"
        note = f" — {_in_cell(c.note)}" if c.note else ""
        lines.append(f"| {_code(c.name)} | {subject} | {_cell(c.value)} | {interval} | "
                     f"{threshold} | {c.n} | {c.verdict}{note} |")
    return lines


def render_markdown(summary: Mapping[str, Any], gate: GateResult | None) -> str:
    """A job summary or PR comment: status, headline figures, failed and warned checks."""
    lines = ["## bbqa audit", ""]
    if gate is None:
        lines += [f"Audited without a policy: {_headline(summary)}.", ""]
    else:
        status = "✅ passed" if gate.success else "❌ failed"
        lines += [f"**Gate {status}** — {_statistics(gate)}.", "",
                  f"{_headline(summary)}; policy {_code(gate.policy_path)}.", ""]
        for verdict, title in ((Verdict.FAIL, "Failed checks"), (Verdict.WARN, "Warnings")):
            chosen = [c for c in gate.checks if c.verdict == verdict]
            if chosen:
                lines += [f"### {title} ({len(chosen)})", "", *_table(chosen), ""]
        lines += ["<details><summary>All checks</summary>", "", *_table(list(gate.checks)),
                  "", "</details>", ""]
    defects = summary.get("defects")
    if defects:
        lines += [f"Defects: {defects['total']} "
                  f"({_cell(defects['per_100_golden'])} per 100 golden boxes).", ""]
    return "\n".join(lines)


RENDERERS: dict[ReportFormat, Callable[[Mapping[str, Any], GateResult | None], str]] = {
    ReportFormat.JSON: render_json,
    ReportFormat.JUNIT: render_junit,
    ReportFormat.GITHUB: render_github,
    ReportFormat.MARKDOWN: render_markdown,
}


def parse_report(spec: str) -> tuple[ReportFormat, str | None]:
    """Parse ``FORMAT[:PATH]``; raises ``ValueError`` listing the formats for an unknown one.

    >>> parse_report("junit:out/bbqa.xml")
    (<ReportFormat.JUNIT: 'junit'>, 'out/bbqa.xml')
    """
    name, _, path = spec.partition(":")
    try:
        fmt = ReportFormat(name)
    except ValueError:
        valid = ", ".join(f.value for f in ReportFormat)
        raise ValueError(f"--report: unknown format {name!r}; expected one of {valid}, "
                         "optionally followed by :PATH") from None
    return fmt, path or None
