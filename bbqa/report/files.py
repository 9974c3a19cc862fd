"""Write the audit's files into ``--out``, atomically: all of them, or none and a clear error.

Each file is written to a temporary name in the output folder and renamed into place once every
file is complete, so an interrupted or failed run never leaves a half-written Parquet file.

Example:
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> write_atomically(out, {"note.txt": lambda p: p.write_text("hi")})
    [PosixPath('.../note.txt')]
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from bbqa.background import Task, Workers
from bbqa.errors import BbqaError
from bbqa.report.ci import strict_json

Writer = Callable[[Path], Any]

# Columns whose values are (nearly) all different: written without dictionary encoding.
MOSTLY_DISTINCT = frozenset({"golden_id", "batch_id", "golden_box", "batch_box", "action"})


class OutputError(BbqaError):
    """An output file could not be written (I/O)."""


# Numbers for temporary names, unique within the process (the process id tells runs apart).
_TEMPORARY_NUMBERS = itertools.count()


def new_temporary_file(folder: Path, name: str) -> Path:
    """Create an empty file ``.NAME.PID.N.tmp`` in ``folder`` that did not exist before, only
    its owner may read (what ``tempfile.mkstemp`` makes, without importing ``tempfile``: it
    brings ``random``, 6 ms of a short audit). A name taken already is passed over, never
    opened: the exclusive create also refuses a symbolic link.

    >>> import pathlib, tempfile
    >>> new_temporary_file(pathlib.Path(tempfile.mkdtemp()), "boxes.parquet").name
    '.boxes.parquet....tmp'
    """
    for _ in range(10_000):
        path = folder / f".{name}.{os.getpid()}.{next(_TEMPORARY_NUMBERS)}.tmp"
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(handle)
        return path
    raise FileExistsError(f"no free temporary name for {name} in {folder}")


class StagedOutputs:
    """Files written in the background to temporary names in one folder, renamed into place
    together by :meth:`commit`; when the ``with`` block fails instead, every one is removed.

    A writer may start long before the others are known (the audit starts ``boxes.parquet`` as
    soon as its rows exist); two write at a time, since Parquet encoding releases the GIL.

    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with StagedOutputs(out) as outputs:
    ...     outputs.start("a.txt", lambda p: p.write_text("early"))
    ...     outputs.start("b.txt", lambda p: p.write_text("late"))
    ...     [p.name for p in outputs.commit()]
    ['a.txt', 'b.txt']
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._staged: list[tuple[Path, Path, Task[Any]]] = []
        self._pool: Workers | None = None
        self._created_folder = False

    def __enter__(self) -> StagedOutputs:
        return self

    def start(self, name: str, writer: Writer) -> None:
        """Begin writing ``name`` with ``writer``, which receives the temporary path."""
        if self._pool is None:
            try:
                self._created_folder = not self.folder.exists()
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot create output folder {self.folder}: "
                                  f"{exc.strerror or exc}") from exc
            self._pool = Workers(min(2, os.cpu_count() or 1))
        try:
            temp = new_temporary_file(self.folder, name)
        except OSError as exc:
            raise OutputError(f"cannot write to {self.folder}: {exc.strerror or exc}") from exc
        self._staged.append((temp, self.folder / name, self._pool.submit(partial(writer, temp))))

    def commit(self) -> list[Path]:
        """Wait for every writer, then rename all files into place; their final paths."""
        # mkstemp creates private files; outputs get the permissions any new file would get.
        umask = os.umask(0)
        os.umask(umask)
        current = self.folder  # the file being finished, named if it fails
        try:
            for _, final, future in self._staged:
                current = final
                future.result()
            for temp, final, _ in self._staged:
                current = final
                os.chmod(temp, 0o666 & ~umask)
                os.replace(temp, final)
        except OSError as exc:  # a folder may already hold the file's name, say
            raise OutputError(f"cannot write {current}: {exc.strerror or exc}") from exc
        finals = [final for _, final, _ in self._staged]
        self._staged = []
        return finals

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        for temp, _, _ in self._staged:
            temp.unlink(missing_ok=True)
        if self._staged and self._created_folder:
            with contextlib.suppress(OSError):  # only if nothing else is in it
                self.folder.rmdir()
        self._staged = []


def write_atomically(folder: Path, writers: Mapping[str, Writer]) -> list[Path]:
    """Run each writer on a temporary path in ``folder``, then rename all into place."""
    with StagedOutputs(folder) as outputs:
        for name, writer in writers.items():
            outputs.start(name, writer)
        return outputs.commit()


def summary_json(summary: Mapping[str, Any]) -> str:
    """The summary document as stable, strict JSON (a number that is not finite is ``null``),
    ending in a newline.

    >>> summary_json({"alpha": float("nan"), "ci95": [0.5, float("inf")]}).split()
    ['{', '"alpha":', 'null,', '"ci95":', '[', '0.5,', 'null', ']', '}']
    """
    return strict_json(summary)


def _once(build: Callable[[], Any]) -> Callable[[], Any]:
    """``build``, run at most once even when two writer threads ask for it together."""
    lock = threading.Lock()
    done: list[Any] = []

    def get() -> Any:
        with lock:
            if not done:
                done.append(build())
            return done[0]

    return get


def _write_parquet(build: Callable[[], Any], path: Path) -> None:
    import pyarrow as pa

    from bbqa.arrow_kernels import write_parquet

    table = build()
    # Dictionary pages pay off for repeated values (classes, outcomes, image names), not for
    # ids, box texts and measurements, which are nearly all distinct: encoding those as
    # dictionaries first costs a quarter of the biggest file's time.
    repeated = [field.name for field in table.schema if field.name not in MOSTLY_DISTINCT
                and not pa.types.is_floating(field.type)]
    # Columns built as dictionary arrays are written as the text columns they stand for: the
    # Arrow schema, which would tell readers to decode them as dictionaries, is left out of the
    # file (every other type here is one Parquet itself records).
    coded = [field.name for field in table.schema if pa.types.is_dictionary(field.type)]
    # They are the columns of a few names (classes, outcomes, buckets, attributes), whose
    # min/max statistics Arrow finds through a hash of every row: a sixth of boxes.parquet's
    # encoding, for bounds that span nearly every name in any row group, so that no reader
    # could skip one by them. The other columns keep theirs.
    statistics = [name for name in table.schema.names if name not in coded] if coded else True
    write_parquet(table, path, use_dictionary=repeated, store_schema=not coded,
                  statistics=statistics)


def start_row_files(outputs: StagedOutputs, matched: Any) -> None:
    """Start ``boxes.parquet``, one row per box, the biggest file and the last to finish. It
    needs only the matches and the per-row context (``matched`` is an
    :class:`~bbqa.auditing.AuditResult` or the audit's early view of one), so it is written
    while the summaries are computed."""
    from bbqa import tables

    outputs.start("boxes.parquet", partial(_write_parquet, partial(tables.boxes_table, matched,
                                                                   coded=True)))


def _start_corrections(outputs: StagedOutputs, matched: Any) -> None:
    from bbqa import tables

    # The corrections table is built once for its Parquet and CSV files.
    corrections = _once(partial(tables.corrections_table, matched))
    outputs.start("corrections.parquet", partial(_write_parquet, corrections))
    outputs.start("corrections.csv", partial(_write_csv, corrections))


def _write_csv(build: Callable[[], Any], path: Path) -> None:
    import pyarrow.csv as pacsv

    pacsv.write_csv(build(), path)


def start_audit_files(outputs: StagedOutputs, result: Any) -> None:
    """Start every output file of a finished audit but the one :func:`start_row_files` wrote.

    Each table is built inside its writer's task, so building and encoding overlap on the two
    threads. The corrections come first: started with ``boxes.parquet`` they took its core
    while the summaries were computed, and it then finished alone, the other core idle.
    """
    from bbqa import tables

    _start_corrections(outputs, result)
    for name, build in {
        "classes": tables.classes_table,
        "breakdowns": tables.breakdowns_table,
        "confusion": tables.confusion_table,
        "annotators": tables.annotators_table,
        "annotator_classes": tables.annotator_classes_table,
        "attributes": tables.attributes_table,
        "hygiene": tables.hygiene_table,
        "images": tables.images_table,
    }.items():
        outputs.start(f"{name}.parquet", partial(_write_parquet, partial(build, result)))
    text = summary_json(result.summary)
    outputs.start("summary.json", lambda p: p.write_text(text, encoding="utf-8"))


def write_audit(result: Any, folder: Path) -> list[Path]:
    """Write every table of an audit as Parquet, the corrections as CSV too, and the summary."""
    with StagedOutputs(folder) as outputs:
        start_row_files(outputs, result)
        start_audit_files(outputs, result)
        return outputs.commit()
