"""Group a multi-annotator dataset into pictures, each with its annotators' labelings.

An annotator is a box's own annotator field, else its image entry's, else the name of the
file the entry came from. Image entries sharing a key (file name, or stem when keys have no
extension) are one picture; an annotator's boxes on a picture are one labeling. Annotators of a
picture are in order of their first image entry; boxes of a labeling in source-id order.

Example:
    >>> from bbqa.dataset import Boxes, Dataset, Images
    >>> ds = Dataset.build(Images.build(["a.jpg", "a.jpg"], [9, 9], [9, 9],
    ...                                 annotators=["x", "y"]), ["car"], Boxes.empty())
    >>> [p.annotators for p in group_pictures(ds)]
    [['x', 'y']]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import numpy.typing as npt

from bbqa.agreement.alpha import Labeling
from bbqa.dataset import Dataset

IndexArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Picture:
    """One picture: its key, scene, size, and each annotator's labeling (with box indices)."""

    key: str
    scene: str
    width: float
    height: float
    annotators: list[str]
    labelings: list[Labeling]
    boxes: list[IndexArray]


def box_annotators(dataset: Dataset, file_names: list[str] | None = None) -> list[str]:
    """The annotator of every box (see module docstring)."""
    images = dataset.images
    per_image = images.annotator.tolist()
    if file_names is not None:
        per_image = [a or f for a, f in zip(per_image, file_names, strict=True)]
    names = list(dataset.annotators)
    own = dataset.boxes.annotator.tolist()
    image = dataset.boxes.image.tolist()
    return [str(names[a]) if a >= 0 else str(per_image[i])
            for a, i in zip(own, image, strict=True)]


def _picture_keys(dataset: Dataset) -> list[str]:
    keys: list[str] = [str(k) for k in dataset.images.key.tolist()]
    if keys and all(PurePosixPath(k).suffix for k in keys):
        return keys
    return [PurePosixPath(k).stem if PurePosixPath(k).suffix else k for k in keys]


def group_pictures(dataset: Dataset, file_names: list[str] | None = None) -> list[Picture]:
    """Pictures in order of first appearance; see the module docstring for the rules."""
    keys = _picture_keys(dataset)
    per_image = dataset.images.annotator.tolist()
    if file_names is not None:
        per_image = [a or f for a, f in zip(per_image, file_names, strict=True)]
    annotator = box_annotators(dataset, file_names)
    b = dataset.boxes
    order: dict[str, dict[str, list[int]]] = {}
    first_image: dict[str, int] = {}
    for index, (key, name) in enumerate(zip(keys, per_image, strict=True)):
        first_image.setdefault(key, index)
        order.setdefault(key, {}).setdefault(name or "(unknown)", [])
    for box, (image, name) in enumerate(zip(b.image.tolist(), annotator, strict=True)):
        order[keys[image]].setdefault(name or "(unknown)", []).append(box)
    pictures = []
    for key, by_annotator in order.items():
        image = first_image[key]
        names = list(by_annotator)
        labelings, box_lists = [], []
        for name in names:
            boxes = np.array(by_annotator[name], dtype=np.int64)
            boxes = boxes[np.argsort(b.source_id[boxes], kind="stable")] if len(boxes) else boxes
            labelings.append(Labeling(
                boxes=np.column_stack(b.coordinates(boxes))
                if len(boxes) else np.zeros((0, 4)),
                category=b.category[boxes].astype(np.int64),
                source_id=b.source_id[boxes].tolist()))
            box_lists.append(boxes)
        pictures.append(Picture(key=key, scene=str(dataset.images.scene[image]),
                                width=float(dataset.images.width[image]),
                                height=float(dataset.images.height[image]),
                                annotators=names, labelings=labelings, boxes=box_lists))
    return pictures
