"""Two-column mapping files (class maps, scene maps): a CSV of ``key,value`` rows with an
optional header, or a JSON object.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "map.csv"
    >>> _ = path.write_text("old,new\\ncar,vehicle\\n")
    >>> read_pairs(path, headers={"old"}, columns="old,new")
    {'car': 'vehicle'}
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from pathlib import Path

from bbqa.errors import InputError
from bbqa.io.sidefiles import parse_json, read_text


def read_pairs(path: Path, *, headers: Collection[str], columns: str) -> dict[str, str]:
    """Read ``key -> value`` pairs; a first CSV row whose key is one of ``headers`` is skipped.

    ``columns`` names the two columns in messages (for example ``old,new``).
    """
    text = read_text(path, "file")
    if path.suffix.lower() == ".json":
        data = parse_json(text, path)
        if not isinstance(data, dict) or not all(isinstance(v, str | int | float)
                                                 for v in data.values()):
            raise InputError(f"expected a JSON object of {columns.replace(',', ' -> ')} "
                             "names", path=path)
        return {str(k): str(v) for k, v in data.items()}
    pairs: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise InputError(f"expected 2 columns ({columns}), got {len(row)}", path=path,
                             line=number)
        key, value = row[0].strip(), row[1].strip()
        if number == 1 and key.lower() in headers:
            continue
        if key in pairs and pairs[key] != value:  # the last would win without a word
            raise InputError(f"{key!r} is given twice: {pairs[key]!r} on line "
                             f"{first_line[key]}, {value!r} here", path=path, line=number)
        pairs[key] = value
        first_line.setdefault(key, number)
    return pairs
