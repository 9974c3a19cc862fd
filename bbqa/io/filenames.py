"""File-name helpers for loaders that go through thousands of files: string operations that
give what pathlib gives, without a Path object per file.

Example:
    >>> stem("frame_01.xml"), stem("archive.tar.gz"), stem(".hidden"), stem("a.")
    ('frame_01', 'archive.tar', '.hidden', 'a.')
"""

from __future__ import annotations


def stem(name: str) -> str:
    """A file name without its last suffix, as ``PurePath(name).stem`` has it."""
    if name == ".":  # pathlib reads "." as the empty path
        return ""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name
