"""Small side files (class lists and maps, size manifests, class names) read as text or JSON,
with errors that name the file, and the line where JSON is broken.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "names.json"
    >>> _ = path.write_text('["car", "bus"]')
    >>> parse_json(read_text(path, "class list"), path)
    ['car', 'bus']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bbqa.errors import InputError, reason
from bbqa.io.json_text import describe_lone_surrogate, lone_surrogate


def read_text(path: Path, what: str) -> str:
    """The file's text (UTF-8, a leading byte-order mark dropped); ``what`` names it in errors."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what}: {reason(exc)}", path=path) from exc


def parse_json(text: str, path: Path) -> Any:
    """``text`` (read from ``path``) as JSON; invalid JSON is an error naming the line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    if "\\u" in text:
        raw = text.encode("utf-8")
        lone = lone_surrogate(raw)
        if lone is not None:
            before = raw[:lone].decode("utf-8")
            column = len(before) - (before.rfind("\n") + 1) + 1  # in characters
            raise InputError(f"invalid JSON at column {column}: "
                             f"{describe_lone_surrogate(raw, lone)}", path=path,
                             line=before.count("\n") + 1)
    return value

