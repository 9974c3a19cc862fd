"""A COCO file's fields as columns: what the loader builds a dataset from.

Two readers fill these columns. The typed msgspec decode (``bbqa.io.coco``) makes one small
object per annotation and copies its fields out; it handles every file and explains every
malformed one. For big files, :func:`read_with_arrow` first tries Arrow's JSON reader, which
parses the document straight into typed columns with no Python object per annotation. It takes
only files the strict decode would accept unchanged and returns ``None`` for anything else
(a type it does not expect, a null where a value is required, a non-finite number, an
annotation without a bbox), so the msgspec path decides every doubtful case and both paths
give the same dataset.

Example:
    >>> doc = (b'{"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],'
    ...        b' "categories": [{"id": 3, "name": "car"}],'
    ...        b' "annotations": [{"id": 7, "image_id": 1, "category_id": 3,'
    ...        b' "bbox": [1, 2, 10, 5]}]}')
    >>> images, categories, annotations = read_with_arrow(doc, "scene", "annotator")
    >>> annotations.xywh.tolist(), categories
    ([[1.0, 2.0, 10.0, 5.0]], [(3, 'car')])
"""

from __future__ import annotations

import codecs
import mmap
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bbqa.dataset import Attribute
from bbqa.io.names import Names, as_texts

Scalar = str | int | float | bool | None
CocoId = int | str


@dataclass(frozen=True)
class ImageColumns:
    """The ``images`` section, one entry per image in file order (ids as an int64 array when
    the Arrow reader found them all integers, else a list; file names and scenes as numpy
    text when it found them all present and ASCII, else a list; annotators as the Arrow
    reader's column or the typed decode's list, see :mod:`bbqa.io.names`)."""

    ids: npt.NDArray[np.int64] | list[CocoId]
    file_names: list[str] | npt.NDArray[np.str_]
    widths: npt.NDArray[np.float64]
    heights: npt.NDArray[np.float64]
    annotators: Names
    scenes: list[str | int | None] | npt.NDArray[np.str_]


@dataclass(frozen=True)
class AnnotationColumns:
    """The ``annotations`` section, one row per annotation in file order.

    Ids are an int64 array when the file's ids are numbers, else a list. ``xywh`` rows are NaN
    where the annotation has no usable box; ``box_issue`` then says why (``None``: already
    reported). ``annotators`` (an Arrow column or a list, see :mod:`bbqa.io.names`) is ``None``
    when no annotation names one. ``attributes`` are encoded over every row.
    """

    ids: npt.NDArray[np.int64] | list[CocoId]
    image_ids: npt.NDArray[np.int64] | list[CocoId]
    category_ids: npt.NDArray[np.int64] | list[CocoId]
    xywh: npt.NDArray[np.float64]
    box_issue: dict[int, str | None]
    crowd: npt.NDArray[np.bool_]
    score: npt.NDArray[np.float64]
    annotators: Names | None
    attributes: dict[str, Attribute]

    def id_at(self, row: int) -> CocoId:
        """The id of annotation ``row`` as a plain Python value (for messages)."""
        value = self.ids[row]
        return value.item() if isinstance(value, np.generic) else value


def int64_ids(ids: npt.NDArray[np.int64] | list[CocoId]) -> npt.NDArray[np.int64] | None:
    """The ids as an int64 array when every one is a plain integer (not a bool) within 64
    bits, else ``None``; an array (the Arrow reader's integer ids) as it is.

    >>> int64_ids([3, 1]).tolist(), int64_ids([3, "1"]), int64_ids([2**63])
    ([3, 1], None, None)
    """
    if isinstance(ids, np.ndarray):
        return ids
    if not all(type(v) is int for v in ids):
        return None
    try:
        return np.fromiter(ids, np.int64, len(ids))
    except OverflowError:
        return None


def attribute_text(value: Scalar) -> str | None:
    """An attribute value as text: JSON booleans as ``true``/``false``, ``2.0`` as ``2``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def attribute_from_distinct(indices: Any, texts: list[str | None]) -> Attribute:
    """An attribute from each box's index into its distinct raw values (``len(texts)``: none)
    and each distinct value's text; codes are renumbered so that the texts are sorted.

    >>> encoded = attribute_from_distinct([1, 0, 2, 1], ["true", "false"])
    >>> encoded.codes.tolist(), encoded.values
    ([0, 1, -1, 0], ('false', 'true'))
    """
    ordered = sorted({t for t in texts if t is not None})
    position = {text: i for i, text in enumerate(ordered)}
    remap = np.array([position[t] if t is not None else -1 for t in texts] + [-1], np.int32)
    codes = remap[np.asarray(indices, dtype=np.int64)]
    return Attribute(codes=np.ascontiguousarray(codes, dtype=np.int32), values=tuple(ordered))


# The whole document is one block for Arrow's reader, whose block size is a 32-bit integer.
ARROW_MAX_BYTES = 1 << 31


def _is_ascii(raw: bytes | mmap.mmap) -> bool:
    """Whether every byte is below 0x80: eight bytes at a time with numpy, without copying a
    memory-mapped file (a quarter of the time of copying it piece by piece)."""
    whole = len(raw) - len(raw) % 8
    words = np.frombuffer(raw, np.uint8, count=whole).view(np.uint64)
    high = int(np.bitwise_or.reduce(words)) if whole else 0
    return not high & 0x8080808080808080 and raw[whole:].isascii()


def _is_utf8(raw: bytes | mmap.mmap) -> bool:
    """Whether ``raw`` is UTF-8, checked 8 MB at a time (ASCII pieces at C speed)."""
    if _is_ascii(raw):
        return True
    decoder = None
    step = 1 << 23
    try:
        for start in range(0, len(raw), step):
            piece = raw[start:start + step]
            if decoder is None:
                if piece.isascii():
                    continue
                decoder = codecs.getincrementaldecoder("utf-8")()
            decoder.decode(piece, final=start + step >= len(raw))
    except UnicodeDecodeError:
        return False
    return True


def read_with_arrow(raw: bytes | mmap.mmap, scene_field: str, annotator_field: str
                    ) -> tuple[ImageColumns, list[tuple[CocoId, str]], AnnotationColumns] | None:
    """Parse a COCO document into columns with Arrow; ``None`` when the strict path must decide.

    Returns the images, the categories as ``(id, name)`` pairs and the annotations.
    """
    import pyarrow as pa
    import pyarrow.json as pajson

    from bbqa import arrow_kernels as kernels

    # Arrow's reader neither validates UTF-8 nor rejects NaN literals; msgspec does both.
    if len(raw) >= ARROW_MAX_BYTES or not _is_utf8(raw):
        return None
    schema = pa.schema([
        ("images", pa.list_(pa.struct([("file_name", pa.string()), ("width", pa.float64()),
                                       ("height", pa.float64())]))),
        ("categories", pa.list_(pa.struct([("name", pa.string())]))),
        ("annotations", pa.list_(pa.struct([("bbox", pa.list_(pa.float64()))]))),
    ])
    try:
        # One block holds the whole document: it is a single JSON object.
        table = pajson.read_json(
            pa.py_buffer(raw),
            read_options=pajson.ReadOptions(use_threads=False, block_size=len(raw) + 1),
            parse_options=pajson.ParseOptions(explicit_schema=schema,
                                              unexpected_field_behavior="infer"))
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != 1:
        return None
    sections = {}
    for name in ("images", "categories", "annotations"):
        column = table.column(name).combine_chunks()
        if column.null_count:
            return None
        sections[name] = kernels.list_values(column)
    if any(s.null_count for s in sections.values()):
        return None
    images = _images(sections["images"], scene_field, annotator_field)
    categories = _categories(sections["categories"])
    annotations = _annotations(sections["annotations"], annotator_field)
    if images is None or categories is None or annotations is None:
        return None
    return images, categories, annotations


def _fields(struct: Any) -> dict[str, Any]:
    """A struct array's children, with its offset applied."""
    return {field.name: child for field, child in zip(struct.type, struct.flatten(), strict=True)}


def _is_id(column: Any) -> bool:
    import pyarrow as pa

    return bool(column.null_count == 0 and (pa.types.is_int64(column.type)
                                            or pa.types.is_string(column.type)))


def _ids(column: Any) -> npt.NDArray[np.int64] | list[CocoId]:
    import pyarrow as pa

    if pa.types.is_int64(column.type):
        return np.asarray(column.to_numpy(), dtype=np.int64)
    values: list[CocoId] = column.to_pylist()
    return values


def _optional_name(fields: dict[str, Any], key: str, n: int) -> Names | None:
    """A string-or-integer field that may be absent: its Arrow column (``[None] * n`` when
    absent), or ``None`` if unreadable."""
    import pyarrow as pa

    column = fields.get(key)
    if column is None or pa.types.is_null(column.type):
        return [None] * n
    if not (pa.types.is_string(column.type) or pa.types.is_int64(column.type)):
        return None
    return column


def _finite(column: Any) -> npt.NDArray[np.float64] | None:
    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    return values if np.isfinite(values).all() else None


def _images(struct: Any, scene_field: str, annotator_field: str) -> ImageColumns | None:
    from bbqa import arrow_kernels as kernels

    fields = _fields(struct)
    n = len(struct)
    if "id" not in fields or not _is_id(fields["id"]):
        return None
    names, widths, heights = fields["file_name"], fields["width"], fields["height"]
    if names.null_count or widths.null_count or heights.null_count:
        return None
    width_values, height_values = _finite(widths), _finite(heights)
    annotators = _optional_name(fields, annotator_field, n)
    scene_names = _optional_name(fields, scene_field, n)
    scenes = as_texts(scene_names) if scene_names is not None else None
    if width_values is None or height_values is None or annotators is None or scenes is None:
        return None
    file_names = kernels.ascii_texts(names)
    return ImageColumns(ids=_ids(fields["id"]),
                        file_names=file_names if file_names is not None else names.to_pylist(),
                        widths=width_values, heights=height_values, annotators=annotators,
                        scenes=scenes)


def _categories(struct: Any) -> list[tuple[CocoId, str]] | None:
    fields = _fields(struct)
    if "id" not in fields or not _is_id(fields["id"]) or fields["name"].null_count:
        return None
    return list(zip(fields["id"].to_pylist(), fields["name"].to_pylist(), strict=True))


def _flag(fields: dict[str, Any], key: str, n: int) -> npt.NDArray[np.bool_] | None:
    """``iscrowd`` / ``ignore``: 0 when absent; an explicit null is left to the strict path."""
    import pyarrow as pa

    column = fields.get(key)
    if column is None:
        return np.zeros(n, np.bool_)
    if column.null_count or not (pa.types.is_int64(column.type)
                                 or pa.types.is_boolean(column.type)):
        return None
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _annotations(struct: Any, annotator_field: str) -> AnnotationColumns | None:
    import pyarrow as pa

    from bbqa import arrow_kernels as kernels

    fields = _fields(struct)
    n = len(struct)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return AnnotationColumns(ids=empty, image_ids=empty, category_ids=empty,
                                 xywh=np.zeros((0, 4)), box_issue={},
                                 crowd=np.zeros(0, np.bool_), score=np.zeros(0),
                                 annotators=None, attributes={})
    if not all(key in fields and _is_id(fields[key])
               for key in ("id", "image_id", "category_id")):
        return None
    bbox = fields["bbox"]
    # Boxes that are missing (segmentation-only) or not four numbers take the strict path.
    # Lengths straight from the list offsets.
    if bbox.null_count or (np.diff(bbox.offsets.to_numpy()) != 4).any():
        return None
    coordinates = kernels.list_values(bbox)
    if coordinates.null_count:
        return None
    xywh = _finite(coordinates)
    crowd, ignore = _flag(fields, "iscrowd", n), _flag(fields, "ignore", n)
    if xywh is None or crowd is None or ignore is None:
        return None
    score_column = fields.get("score")
    if score_column is None or pa.types.is_null(score_column.type):
        score = np.full(n, np.nan)
    elif pa.types.is_int64(score_column.type) or pa.types.is_float64(score_column.type):
        if _finite(kernels.drop_null(score_column)) is None:
            return None
        # Nulls (no score) become NaN.
        score = np.asarray(score_column.to_numpy(zero_copy_only=False), dtype=np.float64)
    else:
        return None
    annotator_column = fields.get(annotator_field)
    annotators = None
    if annotator_column is not None and annotator_column.null_count < n:
        annotators = _optional_name(fields, annotator_field, n)
        if annotators is None:
            return None
    attributes = _attributes(fields.get("attributes"), n)
    if attributes is None:
        return None
    return AnnotationColumns(
        ids=_ids(fields["id"]), image_ids=_ids(fields["image_id"]),
        category_ids=_ids(fields["category_id"]), xywh=xywh.reshape(-1, 4), box_issue={},
        crowd=crowd | ignore, score=score, annotators=annotators, attributes=attributes)


def _attributes(column: Any, n: int) -> dict[str, Attribute] | None:
    """Each attribute dictionary-encoded; ``None`` if a value is not a plain scalar."""
    import pyarrow as pa

    if column is None or pa.types.is_null(column.type) or column.null_count == n:
        return {}
    if not pa.types.is_struct(column.type):
        return None
    encoded = {}
    for name, child in _fields(column).items():
        attribute = _attribute(child)
        if attribute is None:
            return None
        encoded[name] = attribute
    return encoded


def _attribute(column: Any) -> Attribute | None:
    import pyarrow as pa

    from bbqa import arrow_kernels as kernels

    if pa.types.is_null(column.type):
        return Attribute(codes=np.full(len(column), -1, np.int32), values=())
    if not (pa.types.is_boolean(column.type) or pa.types.is_int64(column.type)
            or pa.types.is_float64(column.type) or pa.types.is_string(column.type)):
        return None
    dictionary = kernels.dictionary_encode(column)
    distinct_values = dictionary.dictionary.to_pylist()
    if any(isinstance(v, float) and not np.isfinite(v) for v in distinct_values):
        return None
    indices = kernels.fill_null(dictionary.indices, len(distinct_values)
                                ).to_numpy(zero_copy_only=False)
    return attribute_from_distinct(indices, [attribute_text(v) for v in distinct_values])
