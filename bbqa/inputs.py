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
from collections.abc import Sequence
from pathlib import Path

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
        digest.update(f"{file.relative_to(path).as_posix()}\0{_file_digest(file)}\n".encode())
    return digest.hexdigest()


def describe_inputs(golden: Path, batches: Sequence[Path]) -> dict[str, object]:
    """Paths and sha256 fingerprints of the golden set and every batch input."""
    return {
        "golden": {"path": str(golden), "sha256": sha256_of(golden)},
        "batch": [{"path": str(p), "sha256": sha256_of(p)} for p in batches],
    }
