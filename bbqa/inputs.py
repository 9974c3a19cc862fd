"""Fingerprints of the input files, so a report names the exact versions it measured.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> _ = path.write_text("{}")
    >>> sha256_of(path)[:12]
    '44136fa355b3'
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from bbqa.dataset import printable

_CHUNK = 1 << 20


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """sha256 of a file; for a folder, of its files' relative paths and digests, sorted."""
    if path.is_file():
        return _file_digest(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        # The name's bytes as the file system has them: a name that is not UTF-8 has no text.
        name = os.fsencode(file.relative_to(path).as_posix())
        digest.update(name + b"\0" + _file_digest(file).encode() + b"\n")
    return digest.hexdigest()


def describe_inputs(golden: Path, batches: Sequence[Path]) -> dict[str, object]:
    """Paths and sha256 fingerprints of the golden set and every batch input."""
    return {
        "golden": describe_input(golden),
        "batch": [describe_input(p) for p in batches],
    }


def describe_input(path: Path) -> dict[str, str]:
    """The path as it is shown (bytes that are not UTF-8 written ``\\xNN``) and its sha256."""
    return {"path": printable(str(path)), "sha256": sha256_of(path)}
