"""COCO JSON (`images`, `categories`, `annotations` with `bbox` [x, y, w, h]).

Files of ARROW_MIN_BYTES and more are read into columns by Arrow's JSON reader
(``coco_columns``), unless their annotations carry enough polygons to make the typed decode
faster (``coco_route``); smaller ones, and any file that reader leaves to the strict path, are
decoded against a typed schema (``coco_typed``), which names what is wrong in a broken file.
Both give the same columns, which this module checks and builds into a dataset.

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
import mmap
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bbqa import progress
from bbqa.arrays import increasing
from bbqa.dataset import Boxes, Dataset, Images, Level, Problem
from bbqa.errors import InputError, UsageError
from bbqa.io import coco_columns, coco_route
from bbqa.io.checks import check_geometry, repoint
from bbqa.io.coco_columns import (
    AnnotationColumns,
    CocoId,
    ImageColumns,
    read_with_arrow,
)
from bbqa.io.collector import paused
from bbqa.io.names import Names, as_texts, first_appearance, none_named

# Below this size the typed decode is about as fast and spares the Arrow import (60 ms).
ARROW_MIN_BYTES = 4 << 20


def load(path: Path, *, scene_field: str = "scene", annotator_field: str = "annotator"
         ) -> Dataset:
    """Load a COCO detection file as a :class:`~bbqa.dataset.Dataset`.

    ``scene_field`` names the image key holding a scene tag; ``annotator_field`` the image and
    annotation key holding the annotator.
    """
    _check_tag_fields(scene_field, annotator_field)
    step = progress.count(1, "files")
    try:
        raw, arrow = _contents(path)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    with paused():
        problems: list[Problem] = []
        columns = read_with_arrow(raw, scene_field, annotator_field) if arrow else None
        if columns is None:
            from bbqa.io import coco_typed

            if isinstance(raw, mmap.mmap):
                raw = raw[:]  # the strict path and its error messages work on bytes
            doc = coco_typed.decode(raw, path, scene_field, annotator_field, problems)
            del raw  # the decoded document holds what is needed
            columns = coco_typed.columns(doc, path, problems)
        else:
            del raw
        dataset = _build(*columns, path, problems)
    step(1)
    return dataset


# The keys bbqa reads for themselves; a scene or annotator tag cannot be read from one of them.
_IMAGE_FIELDS = frozenset({"id", "file_name", "width", "height"})
_ANNOTATION_FIELDS = frozenset({"id", "image_id", "category_id", "bbox", "iscrowd", "ignore",
                                "score", "attributes", "segmentation"})


def _check_tag_fields(scene_field: str, annotator_field: str) -> None:
    """Refuse tag fields that name a key bbqa already reads, or the same key twice."""
    for what, field, taken in (("scene", scene_field, _IMAGE_FIELDS),
                               ("annotator", annotator_field, _IMAGE_FIELDS | _ANNOTATION_FIELDS)):
        if field in taken:
            raise UsageError(f"the {what} field {field!r} is a COCO key bbqa reads for itself; "
                             f"name the key that holds the {what}")
    if scene_field == annotator_field:
        raise UsageError(f"the scene and annotator fields are both {scene_field!r}; "
                         "they must be different keys")


def _subset(index: npt.NDArray[np.intp], n: int
            ) -> Callable[[npt.NDArray[Any]], npt.NDArray[Any]]:
    """``values[index]`` as a function of ``values``; the values themselves when ``index``
    keeps all ``n`` rows (the usual case: a gather of a million boxes copies for nothing, and
    Dataset.build copies every column when it sorts them)."""
    if len(index) == n:
        return lambda values: values
    return lambda values: values[index]


def arrow_reads(path: Path) -> bool:
    """Whether :func:`load` gives this file to Arrow's reader first (``False`` if unreadable).

    >>> arrow_reads(Path("fixtures/demo/golden.json"))  # below ARROW_MIN_BYTES
    False
    """
    try:
        with open(path, "rb") as handle:
            return _arrow_reads(handle.fileno())
    except OSError:
        return False


def _arrow_reads(fd: int) -> bool:
    size = os.fstat(fd).st_size
    # A file too big for Arrow's one block is read, not mapped: the typed decode needs bytes.
    return (ARROW_MIN_BYTES <= size < coco_columns.ARROW_MAX_BYTES
            and coco_route.arrow_is_faster(coco_route.samples(fd, size)))


def _contents(path: Path) -> tuple[bytes | mmap.mmap, bool]:
    """The file's bytes, and whether the Arrow reader is to parse them: memory-mapped when it
    is, read otherwise.

    Mapping spares copying a big file into fresh memory: 0.1 s and 40,000 page faults for a
    160 MB file, and its pages come straight from the file cache.
    """
    with open(path, "rb") as handle:
        if _arrow_reads(handle.fileno()):
            # Some files cannot be mapped (a FIFO, some network file systems): read them.
            with contextlib.suppress(OSError, ValueError):
                return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), True
            return handle.read(), True
        return handle.read(), False


def _file_key(file_name: str) -> str:
    # COCO exports written on Windows keep backslashes; the key is the name without its folder.
    return file_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


def _file_keys(file_names: list[str] | npt.NDArray[np.str_]) -> list[str] | npt.NDArray[np.str_]:
    """Every image's key; one check over all names when none has a folder (the usual case)."""
    if isinstance(file_names, np.ndarray):
        code_points = np.ascontiguousarray(file_names).view(np.uint32)
        if not ((code_points == ord("/")) | (code_points == ord("\\"))).any():
            return file_names
        file_names = file_names.tolist()
    joined = "\n".join(file_names)
    if "/" not in joined and "\\" not in joined:
        return file_names
    return [_file_key(name) for name in file_names]


def _id_texts(ids: npt.NDArray[np.int64] | list[CocoId]) -> list[str] | npt.NDArray[np.str_]:
    """Image ids as text: integer ids through Arrow's cast (decimal digits, as ``str``),
    others with ``map(str)``, which beats numpy's integer-to-text cast by half."""
    if isinstance(ids, np.ndarray):
        from bbqa import arrow_kernels as kernels

        texts = kernels.ascii_texts(kernels.as_text(kernels.from_numpy(ids)))
        if texts is not None:
            return texts
    return list(map(str, ids.tolist() if isinstance(ids, np.ndarray) else ids))


def _optional_texts(values: list[str | int | None] | npt.NDArray[np.str_]
                    ) -> list[str] | npt.NDArray[np.str_] | None:
    """Optional per-image names as text ("" where absent); ``None`` when no image has one."""
    if isinstance(values, np.ndarray):
        return values  # every image has a text name (the Arrow reader's numpy text)
    if values.count(None) == len(values):
        return None
    if set(map(type, values)) == {str}:  # every image has a text name: nothing to convert
        return values  # type: ignore[return-value]
    return ["" if v is None else str(v) for v in values]


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
            wanted = np.asarray(values, dtype=np.int64)
        except OverflowError:
            pass  # an id beyond int64 cannot be among int64 keys: the dict below says so
        else:
            if not len(keys):
                return np.full(len(values), -1, np.int64)
            low, span = int(keys[0]), int(keys[-1]) - int(keys[0]) + 1
            # (Ids within 2**62 of zero: no offset below can wrap into the table.)
            if span <= 4 * len(keys) + 1024 and abs(low) < 2**62:
                # Dense ids (1..N, the usual numbering): a direct table, no binary search.
                direct = np.full(span, -1, np.int64)
                direct[keys - low] = positions
                if not len(wanted) or (wanted.min() >= low and wanted.max() < low + span):
                    # Every id within the table (the usual case): one gather, no masks.
                    gathered: npt.NDArray[np.int64] = direct[wanted - low]
                    return gathered
                offset = wanted - low
                inside = (offset >= 0) & (offset < span)
                found: npt.NDArray[np.int64] = np.where(
                    inside, direct[np.where(inside, offset, 0)], -1)
                return found
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
    keys = coco_columns.int64_ids(list(rows))
    if keys is None:
        return None
    order = np.argsort(keys)
    return keys[order], np.array(list(rows.values()), dtype=np.int64)[order]


def _duplicates(ids: npt.NDArray[np.int64] | list[CocoId], path: Path, problems: list[Problem]
                ) -> npt.NDArray[np.bool_]:
    """Rows whose annotation id appeared before; each reported with both positions."""
    duplicate = np.zeros(len(ids), bool)
    if isinstance(ids, np.ndarray) and increasing(ids):
        return duplicate  # increasing ids (most exports number annotations in order) repeat none
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
    numbers = coco_columns.int64_ids(images.ids)
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


def _annotators(images: ImageColumns, annotations: AnnotationColumns,
                final_rows: npt.NDArray[np.intp]
                ) -> tuple[list[str], npt.NDArray[np.int32], npt.NDArray[np.int32] | None]:
    """The annotator names in order of first appearance (images, then the kept annotations'
    own names), each image's annotator (-1: none, and one more -1 at the end for rows without
    an image) and each kept annotation's own annotator (``None`` when no annotation names one).
    """
    own_names = annotations.annotators
    n_images = len(images.annotators)
    if own_names is None and none_named(images.annotators):
        return [], np.full(n_images + 1, -1, np.int32), None  # the usual case: none named
    parts = [images.annotators]
    if own_names is not None:
        parts.append(_kept_names(own_names, final_rows))
    names, codes = first_appearance(parts)
    image_annotator = np.append(codes[0], np.int32(-1))
    return names, image_annotator, (codes[1] if own_names is not None else None)


def _kept_names(names: Names, rows: npt.NDArray[np.intp]) -> Names:
    """``names`` at ``rows``: gathered by Arrow for its column, in Python for a list."""
    if isinstance(names, list):
        return [names[i] for i in rows.tolist()]
    from bbqa import arrow_kernels as kernels

    return kernels.take(names, kernels.from_numpy(rows.astype(np.int64)))


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
    at_rows = _subset(rows, len(keep))
    xywh = at_rows(xywh_all)
    x1, y1 = xywh[:, 0], xywh[:, 1]
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite boxes are reported below
        x2, y2 = x1 + xywh[:, 2], y1 + xywh[:, 3]
    img = at_rows(image_index)
    widths, heights = images.widths, images.heights

    def locate(i: int) -> str:
        return f"{path}: annotation id {a.id_at(int(rows[i]))!r}"

    keep_geo, valid, geo_problems = check_geometry(x1, y1, x2, y2, widths[img], heights[img],
                                                   locate)
    problems += repoint(geo_problems, keep_geo)
    final_rows = rows[keep_geo]
    sel = np.flatnonzero(keep_geo)
    at_sel = _subset(sel, len(keep_geo))
    at_final = _subset(final_rows, len(keep))

    annotator_names, image_annotator, own = _annotators(images, a, final_rows)
    box_annotator = image_annotator[at_sel(img)] if len(sel) else np.zeros(0, np.int32)
    if own is not None:
        box_annotator = np.where(own >= 0, own, box_annotator)
    source_id = (at_final(a.ids) if isinstance(a.ids, np.ndarray)
                 else np.array([str(a.ids[i]) for i in final_rows.tolist()], dtype=np.str_))
    boxes = Boxes.build(
        image=at_sel(img),
        category=at_final(category_index),
        x1=at_sel(x1), y1=at_sel(y1), x2=at_sel(x2), y2=at_sel(y2),
        source_id=source_id,
        annotator=box_annotator,
        crowd=at_final(a.crowd),
        valid=at_sel(valid),
        score=at_final(a.score),
        attributes={name: attribute.kept(final_rows) for name, attribute in a.attributes.items()},
    )
    return Dataset.build(
        images=Images.build(
            keys=_file_keys(images.file_names),
            widths=widths,
            heights=heights,
            source_ids=_id_texts(images.ids),
            annotators=_optional_texts(as_texts(images.annotators)),
            scenes=_optional_texts(images.scenes),
        ),
        categories=category_names,
        boxes=boxes,
        annotators=annotator_names,
        problems=problems,
        path=str(path),
        format="coco",
    )
