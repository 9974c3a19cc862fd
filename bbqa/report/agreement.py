"""Terminal tables and files for ``bbqa agree``; nothing is computed here.

Example:
    >>> AGREEMENT_FILES
    ('pairs.parquet', 'agreement.parquet', 'annotator_matrix.parquet', 'summary.json')
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from bbqa.agreement.measures import AgreementResult

AGREEMENT_FILES = ("pairs.parquet", "agreement.parquet", "annotator_matrix.parquet",
                   "summary.json")


def _fmt(value: float, digits: int = 3) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _ci(row: dict[str, Any]) -> str:
    if math.isnan(row["low"]):
        return "—"
    return f"[{row['low']:.3f}, {row['high']:.3f}]"


def render_agreement(result: AgreementResult, console: Console) -> None:
    """Summary, alpha by class and threshold, pairwise figures and the annotator matrix."""
    s = result.summary
    head = Text()
    head.append("bbqa agree ", style="bold")
    head.append(f"{result.pictures_compared} of {result.pictures} pictures labeled by at least "
                f"two annotators; annotators: {', '.join(result.annotators)}\n")
    head.append(f"class agreement of matched boxes (class-agnostic matching): "
                f"{_fmt(s['class_agreement'] or math.nan)}\n")
    alpha = Table(title=f"Krippendorff's alpha (flag: below {s['min_agreement']:g}, revise the "
                        "guideline)", title_justify="left")
    for name in ("IoU", "class", "alpha", "95% CI", "pictures", "flag"):
        alpha.add_column(name, justify="left" if name in ("class", "flag") else "right")
    for row in result.rows:
        if row["measure"] != "alpha":
            continue
        flag = ("revise" if row["group"] == "class" and row["value"] < s["min_agreement"]
                else "")
        alpha.add_row(f"{row['threshold']:g}", row["bucket"], _fmt(row["value"], 4), _ci(row),
                      str(row["n"]), Text(flag, style="red"))
    pair = Table(title=f"Pairwise agreement at IoU {result.thresholds[0]:g} (every pair of "
                       "annotators, one-to-one matching)", title_justify="left")
    for name in ("group", "bucket", "F1", "95% CI", "boxes", "IoU mean", "median", "p10"):
        pair.add_column(name, justify="left" if name in ("group", "bucket") else "right")
    by_key: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in result.rows:
        if row["measure"] in ("f1", "iou_mean", "iou_median", "iou_p10"):
            by_key.setdefault((row["group"], row["bucket"]), {})[row["measure"]] = row
    for (group, bucket), rows in by_key.items():
        f1 = rows["f1"]
        pair.add_row(group, bucket, _fmt(f1["value"]), _ci(f1), str(f1["n"]),
                     *(_fmt(rows[m]["value"]) if m in rows else "—"
                       for m in ("iou_mean", "iou_median", "iou_p10")))
    matrix = Table(title="Annotator x annotator", title_justify="left")
    for name in ("annotator a", "annotator b", "pictures", "F1", "IoU mean", "same class"):
        matrix.add_column(name, justify="left" if name.startswith("annotator") else "right")
    for row in result.matrix:
        matrix.add_row(row["annotator_a"], row["annotator_b"], str(row["pictures"]),
                       _fmt(row["f1"]), _fmt(row["iou_mean"]), _fmt(row["class_agreement"]))
    console.print(Group(head, alpha, Text(), pair, Text(), matrix))


def write_agreement(result: AgreementResult, folder: Path) -> list[Path]:
    """Write the agreement tables as Parquet and the summary as JSON, atomically."""
    from functools import partial

    import pyarrow as pa

    from bbqa.arrow_kernels import write_parquet
    from bbqa.report.files import summary_json, write_atomically

    def table(rows: list[dict[str, Any]] | dict[str, list[Any]]) -> pa.Table:
        if isinstance(rows, dict):
            return pa.table(rows)
        columns = {k: [r[k] for r in rows] for k in rows[0]} if rows else {}
        return pa.table({k: pa.array([None if isinstance(v, float) and math.isnan(v) else v
                                      for v in vals]) for k, vals in columns.items()})

    text = summary_json(result.summary)
    return write_atomically(folder, {
        "pairs.parquet": partial(write_parquet, table(result.pairs)),
        "agreement.parquet": partial(write_parquet, table(result.rows)),
        "annotator_matrix.parquet": partial(write_parquet, table(result.matrix)),
        "summary.json": lambda p: p.write_text(text, encoding="utf-8"),
    })
