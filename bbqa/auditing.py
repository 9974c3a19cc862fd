"""The audit pipeline as a library call: align, match, measure. No printing, no file output.

Example:
    >>> from bbqa.dataset import Boxes, Dataset, Images
    >>> images = Images.build(["a.jpg"], [100], [100])
    >>> golden = Dataset.build(images, ["car"], Boxes.build([0, 0], [0, 0], [0., 50.], [0., 50.],
    ...                        [10., 60.], [10., 60.], ["1", "2"]))
    >>> batch = Dataset.build(images, ["car"], Boxes.build([0], [0], [0.], [0.], [10.], [9.],
    ...                       ["a"]))
    >>> result = audit(golden, batch)
    >>> result.summary["outcomes"]["matched"], result.summary["outcomes"]["missing"]
    (1, 1)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from bbqa import progress
from bbqa.align import Alignment, ImageKey, align
from bbqa.arrays import distinct
from bbqa.background import Task
from bbqa.dataset import Dataset, Level, Problem
from bbqa.errors import BbqaError, InputError, NothingToCompareError, UsageError
from bbqa.match import Matches, Outcome, match
from bbqa.metrics.annotators import INSUFFICIENT, AnnotatorTables, annotator_tables
from bbqa.metrics.attributes import AttributeAgreement, attribute_agreement
from bbqa.metrics.breakdowns import ALL_CLASSES, Breakdowns, breakdowns
from bbqa.metrics.classes import ClassTable, class_table, iou_distribution
from bbqa.metrics.confusion import Confusion, confusion
from bbqa.metrics.defects import DEFECT_TYPES, ImageTable, image_table
from bbqa.metrics.hygiene import HYGIENE_CHECKS, HygieneFinding, hygiene
from bbqa.metrics.rows import DEFAULT_DENSITY_BOUNDS, RowContext, row_context
from bbqa.metrics.stats import rate, wilson_interval

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

# Bumped when a key of summary.json changes meaning or disappears; new keys do not bump it.
SUMMARY_SCHEMA_VERSION = 1
# How many not-delivered / not-audited image keys the summary lists by name.
LISTED_KEYS = 20

Stage = Callable[[str], None]


class GoldenInvalidError(BbqaError):
    """The golden set has structural errors; nothing measured against it could be trusted."""

    def __init__(self, path: str, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"golden set {path} is invalid: {first.location}: {first.message}{more}")


@dataclass(frozen=True)
class AuditOptions:
    """What an audit compares and how. ``iou`` is the pass-1 and pass-2 matching threshold."""

    iou: float = 0.5
    image_key: ImageKey = ImageKey.AUTO
    allow_empty: bool = False
    tolerance: float = 0.75
    class_iou: Mapping[str, float] = field(default_factory=dict)
    class_tolerance: Mapping[str, float] = field(default_factory=dict)
    density_bounds: tuple[int, ...] = DEFAULT_DENSITY_BOUNDS
    bias_margin: float = 0.02
    min_matched: int = 30
    duplicate_iou: float = 0.9
    min_box_size: float = 4.0
    top_images: int = 10


@dataclass(frozen=True)
class Matched:
    """An audit part-way: every row matched and described (outcome, class, annotator, size,
    edges, flags), the summaries not yet computed. Enough for ``boxes.parquet``.

    >>> import bbqa
    >>> seen = []
    >>> demo = "fixtures/demo/"
    >>> result = bbqa.audit(bbqa.load(demo + "golden.json"), bbqa.load(demo + "batch.json"),
    ...                     on_matched=seen.append)
    >>> len(seen[0].matches) == len(result.matches)
    True
    """

    golden: Dataset
    batch: Dataset
    alignment: Alignment
    matches: Matches
    rows: RowContext


@dataclass(frozen=True)
class AuditResult:
    """Everything an audit measured; renderers read it, none of them computes anything."""

    golden: Dataset
    batch: Dataset
    alignment: Alignment
    matches: Matches
    classes: ClassTable
    options: AuditOptions
    rows: RowContext
    breakdowns: Breakdowns
    confusion: Confusion
    annotators: AnnotatorTables
    attributes: AttributeAgreement
    hygiene: tuple[HygieneFinding, ...]
    images: ImageTable
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def golden_warnings(self) -> tuple[Problem, ...]:
        """Warnings about golden boxes (excluded from matching, listed)."""
        return self.golden.problems

    @property
    def findings(self) -> tuple[Problem, ...]:
        """Problems found in the batch, each with its location."""
        return self.batch.problems


def check_golden(golden: Dataset) -> None:
    """Raise :class:`GoldenInvalidError` when the golden set has error-level problems."""
    errors = [p for p in golden.problems if p.level is Level.ERROR]
    if errors:
        raise GoldenInvalidError(golden.path, errors)


def audit(
    golden: Dataset,
    batch: Dataset,
    options: AuditOptions | None = None,
    on_stage: Stage | None = None,
    on_matched: Callable[[Matched], None] | None = None,
) -> AuditResult:
    """Audit ``batch`` against ``golden``: per-box outcomes, per-class table and a summary.

    ``on_stage`` hears each stage's name as it starts; ``on_matched`` gets the per-row results
    as soon as they exist, so that a caller can start writing them while the summaries are
    computed.

    Raises :class:`GoldenInvalidError` for a structurally invalid golden set and
    :class:`~bbqa.errors.NothingToCompareError` when no image is shared (unless
    ``options.allow_empty``).
    """
    options = options or AuditOptions()
    if not 0.0 < options.iou <= 1.0:
        raise BbqaError(f"--iou must be in (0, 1], got {options.iou}")
    stage = on_stage or (lambda _name: None)
    check_golden(golden)
    stage("align")
    alignment = align(golden, batch, options.image_key)
    if len(alignment.audited) == 0 and not options.allow_empty:
        raise NothingToCompareError(_no_common_images(golden, batch, alignment))
    thresholds = _per_class(alignment, options.iou, options.class_iou, "--class-iou")
    tolerances = _per_class(alignment, options.tolerance, options.class_tolerance,
                            "--class-tolerance")
    stage("match")
    matches = match(golden, batch, alignment, thresholds)
    # The hygiene checks need only the two sets: they run on another thread while the tables
    # below are built, numpy releasing the GIL on big arrays (0.15 s less for audit() at
    # 850,000 boxes). Started after matching, whose temporaries are the biggest, and scoring
    # their pairs in small chunks, so the peak memory barely moves.
    checks = Task(partial(_hygiene, golden, batch, options))
    try:
        result = _tables(golden, batch, options, alignment, matches, thresholds, tolerances,
                         checks, stage, on_matched)
    finally:
        checks.wait()  # an error above leaves no work running behind the caller's back
    stage("summary")
    result.summary.update(build_summary(result))
    return result


def _hygiene(golden: Dataset, batch: Dataset, options: AuditOptions
             ) -> tuple[HygieneFinding, ...]:
    with progress.beside("hygiene"):
        return (*hygiene(golden, "golden", duplicate_iou=options.duplicate_iou,
                         min_size=options.min_box_size),
                *hygiene(batch, "batch", duplicate_iou=options.duplicate_iou,
                         min_size=options.min_box_size))


def _tables(golden: Dataset, batch: Dataset, options: AuditOptions, alignment: Alignment,
            matches: Matches, thresholds: npt.NDArray[np.float64],
            tolerances: npt.NDArray[np.float64], checks: Task[tuple[HygieneFinding, ...]],
            stage: Stage, on_matched: Callable[[Matched], None] | None) -> AuditResult:
    """Every table built from the matches, and the hygiene findings once ``checks`` is done."""
    stage("per-class table")
    names = alignment.classes
    classes = class_table(golden, batch, alignment, matches,
                          iou_floor=float(thresholds.min()) if len(thresholds) else options.iou)
    stage("row context")
    rows = row_context(golden, batch, alignment, matches, tolerance=tolerances,
                       density_bounds=options.density_bounds)
    if on_matched is not None:
        on_matched(Matched(golden, batch, alignment, matches, rows))
    stage("breakdowns and confusion")
    breakdown_table = breakdowns(matches, rows, names)
    confusion_table = confusion(matches, rows, names)
    stage("annotators")
    annotators = annotator_tables(golden, batch, matches, rows, names,
                                  margin=options.bias_margin, min_matched=options.min_matched)
    stage("attributes")
    attributes = attribute_agreement(golden, batch, matches, rows, names)
    stage("images")
    images = image_table(batch, matches, rows)
    stage("hygiene")  # what is left of it
    return AuditResult(
        golden=golden, batch=batch, alignment=alignment, matches=matches, classes=classes,
        options=options, rows=rows, breakdowns=breakdown_table, confusion=confusion_table,
        annotators=annotators, attributes=attributes, hygiene=checks.result(), images=images,
    )


def _per_class(alignment: Alignment, default: float, overrides: Mapping[str, float],
               option: str) -> npt.NDArray[np.float64]:
    """One value per class of the alignment: the override where given, else the default."""
    unknown = sorted(set(overrides) - set(alignment.classes))
    if unknown:
        raise UsageError(f"{option}: no class named {', '.join(map(repr, unknown))} in either "
                         f"set (classes: {', '.join(alignment.classes)})")
    for name, value in overrides.items():
        if not 0.0 < value <= 1.0:
            raise UsageError(f"{option}: {name}={value} must be in (0, 1]")
    return np.array([overrides.get(c, default) for c in alignment.classes], dtype=np.float64)


def _no_common_images(golden: Dataset, batch: Dataset, alignment: Alignment) -> str:
    g = ", ".join(golden.images.key[:3].tolist()) or "(none)"
    b = ", ".join(batch.images.key[:3].tolist()) or "(none)"
    hint = ""
    if len(alignment.size_mismatch):
        hint = f"; {len(alignment.size_mismatch)} share a key but differ in image size"
    return (f"golden set and batch have no image in common under --image-key "
            f"{alignment.key_mode.value}{hint} (golden keys: {g}; batch keys: {b}); "
            "try another --image-key, or --allow-empty")


def _rate_entry(k: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(np.array([k]), np.array([n]))
    value = rate(np.array([k]), np.array([n]))[0]
    return {"count": k, "n": n, "rate": _number(value), "ci95": [_number(low[0]),
                                                                  _number(high[0])]}


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def build_summary(result: AuditResult) -> dict[str, Any]:
    """The headline figures as plain JSON-ready values."""
    golden, batch, alignment = result.golden, result.batch, result.alignment
    matches, options = result.matches, result.options
    counts = {o.label: int(np.count_nonzero(matches.outcome == o)) for o in Outcome}
    golden_n = counts["matched"] + counts["missing"] + counts["wrong_class"]
    batch_n = counts["matched"] + counts["wrong_class"] + counts["extra"] + counts["ignored"]
    judged = batch_n - counts["ignored"]
    iou = iou_distribution(matches.iou[matches.where(Outcome.MATCHED)])
    audited = alignment.audited
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "golden": golden.path,
        "batch": batch.path,
        "iou_threshold": options.iou,
        "image_key": alignment.key_mode.value,
        "images": {
            "golden": len(golden.images),
            "batch_labelings": len(batch.images),
            "audited_labelings": len(audited),
            "audited_images": len(distinct(alignment.labeling_to_golden[audited])),
            "not_delivered": len(alignment.not_delivered),
            "not_audited": len(alignment.not_audited),
            "size_mismatch": len(alignment.size_mismatch),
            "not_delivered_keys": golden.images.key[alignment.not_delivered][:LISTED_KEYS]
            .tolist(),
            "not_audited_keys": batch.images.key[alignment.not_audited][:LISTED_KEYS].tolist(),
            "size_mismatch_keys": batch.images.key[alignment.size_mismatch][:LISTED_KEYS]
            .tolist(),
        },
        "boxes": {"golden": golden_n, "batch": batch_n},
        "outcomes": counts,
        "recall": _rate_entry(counts["matched"], golden_n),
        "precision": _rate_entry(counts["matched"], judged),
        "missing_rate": _rate_entry(counts["missing"], golden_n),
        "wrong_class_rate": _rate_entry(counts["wrong_class"], golden_n),
        "extra_rate": _rate_entry(counts["extra"], judged),
        "iou": {name: _number(value) for name, value in iou.items()},
        "classes_only_in_golden": list(alignment.golden_only_classes),
        "classes_only_in_batch": list(alignment.batch_only_classes),
        "tolerance": options.tolerance,
        "class_iou": dict(options.class_iou),
        "class_tolerance": dict(options.class_tolerance),
        "defects": _defect_summary(result, golden_n),
        "annotators": {
            "count": len(result.annotators.annotators.get("annotator", [])),
            "looser": _annotators_where(result, "verdict", "looser"),
            "tighter": _annotators_where(result, "verdict", "tighter"),
            "shifted": _annotators_where(result, "shift_verdict", None),
            "wider_iou_spread": [
                name for name, flag in zip(result.annotators.annotators.get("annotator", []),
                                           result.annotators.annotators.get(
                                               "iou_spread_flag", []), strict=True) if flag],
            "insufficient_data": _annotators_where(result, "verdict", INSUFFICIENT),
        },
        "attributes": [
            {k: _plain(v) for k, v in row.items() if k != "confusion"}
            for row in result.attributes.rows if row["class"] == ALL_CLASSES
        ],
        "attributes_not_comparable": result.attributes.not_comparable,
        "hygiene": {
            role: {check: sum(f.count for f in result.hygiene
                              if f.set == role and f.check == check)
                   for check in HYGIENE_CHECKS}
            for role in ("golden", "batch")
        },
        "golden_warnings": _problem_summary(golden.problems),
        "batch_findings": _problem_summary(batch.problems),
    }


def _plain(value: object) -> object:
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _annotators_where(result: AuditResult, column: str, value: str | None) -> list[str]:
    table = result.annotators.annotators
    names = table.get("annotator", [])
    values = table.get(column, [])
    if value is None:
        return [str(n) for n, v in zip(names, values, strict=True)
                if v not in ("none", INSUFFICIENT)]
    return [str(n) for n, v in zip(names, values, strict=True) if v == value]


def _defect_summary(result: AuditResult, golden_n: int) -> dict[str, Any]:
    columns = result.images.columns
    counts = {name: int(np.asarray(columns[name]).sum()) for name in DEFECT_TYPES}
    total = int(np.asarray(columns["defects"]).sum()) if len(columns["defects"]) else 0
    top = np.flatnonzero(np.asarray(columns["defects"]) > 0)[:result.options.top_images]
    return {
        "by_type": counts,
        "total": total,
        "per_100_golden": _number(100.0 * total / golden_n) if golden_n else None,
        "worst_images": [
            {"image": str(columns["image"][i]), "labeling": int(columns["labeling"][i]),
             "annotator": str(columns["annotator"][i]) or None,
             "defects": int(columns["defects"][i])}
            for i in top.tolist()
        ],
    }


def _problem_summary(problems: Sequence[Problem]) -> dict[str, Any]:
    return {
        "error": sum(p.count for p in problems if p.level is Level.ERROR),
        "warning": sum(p.count for p in problems if p.level is Level.WARNING),
        "items": [
            {"level": p.level.value, "code": p.code, "location": p.location,
             "message": p.message, "count": p.count}
            for p in problems
        ],
    }


# Inputs larger than this together load in two processes at once (golden and batch), unless
# they are COCO files for the Arrow reader, which load in two threads whatever their size:
# below it, starting a process costs more than it saves.
PARALLEL_LOAD_BYTES = 40 * 2**20


def input_bytes(paths: Sequence[str | Path]) -> int:
    """The size of the input files (every file of a folder); unreadable ones count 0.

    >>> input_bytes(["fixtures/demo/golden.json", "no/such/file"]) > 0
    True
    """
    total = 0
    for path in paths:
        p = Path(path)
        with contextlib.suppress(OSError):
            total += p.stat().st_size if p.is_file() else sum(
                f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


def _in_worker(loader: Callable[[], Dataset]) -> Dataset:
    """Run a loader in a worker process, which must not draw progress on the terminal."""
    from bbqa import progress

    progress.silence()
    return loader()


def _parse_without_the_gil(paths: Sequence[str | Path]) -> bool:
    """Whether every input is a COCO file the Arrow reader takes (big, without many polygons),
    which parses with the GIL released: two threads then load in parallel, with nothing to
    copy between processes."""
    from bbqa.io.coco import arrow_reads

    return bool(paths) and all(
        Path(p).suffix.lower() == ".json" and arrow_reads(Path(p)) for p in paths)


def load_pair(
    golden_loader: Callable[[], Dataset], batch_loaders: Sequence[Callable[[], Dataset]],
    paths: Sequence[str | Path] = (), size: int | None = None,
) -> tuple[Dataset, Dataset]:
    """Load the golden set and the batch, marking input errors with the side they came from.

    On a machine with a second core the golden set loads beside the batch: in a thread when
    every input is a COCO file for the Arrow reader (its parse releases the GIL), else in a
    worker process when ``paths`` (every input) add up to more than
    :data:`PARALLEL_LOAD_BYTES`. ``size`` is their :func:`input_bytes` when the caller has
    measured it already (a folder of many files takes a while to measure).
    """
    from bbqa.background import Task
    from bbqa.dataset import merge

    beside: Task[Dataset] | Future[Dataset] | None = None
    thread: Task[Dataset] | None = None
    pool: ProcessPoolExecutor | None = None
    if (os.cpu_count() or 1) > 1:
        if _parse_without_the_gil(paths):
            # A thread costs nothing to start: worth it whatever the size.
            beside = thread = Task(golden_loader)
        elif (size if size is not None else input_bytes(paths)) > PARALLEL_LOAD_BYTES:
            import multiprocessing
            import threading
            from concurrent.futures import ProcessPoolExecutor

            # fork is fastest, but not while another thread runs (the progress spinner on a
            # terminal): the child could inherit one of its locks held. spawn then, at the
            # cost of the child's imports.
            method = "fork" if threading.active_count() == 1 else "spawn"
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method))
            beside = pool.submit(_in_worker, golden_loader)
    try:
        batches = []
        for loader in batch_loaders:
            try:
                batches.append(loader())
            except InputError as exc:
                raise exc.with_role("batch") from exc
        try:
            golden = beside.result() if beside is not None else golden_loader()
        except InputError as exc:
            raise exc.with_role("golden") from exc
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if thread is not None:
            thread.wait()  # a failed batch load still returns only once the thread is done
    return golden, merge(batches)
