"""The ``bbqa`` command: thin Typer commands that call the library and map errors to exit codes.

Exit codes (README, "Exit codes"): 0 evaluated; 1 the batch cannot be read at all; 2 usage
error, golden set unreadable or invalid, no image in common, I/O error; 3 internal error.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from bbqa import __version__
from bbqa.align import ImageKey
from bbqa.audit import AuditOptions
from bbqa.errors import BbqaError, InputError
from bbqa.io import Format
from bbqa.report.terminal import DEFAULT_SECTIONS, Section

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

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
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"bbqa: error: {message}",
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


@app.command()
def audit(
    batch: BatchArg,
    golden: Annotated[Path, typer.Option("--golden", "-g", help="The golden set.",
                                         show_default=False)],
    iou: Annotated[float, typer.Option(help="IoU threshold for a match (pass 1 and 2).",
                                       min=0.0, max=1.0)] = 0.5,
    batch_format: Annotated[Format, typer.Option("--format", "-f",
                                                 help="Format of the batch.")] = Format.AUTO,
    golden_format: Annotated[Format, typer.Option("--golden-format",
                                                  help="Format of the golden set.")] = Format.AUTO,
    sizes: Annotated[Path | None, typer.Option(
        help="Image-size manifest (CSV file,width,height or JSON records) for YOLO or VOC "
             "inputs without sizes.")] = None,
    images: Annotated[Path | None, typer.Option(
        help="Image folder to read sizes from (headers only) for YOLO or VOC inputs.")] = None,
    image_key: Annotated[ImageKey, typer.Option(
        help="How images are joined: file name, stem, image id, or auto.")] = ImageKey.AUTO,
    class_map: Annotated[Path | None, typer.Option(
        help="CSV (old,new) or JSON {old: new} renaming batch classes to golden names.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for boxes.parquet, classes.parquet and summary.json.")] = None,
    tolerance: Annotated[float, typer.Option(
        help="A matched pair with IoU below this is 'loose' (a defect).", min=0.0,
        max=1.0)] = 0.75,
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
    annotator_field: Annotated[str, typer.Option(
        help="COCO image/annotation key holding the annotator.")] = "annotator",
    bias_margin: Annotated[float, typer.Option(
        help="Looseness or shift (share of box size per edge) below which an annotator is "
             "'consistent'.", min=0.0)] = 0.02,
    min_matched: Annotated[int, typer.Option(
        help="Matched pairs an annotator needs for a verdict.", min=1)] = 30,
    duplicate_iou: Annotated[float, typer.Option(
        help="Same-class boxes of one annotator on one image at this IoU or more are "
             "duplicates.", min=0.0, max=1.0)] = 0.9,
    min_box_size: Annotated[float, typer.Option(
        help="Boxes with a shorter side below this many pixels are 'too small'.",
        min=0.0)] = 4.0,
    top_images: Annotated[int, typer.Option(
        help="How many images with the most defects to list.", min=0)] = 10,
    show: Annotated[list[Section] | None, typer.Option(
        help="Report sections to print (repeatable); default: summary, classes, breakdowns, "
             "annotators, attributes, hygiene, findings.")] = None,
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="Exit 0 even when golden and batch share no image.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No report, no progress.")] = False,
    debug: Annotated[bool, typer.Option("--debug",
                                        help="Show tracebacks of internal errors.")] = False,
) -> None:
    """Audit a labeled batch against a golden set: per-class IoU and outcome tables."""
    from bbqa.metrics.rows import parse_density_bins

    if iou <= 0:
        _fail("--iou must be greater than 0", EXIT_USAGE)
    try:
        bounds = parse_density_bins(density_bins)
        per_class_iou = parse_class_values(class_iou or [], "--class-iou")
        per_class_tolerance = parse_class_values(class_tolerance or [], "--class-tolerance")
    except ValueError as exc:
        _fail(str(exc) if str(exc).startswith("--") else f"--density-bins: {exc}", EXIT_USAGE)
    request = AuditRequest(
        batch_paths=batch, golden_path=golden, batch_format=batch_format,
        golden_format=golden_format, sizes=sizes, images=images, class_map=class_map,
        scenes=scenes, scene_field=scene_field, annotator_field=annotator_field, out=out,
        quiet=quiet, sections=tuple(show) if show else DEFAULT_SECTIONS,
    )
    options = AuditOptions(
        iou=iou, image_key=image_key, allow_empty=allow_empty, tolerance=tolerance,
        class_iou=per_class_iou, class_tolerance=per_class_tolerance,
        density_bounds=bounds, bias_margin=bias_margin, min_matched=min_matched,
        duplicate_iou=duplicate_iou, min_box_size=min_box_size, top_images=top_images,
    )
    run_guarded(partial(_audit, request, options), debug)


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


def _audit(request: AuditRequest, options: AuditOptions) -> int:
    from bbqa import io
    from bbqa.align import read_class_map, rename_categories
    from bbqa.audit import audit, load_pair
    from bbqa.inputs import describe_inputs
    from bbqa.progress import Stages
    from bbqa.scenes import apply_scenes, read_scene_map

    mapping = read_class_map(request.class_map) if request.class_map is not None else {}
    scene_map = read_scene_map(request.scenes) if request.scenes is not None else {}
    load = partial(io.load, sizes=request.sizes, images=request.images,
                   scene_field=request.scene_field, annotator_field=request.annotator_field)
    with Stages(enabled=not request.quiet) as stage:
        stage("loading")
        golden, batch = load_pair(
            partial(load, request.golden_path, request.golden_format),
            [partial(load, p, request.batch_format) for p in request.batch_paths],
        )
        golden = apply_scenes(golden, scene_map)
        batch = rename_categories(batch, mapping)
        result = audit(golden, batch, options, on_stage=stage)
        result.summary["inputs"] = describe_inputs(request.golden_path, request.batch_paths)
        if request.out is not None:
            stage("writing")
            from bbqa.report.files import write_audit

            write_audit(result, request.out)
    if not request.quiet:
        from bbqa.report.terminal import render

        render(result, Console(soft_wrap=False, width=_width()), request.sections)
    return EXIT_OK


def _width() -> int | None:
    # A pipe or file gets the full table rather than Rich's 80-column fallback.
    return None if sys.stdout.isatty() else 200


def main() -> None:
    """Entry point of the ``bbqa`` console script."""
    app()
