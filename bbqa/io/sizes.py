"""Image sizes for formats that do not carry them: a manifest file, or image headers.

A manifest is a CSV with the header ``file,width,height`` or a JSON list of records with the
same keys. Image headers are read without decoding pixels, and a JPEG whose EXIF orientation
turns it on its side has its width and height swapped, as a viewer would show it.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "image_sizes.csv"
    >>> _ = path.write_text("file,width,height\\nimg/a.jpg,640,480\\n")
    >>> read_manifest(path)["a.jpg"]
    (640.0, 480.0)
"""

from __future__ import annotations

import csv
import math
from pathlib import Path, PurePosixPath

from bbqa.dataset import normalize_key
from bbqa.errors import InputError
from bbqa.io.decimals import number_from_text
from bbqa.io.sidefiles import parse_json, read_text

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".jfif"}
)
# EXIF orientations 5-8 are rotations by 90 or 270 degrees: width and height trade places.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION = 0x0112


def _size(value: object, what: str, path: Path, line: int | None) -> float:
    try:
        number = number_from_text(str(value).strip())
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise InputError(f"expected a positive {what}, got {value!r}", path=path, line=line)
    return number


def _file_name(text: str) -> str:
    """The last component of a POSIX path (what ``PurePosixPath(text).name`` gives)."""
    name = text.rsplit("/", 1)[-1]
    # Rare shapes ("dir/", ".", "..") take the exact, slower way.
    return name if name not in ("", ".", "..") else PurePosixPath(text).name


def read_manifest(path: Path) -> dict[str, tuple[float, float]]:
    """Read ``file -> (width, height)``, keyed by the file name without its folder."""
    text = read_text(path, "sizes manifest")
    sizes: dict[str, tuple[float, float]] = {}
    where: dict[str, str] = {}  # where each key was first given, for a conflict's message

    def add(key: str, size: tuple[float, float], line: int | None, pointer: str | None) -> None:
        if key in sizes and sizes[key] != size:
            raise InputError(f"{key} is given twice with different sizes ({where[key]}: "
                             f"{sizes[key][0]:g} x {sizes[key][1]:g}; here: {size[0]:g} x "
                             f"{size[1]:g})", path=path, line=line, pointer=pointer)
        sizes[key] = size
        where.setdefault(key, pointer or f"line {line}")

    if path.suffix.lower() == ".json":
        records = parse_json(text, path)
        if not isinstance(records, list):
            raise InputError('expected a JSON list of {"file", "width", "height"} records',
                             path=path)
        for number, record in enumerate(records):
            if not isinstance(record, dict) or not {"file", "width", "height"} <= record.keys():
                raise InputError('expected a record with "file", "width" and "height"',
                                 path=path, pointer=f"record {number}")
            if not isinstance(record["file"], str) or not record["file"].strip():
                raise InputError(f'expected "file" to be a file name, got {record["file"]!r}',
                                 path=path, pointer=f"record {number}")
            add(normalize_key(_file_name(record["file"])),
                (_size(record["width"], "width", path, None),
                 _size(record["height"], "height", path, None)),
                None, f"record {number}")
        return sizes
    rows = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(rows, [])]
    if header[:3] != ["file", "width", "height"]:
        raise InputError(f"expected the header 'file,width,height', got {','.join(header)!r}",
                         path=path, line=1)
    for number, row in enumerate(rows, start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 3:
            raise InputError(f"expected 3 columns (file,width,height), got {len(row)}",
                             path=path, line=number)
        add(normalize_key(_file_name(row[0].strip())),
            (_size(row[1], "width", path, number), _size(row[2], "height", path, number)),
            number, None)
    return sizes


def read_header_size(path: Path) -> tuple[float, float]:
    """Width and height of an image as displayed, from its header only (EXIF-aware)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputError(f"cannot read the image header: {exc}", path=path) from exc
    if not (width > 0 and height > 0):
        raise InputError(f"the image header gives a size of {width} x {height}", path=path)
    if orientation in _TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    return float(width), float(height)


def index_images(folder: Path) -> dict[str, Path]:
    """Image files of ``folder`` (recursively), by stem; a stem seen twice is ambiguous."""
    found: dict[str, Path] = {}
    for file in sorted(folder.rglob("*")):
        if file.suffix.lower() in IMAGE_SUFFIXES and file.is_file():
            found.setdefault(normalize_key(file.stem), file)
    return found
