"""The one in-memory model every loader returns: images, categories and a columnar box table.

Boxes are a struct of arrays: contiguous 1-D numpy columns, validated when built and sorted by
(image, category, source id), so that per-image slices are ``np.searchsorted`` away and the
order never depends on the order of the input file.

Example:
    >>> import numpy as np
    >>> ds = Dataset.build(
    ...     images=Images.build(keys=["a.jpg"], widths=[640], heights=[480]),
    ...     categories=["car"],
    ...     boxes=Boxes.build(image=[0], category=[0], x1=[10.0], y1=[20.0], x2=[50.0],
    ...                       y2=[60.0], source_id=["7"]),
    ... )
    >>> ds.boxes.area().tolist()
    [1600.0]
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from bbqa.arrays import increasing

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
# Box ids as the file wrote them: int64 when they are all integers (COCO), else text.
IdArray = npt.NDArray[np.int64] | npt.NDArray[np.str_]


class Level(StrEnum):
    """How serious a problem found while loading is."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one place of an input file.

    ``location`` names the file and line, or the JSON annotation/image id. ``box`` is the index
    of the affected row in the finished box table when the box was kept (it is then excluded from
    matching), or ``None`` when the box could not be represented at all and was left out.
    """

    level: Level
    code: str
    message: str
    location: str
    box: int | None = None
    count: int = 1

    def __post_init__(self) -> None:
        # A location holds a file's path, whose name may not be UTF-8 (see printable).
        if not self.location.isascii():
            object.__setattr__(self, "location", printable(self.location))
        if not self.message.isascii():
            object.__setattr__(self, "message", printable(self.message))


def printable(text: str) -> str:
    """``text`` with the bytes of a file name that are not UTF-8 written as ``\\xNN``.

    Python keeps such bytes as lone surrogates (``os.fsdecode``), which no output file, Arrow
    column or terminal can hold; written out, the name stays readable and tells one file from
    another.

    >>> printable("caf\\udce9.xml"), printable("café.xml")
    ('caf\\\\xe9.xml', 'café.xml')
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte: show its code
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _as_float(values: Any) -> FloatArray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _as_int(values: Any) -> IntArray:
    return np.ascontiguousarray(values, dtype=np.int32)


def _as_str(values: Any) -> StrArray:
    array = np.ascontiguousarray(values, dtype=np.str_)
    if array.ndim != 1:
        array = array.reshape(-1)
    return _printable_texts(array)


def _printable_texts(array: StrArray) -> StrArray:
    """``array`` with :func:`printable` applied to the texts that need it (nearly never: one
    look at the highest code point, below the surrogates' for nearly every text)."""
    codes = array.view(np.uint32)
    if not len(codes) or codes.max() < 0xD800:
        return array
    surrogate = (codes.reshape(len(array), -1) - np.uint32(0xD800)) < 0x800
    rows = np.flatnonzero(surrogate.any(axis=1))
    if not len(rows):
        return array
    texts = array.tolist()
    for row in rows.tolist():
        texts[row] = printable(texts[row])
    return np.array(texts, dtype=np.str_)


def _as_ids(values: Any) -> IdArray:
    """Integer ids stay numbers (cheap to sort and to keep); anything else becomes text."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return np.ascontiguousarray(values, dtype=np.int64).reshape(-1)
    return _as_str(values)


def normalize_key(key: str) -> str:
    """Unicode-NFC form of an image key, so that composed and decomposed names compare equal."""
    # ASCII text is NFC already: the common case skips the normalizer.
    return key if key.isascii() else unicodedata.normalize("NFC", key)


def normalize_keys(keys: Sequence[str] | StrArray) -> Sequence[str] | StrArray:
    """:func:`normalize_key` of every key; one check over all when every key is ASCII."""
    if isinstance(keys, np.ndarray):
        if np.ascontiguousarray(keys).view(np.uint32).max(initial=0) < 0x80:
            return keys
        keys = keys.tolist()
    if "".join(keys).isascii():
        return keys
    return [normalize_key(k) for k in keys]


@dataclass(frozen=True)
class Images:
    """The images table: one row per image entry (one labeling of a picture).

    ``key`` is the file name without its folder, NFC-normalized; ``source_id`` is the id the file
    gave the image (COCO id, label file path); ``annotator`` and ``scene`` are per-image tags
    (empty string when absent).
    """

    key: StrArray
    width: FloatArray
    height: FloatArray
    source_id: StrArray
    annotator: StrArray
    scene: StrArray

    @staticmethod
    def build(
        keys: Sequence[str] | StrArray,
        widths: Sequence[float] | FloatArray,
        heights: Sequence[float] | FloatArray,
        source_ids: Sequence[str] | StrArray | None = None,
        annotators: Sequence[str] | StrArray | None = None,
        scenes: Sequence[str] | StrArray | None = None,
    ) -> Images:
        """Build and check an images table from plain sequences or numpy text."""
        n = len(keys)
        images = Images(
            key=_as_str(normalize_keys(keys)) if n else np.zeros(0, dtype="<U1"),
            width=_as_float(widths),
            height=_as_float(heights),
            source_id=_as_str(source_ids if source_ids is not None else list(keys))
            if n
            else np.zeros(0, dtype="<U1"),
            annotator=_as_str(annotators) if annotators is not None and n else _blank(n),
            scene=_as_str(scenes) if scenes is not None and n else _blank(n),
        )
        images.validate()
        return images

    def __len__(self) -> int:
        return int(self.key.shape[0])

    def validate(self) -> None:
        """Raise ``ValueError`` when the columns disagree in length or sizes are not positive."""
        n = len(self)
        for name in ("width", "height", "source_id", "annotator", "scene"):
            column = getattr(self, name)
            if column.shape != (n,):
                raise ValueError(f"images.{name}: expected {n} rows, got {column.shape[0]}")
        bad = ~(np.isfinite(self.width) & np.isfinite(self.height))
        bad |= (self.width <= 0) | (self.height <= 0)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"image {self.key[first]!r}: expected a positive width and height, got "
                f"{self.width[first]} x {self.height[first]}"
            )


def _blank(n: int) -> StrArray:
    return np.full(n, "", dtype="<U1")


@dataclass(frozen=True)
class Attribute:
    """A dictionary-coded attribute column: ``codes[i]`` indexes ``values``; -1 means absent."""

    codes: IntArray
    values: tuple[str, ...]

    def decoded(self) -> list[str | None]:
        """The attribute as one Python value per box (``None`` where absent)."""
        lookup: list[str | None] = [*self.values, None]
        return [lookup[c] for c in self.codes.tolist()]

    def kept(self, rows: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> Attribute:
        """The attribute of ``rows`` (indices or a mask) only: values that none of them has
        are left out, the rest keep their order.

        >>> Attribute(np.array([2, 0, -1, 2]), ("a", "b", "c")).kept(np.array([0, 2])).values
        ('c',)
        """
        codes = self.codes[rows]
        used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(self.values)))
        remap = np.full(len(self.values) + 1, -1, np.int32)  # the last entry: code -1
        remap[used] = np.arange(len(used), dtype=np.int32)
        return Attribute(codes=remap[codes], values=tuple(self.values[i] for i in used.tolist()))


def encode_attribute(raw: Sequence[str | None]) -> Attribute:
    """Dictionary-encode per-box attribute values; ``None`` marks a box without the attribute.

    >>> encode_attribute(["true", None, "false", "true"]).codes.tolist()
    [1, -1, 0, 1]
    """
    values = sorted({v for v in raw if v is not None})
    index = {v: i for i, v in enumerate(values)}
    codes = np.fromiter((index.get(v, -1) if v is not None else -1 for v in raw), np.int32,
                        count=len(raw))
    return Attribute(codes=codes, values=tuple(values))


@dataclass(frozen=True)
class Boxes:
    """The box table as parallel 1-D columns, in canonical xyxy pixel-edge coordinates.

    ``image`` and ``category`` index the dataset's images and categories; ``annotator`` indexes
    the dataset's annotator names (-1 when unknown); ``crowd`` marks crowd/ignore regions;
    ``valid`` is False for boxes kept for reporting but excluded from matching (degenerate
    geometry); ``score`` is NaN unless the file carried a confidence.
    """

    image: IntArray
    category: IntArray
    x1: FloatArray
    y1: FloatArray
    x2: FloatArray
    y2: FloatArray
    ids: IdArray
    annotator: IntArray
    crowd: BoolArray
    valid: BoolArray
    score: FloatArray
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    _text: dict[str, StrArray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def source_id(self) -> StrArray:
        """Each box's id in its file, as text (``ids`` holds them as numbers where it can)."""
        if self.ids.dtype.kind == "U":
            text: StrArray = self.ids  # type: ignore[assignment]
            return text
        if "ids" not in self._text:
            # Turning a million numbers into text takes a quarter second: done once, on demand.
            self._text["ids"] = self.ids.astype(np.str_)
        return self._text["ids"]

    @staticmethod
    def build(
        image: Any,
        category: Any,
        x1: Any,
        y1: Any,
        x2: Any,
        y2: Any,
        source_id: Any,
        annotator: Any = None,
        crowd: Any = None,
        valid: Any = None,
        score: Any = None,
        attributes: Mapping[str, Attribute] | None = None,
    ) -> Boxes:
        """Build a box table from array-likes; omitted optional columns get their defaults."""
        n = len(image)
        return Boxes(
            image=_as_int(image),
            category=_as_int(category),
            x1=_as_float(x1),
            y1=_as_float(y1),
            x2=_as_float(x2),
            y2=_as_float(y2),
            ids=_as_ids(source_id) if n else np.zeros(0, dtype="<U1"),
            annotator=_as_int(annotator) if annotator is not None else np.full(n, -1, np.int32),
            crowd=np.ascontiguousarray(crowd, dtype=np.bool_)
            if crowd is not None
            else np.zeros(n, np.bool_),
            valid=np.ascontiguousarray(valid, dtype=np.bool_)
            if valid is not None
            else np.ones(n, np.bool_),
            score=_as_float(score) if score is not None else np.full(n, np.nan),
            attributes=dict(attributes or {}),
        )

    @staticmethod
    def empty() -> Boxes:
        """A table with no rows."""
        return Boxes.build([], [], [], [], [], [], [])

    def __len__(self) -> int:
        return int(self.image.shape[0])

    def area(self) -> FloatArray:
        """Box areas (0 for degenerate boxes, never negative)."""
        return np.maximum(self.x2 - self.x1, 0.0) * np.maximum(self.y2 - self.y1, 0.0)

    def coordinates(self, index: npt.NDArray[np.integer[Any]]
                    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``x1, y1, x2, y2`` of rows ``index``, each gathered once.

        >>> boxes = Boxes.build(image=[0, 0], category=[0, 0], x1=[1, 5], y1=[2, 6],
        ...                     x2=[3, 7], y2=[4, 8], source_id=["a", "b"])
        >>> [c.tolist() for c in boxes.coordinates(np.array([1]))]
        [[5.0], [6.0], [7.0], [8.0]]
        """
        return self.x1[index], self.y1[index], self.x2[index], self.y2[index]

    def take(self, index: npt.NDArray[np.intp]) -> Boxes:
        """Rows ``index`` of this table, in that order."""
        return Boxes(
            image=self.image[index],
            category=self.category[index],
            x1=self.x1[index],
            y1=self.y1[index],
            x2=self.x2[index],
            y2=self.y2[index],
            ids=self.ids[index],
            annotator=self.annotator[index],
            crowd=self.crowd[index],
            valid=self.valid[index],
            score=self.score[index],
            attributes={
                name: Attribute(codes=a.codes[index], values=a.values)
                for name, a in self.attributes.items()
            },
        )


_BOX_COLUMNS = ("category", "x1", "y1", "x2", "y2", "ids", "annotator", "crowd", "valid",
                "score")


@dataclass(frozen=True)
class Dataset:
    """A loaded annotation set: images, category names, annotator names and the box table.

    Build it with :meth:`Dataset.build`, which validates the columns and sorts the boxes.
    ``problems`` lists what the loader found wrong (with file and line or JSON id); ``path`` and
    ``format`` say where it came from.
    """

    images: Images
    categories: tuple[str, ...]
    boxes: Boxes
    annotators: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    path: str = ""
    format: str = ""

    @staticmethod
    def build(
        images: Images,
        categories: Sequence[str],
        boxes: Boxes,
        annotators: Sequence[str] = (),
        problems: Sequence[Problem] = (),
        path: str = "",
        format: str = "",
    ) -> Dataset:
        """Validate the columns against each other and sort boxes by (image, category, id).

        Integer ids sort as numbers. Problems that point at a box by index are re-pointed to
        the box's sorted position.
        """
        _validate_boxes(boxes, n_images=len(images), n_categories=len(categories),
                        n_annotators=len(annotators))
        if len(set(categories)) != len(categories):
            raise ValueError(f"category names must be unique, got {list(categories)}")
        order = _box_order(boxes, len(categories))
        sorted_boxes = boxes.take(order)
        moved = tuple(problems)
        if any(p.box is not None for p in problems):
            new_position = np.empty_like(order)
            new_position[order] = np.arange(order.shape[0])
            moved = tuple(replace(p, box=int(new_position[p.box])) if p.box is not None else p
                          for p in problems)
        return Dataset(
            images=images,
            categories=tuple(categories),
            boxes=sorted_boxes,
            annotators=tuple(annotators),
            problems=moved,
            path=printable(path),  # shown and written, never opened
            format=format,
        )

    def image_offsets(self) -> npt.NDArray[np.intp]:
        """``offsets[i]:offsets[i+1]`` is the slice of boxes on image ``i``."""
        return np.searchsorted(self.boxes.image, np.arange(len(self.images) + 1)).astype(np.intp)

    def to_arrow(self) -> Any:
        """The box table as a ``pyarrow.Table``; numeric columns share memory with numpy."""
        import pyarrow as pa

        columns: dict[str, Any] = {
            "image": pa.array(self.boxes.image),
            "category": pa.array(self.boxes.category),
            "x1": pa.array(self.boxes.x1),
            "y1": pa.array(self.boxes.y1),
            "x2": pa.array(self.boxes.x2),
            "y2": pa.array(self.boxes.y2),
            "source_id": pa.array(self.boxes.ids).cast(pa.string()),
            "annotator": pa.array(self.boxes.annotator),
            "crowd": pa.array(self.boxes.crowd),
            "valid": pa.array(self.boxes.valid),
            "score": pa.array(self.boxes.score),
        }
        for name, attribute in self.boxes.attributes.items():
            columns[f"attr_{name}"] = pa.DictionaryArray.from_arrays(
                pa.array(attribute.codes, mask=attribute.codes < 0),
                pa.array(list(attribute.values), pa.string()),
            )
        return pa.table(columns)


def _validate_boxes(boxes: Boxes, *, n_images: int, n_categories: int, n_annotators: int) -> None:
    n = len(boxes)
    for name in _BOX_COLUMNS:
        column = getattr(boxes, name)
        if column.shape != (n,):
            raise ValueError(f"boxes.{name}: expected {n} rows, got {column.shape}")
    for name, attribute in boxes.attributes.items():
        if attribute.codes.shape != (n,):
            raise ValueError(f"attribute {name!r}: expected {n} codes, got {attribute.codes.shape}")
        if n and (attribute.codes.max() >= len(attribute.values) or attribute.codes.min() < -1):
            raise ValueError(f"attribute {name!r}: codes out of range of its values")
    if n == 0:
        return
    _check_range("image", boxes.image, 0, n_images)
    _check_range("category", boxes.category, 0, n_categories)
    _check_range("annotator", boxes.annotator, -1, n_annotators)
    # Column by column: stacking them first copied every coordinate.
    if not all(np.isfinite(c).all() for c in (boxes.x1, boxes.y1, boxes.x2, boxes.y2)):
        raise ValueError("box coordinates must be finite numbers, got NaN or infinity")


def _box_order(boxes: Boxes, n_categories: int) -> npt.NDArray[np.intp]:
    """The order of boxes by (image, category, id): ``np.lexsort((ids, category, image))``.

    When the ids already increase (most exports number their boxes in order), a stable sort
    of one combined image-and-category key gives the same order, three times faster.
    """
    ids = boxes.ids
    if len(ids) > 1 and increasing(ids):
        key = boxes.image.astype(np.int64) * max(n_categories, 1) + boxes.category
        return np.argsort(key, kind="stable")
    return np.lexsort((ids, boxes.category, boxes.image))


def _check_range(name: str, column: IntArray, low: int, high: int) -> None:
    if column.min() < low or column.max() >= high:
        raise ValueError(
            f"boxes.{name}: expected indices in [{low}, {high}), got "
            f"[{column.min()}, {column.max()}]"
        )


def _merged_ids(parts: Sequence[Boxes]) -> IdArray:
    if all(part.ids.dtype.kind == "i" for part in parts):
        return np.concatenate([part.ids for part in parts])
    return np.concatenate([part.source_id for part in parts])


def merge(datasets: Sequence[Dataset]) -> Dataset:
    """Stack several datasets into one: images are appended (each stays its own labeling),
    categories and annotators are unioned by name.

    >>> a = Dataset.build(Images.build(["x.jpg"], [10], [10]), ["cat"], Boxes.empty())
    >>> merge([a, a]).images.key.tolist()
    ['x.jpg', 'x.jpg']
    """
    if len(datasets) == 1:
        return datasets[0]
    categories: list[str] = []
    annotators: list[str] = []
    for ds in datasets:
        categories += [c for c in ds.categories if c not in categories]
        annotators += [a for a in ds.annotators if a not in annotators]
    image_parts, box_parts = [], []
    problems: list[Problem] = []
    attribute_names = sorted({name for ds in datasets for name in ds.boxes.attributes})
    image_offset = box_offset = 0
    for ds in datasets:
        cat_map = np.array([categories.index(c) for c in ds.categories] + [0], np.int32)
        ann_map = np.array([annotators.index(a) for a in ds.annotators] + [-1], np.int32)
        b = ds.boxes
        box_parts.append((b.image + image_offset, cat_map[b.category], ann_map[b.annotator], b))
        image_parts.append(ds.images)
        problems += [
            replace(p, box=p.box + box_offset) if p.box is not None else p for p in ds.problems
        ]
        image_offset += len(ds.images)
        box_offset += len(b)
    merged_attributes: dict[str, Attribute] = {}
    for name in attribute_names:
        raw: list[str | None] = []
        for _, _, _, b in box_parts:
            attribute = b.attributes.get(name)
            raw += attribute.decoded() if attribute is not None else [None] * len(b)
        merged_attributes[name] = encode_attribute(raw)
    images = Images(
        **{
            name: np.concatenate([getattr(part, name) for part in image_parts])
            for name in ("key", "width", "height", "source_id", "annotator", "scene")
        }
    )
    boxes = Boxes.build(
        image=np.concatenate([p[0] for p in box_parts]),
        category=np.concatenate([p[1] for p in box_parts]),
        annotator=np.concatenate([p[2] for p in box_parts]),
        **{
            name: np.concatenate([getattr(p[3], name) for p in box_parts])
            for name in ("x1", "y1", "x2", "y2", "crowd", "valid", "score")
        },
        source_id=_merged_ids([p[3] for p in box_parts]),
        attributes=merged_attributes,
    )
    return Dataset.build(
        images=images,
        categories=categories,
        boxes=boxes,
        annotators=annotators,
        problems=problems,
        path=", ".join(ds.path for ds in datasets),
        format=",".join(sorted({ds.format for ds in datasets})),
    )
