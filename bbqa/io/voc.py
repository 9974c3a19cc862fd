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
import numpy.typing as npt

from bbqa import progress
from bbqa.arrays import decimal_texts
from bbqa.dataset import Attribute, Boxes, Dataset, Images, Level, Problem
from bbqa.errors import InputError
from bbqa.io.checks import check_geometry, repoint
from bbqa.io.collector import paused
from bbqa.io.decimals import number_from_text
from bbqa.io.files import listed, read_bytes, stem
from bbqa.io.sizes import index_images, read_header_size
from bbqa.io.voc_columns import PlainVoc, code_for, read_plain

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


def _number(element: Any, tag: str) -> float | None:
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    try:
        return number_from_text(child.text.strip())
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


def _read(path: str) -> bytes:
    try:
        return read_bytes(path)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc


def _parse(raw: bytes, path: Path, images_by_stem: dict[str, Path]
           ) -> tuple[dict[str, Any], list[Problem]]:
    """One file through the element tree: any VOC file, with a problem for each bad object."""
    from xml.etree import ElementTree

    from defusedxml.common import DefusedXmlException

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
            coords = [number_from_text(box.findtext(t))
                      for t in ("xmin", "ymin", "xmax", "ymax")]
        except (AttributeError, TypeError, ValueError):
            coords = []
        if not name or not coords:
            why = ("object has no <name>" if not name else
                   "expected <bndbox> with numeric xmin, ymin, xmax, ymax")
            problems.append(Problem(Level.ERROR, "bad_object", f"{why}; left out",
                                    object_location(path, index)))
            continue
        objects.append((name, coords, index, *(obj.findtext(f) for f in FLAG_ATTRIBUTES)))
    return {"key": key, "width": width, "height": height, "objects": objects}, problems


def _xml_paths(path: Path) -> list[str]:
    """The VOC XML files of a folder (its ``Annotations/`` sub-folder when it has one), in
    name order, as path strings: thousands of Path objects cost more than reading the files."""
    if path.is_file():
        return [str(path)]
    folder = path / "Annotations" if (path / "Annotations").is_dir() else path
    return listed(folder, lambda name: os.path.splitext(name)[1].lower() == ".xml")


def xml_files(path: Path) -> list[Path]:
    """The VOC XML files of a folder (its ``Annotations/`` sub-folder when it has one)."""
    return [Path(p) for p in _xml_paths(path)]


class _TreeObjects:
    """Objects of the files the element tree read, kept as lists to join the plain files'
    columns. Its name and flag tables start as the plain files' and grow with new texts, so
    that one set of codes covers both."""

    def __init__(self, plain: PlainVoc) -> None:
        self.position: list[int] = []
        self.index: list[int] = []
        self.coords: list[list[float]] = []
        self.name_codes: list[int] = []
        self.names = list(plain.names)
        self._name_code = {name: code for code, name in enumerate(self.names)}
        self.flag_codes: dict[str, list[int]] = {flag: [] for flag in FLAG_ATTRIBUTES}
        self.flag_texts = {flag: list(plain.flag_texts[flag]) for flag in FLAG_ATTRIBUTES}
        self._flag_code = {flag: {text: code for code, text in enumerate(texts)}
                           for flag, texts in self.flag_texts.items()}

    def add(self, position: int, parsed: dict[str, Any]) -> None:
        for name, coords, index, *flags in parsed["objects"]:
            self.position.append(position)
            self.index.append(index)
            self.coords.append(coords)
            self.name_codes.append(code_for(name, self._name_code, self.names))
            for flag, text in zip(FLAG_ATTRIBUTES, flags, strict=True):
                codes = self.flag_codes[flag]
                codes.append(code_for(text, self._flag_code[flag], self.flag_texts[flag])
                             if text else -1)

    def joined(self, plain: PlainVoc) -> dict[str, Any]:
        """The plain files' objects and these as one set of columns, in file order."""
        object_file = np.concatenate([plain.object_file, np.asarray(self.position, np.int64)])
        order = np.argsort(object_file, kind="stable")  # each file is in one of the two

        def column(fast: npt.NDArray[Any], slow: list[Any], dtype: type) -> npt.NDArray[Any]:
            together = np.concatenate([fast, np.asarray(slow, dtype).reshape(-1, *fast.shape[1:])])
            return together[order]

        return {
            "file": object_file[order],
            "index": column(plain.object_index, self.index, np.int64),
            "coords": column(plain.coords, self.coords, np.float64),
            "name_codes": column(plain.name_codes, self.name_codes, np.int64),
            "flag_codes": {flag: column(plain.flag_codes[flag], self.flag_codes[flag], np.int64)
                           for flag in FLAG_ATTRIBUTES},
        }


def _by_appearance(codes: npt.NDArray[np.int64], values: list[str]
                   ) -> tuple[list[str], npt.NDArray[np.int32]]:
    """The values in order of first appearance in ``codes``, and each code's new number."""
    seen, first = np.unique(codes, return_index=True)
    ordered = seen[np.argsort(first)]
    renumber = np.empty(len(values), dtype=np.int32)
    renumber[ordered] = np.arange(len(ordered), dtype=np.int32)
    return [values[code] for code in ordered.tolist()], renumber


def _flag_attribute(codes: npt.NDArray[np.int64], texts: list[str], default: str | None,
                    keep: npt.NDArray[np.bool_]) -> Attribute | None:
    """Raw flag texts (coded; -1: no text) read as ``true``/``false`` (or themselves), with
    VOC's ``default`` where absent: difficult and truncated default to 0, occluded to none.

    ``None`` when no object has the flag; else the kept objects' values.
    """
    meaning = [_flag(text) or default for text in texts] + [default]  # code -1: the default
    values = sorted({m for m in meaning if m is not None})
    lookup = np.array([values.index(m) if m is not None else -1 for m in meaning],
                      dtype=np.int32)
    per_object = lookup[codes]
    if not (per_object >= 0).any():
        return None
    return Attribute(codes=per_object, values=tuple(values)).kept(keep)


@paused()
def load(path: Path, *, images: Path | None = None) -> Dataset:
    """Load a folder of VOC XML files (or one file) as a :class:`~bbqa.dataset.Dataset`.

    Plain files are read all at once (``bbqa.io.voc_columns``); the element tree reads the
    rest, one by one.
    """
    files = _xml_paths(path)
    if not files:
        raise InputError("no VOC XML files (*.xml) found", path=path)
    images_by_stem = index_images(images) if images else {}
    # Problems are listed in file order: (position of the file, problem).
    placed: list[tuple[int, Problem]] = []

    def unreadable(position: int, exc: InputError) -> None:
        if len(files) == 1:
            raise exc
        # One broken file in a folder costs that image, not the delivery.
        where = f"{exc.path}:{exc.line}" if exc.line else str(exc.path)
        placed.append((position, Problem(Level.ERROR, "unreadable_file",
                                         f"{exc.message}; the file is left out", where)))

    step = progress.count(len(files), "files")
    raws: list[bytes | None] = []
    for position, file in enumerate(files):
        step(1)
        try:
            raws.append(_read(file))
        except InputError as exc:
            unreadable(position, exc)
            raws.append(None)
    plain = read_plain([raw or b"" for raw in raws])
    tree_read = _TreeObjects(plain)
    keys: list[str] = []
    widths: list[float] = []
    heights: list[float] = []
    sources: list[str] = []
    image_of = np.full(len(files), -1, dtype=np.int64)
    for position, (file, raw) in enumerate(zip(files, raws, strict=True)):
        if raw is None:
            continue
        parsed: dict[str, Any]
        if plain.plain[position]:
            file_name = plain.file_names[position]
            parsed = {"key": _file_key(file_name) if file_name else stem(os.path.basename(file)),
                      "width": float(plain.widths[position]),
                      "height": float(plain.heights[position])}
        else:
            try:
                parsed, found = _parse(raw, Path(file), images_by_stem)
            except InputError as exc:
                unreadable(position, exc)
                continue
            placed += [(position, p) for p in found]
            tree_read.add(position, parsed)
        image_of[position] = len(keys)
        keys.append(parsed["key"])
        widths.append(parsed["width"])
        heights.append(parsed["height"])
        sources.append(file)
    placed.sort(key=lambda item: item[0])  # stable: within a file, in object order
    problems = [p for _, p in placed]

    objects = tree_read.joined(plain)
    object_file, index, coords = objects["file"], objects["index"], objects["coords"]
    names, category_of = _by_appearance(objects["name_codes"], tree_read.names)
    image_index = image_of[object_file].astype(np.int32)
    w_img = np.asarray(widths, dtype=np.float64)[image_index]
    h_img = np.asarray(heights, dtype=np.float64)[image_index]
    x1, y1 = coords[:, 0] - 1.0, coords[:, 1] - 1.0
    x2, y2 = coords[:, 2], coords[:, 3]

    def location(row: int) -> str:
        return object_location(files[int(object_file[row])], int(index[row]))

    for row in np.flatnonzero((coords[:, 0] == 0) | (coords[:, 1] == 0))[:50].tolist():
        problems.append(Problem(Level.WARNING, "zero_based",
                                "xmin or ymin is 0 in a 1-based format (probably a 0-based "
                                "export); read as VOC, the box starts at -1", location(row)))
    keep, valid, geo = check_geometry(x1, y1, x2, y2, w_img, h_img, location)
    problems += repoint(geo, keep)
    attributes = {}
    for flag in FLAG_ATTRIBUTES:
        default = None if flag == "occluded" else "false"
        attribute = _flag_attribute(objects["flag_codes"][flag], tree_read.flag_texts[flag],
                                    default, keep)
        if attribute is not None:
            attributes[flag] = attribute
    object_prefix = np.asarray([f"{file}#" for file in files], dtype=np.str_)
    box_sources = np.strings.add(object_prefix[object_file[keep]], decimal_texts(index[keep]))
    boxes = Boxes.build(
        image=image_index[keep], category=category_of[objects["name_codes"][keep]],
        x1=x1[keep], y1=y1[keep], x2=x2[keep], y2=y2[keep],
        source_id=box_sources, valid=valid[keep], attributes=attributes,
    )
    return Dataset.build(
        images=Images.build(keys, widths, heights, source_ids=sources),
        categories=names,
        boxes=boxes,
        problems=problems,
        path=str(path),
        format="voc",
    )
