"""COCO decoded against a typed schema (msgspec): files below the Arrow reader's size, and
every file the Arrow reader leaves to the strict path.

The schema holds only the fields bbqa reads, several times faster than a dict per annotation.
When the strict decode fails, the file is decoded once more without a schema, only to name the
offending annotation or image by its id. Imported only when needed: msgspec costs a large
file's start-up 7 ms that the Arrow path does not.

Example:
    >>> from pathlib import Path
    >>> raw = b'{"images": [], "categories": [{"id": 1, "name": "car"}], "annotations": []}'
    >>> problems = []
    >>> columns(decode(raw, Path("gt.json"), "scene", "annotator", problems), Path("gt.json"),
    ...         problems)[1]
    [(1, 'car')]
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from bbqa.dataset import Attribute, Level, Problem, encode_attribute
from bbqa.errors import InputError
from bbqa.io.coco_columns import (
    AnnotationColumns,
    CocoId,
    ImageColumns,
    attribute_from_distinct,
    attribute_text,
    int64_ids,
)
from bbqa.io.json_text import describe_lone_surrogate, lone_surrogate


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



def decode(raw: bytes, path: Path, scene_field: str, annotator_field: str,
           problems: list[Problem]) -> Any:
    """The document decoded against the schema. A malformed annotation becomes a problem
    (appended to ``problems``) and is left out; anything worse raises :class:`InputError`."""
    decoder = _decoder(scene_field, annotator_field)
    try:
        return _decode(raw, path, decoder, problems)
    except RecursionError:  # from msgspec or Python's parser, at the interpreter's limit
        raise InputError(f"invalid JSON: arrays or objects nested more than "
                         f"{sys.getrecursionlimit():,} levels deep (a COCO file needs five)",
                         path=path) from None


def _decode(raw: bytes, path: Path, decoder: msgspec.json.Decoder[Any],
            problems: list[Problem]) -> Any:
    try:
        return decoder.decode(raw)
    except msgspec.DecodeError as exc:
        # Before the tolerant decode: Python's parser would take half a surrogate pair.
        lone = lone_surrogate(raw)
        if lone is not None:
            line, column = _line_column(raw, lone)
            raise InputError(f"invalid JSON at column {column}: "
                             f"{describe_lone_surrogate(raw, lone)}", path=path,
                             line=line) from None
        doc, found = _tolerant(raw, exc, path, decoder)
        problems.extend(found)
        return doc
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw, exc.start)
        raise InputError(f"invalid UTF-8 at column {column} (byte {exc.start}); JSON "
                         "text must be UTF-8", path=path, line=line) from None


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
        except msgspec.ValidationError:
            # Without a schema only a number beyond a float's range fails: Python's parser
            # reads it as infinity, which the geometry check then reports per box.
            generic = json.loads(raw)
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


_NUMBER_TYPES = {bool, int, float}


def _encode_attribute(values: list[Any]) -> Attribute:
    """Dictionary-encode raw JSON attribute values in one pass, each distinct value once.

    Each row gets its value's first row through a dict at C speed; the codes are then
    renumbered so that the value texts are in sorted order. Where two kinds of number are among
    the values, each is keyed with its type (``True == 1`` as a dict key, but they are
    different values); otherwise equal values are the same value and are keyed as they are
    (half the time of building a tuple per row).
    """
    mixed_numbers = len(set(map(type, values)) & _NUMBER_TYPES) > 1
    keys = [(v.__class__, v) for v in values] if mixed_numbers else values
    first_row: dict[Any, int] = {}
    try:
        rows = np.fromiter(map(first_row.setdefault, keys, range(len(keys))), np.intp,
                           len(keys))
    except TypeError:  # a list or an object among the values: the slow, general path
        return encode_attribute([attribute_text(v) for v in values])
    firsts = np.fromiter(first_row.values(), np.intp, len(first_row))
    code_of_row = np.zeros(len(values), np.intp)
    code_of_row[firsts] = np.arange(len(firsts))
    return attribute_from_distinct(code_of_row[rows],
                                   [attribute_text(values[r]) for r in firsts.tolist()])


def _boxes_and_issues(annotations: list[_Annotation], path: Path, problems: list[Problem]
                      ) -> tuple[npt.NDArray[np.float64], dict[int, str | None]]:
    """Each annotation's bbox as an n x 4 array; one without a bbox gets the box around its
    segmentation. Rows with no usable box are NaN and say why in the returned dict."""
    from bbqa.io.segmentation import SegmentationError, segmentation_box

    boxes: list[list[float] | None] = [a.bbox for a in annotations]
    issues: dict[int, str | None] = {}
    if None not in boxes and set(map(len, boxes)) <= {4}:  # type: ignore[arg-type]
        # The usual file: four numbers each, flattened at C speed (np.array of a list of
        # lists took twice as long).
        flat = np.fromiter(itertools.chain.from_iterable(boxes),  # type: ignore[arg-type]
                           np.float64, 4 * len(boxes))
        return flat.reshape(-1, 4), issues
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


def _as_int64(values: list[CocoId]) -> npt.NDArray[np.int64] | list[CocoId]:
    """Ids as an int64 array, as the Arrow reader gives them, when every one is an integer
    within 64 bits; else the list as it is (text ids, a mix, or an id beyond 64 bits, and no
    ids at all)."""
    numbers = int64_ids(values) if values else None
    return numbers if numbers is not None else values


def columns(doc: _CocoFile, path: Path, problems: list[Problem]
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
        attribute_names = sorted(set().union(*filter(None, raw_attributes)))
        attributes = {
            name: _encode_attribute([d.get(name) if d else None for d in raw_attributes])
            for name in attribute_names
        }
    return image_columns, categories, AnnotationColumns(
        ids=_as_int64(ids),
        image_ids=_as_int64([a.image_id for a in annotations]),
        category_ids=_as_int64([a.category_id for a in annotations]),
        xywh=xywh, box_issue=issues, crowd=crowd, score=score,
        annotators=(None if own_annotators.count(None) == len(own_annotators)
                    else own_annotators),
        attributes=attributes)
