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

import gc
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from bbqa.dataset import Attribute, Boxes, Dataset, Images, Level, Problem, encode_attribute
from bbqa.errors import InputError
from bbqa.io.checks import check_geometry, repoint

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
_PATH_INDEX = re.compile(r"^\$\.(images|categories|annotations)\[(\d+)\]")


def load(path: Path, *, scene_field: str = "scene", annotator_field: str = "annotator"
         ) -> Dataset:
    """Load a COCO detection file as a :class:`~bbqa.dataset.Dataset`.

    ``scene_field`` names the image key holding a scene tag; ``annotator_field`` the image and
    annotation key holding the annotator.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    # The collector would walk the hundreds of thousands of new objects a big file makes, again
    # and again, without ever finding a cycle among them: it is paused while they are built.
    paused = gc.isenabled()
    gc.disable()
    decoder = _decoder(scene_field, annotator_field)
    try:
        try:
            doc, problems = decoder.decode(raw), list[Problem]()
        except msgspec.DecodeError as exc:
            doc, problems = _tolerant(raw, exc, path, decoder)
        except UnicodeDecodeError as exc:
            line, column = _line_column(raw, exc.start)
            raise InputError(f"invalid UTF-8 at column {column} (byte {exc.start}); JSON "
                             "text must be UTF-8", path=path, line=line) from None
        return _build(doc, path, problems)
    finally:
        if paused:
            gc.enable()


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


def _encode_attribute(values: list[Any]) -> Attribute:
    """Dictionary-encode raw JSON attribute values, converting each distinct value once."""
    # Keyed by type too: True == 1 as a dict key, but they are different attribute values.
    texts: dict[tuple[type, Any], str | None] = {}
    raw: list[str | None] = []
    for value in values:
        try:
            text = texts[type(value), value]
        except KeyError:
            text = texts[type(value), value] = _attribute_text(value)
        except TypeError:  # a list or object: not hashable, converted on its own
            text = _attribute_text(value)
        raw.append(text)
    return encode_attribute(raw)


def _attribute_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _boxes_or_segmentation(annotations: list[_Annotation], path: Path,
                           problems: list[Problem]) -> list[list[float] | None]:
    """Each annotation's bbox; one without a bbox gets the box around its segmentation."""
    from bbqa.io.segmentation import SegmentationError, segmentation_box

    boxes: list[list[float] | None] = [a.bbox for a in annotations]
    for row, a in enumerate(annotations):
        if a.bbox is not None or bytes(a.segmentation) == b"null":
            continue
        where = f"{path}: annotation id {a.id!r}"
        try:
            boxes[row] = segmentation_box(msgspec.json.decode(a.segmentation))
        except SegmentationError as exc:
            problems.append(Problem(Level.ERROR, "bad_segmentation",
                                    f"no 'bbox', and the segmentation {exc}; left out", where))
            boxes[row] = []
            continue
        problems.append(Problem(Level.WARNING, "box_from_segmentation",
                                "no 'bbox': the box around the segmentation is used", where))
    return boxes


def _build(doc: _CocoFile, path: Path, problems: list[Problem]) -> Dataset:
    images, categories, annotations = doc.images, doc.categories, doc.annotations
    _check_id_types([im.id for im in images], "image", path)
    _check_id_types([c.id for c in categories], "category", path)
    image_row: dict[int | str, int] = {}
    for row, image in enumerate(images):
        if image.id in image_row:
            raise InputError(f"duplicate image id (also at images[{image_row[image.id]}]); "
                             "expected unique ids", path=path, pointer=f"image id {image.id!r}")
        if not (image.width > 0 and image.height > 0 and np.isfinite([image.width,
                                                                      image.height]).all()):
            raise InputError(f"expected a positive width and height, got {image.width} x "
                             f"{image.height}", path=path, pointer=f"image id {image.id!r}")
        image_row[image.id] = row
    category_names: list[str] = []
    category_row: dict[int | str, int] = {}
    for category in categories:
        if category.id in category_row:
            raise InputError("duplicate category id; expected one name per id", path=path,
                             pointer=f"category id {category.id!r}")
        if category.name in category_names:
            raise InputError(f"two categories are named {category.name!r}; expected unique "
                             "names", path=path, pointer=f"category id {category.id!r}")
        category_row[category.id] = len(category_names)
        category_names.append(category.name)

    n = len(annotations)
    bboxes = _boxes_or_segmentation(annotations, path, problems)
    image_index = np.fromiter((image_row.get(a.image_id, -1) for a in annotations), np.int64, n)
    category_index = np.fromiter((category_row.get(a.category_id, -1) for a in annotations),
                                 np.int64, n)
    bbox_len = np.fromiter((len(b) if b is not None else 0 for b in bboxes), np.int64, n)
    keep = (image_index >= 0) & (category_index >= 0) & (bbox_len == 4)
    seen_ids: dict[int | str, int] = {}
    duplicate = np.zeros(n, bool)
    for row, annotation in enumerate(annotations):
        first = seen_ids.setdefault(annotation.id, row)
        if first != row:
            duplicate[row] = True
            problems.append(Problem(Level.ERROR, "duplicate_id",
                                    f"duplicate annotation id (first at annotations[{first}], "
                                    f"again at annotations[{row}]); the second is left out",
                                    f"{path}: annotation id {annotation.id!r}"))
    keep &= ~duplicate
    for row in np.flatnonzero(~keep & ~duplicate).tolist():
        a = annotations[row]
        if image_index[row] < 0:
            why = f"image_id {a.image_id!r} is not in 'images'"
        elif category_index[row] < 0:
            why = f"category_id {a.category_id!r} is not in 'categories'"
        elif bboxes[row] is None:
            why = "annotation has neither a 'bbox' nor a 'segmentation'"
        elif a.bbox is None:
            continue  # its unusable segmentation is reported already
        else:
            why = f"expected 'bbox' to be [x, y, width, height], got {len(a.bbox)} numbers"
        problems.append(Problem(Level.ERROR, "invalid_annotation", why + "; the box is left out",
                                f"{path}: annotation id {a.id!r}"))
    _check_id_types([a.id for a in annotations], "annotation", path)
    rows = np.flatnonzero(keep)
    kept = [annotations[i] for i in rows.tolist()]
    xywh = np.array([bboxes[i] for i in rows.tolist()], dtype=np.float64).reshape(-1, 4)
    x1, y1 = xywh[:, 0], xywh[:, 1]
    x2, y2 = x1 + xywh[:, 2], y1 + xywh[:, 3]
    img = image_index[rows]
    widths = np.array([im.width for im in images], dtype=np.float64)
    heights = np.array([im.height for im in images], dtype=np.float64)

    def locate(i: int) -> str:
        return f"{path}: annotation id {kept[i].id!r}"

    keep_geo, valid, geo_problems = check_geometry(x1, y1, x2, y2, widths[img], heights[img],
                                                   locate)
    problems += repoint(geo_problems, keep_geo)
    final = [a for a, k in zip(kept, keep_geo.tolist(), strict=True) if k]
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

    image_annotator = [annotator_of(im.annotator) for im in images]
    box_annotator = np.fromiter(
        (annotator_of(a.annotator) if a.annotator is not None
         else image_annotator[image_row[a.image_id]] for a in final), np.int32, len(final))
    attribute_names = sorted({k for a in final if a.attributes for k in a.attributes})
    no_attributes: dict[str, Any] = {}
    attributes = {
        name: _encode_attribute([(a.attributes or no_attributes).get(name) for a in final])
        for name in attribute_names
    }
    ids = [a.id for a in final]
    source_id = (np.array(ids, dtype=np.int64).astype(np.str_) if ids and
                 isinstance(ids[0], int) else np.array([str(i) for i in ids], dtype=np.str_))
    boxes = Boxes.build(
        image=img[sel],
        category=category_index[rows][sel],
        x1=x1[sel], y1=y1[sel], x2=x2[sel], y2=y2[sel],
        source_id=source_id,
        annotator=box_annotator,
        crowd=np.fromiter((bool(a.iscrowd) or bool(a.ignore) for a in final), bool, len(final)),
        valid=valid[sel],
        score=np.fromiter((np.nan if a.score is None else a.score for a in final), np.float64,
                          len(final)),
        attributes=attributes,
    )
    image_annotators = [str(im.annotator) if im.annotator is not None else "" for im in images]
    return Dataset.build(
        images=Images.build(
            keys=[_file_key(im.file_name) for im in images],
            widths=widths,
            heights=heights,
            source_ids=[str(im.id) for im in images],
            annotators=image_annotators,
            scenes=["" if im.scene is None else str(im.scene) for im in images],
        ),
        categories=category_names,
        boxes=boxes,
        annotators=annotator_names,
        problems=problems,
        path=str(path),
        format="coco",
    )
