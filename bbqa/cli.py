"""The ``bbqa`` command: thin Typer commands that call the library and map errors to exit codes.

Exit codes (README, "Exit codes"): 0 evaluated; 1 the batch cannot be read at all; 2 usage
error, golden set unreadable or invalid, no image in common, I/O error; 3 internal error.
"""

# No ``from __future__ import annotations`` here: Typer reads every command's signature on
# every run, and string annotations cost it an eval and a compile each (7 ms a start-up).
import contextlib
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from bbqa import __version__
from bbqa.align import ImageKey
from bbqa.auditing import AuditOptions
from bbqa.dataset import Dataset
from bbqa.errors import BbqaError, InputError, UsageError
from bbqa.io import Format
from bbqa.io.writers import WriteFormat
from bbqa.report.ci import ReportFormat, parse_report
from bbqa.report.sections import DEFAULT_SECTIONS, Section
from bbqa.verdicts import Decision

if TYPE_CHECKING:  # the gate and the policy reader load only for a run with --policy
    from bbqa.gate import GateResult
    from bbqa.policy import Policy

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class FailOn(StrEnum):
    """Which verdicts fail the gate."""

    ERROR = "error"
    WARNING = "warning"


app = typer.Typer(
    name="bbqa",
    help="Measure the quality of bounding-box annotations against a golden set.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bbqa {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Measure the quality of bounding-box annotations against a golden set."""


def _fail(message: str, code: int) -> NoReturn:
    _console(stderr=True, highlight=False, soft_wrap=True).print(f"bbqa: error: {message}",
                                                                 markup=False)
    raise typer.Exit(code)


def exit_code_for(error: BbqaError) -> int:
    """The documented exit code for an error raised by the library."""
    if isinstance(error, InputError) and error.role == "batch":
        return EXIT_FAIL
    return EXIT_USAGE


def run_guarded(action: Callable[[], int], debug: bool) -> NoReturn:
    """Run a command body; translate bbqa errors and unexpected ones into clean exits."""
    try:
        code = action()
    except typer.Exit:
        raise
    except BbqaError as exc:
        _fail(str(exc), exit_code_for(exc))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # the edge: anything unforeseen becomes one clean line
        if debug:
            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the "
              "traceback)", EXIT_INTERNAL)
    raise typer.Exit(code)


BatchArg = Annotated[list[Path], typer.Argument(help="Batch file(s) or folder(s) to audit; "
                                                     "each image entry is one labeling.",
                                                show_default=False)]

# Options shared by several commands, defined once.
BatchFormatOption = Annotated[Format, typer.Option("--format", "-f",
                                                   help="Format of the batch.")]
SizesOption = Annotated[Path | None, typer.Option(
    help="Image-size manifest (CSV file,width,height or JSON records) for YOLO or VOC "
         "inputs without sizes.")]
ImagesOption = Annotated[Path | None, typer.Option(
    help="Image folder to read sizes from (headers only) for YOLO or VOC inputs.")]
AnnotatorFieldOption = Annotated[str, typer.Option(
    help="COCO image/annotation key holding the annotator.")]
DuplicateIouOption = Annotated[float, typer.Option(
    help="Same-class boxes of one annotator on one image at this IoU or more are duplicates.",
    min=0.0, max=1.0)]
MinBoxSizeOption = Annotated[float, typer.Option(
    help="Boxes with a shorter side below this many pixels are 'too small'.", min=0.0)]
FailOnOption = Annotated[FailOn, typer.Option(
    help="Whether warnings (insufficient data, hygiene) fail too.")]
ExitZeroOption = Annotated[bool, typer.Option(
    "--exit-zero", help="Exit 0 instead of 1 when the checks fail (and nothing else).")]
ReportOption = Annotated[list[str] | None, typer.Option(
    help="Machine-readable report FORMAT[:PATH] (json, junit, github, markdown), repeatable; "
         "without PATH to stdout, and the human report moves to stderr.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No report, no progress.")]
InputFormatOption = Annotated[Format, typer.Option("--format", "-f",
                                                   help="Format of the inputs.")]
NamesOption = Annotated[str | None, typer.Option(
    help="Annotator names for the inputs, comma-separated (default: file names).")]
DebugOption = Annotated[bool, typer.Option("--debug",
                                           help="Show tracebacks of internal errors.")]


@app.command()
def audit(
    batch: BatchArg,
    golden: Annotated[Path, typer.Option("--golden", "-g", help="The golden set.",
                                         show_default=False)],
    iou: Annotated[float | None, typer.Option(
        help="IoU threshold for a match (pass 1 and 2) [default: the policy's match_iou, "
             "else 0.5]; overrides the whole policy file.", min=0.0, max=1.0,
        show_default=False)] = None,
    batch_format: BatchFormatOption = Format.AUTO,
    golden_format: Annotated[Format, typer.Option("--golden-format",
                                                  help="Format of the golden set.")] = Format.AUTO,
    sizes: SizesOption = None,
    images: ImagesOption = None,
    image_key: Annotated[ImageKey, typer.Option(
        help="How images are joined: file name, stem, image id, or auto.")] = ImageKey.AUTO,
    class_map: Annotated[Path | None, typer.Option(
        help="CSV (old,new) or JSON {old: new} renaming batch classes to golden names.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for boxes.parquet, classes.parquet and summary.json.")] = None,
    tolerance: Annotated[float | None, typer.Option(
        help="A matched pair with IoU below this is 'loose', a defect [default: the policy's "
             "tolerance, else 0.75]; overrides the whole policy file.", min=0.0, max=1.0,
        show_default=False)] = None,
    policy: Annotated[Path | None, typer.Option(
        help="Policy file (TOML) of per-class thresholds: the delivery gate.")] = None,
    confidence: Annotated[float, typer.Option(
        help="Confidence of the intervals checks are judged on.", min=0.5, max=0.9999)] = 0.95,
    decision: Annotated[Decision, typer.Option(
        help="point: the observed value decides; lenient: fail only when the whole interval "
             "is on the wrong side; strict: pass only when it is wholly on the right "
             "side.")] = Decision.POINT,
    fail_on: FailOnOption = FailOn.ERROR,
    exit_zero: ExitZeroOption = False,
    report: ReportOption = None,
    class_iou: Annotated[list[str] | None, typer.Option(
        help="Per-class matching threshold, CLASS=T (repeatable); pass 2 uses the golden "
             "box's class.")] = None,
    class_tolerance: Annotated[list[str] | None, typer.Option(
        help="Per-class tolerance, CLASS=T (repeatable).")] = None,
    density_bins: Annotated[str, typer.Option(
        help="Upper bounds of the scene-density buckets (golden boxes per image).")] = "5,15,40",
    scene_field: Annotated[str, typer.Option(
        help="COCO image key holding a scene tag.")] = "scene",
    scenes: Annotated[Path | None, typer.Option(
        help="CSV (image,scene) or JSON {image: scene} giving each golden image a scene "
             "tag.")] = None,
    annotator_field: AnnotatorFieldOption = "annotator",
    bias_margin: Annotated[float, typer.Option(
        help="Looseness or shift (share of box size per edge) below which an annotator is "
             "'consistent'.", min=0.0)] = 0.02,
    min_matched: Annotated[int, typer.Option(
        help="Matched pairs an annotator needs for a verdict.", min=1)] = 30,
    duplicate_iou: DuplicateIouOption = 0.9,
    min_box_size: MinBoxSizeOption = 4.0,
    top_images: Annotated[int, typer.Option(
        help="How many images with the most defects to list.", min=0)] = 10,
    show: Annotated[list[Section] | None, typer.Option(
        help="Report sections to print (repeatable); default: summary, classes, breakdowns, "
             "annotators, attributes, hygiene, findings.")] = None,
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="Exit 0 even when golden and batch share no image.")] = False,
    profile: Annotated[bool, typer.Option(
        "--profile", help="Print the time each stage took (to stderr).")] = False,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Audit a labeled batch against a golden set: per-class IoU and outcome tables.

    With --policy it is a delivery gate: exit 1 when a check fails.
    """

    def prepare_and_run() -> int:
        from bbqa.metrics.rows import parse_density_bins

        if iou is not None and iou <= 0:
            raise UsageError("--iou must be greater than 0")
        try:
            reports = [parse_report(spec) for spec in report or []]
            per_class_iou = parse_class_values(class_iou or [], "--class-iou")
            per_class_tolerance = parse_class_values(class_tolerance or [],
                                                     "--class-tolerance")
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        try:
            bounds = parse_density_bins(density_bins)
        except ValueError as exc:
            raise UsageError(f"--density-bins: {exc}") from exc
        request = AuditRequest(
            iou=iou, tolerance=tolerance, policy=policy, confidence=confidence, decision=decision,
            fail_on_warning=fail_on is FailOn.WARNING, exit_zero=exit_zero, reports=reports,
            batch_paths=batch, golden_path=golden, batch_format=batch_format,
            golden_format=golden_format, sizes=sizes, images=images, class_map=class_map,
            scenes=scenes, scene_field=scene_field, annotator_field=annotator_field, out=out,
            quiet=quiet, sections=tuple(show) if show else DEFAULT_SECTIONS, profile=profile,
        )
        options = AuditOptions(
            iou=iou if iou is not None else 0.5, image_key=image_key, allow_empty=allow_empty,
            tolerance=tolerance if tolerance is not None else 0.75,
            class_iou=per_class_iou, class_tolerance=per_class_tolerance,
            density_bounds=bounds, bias_margin=bias_margin, min_matched=min_matched,
            duplicate_iou=duplicate_iou, min_box_size=min_box_size, top_images=top_images,
        )
        return _audit(request, options)

    run_guarded(prepare_and_run, debug)


def parse_class_values(items: list[str], option: str) -> dict[str, float]:
    """Parse repeated ``CLASS=VALUE`` options (the class name may itself contain ``=``).

    >>> parse_class_values(["car=0.6", "traffic light=0.8"], "--class-iou")
    {'car': 0.6, 'traffic light': 0.8}
    """
    values: dict[str, float] = {}
    for item in items:
        name, sep, number = item.rpartition("=")
        try:
            values[name.strip()] = float(number)
        except ValueError:
            name = ""
        if not sep or not name.strip():
            raise ValueError(f"{option}: expected CLASS=VALUE, got {item!r}")
    return values


@dataclass(frozen=True)
class AuditRequest:
    """What the audit command was asked to read, and where its output goes."""

    batch_paths: list[Path]
    golden_path: Path
    batch_format: Format
    golden_format: Format
    sizes: Path | None
    images: Path | None
    class_map: Path | None
    scenes: Path | None
    scene_field: str
    annotator_field: str
    out: Path | None
    quiet: bool
    sections: tuple[Section, ...]
    iou: float | None
    tolerance: float | None
    policy: Path | None
    confidence: float
    decision: Decision
    fail_on_warning: bool
    exit_zero: bool
    reports: list[tuple[ReportFormat, str | None]]
    profile: bool = False


def _audit(request: AuditRequest, options: AuditOptions) -> int:
    from contextlib import ExitStack

    from bbqa import io
    from bbqa.align import read_class_map, rename_categories
    from bbqa.auditing import audit, input_bytes, load_pair
    from bbqa.background import Task
    from bbqa.inputs import describe_inputs
    from bbqa.progress import Stages
    from bbqa.scenes import apply_scenes, read_scene_map

    mapping = read_class_map(request.class_map) if request.class_map is not None else {}
    policy = None
    if request.policy is not None:
        from bbqa.policy import load_policy

        policy = load_policy(request.policy)
    scene_map = read_scene_map(request.scenes) if request.scenes is not None else {}
    load = partial(io.load, sizes=request.sizes, images=request.images,
                   scene_field=request.scene_field, annotator_field=request.annotator_field)
    inputs = [request.golden_path, *request.batch_paths]
    size = input_bytes(inputs)
    # Every audit, small ones too (a 5,000-image audit peaks 20 to 30 MB lower); here, after the
    # imports and before the loaders' threads: made first thing in the process, the same
    # settings cost 0.1 to 0.2 s of CPU time at 850,000 boxes.
    from bbqa.memory import tune_allocator

    tune_allocator()
    with Stages(enabled=not request.quiet, profile=request.profile) as stage:
        stage("loading")
        golden, batch = load_pair(
            partial(load, request.golden_path, request.golden_format),
            [partial(load, p, request.batch_format) for p in request.batch_paths],
            inputs, size,
        )
        golden = apply_scenes(golden, scene_map)
        batch = rename_categories(batch, mapping)
        if policy is not None:
            options = apply_policy(policy, options, request, golden, batch)
        with ExitStack() as stack:
            outputs = None
            if request.out is not None:
                from bbqa.report.files import StagedOutputs, start_audit_files, start_row_files

                outputs = stack.enter_context(StagedOutputs(request.out))
            # Fingerprinting reads every input again (half a second at a million boxes);
            # hashlib releases the GIL, so it runs on the other core while the audit computes.
            fingerprints = Task(partial(describe_inputs, request.golden_path,
                                        request.batch_paths))
            # boxes.parquet and the corrections, the biggest files, are written while the
            # summaries are computed.
            result = audit(golden, batch, options, on_stage=stage,
                           on_matched=partial(start_row_files, outputs) if outputs is not None
                           else None)
            result.summary["inputs"] = fingerprints.result()
            gate = None
            if policy is not None:
                from bbqa.gate import evaluate

                stage("gate")
                gate = evaluate(result, policy, confidence=request.confidence,
                                decision=request.decision,
                                fail_on_warning=request.fail_on_warning)
                result.summary["gate"] = gate.to_json()
            if outputs is not None:
                stage("writing")
                start_audit_files(outputs, result)
                outputs.commit()
    emit_reports(request.reports, result.summary, gate)
    if not request.quiet:
        from bbqa.report.terminal import render, render_gate

        console = _console(soft_wrap=False, width=_width(), stderr=bool(request.reports))
        render(result, console, request.sections)
        if gate is not None:
            render_gate(gate, console)
    if gate is not None and not gate.success:
        return EXIT_OK if request.exit_zero else EXIT_FAIL
    return EXIT_OK


def apply_policy(policy: "Policy", options: AuditOptions, request: AuditRequest,
                 golden: Dataset, batch: Dataset) -> AuditOptions:
    """Matching settings from the policy, under the command line's; names checked first."""
    from bbqa.metrics.rows import SIZE_LABELS, density_labels
    from bbqa.policy import check_names

    classes = set(golden.categories) | set(batch.categories)
    scenes = {s for s in golden.images.scene.tolist() if s}
    check_names(policy, classes, {"density": density_labels(options.density_bounds),
                                  "size": SIZE_LABELS, "scene": scenes})
    per_class = {
        key: {name: values[key] for name, values in policy.classes.items() if key in values}
        for key in ("match_iou", "tolerance")
    }
    iou = request.iou if request.iou is not None else policy.defaults.get("match_iou", 0.5)
    tolerance = (request.tolerance if request.tolerance is not None
                 else policy.defaults.get("tolerance", 0.75))
    # A command-line --iou / --tolerance overrides the whole file, per-class entries included;
    # --class-iou / --class-tolerance still override per class.
    class_iou = {} if request.iou is not None else per_class["match_iou"]
    class_tolerance = {} if request.tolerance is not None else per_class["tolerance"]
    return replace(options, iou=iou, tolerance=tolerance,
                   class_iou={**class_iou, **options.class_iou},
                   class_tolerance={**class_tolerance, **options.class_tolerance})


def emit_reports(reports: list[tuple[ReportFormat, str | None]], summary: dict[str, Any],
                 gate: "GateResult | None") -> None:
    """Write each ``--report``: to stdout without a path, else atomically to the file."""
    from bbqa.report.ci import RENDERERS
    from bbqa.report.files import write_atomically

    for fmt, path in reports:
        text = RENDERERS[fmt](summary, gate)
        if path is None:
            sys.stdout.write(text)
            continue
        target = Path(path)
        write_atomically(target.parent if str(target.parent) else Path("."),
                         {target.name: partial(_write_text, text)})


def _write_text(text: str, path: Path) -> None:
    path.write_text(text, encoding="utf-8")


@app.command()
def validate(
    batch: BatchArg,
    batch_format: BatchFormatOption = Format.AUTO,
    sizes: SizesOption = None,
    images: ImagesOption = None,
    classes: Annotated[Path | None, typer.Option(
        help="Expected class names: one per line, or a JSON list.")] = None,
    policy: Annotated[Path | None, typer.Option(
        help="Take the expected classes from a policy's [classes] tables.")] = None,
    annotator_field: AnnotatorFieldOption = "annotator",
    duplicate_iou: DuplicateIouOption = 0.9,
    min_box_size: MinBoxSizeOption = 4.0,
    fail_on: FailOnOption = FailOn.ERROR,
    exit_zero: ExitZeroOption = False,
    report: ReportOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Lint a delivery without a golden set: schema errors, hygiene, unexpected classes."""

    def run() -> int:
        from bbqa import io
        from bbqa.dataset import merge
        from bbqa.inputs import describe_input
        from bbqa.policy import load_policy
        from bbqa.report.terminal import render_validation
        from bbqa.validate import read_class_list
        from bbqa.validate import validate as run_validation

        try:
            reports = [parse_report(spec) for spec in report or []]
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        expected: list[str] | None = None
        if classes is not None:
            expected = read_class_list(classes)
        elif policy is not None:
            expected = sorted(load_policy(policy).class_names())
        load = partial(io.load, format=batch_format, sizes=sizes, images=images,
                       annotator_field=annotator_field)
        datasets = []
        for path in batch:
            try:
                datasets.append(load(path))
            except InputError as exc:
                raise exc.with_role("batch") from exc
        gate, summary, found = run_validation(
            merge(datasets), expected, duplicate_iou=duplicate_iou, min_box_size=min_box_size,
            fail_on_warning=fail_on is FailOn.WARNING)
        summary["inputs"] = {"batch": [describe_input(p) for p in batch]}
        emit_reports(reports, summary, gate)
        if not quiet:
            console = _console(soft_wrap=False, width=_width(), stderr=bool(reports))
            render_validation(summary, gate, found, console)
        if not gate.success:
            return EXIT_OK if exit_zero else EXIT_FAIL
        return EXIT_OK

    run_guarded(run, debug)


InputsArg = Annotated[list[Path], typer.Argument(
    help="One dataset whose boxes or images carry an annotator, or one file per annotator.",
    show_default=False)]


def _load_annotators(inputs: list[Path], input_format: Format, sizes: Path | None,
                     images: Path | None, annotator_field: str, names: str | None
                     ) -> tuple[Dataset, list[str]]:
    """Load every input; an image entry without an annotator takes its file's name."""
    from bbqa import io
    from bbqa.dataset import merge

    labels = [n.strip() for n in names.split(",")] if names else [p.stem for p in inputs]
    if len(labels) != len(inputs):
        raise UsageError(f"--names gives {len(labels)} names for {len(inputs)} inputs")
    datasets = []
    for path in inputs:
        try:
            datasets.append(io.load(path, input_format, sizes=sizes, images=images,
                                    annotator_field=annotator_field))
        except InputError as exc:
            raise exc.with_role("input") from exc
    file_names = [label for label, ds in zip(labels, datasets, strict=True)
                  for _ in range(len(ds.images))]
    return merge(datasets), file_names


def _thresholds(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or not all(0 < v <= 1 for v in values):
        raise UsageError(f"--iou: expected thresholds in (0, 1] like 0.5,0.75, got {text!r}")
    return values


@app.command()
def agree(
    inputs: InputsArg,
    iou: Annotated[str, typer.Option(help="IoU threshold(s), comma-separated; alpha is "
                                          "reported for each, pairwise figures at the "
                                          "first.")] = "0.5",
    input_format: InputFormatOption = Format.AUTO,
    names: NamesOption = None,
    annotator_field: AnnotatorFieldOption = "annotator",
    sizes: SizesOption = None,
    images: ImagesOption = None,
    bootstrap: Annotated[int, typer.Option(
        help="Bootstrap draws over pictures for the 95% intervals.", min=0)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    min_agreement: Annotated[float | None, typer.Option(
        help="Classes whose alpha is below this are flagged for guideline revision "
             "[default: the policy's min_agreement, else 0.70].", min=0.0, max=1.0,
        show_default=False)] = None,
    policy: Annotated[Path | None, typer.Option(
        help="Policy file: its min_agreement becomes a gate (exit 1 when a class is "
             "below).")] = None,
    density_bins: Annotated[str, typer.Option(
        help="Upper bounds of the density buckets (mean boxes per annotator).")] = "5,15,40",
    out: Annotated[Path | None, typer.Option(
        help="Folder for pairs.parquet, agreement.parquet, annotator_matrix.parquet and "
             "summary.json.")] = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Inter-annotator agreement: Krippendorff's alpha and pairwise F1/IoU by class."""

    def run() -> int:
        from bbqa.agreement.measures import agree as measure
        from bbqa.agreement.pictures import group_pictures
        from bbqa.metrics.rows import parse_density_bins
        from bbqa.policy import load_policy
        from bbqa.report.agreement import render_agreement, write_agreement

        thresholds = _thresholds(iou)
        try:
            bounds = parse_density_bins(density_bins)
        except ValueError as exc:
            raise UsageError(f"--density-bins: {exc}") from exc
        gate_policy = load_policy(policy) if policy is not None else None
        threshold = min_agreement
        if threshold is None:
            threshold = (gate_policy.other.get("min_agreement", 0.70) if gate_policy
                         else 0.70)
        dataset, file_names = _load_annotators(inputs, input_format, sizes, images,
                                               annotator_field, names)
        pictures = group_pictures(dataset, file_names)
        result = measure(dataset, pictures, thresholds=thresholds, bootstrap=bootstrap,
                         seed=seed, min_agreement=threshold, density_bounds=bounds)
        if out is not None:
            write_agreement(result, out)
        if not quiet:
            render_agreement(result, _console(soft_wrap=False, width=_width()))
        if gate_policy is not None and result.flagged:
            return EXIT_FAIL
        return EXIT_OK

    run_guarded(run, debug)


@app.command()
def consensus(
    inputs: InputsArg,
    out: Annotated[Path, typer.Option(help="The consensus COCO file to write.",
                                      show_default=False)],
    iou: Annotated[float, typer.Option(help="IoU threshold for clustering boxes.",
                                       min=0.0, max=1.0)] = 0.5,
    quorum: Annotated[int | None, typer.Option(
        help="Annotators that must agree for a box to be kept [default: a majority of the "
             "picture's annotators].", min=1, show_default=False)] = None,
    input_format: InputFormatOption = Format.AUTO,
    names: NamesOption = None,
    annotator_field: AnnotatorFieldOption = "annotator",
    sizes: SizesOption = None,
    images: ImagesOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Merge several annotators into a consensus set (COCO, with support and sources)."""

    def run() -> int:
        import json

        from bbqa.agreement.consensus import consensus as merge_annotators
        from bbqa.agreement.pictures import group_pictures
        from bbqa.report.files import write_atomically

        dataset, file_names = _load_annotators(inputs, input_format, sizes, images,
                                               annotator_field, names)
        pictures = group_pictures(dataset, file_names)
        document = merge_annotators(dataset, pictures, iou=iou, quorum=quorum)
        text = json.dumps(document, indent=1) + "\n"
        write_atomically(out.parent if str(out.parent) else Path("."),
                         {out.name: partial(_write_text, text)})
        if not quiet:
            kept = len(document["annotations"])
            _console(stderr=True, soft_wrap=True).print(f"bbqa consensus: {kept} boxes on "
                                       f"{len(document['images'])} pictures written to {out}")
        return EXIT_OK

    run_guarded(run, debug)


@app.command()
def convert(
    source: Annotated[Path, typer.Argument(help="The annotations to convert.",
                                           show_default=False)],
    to: Annotated[WriteFormat, typer.Option(help="The format to write.",
                                            show_default=False)],
    out: Annotated[Path, typer.Option(help="COCO: the .json file; YOLO and VOC: a new "
                                           "folder.", show_default=False)],
    source_format: Annotated[Format, typer.Option("--format", "-f",
                                                  help="Format of the source.")] = Format.AUTO,
    sizes: SizesOption = None,
    images: ImagesOption = None,
    annotator_field: AnnotatorFieldOption = "annotator",
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Convert annotations between COCO, YOLO and Pascal VOC, each in its own convention."""

    def run() -> int:
        from bbqa import io
        from bbqa.io.writers import WRITERS

        dataset = io.load(source, source_format, sizes=sizes, images=images,
                          annotator_field=annotator_field)
        errors = [p for p in dataset.problems if p.level.value == "error"]
        dropped = WRITERS[to](dataset, out)
        if not quiet:
            console = _console(stderr=True, highlight=False, soft_wrap=True)
            console.print(f"bbqa convert: {len(dataset.boxes) - dropped} boxes on "
                          f"{len(dataset.images)} images written to {out} ({to.value})")
            if dropped:
                console.print(f"  {dropped} crowd/ignore regions have no {to.value} form and "
                              "were left out")
            for problem in dataset.problems[:10]:
                console.print(f"  {problem.level.value}: {problem.location}: "
                              f"{problem.message}", markup=False)
            if errors:
                console.print(f"  {len(errors)} source problems: those boxes are not in the "
                              "output")
        return EXIT_OK

    run_guarded(run, debug)


policy_app = typer.Typer(help="Write and check delivery policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("init")
def policy_init(
    pilot: Annotated[Path, typer.Option("--from", help="A pilot's audit folder (from "
                                                       "`bbqa audit --out`).",
                                        show_default=False)],
    out: Annotated[Path | None, typer.Option(
        help="Write the policy here instead of stdout (atomically).")] = None,
    debug: DebugOption = False,
) -> None:
    """Write a commented starter policy from a pilot batch's measured per-class figures."""

    def run() -> int:
        from bbqa.policy import parse_policy
        from bbqa.policy_init import starter_policy
        from bbqa.report.files import write_atomically

        text = starter_policy(pilot)
        parse_policy(text, "(generated)")  # what we write must load
        if out is None:
            sys.stdout.write(text)
        else:
            write_atomically(out.parent if str(out.parent) else Path("."),
                             {out.name: partial(_write_text, text)})
        return EXIT_OK

    run_guarded(run, debug)


def _console(**options: Any) -> Any:
    """A Rich console; Rich is imported here, so a quiet run never loads it (20 ms).

    Without markup: every text printed comes from the inputs in the end (class names, file
    names, annotators), and "[/]" in one must be shown, not read as a style (it raised).
    """
    from rich.console import Console

    return Console(markup=False, **options)


def _width() -> int | None:
    # A pipe or file gets the full table rather than Rich's 80-column fallback.
    return None if sys.stdout.isatty() else 200


def main() -> None:
    """Entry point of the ``bbqa`` console script.

    Once the command has finished and its output is flushed, the process ends at once
    (``os._exit``): tearing down numpy, Arrow and the interpreter's objects changes nothing
    a user sees and took 45 ms of a half-second audit. Everything written is closed by then:
    outputs are renamed into place and worker threads and processes are joined.
    """
    try:
        app()
        code: int = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # sys.exit("message") prints the message and fails
            print(exc.code, file=sys.stderr)
            code = 1
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe or stream: nothing more can be shown.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
