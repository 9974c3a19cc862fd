"""Write a :class:`~bbqa.dataset.Dataset` as COCO JSON, a YOLO folder or Pascal VOC XML.

Each writer applies its format's convention to bbqa's canonical pixel-edge boxes, so that
reading the output back with the matching loader gives the same boxes (YOLO and VOC keep full
float precision). Files are written atomically: into a temporary sibling, then renamed.

Example:
    >>> from bbqa.dataset import Boxes, Dataset, Images
    >>> ds = Dataset.build(Images.build(["a.jpg"], [10], [10]), ["dog"],
    ...                    Boxes.build([0], [0], [0.], [1.], [4.], [5.], ["7"]))
    >>> coco_document(ds)["annotations"][0]["bbox"]
    [0.0, 1.0, 4.0, 4.0]
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from bbqa.dataset import Dataset
from bbqa.errors import BbqaError, reason
from bbqa.text import XML_FORBIDDEN

VOC_FLAGS = ("difficult", "truncated", "occluded")


class WriteFormat(StrEnum):
    """Formats ``bbqa convert`` writes."""

    COCO = "coco"
    YOLO = "yolo"
    VOC = "voc"


class WriteError(BbqaError):
    """An output could not be written."""


def _attributes(dataset: Dataset) -> dict[str, list[str | None]]:
    return {name: attr.decoded() for name, attr in dataset.boxes.attributes.items()}


def coco_document(dataset: Dataset) -> dict[str, Any]:
    """The dataset as a COCO document (ids from 1; crowd regions as ``iscrowd: 1``)."""
    images = dataset.images
    b = dataset.boxes
    attributes = _attributes(dataset)
    annotators = list(dataset.annotators)
    out_images = []
    for i in range(len(images)):
        entry: dict[str, Any] = {"id": i + 1, "file_name": str(images.key[i]),
                                 "width": float(images.width[i]),
                                 "height": float(images.height[i])}
        if images.annotator[i]:
            entry["annotator"] = str(images.annotator[i])
        if images.scene[i]:
            entry["scene"] = str(images.scene[i])
        out_images.append(entry)
    annotations = []
    for k in range(len(b)):
        x1, y1, x2, y2 = float(b.x1[k]), float(b.y1[k]), float(b.x2[k]), float(b.y2[k])
        annotation: dict[str, Any] = {
            "id": k + 1, "image_id": int(b.image[k]) + 1, "category_id": int(b.category[k]) + 1,
            "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
            "iscrowd": int(b.crowd[k]), "source_id": str(b.ids[k]),
        }
        if b.annotator[k] >= 0:
            annotation["annotator"] = annotators[b.annotator[k]]
        if not np.isnan(b.score[k]):
            annotation["score"] = float(b.score[k])
        values = {name: column[k] for name, column in attributes.items()
                  if column[k] is not None}
        if values:
            annotation["attributes"] = values
        annotations.append(annotation)
    return {"images": out_images,
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(dataset.categories)],
            "annotations": annotations}


def _check_parents(path: Path) -> None:
    """Refuse a destination under a file, which the OS would only call "File exists"."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WriteError(f"cannot write {path}: {parent} is a file, not a folder")
            return


def _atomic_file(path: Path, write: Callable[[Path], object]) -> None:
    import tempfile

    _check_parents(path)
    if path.is_dir():
        raise WriteError(f"{path} is a folder; expected the path of a .json file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.",
                                         delete=False) as f:
            temp = Path(f.name)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {reason(exc)}") from exc
    try:
        write(temp)
        temp.replace(path)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {reason(exc)}") from exc
    finally:
        temp.unlink(missing_ok=True)


def _atomic_folder(path: Path, write: Callable[[Path], None]) -> None:
    """Build the folder beside its destination and move it into place when complete."""
    import tempfile

    _check_parents(path)
    if path.exists() and not path.is_dir():
        raise WriteError(f"{path} is a file; expected a new folder")
    if path.exists() and any(path.iterdir()):
        raise WriteError(f"{path} exists and is not empty; expected a new folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {reason(exc)}") from exc
    try:
        write(temp)
        if path.exists():
            path.rmdir()
        temp.replace(path)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {reason(exc)}") from exc
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def write_coco(dataset: Dataset, path: Path) -> int:
    """Write COCO JSON; returns how many boxes could not be written (always 0)."""
    text = json.dumps(coco_document(dataset), indent=1)
    _atomic_file(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))
    return 0


def _stem(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key[1:] else key


def _one_file_per_image(dataset: Dataset, fmt: str) -> None:
    stems = [_stem(k) for k in dataset.images.key.tolist()]
    if len(set(stems)) != len(stems):
        twice = sorted({s for s in stems if stems.count(s) > 1})[:3]
        raise WriteError(f"{fmt} keeps one file per image, but several image entries share "
                         f"the name {', '.join(twice)} (overlap labeling?); convert to COCO")


def _check_texts(dataset: Dataset, fmt: str) -> None:
    """Refuse names the format's files cannot give back as they are: YOLO reads one class
    name a line and VOC's reader strips its texts, which XML must be able to hold; both name
    a file after each image."""
    for name in dataset.categories:
        problem = _name_problem(name, fmt)
        if problem:
            raise WriteError(f"the class name {name!r} {problem}: {fmt} cannot keep it; "
                             "convert to COCO, or rename the class first")
    for key in dataset.images.key.tolist():
        if "\0" in key or "/" in key or (fmt == "VOC" and XML_FORBIDDEN.search(key)):
            raise WriteError(f"the image name {key!r} cannot be written as a {fmt} file "
                             "name; convert to COCO")


def _name_problem(name: str, fmt: str) -> str | None:
    """Why ``fmt`` cannot give the class name back as it is, or ``None``."""
    if not name.strip():
        return "is empty"
    if name != name.strip():
        return "has spaces around it, which the reader strips"
    if fmt == "YOLO" and len(name.splitlines()) > 1:
        return "holds a line break"
    if fmt == "VOC" and XML_FORBIDDEN.search(name):
        return "holds a character XML cannot"
    return None


def write_yolo(dataset: Dataset, path: Path) -> int:
    """Write a YOLO dataset folder (``labels/``, ``classes.txt``, ``image_sizes.csv``).

    Crowd regions have no YOLO form: they are left out and counted in the return value.
    """
    _one_file_per_image(dataset, "YOLO")
    _check_texts(dataset, "YOLO")
    images, b = dataset.images, dataset.boxes
    offsets = dataset.image_offsets()

    def write(folder: Path) -> None:
        (folder / "labels").mkdir()
        (folder / "classes.txt").write_text("".join(f"{n}\n" for n in dataset.categories))
        with open(folder / "image_sizes.csv", "w", newline="", encoding="utf-8") as sizes:
            table = csv.writer(sizes, lineterminator="\n")  # quotes a name with a comma
            table.writerow(["file", "width", "height"])
            table.writerows([k, f"{w:g}", f"{h:g}"] for k, w, h in zip(
                images.key.tolist(), images.width.tolist(), images.height.tolist(), strict=True))
        for i, key in enumerate(images.key.tolist()):
            rows = []
            for k in range(int(offsets[i]), int(offsets[i + 1])):
                if b.crowd[k]:
                    continue
                w, h = float(images.width[i]), float(images.height[i])
                x1, y1, x2, y2 = float(b.x1[k]), float(b.y1[k]), float(b.x2[k]), float(b.y2[k])
                row = (f"{int(b.category[k])} {(x1 + x2) / 2 / w!r} {(y1 + y2) / 2 / h!r} "
                       f"{(x2 - x1) / w!r} {(y2 - y1) / h!r}")
                if not np.isnan(b.score[k]):
                    row += f" {float(b.score[k])!r}"
                rows.append(row + "\n")
            (folder / "labels" / f"{_stem(key)}.txt").write_text("".join(rows))

    _atomic_folder(path, write)
    return int(b.crowd.sum())


def write_voc(dataset: Dataset, path: Path) -> int:
    """Write one Pascal VOC XML file per image (1-based inclusive pixel indices, floats kept).

    Crowd regions have no VOC form: they are left out and counted in the return value.
    """
    from html import escape  # imported on use, like tempfile: an audit never needs them
    _one_file_per_image(dataset, "VOC")
    _check_texts(dataset, "VOC")
    images, b = dataset.images, dataset.boxes
    offsets = dataset.image_offsets()
    attributes = _attributes(dataset)

    def flag(name: str, k: int) -> str:
        value = attributes.get(name, [None] * len(b))[k]
        if value is None:
            return ""
        text = {"true": "1", "false": "0"}.get(value, escape(value))
        return f"<{name}>{text}</{name}>"

    def write(folder: Path) -> None:
        for i, key in enumerate(images.key.tolist()):
            objects = []
            for k in range(int(offsets[i]), int(offsets[i + 1])):
                if b.crowd[k]:
                    continue
                objects.append(
                    f"  <object><name>{escape(dataset.categories[b.category[k]])}</name>"
                    + "".join(flag(f, k) for f in VOC_FLAGS)
                    + f"<bndbox><xmin>{float(b.x1[k]) + 1!r}</xmin><ymin>{float(b.y1[k]) + 1!r}"
                    f"</ymin><xmax>{float(b.x2[k])!r}</xmax><ymax>{float(b.y2[k])!r}</ymax>"
                    "</bndbox></object>")
            xml = (f"<annotation>\n  <filename>{escape(key)}</filename>\n"
                   f"  <size><width>{float(images.width[i]):g}</width>"
                   f"<height>{float(images.height[i]):g}</height><depth>3</depth></size>\n"
                   + "".join(o + "\n" for o in objects) + "</annotation>\n")
            (folder / f"{_stem(key)}.xml").write_text(xml, encoding="utf-8")

    _atomic_folder(path, write)
    return int(b.crowd.sum())


WRITERS: dict[WriteFormat, Callable[[Dataset, Path], int]] = {
    WriteFormat.COCO: write_coco,
    WriteFormat.YOLO: write_yolo,
    WriteFormat.VOC: write_voc,
}
