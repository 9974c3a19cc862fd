"""Loaders, one module per format, all returning a :class:`~bbqa.dataset.Dataset`.

Example:
    >>> from pathlib import Path
    >>> detect_format(Path("gt.json"))
    <Format.COCO: 'coco'>
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from bbqa.dataset import Dataset
from bbqa.errors import InputError


class Format(StrEnum):
    """The annotation formats bbqa reads."""

    AUTO = "auto"
    COCO = "coco"
    YOLO = "yolo"
    VOC = "voc"


def detect_format(path: Path) -> Format:
    """Guess the format from the path: a .json file is COCO, XML files VOC, .txt labels YOLO."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return Format.COCO
    if suffix == ".xml":
        return Format.VOC
    if path.is_dir():
        if (path / "Annotations").is_dir() or any(path.glob("*.xml")):
            return Format.VOC
        if (path / "labels").is_dir() or any(path.glob("*.txt")):
            return Format.YOLO
        if any(d.is_dir() and any(d.glob("*.txt")) for d in path.iterdir()):
            return Format.YOLO
        raise InputError(
            "cannot tell the format: expected a COCO .json file, a folder of VOC .xml files, "
            "or a YOLO folder of .txt labels (give --format)", path=path,
        )
    if not path.exists():
        raise InputError("no such file or folder", path=path)
    raise InputError(f"cannot tell the format of a {suffix or 'suffix-less'} file (give --format)",
                     path=path)


def load(
    path: str | Path,
    format: Format | str = Format.AUTO,
    *,
    sizes: str | Path | None = None,
    images: str | Path | None = None,
    names: str | Path | None = None,
    scene_field: str = "scene",
    annotator_field: str = "annotator",
) -> Dataset:
    """Load an annotation export in any supported format.

    ``sizes`` is an image-size manifest and ``images`` an image folder (YOLO, and VOC files
    without ``<size>``); ``names`` overrides the YOLO class-names file; ``scene_field`` and
    ``annotator_field`` name the COCO keys holding a scene tag and an annotator.

    >>> load("does/not/exist.json")
    Traceback (most recent call last):
    ...
    bbqa.errors.InputError: does/not/exist.json: no such file or folder
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path=path)
    chosen = Format(format)
    if chosen is Format.AUTO:
        chosen = detect_format(path)
    images_path = Path(images) if images is not None else None
    if chosen is Format.COCO:
        from bbqa.io import coco

        if path.is_dir():
            raise InputError("expected a COCO .json file, got a folder", path=path)
        return coco.load(path, scene_field=scene_field, annotator_field=annotator_field)
    if chosen is Format.VOC:
        from bbqa.io import voc

        return voc.load(path, images=images_path)
    from bbqa.io import yolo

    if not path.is_dir():
        raise InputError("expected a YOLO dataset or labels folder, got a file", path=path)
    return yolo.load(
        path,
        names=Path(names) if names is not None else None,
        sizes=Path(sizes) if sizes is not None else None,
        images=images_path,
    )
