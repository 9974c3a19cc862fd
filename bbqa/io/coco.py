"""COCO JSON (`images`, `categories`, `annotations` with `bbox` [x, y, w, h]).

The file is decoded against a typed schema holding only the fields bbqa reads (msgspec), which is
several times faster than building a dict per annotation; when that strict decode fails, the file
is decoded once more without a schema, only to name the offending annotation or image by its id.

Example:
    >>> import json, tempfile, pathlib
    >>> doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
    ...        "categories": [{"id": 3, "name": "car"}],
    ...        "annotations": [{"id": 0, "image_id": 1, "category_id": 3, "bbox": [1, 2, 10, 5]}]}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gt.json"
    >>> _ = path.write_text(json.dumps(doc))
    >>> ds = load(path)
    >>> ds.boxes.x2.tolist(), ds.boxes.source_id.tolist()
    ([11.0], ['0'])
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from bbqa import progress
from bbqa.arrays import distinct
from bbqa.dataset import Attribute, Boxes, Dataset, Images, Level, Problem, encode_attribute
from bbqa.errors import InputError
from bbqa.io.checks import check_geometry, repoint
from bbqa.io.coco_columns import (
    AnnotationColumns,
    CocoId,
    ImageColumns,
    attribute_from_distinct,
    attribute_text,
    read_with_arrow,
)
from bbqa.io.collector import paused

Scalar = str | int | float | bool | None


class _Image(msgspec.Struct, gc=False):
    id: int | str
    file_name: str
    width: float
    height: float
    annotator: str | int | None = None
    scene: str | int | None = None


class _Category(msgspec.Struct, gc=False):
    id: int | str
    name: str


class _Annotation(msgspec.Struct, gc=False):
    id: int | str
    image_id: int | str
    category_id: int | str
    bbox: list[float] | None = None
    iscrowd: int | bool = 0
    ignore: int | bool = 0
    score: float | None = None
    annotator: str | int | None = None
    attributes: dict[str, Any] | None = None
    # Raw: polygons are kept undecoded (and cost nothing) unless a box must come from them.
    segmentation: msgspec.Raw = msgspec.Raw(b"null")


class _CocoFile(msgspec.Struct, gc=False):
    images: list[_Image]
    categories: list[_Category]
    annotations: list[_Annotation] = []


_DECODER = msgspec.json.Decoder(_CocoFile)


@cache
def _decoder(scene_field: str, annotator_field: str) -> msgspec.json.Decoder[Any]:
    """A decoder whose image scene and annotator fields are read from other JSON keys."""
    if (scene_field, annotator_field) == ("scene", "annotator"):
        return _DECODER
    image = msgspec.defstruct(
        "_Image", [("id", int | str), ("file_name", str), ("width", float), ("height", float),
                   ("annotator", str | int | None, None), ("scene", str | int | None, None)],
        rename={"scene": scene_field, "annotator": annotator_field}, gc=False)
    annotation = msgspec.defstruct(
        "_Annotation", [(f.name, f.type, f.default) if f.default is not msgspec.NODEFAULT
                        else (f.name, f.type) for f in msgspec.structs.fields(_Annotation)],
        rename={"annotator": annotator_field}, gc=False)
    document = msgspec.defstruct(
        "_CocoFile", [("images", list[image]), ("categories", list[_Category]),  # type: ignore[valid-type]
                      ("annotations", list[annotation], [])], gc=False)  # type: ignore[valid-type]
    return msgspec.json.Decoder(document)

# Below this size the typed decode is about as fast and spares the Arrow import (60 ms).
ARROW_MIN_BYTES = 4 << 20

_PATH_INDEX = re.compile(r"^\$\.(images|categories|annotations)\[(\d+)\]")


def load(path: Path, *, scene_field: str = "scene", annotator_field: str = "annotator"
         ) -> Dataset:
    """Load a COCO detection file as a :class:`~bbqa.dataset.Dataset`.

    ``scene_field`` names the image key holding a scene tag; ``annotator_field`` the image and
    annotation key holding the annotator.
    """
    step = progress.count(1, "files")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    with paused():
        problems: list[Problem] = []
        columns = (read_with_arrow(raw, scene_field, annotator_field)
                   if len(raw) >= ARROW_MIN_BYTES else None)
        if columns is None:
            decoder = _decoder(scene_field, annotator_field)
            try:
                doc = decoder.decode(raw)
            except msgspec.DecodeError as exc:
                doc, problems = _tolerant(raw, exc, path, decoder)
            except UnicodeDecodeError as exc:
                line, column = _line_column(raw, exc.start)
                raise InputError(f"invalid UTF-8 at column {column} (byte {exc.start}); JSON "
                                 "text must be UTF-8", path=path, line=line) from None
            del raw
            columns = _columns(doc, path, problems)
        else:
            del raw
        dataset = _build(*columns, path, problems)
    step(1)
    return dataset


def _tolerant(raw: bytes, exc: msgspec.DecodeError, path: Path,
              decoder: msgspec.json.Decoder[Any]) -> tuple[Any, list[Problem]]:
    """Decode a file the strict schema rejected, one annotation at a time.

    A file that is not JSON at all (NaN and Infinity literals aside, which Python's own parser
    accepts and the geometry check then reports per box), or whose images or categories are
    malformed, is an error. A malformed annotation only costs that annotation: it becomes an
    error-level problem naming its id, and the rest of the file loads.
    """
    import json

    if isinstance(exc, msgspec.ValidationError):
        # The schema check runs while parsing: the file may still be broken further on.
        try:
            generic = msgspec.json.decode(raw)
        except msgspec.DecodeError as error:
            raise _explain(raw, error, path) from None
        except UnicodeDecodeError as error:
            raise InputError(f"not UTF-8 text: {error}", path=path) from None
    else:
        try:
            generic = json.loads(raw)
        except (ValueError, RecursionError):
            raise _explain(raw, exc, path) from None
    if not isinstance(generic, dict):
        raise _explain(raw, exc, path) from None
    document_type = decoder.type
    fields = {f.name: f.type for f in msgspec.structs.fields(document_type)}
    annotation_type = fields["annotations"].__args__[0]
    raw_annotations = generic.get("annotations", [])
    if not isinstance(raw_annotations, list):
        raise InputError("expected 'annotations' to be a list", path=path)
    try:
        doc = msgspec.convert({**generic, "annotations": []}, document_type)
    except msgspec.ValidationError as error:
        raise _explain(msgspec.json.encode({**generic, "annotations": []}), error, path) from None
    problems: list[Problem] = []
    for index, entry in enumerate(raw_annotations):
        where = (f"{path}: annotation id {entry['id']!r}"
                 if isinstance(entry, dict) and "id" in entry else f"{path}: annotations[{index}]")
        if not isinstance(entry, dict):
            problems.append(Problem(Level.ERROR, "invalid_annotation",
                                    f"expected an object, got {type(entry).__name__}; left out",
                                    where))
            continue
        segmentation = entry.get("segmentation")
        try:
            annotation = msgspec.convert({k: v for k, v in entry.items()
                                          if k != "segmentation"}, annotation_type)
        except msgspec.ValidationError as error:
            message, _, at = str(error).partition(" - at ")
            field = at.strip("`").removeprefix("$").lstrip(".")
            problems.append(Problem(Level.ERROR, "invalid_annotation",
                                    f"{field + ': ' if field else ''}{message}; left out",
                                    where))
            continue
        if segmentation is not None:
            annotation.segmentation = msgspec.Raw(msgspec.json.encode(segmentation))
        doc.annotations.append(annotation)
    return doc, problems


def _line_column(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def _explain(raw: bytes, exc: msgspec.DecodeError, path: Path) -> InputError:
    """Turn a strict-decode failure into a message that names the line or the JSON id."""
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        match = re.search(r"byte (\d+)", text)
        if match or "truncated" in text:
            offset = int(match.group(1)) if match else len(raw)
            line, column = _line_column(raw, offset)
            hint = ""
            if raw[offset:offset + 3] in (b"NaN", b"Inf") or raw[offset:offset + 4] == b"-Inf":
                hint = " (NaN and Infinity are not valid JSON numbers; coordinates must be finite)"
            return InputError(f"invalid JSON at column {column}: {text}{hint}", path=path,
                              line=line)
        return InputError(f"invalid JSON: {text}", path=path)
    try:
        generic = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        generic = None
    if isinstance(generic, list):
        return InputError(
            "this is a list of detections (a results file), but a COCO dataset with "
            "'images', 'categories' and 'annotations' was expected", path=path,
        )
    message, _, where = text.partition(" - at ")
    where = where.strip("`")
    found = _PATH_INDEX.match(where)
    if found and isinstance(generic, dict):
        section, index = found.group(1), int(found.group(2))
        entry = (generic.get(section) or [None] * (index + 1))[index]
        kind = {"images": "image", "categories": "category", "annotations": "annotation"}[section]
        if isinstance(entry, dict) and "id" in entry:
            field = where[found.end():].lstrip(".")
            pointer = f"{kind} id {entry['id']!r}"
            return InputError(f"{field or kind}: {message}", path=path, pointer=pointer)
        return InputError(f"{message} at {where}", path=path, pointer=f"{section}[{index}]")
    return InputError(f"{message} at {where or 'the top level'}", path=path)


def _check_id_types(values: Sequence[int | str], what: str, path: Path) -> None:
    kinds = {type(v) for v in values}
    if len(kinds) > 1:
        first_int = next(v for v in values if isinstance(v, int))
        first_str = next(v for v in values if isinstance(v, str))
        raise InputError(
            f"{what} ids mix numbers and strings (for example {first_int!r} and {first_str!r}); "
            "expected one type, they are never coerced", path=path,
        )


def _file_key(file_name: str) -> str:
    # COCO exports written on Windows keep backslashes; the key is the name without its folder.
    return file_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


def _file_keys(file_names: list[str]) -> list[str]:
    """Every image's key; one check over all names when none has a folder (the usual case)."""
    joined = "\n".join(file_names)
    if "/" not in joined and "\\" not in joined:
        return file_names
    return [_file_key(name) for name in file_names]


def _id_texts(ids: npt.NDArray[np.int64] | list[CocoId]) -> list[str]:
    """Image ids as text (``map(str)`` beats numpy's integer-to-text cast by half)."""
    return list(map(str, ids.tolist() if isinstance(ids, np.ndarray) else ids))


def _optional_texts(values: list[str | int | None]) -> list[str] | None:
    """Optional per-image names as text ("" where absent); ``None`` when no image has one."""
    if values.count(None) == len(values):
        return None
    return ["" if v is None else str(v) for v in values]


def _encode_attribute(values: list[Any]) -> Attribute:
    """Dictionary-encode raw JSON attribute values in one pass, each distinct value once.

    Values are keyed by type too (``True == 1`` as a dict key, but they are different
    values); the codes are then renumbered so that the value texts are in sorted order.
    """
    seen: dict[tuple[type, Any], int] = {}
    try:
        first_codes = [seen.setdefault((v.__class__, v), len(seen)) for v in values]
    except TypeError:  # a list or an object among the values: the slow, general path
        return encode_attribute([attribute_text(v) for v in values])
    return attribute_from_distinct(first_codes, [attribute_text(value) for _, value in seen])


def _boxes_and_issues(annotations: list[_Annotation], path: Path, problems: list[Problem]
                      ) -> tuple[npt.NDArray[np.float64], dict[int, str | None]]:
    """Each annotation's bbox as an n x 4 array; one without a bbox gets the box around its
    segmentation. Rows with no usable box are NaN and say why in the returned dict."""
    from bbqa.io.segmentation import SegmentationError, segmentation_box

    boxes: list[list[float] | None] = [a.bbox for a in annotations]
    issues: dict[int, str | None] = {}
    for row, a in enumerate(annotations):
        if a.bbox is not None:
            continue
        if bytes(a.segmentation) == b"null":
            issues[row] = "annotation has neither a 'bbox' nor a 'segmentation'"
            continue
        where = f"{path}: annotation id {a.id!r}"
        try:
            boxes[row] = segmentation_box(msgspec.json.decode(a.segmentation))
        except SegmentationError as exc:
            problems.append(Problem(Level.ERROR, "bad_segmentation",
                                    f"no 'bbox', and the segmentation {exc}; left out", where))
            issues[row] = None
            continue
        problems.append(Problem(Level.WARNING, "box_from_segmentation",
                                "no 'bbox': the box around the segmentation is used", where))
    try:
        array = np.array(boxes, dtype=np.float64)
        if array.shape == (len(boxes), 4):
            return array.reshape(-1, 4), issues
    except (TypeError, ValueError):
        pass
    out = np.full((len(boxes), 4), np.nan)
    for row, box in enumerate(boxes):
        if box is not None and len(box) == 4:
            out[row] = box
        elif box is not None and row not in issues:
            issues[row] = (f"expected 'bbox' to be [x, y, width, height], got {len(box)} "
                           "numbers")
    # A genuine all-NaN bbox is told apart later by the geometry check (non-finite).
    return out, issues


def _columns(doc: _CocoFile, path: Path, problems: list[Problem]
             ) -> tuple[ImageColumns, list[tuple[CocoId, str]], AnnotationColumns]:
    """The decoded document's fields as columns, copied out of its objects."""
    images, annotations = doc.images, doc.annotations
    _check_id_types([im.id for im in images], "image", path)
    _check_id_types([c.id for c in doc.categories], "category", path)
    image_columns = ImageColumns(
        ids=[im.id for im in images], file_names=[im.file_name for im in images],
        widths=np.array([im.width for im in images], dtype=np.float64),
        heights=np.array([im.height for im in images], dtype=np.float64),
        annotators=[im.annotator for im in images], scenes=[im.scene for im in images])
    categories = [(c.id, c.name) for c in doc.categories]
    xywh, issues = _boxes_and_issues(annotations, path, problems)
    ids = [a.id for a in annotations]
    _check_id_types(ids, "annotation", path)
    scores = [a.score for a in annotations]
    score = (np.full(len(annotations), np.nan) if scores.count(None) == len(scores)
             else np.array([np.nan if v is None else v for v in scores], dtype=np.float64))
    crowd = (np.array([a.iscrowd for a in annotations], dtype=bool)
             | np.array([a.ignore for a in annotations], dtype=bool))
    own_annotators = [a.annotator for a in annotations]
    raw_attributes = [a.attributes for a in annotations]
    attributes = {}
    if raw_attributes.count(None) != len(raw_attributes):
        attribute_names = sorted({k for d in raw_attributes if d for k in d})
        attributes = {
            name: _encode_attribute([d.get(name) if d else None for d in raw_attributes])
            for name in attribute_names
        }
    id_column: npt.NDArray[np.int64] | list[CocoId] = ids
    if ids and isinstance(ids[0], int):
        with contextlib.suppress(OverflowError):  # beyond 64 bits: kept as Python integers
            id_column = np.array(ids, dtype=np.int64)
    return image_columns, categories, AnnotationColumns(
        ids=id_column,
        image_ids=[a.image_id for a in annotations],
        category_ids=[a.category_id for a in annotations],
        xywh=xywh, box_issue=issues, crowd=crowd, score=score,
        annotators=(None if own_annotators.count(None) == len(own_annotators)
                    else own_annotators),
        attributes=attributes)


def _lookup_ids(values: npt.NDArray[np.int64] | list[CocoId],
                rows: dict[CocoId, int] | tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
                ) -> npt.NDArray[np.int64]:
    """Each value's row (-1 when absent), vectorized when every id is an integer.

    ``rows`` maps ids to rows, as a dict or as (sorted integer ids, their rows). A string
    never finds an integer id ("3" is not 3): ids are not coerced.
    """
    table = rows if isinstance(rows, tuple) else _integer_table(rows)
    integers = isinstance(values, np.ndarray) or all(type(v) is int for v in values)
    if table is not None and integers:
        keys, positions = table
        try:
            wanted = np.array(values, dtype=np.int64)
        except OverflowError:
            pass  # an id beyond int64 cannot be among int64 keys: the dict below says so
        else:
            if not len(keys):
                return np.full(len(values), -1, np.int64)
            at = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
            result: npt.NDArray[np.int64] = np.where(keys[at] == wanted, positions[at], -1)
            return result
    mapping = rows if isinstance(rows, dict) else dict(
        zip(rows[0].tolist(), rows[1].tolist(), strict=True))
    return np.array([mapping.get(v, -1) if type(v) is not bool else -1 for v in values],
                    dtype=np.int64).reshape(-1)


def _integer_table(rows: dict[CocoId, int]
                   ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """``rows`` as (sorted int64 ids, their rows), or None when an id is not such an integer."""
    keys = _int64_ids(list(rows))
    if keys is None:
        return None
    order = np.argsort(keys)
    return keys[order], np.array(list(rows.values()), dtype=np.int64)[order]


def _duplicates(ids: npt.NDArray[np.int64] | list[CocoId], path: Path, problems: list[Problem]
                ) -> npt.NDArray[np.bool_]:
    """Rows whose annotation id appeared before; each reported with both positions."""
    duplicate = np.zeros(len(ids), bool)
    try:
        keys = np.array(ids, dtype=np.int64)
        _, counts = np.unique(keys, return_counts=True)
        if (counts == 1).all():
            return duplicate
    except (TypeError, ValueError, OverflowError):
        pass
    seen: dict[int | str, int] = {}
    for row, value in enumerate(ids.tolist() if isinstance(ids, np.ndarray) else ids):
        first_row = seen.setdefault(value, row)
        if first_row != row:
            duplicate[row] = True
            problems.append(Problem(Level.ERROR, "duplicate_id",
                                    f"duplicate annotation id (first at annotations[{first_row}], "
                                    f"again at annotations[{row}]); the second is left out",
                                    f"{path}: annotation id {value!r}"))
    return duplicate


def _image_rows(images: ImageColumns, path: Path
                ) -> dict[CocoId, int] | tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each image id's row; duplicate ids and non-positive sizes are errors.

    Integer ids come back as (sorted ids, their rows), found without a Python step per image;
    other ids as a dict.
    """
    widths, heights = images.widths, images.heights
    bad = ~((widths > 0) & (widths < math.inf) & (heights > 0) & (heights < math.inf))
    numbers = _int64_ids(images.ids)
    if numbers is None:
        image_row: dict[CocoId, int] = {}
        for row, image_id in enumerate(images.ids):
            first = image_row.setdefault(image_id, row)
            if first != row:
                raise InputError(f"duplicate image id (also at images[{first}]); "
                                 "expected unique ids", path=path,
                                 pointer=f"image id {image_id!r}")
    else:
        order = np.argsort(numbers, kind="stable")  # equal ids keep their file order
        ordered = numbers[order]
        repeated = np.flatnonzero(ordered[1:] == ordered[:-1])
        if len(repeated):
            # The first row, in file order, whose id came before: what a scan would meet.
            again = order[repeated + 1]
            pick = int(np.argmin(again))
            first = int(order[np.searchsorted(ordered, ordered[repeated[pick]])])
            raise InputError(f"duplicate image id (also at images[{first}]); expected unique "
                             "ids", path=path, pointer=f"image id {int(numbers[again[pick]])!r}")
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"expected a positive width and height, got {widths[row]} x "
                         f"{heights[row]}", path=path,
                         pointer=f"image id {_plain(images.ids[row])!r}")
    return image_row if numbers is None else (ordered, order)


def _int64_ids(ids: npt.NDArray[np.int64] | list[CocoId]) -> npt.NDArray[np.int64] | None:
    """The ids as an int64 array when every one is a plain integer that fits, else None."""
    if isinstance(ids, np.ndarray):
        return ids
    if not all(type(v) is int for v in ids):
        return None
    try:
        return np.array(ids, dtype=np.int64).reshape(-1)
    except OverflowError:
        return None


def _category_rows(categories: list[tuple[CocoId, str]], path: Path
                   ) -> tuple[list[str], dict[CocoId, int]]:
    names: list[str] = []
    rows: dict[CocoId, int] = {}
    for category_id, name in categories:
        if category_id in rows:
            raise InputError("duplicate category id; expected one name per id", path=path,
                             pointer=f"category id {category_id!r}")
        if name in names:
            raise InputError(f"two categories are named {name!r}; expected unique "
                             "names", path=path, pointer=f"category id {category_id!r}")
        rows[category_id] = len(names)
        names.append(name)
    return names, rows


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _kept_attributes(attributes: dict[str, Attribute], rows: npt.NDArray[np.int64]
                     ) -> dict[str, Attribute]:
    """The attributes of the kept rows; values only dropped rows had are left out."""
    kept = {}
    for name, attribute in attributes.items():
        codes = attribute.codes[rows]
        used = distinct(codes[codes >= 0])
        remap = np.full(len(attribute.values) + 1, -1, np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        kept[name] = Attribute(codes=remap[codes],
                               values=tuple(attribute.values[i] for i in used.tolist()))
    return kept


def _build(images: ImageColumns, categories: list[tuple[CocoId, str]],
           annotations: AnnotationColumns, path: Path, problems: list[Problem]) -> Dataset:
    image_row = _image_rows(images, path)
    category_names, category_row = _category_rows(categories, path)
    a = annotations
    image_index = _lookup_ids(a.image_ids, image_row)
    category_index = _lookup_ids(a.category_ids, category_row)
    xywh_all = a.xywh
    keep = (image_index >= 0) & (category_index >= 0) & ~np.isnan(xywh_all).all(axis=1)
    duplicate = _duplicates(a.ids, path, problems)
    keep &= ~duplicate
    for row in np.flatnonzero(~keep & ~duplicate).tolist():
        if image_index[row] < 0:
            why = f"image_id {_plain(a.image_ids[row])!r} is not in 'images'"
        elif category_index[row] < 0:
            why = f"category_id {_plain(a.category_ids[row])!r} is not in 'categories'"
        else:
            issue = a.box_issue.get(row)
            if issue is None:
                continue  # its unusable segmentation is reported already
            why = issue
        problems.append(Problem(Level.ERROR, "invalid_annotation", why + "; the box is left out",
                                f"{path}: annotation id {a.id_at(row)!r}"))
    rows = np.flatnonzero(keep)
    xywh = xywh_all[rows]
    x1, y1 = xywh[:, 0], xywh[:, 1]
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite boxes are reported below
        x2, y2 = x1 + xywh[:, 2], y1 + xywh[:, 3]
    img = image_index[rows]
    widths, heights = images.widths, images.heights

    def locate(i: int) -> str:
        return f"{path}: annotation id {a.id_at(int(rows[i]))!r}"

    keep_geo, valid, geo_problems = check_geometry(x1, y1, x2, y2, widths[img], heights[img],
                                                   locate)
    problems += repoint(geo_problems, keep_geo)
    final_rows = rows[keep_geo]
    sel = np.flatnonzero(keep_geo)

    annotator_names: list[str] = []
    annotator_row: dict[str, int] = {}

    def annotator_of(value: str | int | None) -> int:
        if value is None:
            return -1
        name = str(value)
        if name not in annotator_row:
            annotator_row[name] = len(annotator_names)
            annotator_names.append(name)
        return annotator_row[name]

    if images.annotators.count(None) == len(images.annotators):  # the usual case: none named
        image_annotator = np.full(len(images.annotators) + 1, -1, np.int32)
    else:
        image_annotator = np.array([annotator_of(v) for v in images.annotators] + [-1],
                                   np.int32)
    box_annotator = image_annotator[img[sel]] if len(sel) else np.zeros(0, np.int32)
    if a.annotators is not None:
        own_names = a.annotators
        own = np.array([annotator_of(own_names[i]) for i in final_rows.tolist()], np.int32)
        box_annotator = np.where(own >= 0, own, box_annotator)
    source_id = (a.ids[final_rows] if isinstance(a.ids, np.ndarray)
                 else np.array([str(a.ids[i]) for i in final_rows.tolist()], dtype=np.str_))
    boxes = Boxes.build(
        image=img[sel],
        category=category_index[rows][sel],
        x1=x1[sel], y1=y1[sel], x2=x2[sel], y2=y2[sel],
        source_id=source_id,
        annotator=box_annotator,
        crowd=a.crowd[final_rows],
        valid=valid[sel],
        score=a.score[final_rows],
        attributes=_kept_attributes(a.attributes, final_rows),
    )
    return Dataset.build(
        images=Images.build(
            keys=_file_keys(images.file_names),
            widths=widths,
            heights=heights,
            source_ids=_id_texts(images.ids),
            annotators=_optional_texts(images.annotators),
            scenes=_optional_texts(images.scenes),
        ),
        categories=category_names,
        boxes=boxes,
        annotators=annotator_names,
        problems=problems,
        path=str(path),
        format="coco",
    )
