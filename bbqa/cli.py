"""The ``bbqa`` command: thin Typer commands that call the library and map errors to exit codes.

Exit codes (README, "Exit codes"): 0 evaluated; 1 the batch cannot be read at all; 2 usage
error, golden set unreadable or invalid, no image in common, I/O error; 3 internal error.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from bbqa import __version__
from bbqa.align import ImageKey
from bbqa.errors import BbqaError, InputError, UsageError
from bbqa.io import Format

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
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="Exit 0 even when golden and batch share no image.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No report, no progress.")] = False,
    debug: Annotated[bool, typer.Option("--debug",
                                        help="Show tracebacks of internal errors.")] = False,
) -> None:
    """Audit a labeled batch against a golden set: per-class IoU and outcome tables."""
    run_guarded(partial(_audit, batch, golden, iou, batch_format, golden_format, sizes, images,
                        image_key, class_map, out, allow_empty, quiet), debug)


def _audit(
    batch_paths: list[Path], golden_path: Path, iou: float, batch_format: Format,
    golden_format: Format, sizes: Path | None, images: Path | None, image_key: ImageKey,
    class_map: Path | None, out: Path | None, allow_empty: bool, quiet: bool,
) -> int:
    from bbqa import io
    from bbqa.align import read_class_map, rename_categories
    from bbqa.audit import AuditOptions, audit, load_pair
    from bbqa.progress import Stages

    if iou <= 0:
        raise UsageError("--iou must be greater than 0")
    mapping = read_class_map(class_map) if class_map is not None else {}
    options = AuditOptions(iou=iou, image_key=image_key, allow_empty=allow_empty)
    with Stages(enabled=not quiet) as stage:
        stage("loading")
        golden, batch = load_pair(
            partial(io.load, golden_path, golden_format, sizes=sizes, images=images),
            [partial(io.load, p, batch_format, sizes=sizes, images=images) for p in batch_paths],
        )
        batch = rename_categories(batch, mapping)
        result = audit(golden, batch, options, on_stage=stage)
        if out is not None:
            stage("writing")
            from bbqa.report.files import write_audit

            write_audit(result, out)
    if not quiet:
        from bbqa.report.terminal import render

        render(result, Console(soft_wrap=False, width=_width()))
    return EXIT_OK


def _width() -> int | None:
    # A pipe or file gets the full table rather than Rich's 80-column fallback.
    return None if sys.stdout.isatty() else 200


def main() -> None:
    """Entry point of the ``bbqa`` console script."""
    app()
