"""Pascal VOC XML: one file per image, ``<object>`` entries with a ``<bndbox>``.

VOC coordinates are 1-based inclusive pixel indices (the VOC devkit), so ``x1 = xmin - 1`` and
``x2 = xmax`` in bbqa's continuous pixel-edge coordinates. ``difficult``, ``truncated`` and
``occluded`` become attributes (``true``/``false``). Files are parsed with defusedxml, which
refuses entity expansion.

Example:
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.xml").write_text(
    ...     "<annotation><filename>a.jpg</filename><size><width>50</width><height>40</height>"
    ...     "</size><object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax>"
    ...     "<ymax>20</ymax></bndbox></object></annotation>")
    >>> ds = load(folder)
    >>> ds.boxes.x1.tolist(), ds.boxes.x2.tolist(), ds.boxes.source_id.tolist()[0][-2:]
    ([0.0], [10.0], '#0')
"""

from __future__ import annotations

import math
import os
import re
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from bbqa import progress
from bbqa.dataset import Boxes, Dataset, Images, Level, Problem, encode_attribute
from bbqa.errors import InputError
from bbqa.io.checks import check_geometry, repoint
from bbqa.io.collector import paused
from bbqa.io.sizes import index_images, read_header_size

FLAG_ATTRIBUTES = ("difficult", "truncated", "occluded")
_OBJECT_TAG = re.compile(rb"<object[\s>]")


def _object_lines(raw: bytes) -> list[int]:
    """Line number of each ``<object>`` start tag, to point messages at the right place."""
    return [raw.count(b"\n", 0, m.start()) + 1 for m in _OBJECT_TAG.finditer(raw)]


@lru_cache(maxsize=64)
def _file_object_lines(path: str, _version: tuple[int, int]) -> list[int]:
    try:
        return _object_lines(Path(path).read_bytes())
    except OSError:
        return []


def object_location(path: Path | str, index: int) -> str:
    """``file:line`` of the ``index``-th object, found only when a message needs it."""
    try:
        stat = Path(path).stat()
        version = (stat.st_mtime_ns, stat.st_size)  # a rewritten file is scanned again
    except OSError:
        version = (0, 0)
    lines = _file_object_lines(str(path), version)
    return f"{path}:{lines[index]}" if index < len(lines) else f"{path} object {index}"


def _flag(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return "true"
    if value in ("0", "false", "no"):
        return "false"
    return value


def _file_key(file_name: str) -> str:
    """The file name without any POSIX or Windows folder (or drive)."""
    posix_name = file_name.rsplit("/", 1)[-1]
    name = posix_name.rsplit("\\", 1)[-1]
    # Drives, UNC shares and odd shapes take the exact, slower way.
    if ":" in posix_name or posix_name.startswith("\\\\") or name in ("", ".", ".."):
        return PureWindowsPath(PurePosixPath(file_name).name).name
    return name


def _flags(raw: list[str | None], default: str | None) -> list[str | None]:
    """Each raw flag text as ``true``/``false`` (or itself); ``default`` where absent.

    VOC's difficult and truncated default to 0 when missing; occluded has no default.
    """
    meaning = {text: _flag(text) or default for text in set(raw)}
    return [meaning[text] for text in raw]


def _number(element: Any, tag: str) -> float | None:
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    try:
        return float(child.text.strip())
    except ValueError:
        return None


_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def _parse_xml(raw: bytes) -> Any:
    """Parse with the C parser when the file declares no DTD (so no entity can be defined
    and nothing can expand), else with defusedxml, which refuses entity expansion."""
    if _DOCTYPE.search(raw):
        from defusedxml import ElementTree as SafeTree

        return SafeTree.fromstring(raw)
    from xml.etree import ElementTree

    return ElementTree.fromstring(raw)


def _parse(path: Path, images_by_stem: dict[str, Path]) -> tuple[dict[str, Any], list[Problem]]:
    from xml.etree import ElementTree

    from defusedxml.common import DefusedXmlException

    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    try:
        root = _parse_xml(raw)
    except ElementTree.ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise InputError(f"malformed XML (column {column}): {exc}", path=path,
                         line=line) from exc
    except DefusedXmlException as exc:
        raise InputError(f"refused unsafe XML: {exc}", path=path) from exc
    if root.tag != "annotation":
        raise InputError(f"expected a VOC <annotation> root element, got <{root.tag}>", path=path,
                         line=1)
    problems: list[Problem] = []
    file_name = (root.findtext("filename") or "").strip()
    key = _file_key(file_name) if file_name else path.stem
    width = _number(root, "size/width")
    height = _number(root, "size/height")
    if not (width and height and 0 < width < math.inf and 0 < height < math.inf):
        image = images_by_stem.get(PurePosixPath(key).stem)
        if image is None:
            raise InputError("missing or invalid <size> (width, height) and no image to read it "
                             "from (give --images)", path=path)
        width, height = read_header_size(image)
    objects = []
    for index, obj in enumerate(root.iter("object")):
        name = (obj.findtext("name") or "").strip()
        box = obj.find("bndbox")
        try:
            # float() ignores surrounding whitespace itself.
            coords = [float(box.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax")]
        except (AttributeError, TypeError, ValueError):
            coords = []
        if not name or not coords:
            why = ("object has no <name>" if not name else
                   "expected <bndbox> with numeric xmin, ymin, xmax, ymax")
            problems.append(Problem(Level.ERROR, "bad_object", f"{why}; left out",
                                    object_location(path, index)))
            continue
        # Raw flag texts: read as flags once per distinct text, in load().
        objects.append((name, coords, index, obj.findtext("difficult"),
                        obj.findtext("truncated"), obj.findtext("occluded")))
    return {"key": key, "width": width, "height": height, "objects": objects}, problems


def xml_files(path: Path) -> list[Path]:
    """The VOC XML files of a folder (its ``Annotations/`` sub-folder when it has one)."""
    if path.is_file():
        return [path]
    folder = path / "Annotations" if (path / "Annotations").is_dir() else path
    # scandir knows each entry's type from the directory listing: no stat per file.
    with os.scandir(folder) as entries:
        files = [Path(e.path) for e in entries
                 if os.path.splitext(e.name)[1].lower() == ".xml" and e.is_file()]
    return sorted(files, key=lambda p: p.name)


@paused()
def load(path: Path, *, images: Path | None = None) -> Dataset:
    """Load a folder of VOC XML files (or one file) as a :class:`~bbqa.dataset.Dataset`."""
    files = xml_files(path)
    if not files:
        raise InputError("no VOC XML files (*.xml) found", path=path)
    images_by_stem = index_images(images) if images else {}
    problems: list[Problem] = []
    keys: list[str] = []
    widths: list[float] = []
    heights: list[float] = []
    sources: list[str] = []
    names: list[str] = []
    name_index: dict[str, int] = {}
    rows: list[list[float]] = []
    box_sources: list[str] = []
    box_place: list[tuple[str, int]] = []
    flags: dict[str, list[str | None]] = {f: [] for f in FLAG_ATTRIBUTES}
    step = progress.count(len(files), "files")
    for file in files:
        step(1)
        try:
            parsed, found = _parse(file, images_by_stem)
        except InputError as exc:
            if len(files) == 1:
                raise
            # One broken file in a folder costs that image, not the delivery.
            where = f"{exc.path}:{exc.line}" if exc.line else str(exc.path)
            problems.append(Problem(Level.ERROR, "unreadable_file",
                                    f"{exc.message}; the file is left out", where))
            continue
        problems += found
        image = len(keys)
        keys.append(parsed["key"])
        widths.append(parsed["width"])
        heights.append(parsed["height"])
        sources.append(str(file))
        file_name = str(file)
        for name, coords, index, difficult, truncated, occluded in parsed["objects"]:
            category = name_index.setdefault(name, len(names))
            if category == len(names):
                names.append(name)
            rows.append([image, category, *coords])
            box_sources.append(f"{file_name}#{index}")
            box_place.append((file_name, index))
            flags["difficult"].append(difficult)
            flags["truncated"].append(truncated)
            flags["occluded"].append(occluded)
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    image_index = table[:, 0].astype(np.int32)
    w_img = np.asarray(widths, dtype=np.float64)[image_index]
    h_img = np.asarray(heights, dtype=np.float64)[image_index]
    x1, y1 = table[:, 2] - 1.0, table[:, 3] - 1.0
    x2, y2 = table[:, 4], table[:, 5]
    for row in np.flatnonzero((table[:, 2] == 0) | (table[:, 3] == 0))[:50].tolist():
        problems.append(Problem(Level.WARNING, "zero_based",
                                "xmin or ymin is 0 in a 1-based format (probably a 0-based "
                                "export); read as VOC, the box starts at -1",
                                object_location(*box_place[row])))
    keep, valid, geo = check_geometry(x1, y1, x2, y2, w_img, h_img,
                                      lambda i: object_location(*box_place[i]))
    problems += repoint(geo, keep)
    kept_rows = np.flatnonzero(keep).tolist()
    read = {flag: _flags(values, None if flag == "occluded" else "false")
            for flag, values in flags.items()}
    attributes = {
        flag: encode_attribute([values[i] for i in kept_rows])
        for flag, values in read.items() if any(v is not None for v in values)
    }
    sources_array = np.asarray(box_sources, dtype=np.str_)
    boxes = Boxes.build(
        image=image_index[keep], category=table[keep, 1].astype(np.int32),
        x1=x1[keep], y1=y1[keep], x2=x2[keep], y2=y2[keep],
        source_id=sources_array[keep] if len(sources_array) else sources_array,
        valid=valid[keep], attributes=attributes,
    )
    return Dataset.build(
        images=Images.build(keys, widths, heights, source_ids=sources),
        categories=names,
        boxes=boxes,
        problems=problems,
        path=str(path),
        format="voc",
    )
