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

import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from bbqa.errors import BbqaError

Writer = Callable[[Path], Any]

# Columns whose values are (nearly) all different: written without dictionary encoding.
MOSTLY_DISTINCT = frozenset({"golden_id", "batch_id", "golden_box", "batch_box", "action"})


class OutputError(BbqaError):
    """An output file could not be written (I/O)."""


def write_atomically(folder: Path, writers: Mapping[str, Writer]) -> list[Path]:
    """Run each writer on a temporary path in ``folder``, then rename all into place."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    staged: list[tuple[Path, Path]] = []
    # mkstemp creates private files; outputs get the permissions any new file would get.
    umask = os.umask(0)
    os.umask(umask)
    try:
        for name in writers:
            handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            os.close(handle)
            staged.append((Path(temp_name), folder / name))
        # Parquet encoding releases the GIL: two files are written at a time on two cores.
        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            done = [pool.submit(writer, temp) for writer, (temp, _) in
                    zip(writers.values(), staged, strict=True)]
            for future in done:
                future.result()
        for temp, final in staged:
            os.chmod(temp, 0o666 & ~umask)
            os.replace(temp, final)
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
    return [final for _, final in staged]


def summary_json(summary: Mapping[str, Any]) -> str:
    """The summary document as stable, strict JSON (no NaN), ending in a newline."""
    return json.dumps(summary, indent=2, allow_nan=False) + "\n"


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


def write_audit(result: Any, folder: Path) -> list[Path]:
    """Write every table of an audit as Parquet, the corrections as CSV too, and the summary.

    Each table is built inside its writer's task, so that the biggest file (``boxes``) starts
    encoding at once while the other thread builds and writes the rest.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from bbqa import tables

    builders: dict[str, Callable[[Any], Any]] = {
        "boxes": tables.boxes_table,
        "classes": tables.classes_table,
        "breakdowns": tables.breakdowns_table,
        "confusion": tables.confusion_table,
        "annotators": tables.annotators_table,
        "annotator_classes": tables.annotator_classes_table,
        "attributes": tables.attributes_table,
        "hygiene": tables.hygiene_table,
        "images": tables.images_table,
        "corrections": tables.corrections_table,
    }
    built = {name: _once(partial(build, result)) for name, build in builders.items()}

    def parquet(name: str, path: Path) -> None:
        table = built[name]()
        # Dictionary pages pay off for repeated values (classes, outcomes, image names), not
        # for ids, box texts and measurements, which are nearly all distinct: encoding those
        # as dictionaries first costs a quarter of the biggest file's time.
        repeated = [field.name for field in table.schema if field.name not in MOSTLY_DISTINCT
                    and not pa.types.is_floating(field.type)]
        pq.write_table(table, path, use_dictionary=repeated)

    # The two big tables first, one per thread; the small ones fill in behind them.
    writers: dict[str, Writer] = {
        "boxes.parquet": partial(parquet, "boxes"),
        "corrections.parquet": partial(parquet, "corrections"),
        "corrections.csv": lambda p: pacsv.write_csv(built["corrections"](), p),
    }
    writers.update({f"{name}.parquet": partial(parquet, name) for name in builders
                    if f"{name}.parquet" not in writers})
    text = summary_json(result.summary)
    writers["summary.json"] = lambda p: p.write_text(text, encoding="utf-8")
    return write_atomically(folder, writers)
