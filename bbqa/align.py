"""Line a batch up against a golden set: images by key, categories by name.

Nothing that fails to line up is dropped silently: golden images without a labeling are
``not_delivered``, batch images without a golden image are ``not_audited``, and a key whose image
size differs between the two sets is a ``size_mismatch`` (its boxes are not comparable).

Example:
    >>> from bbqa.dataset import Boxes, Dataset, Images
    >>> golden = Dataset.build(Images.build(["a.jpg", "b.jpg"], [9, 9], [9, 9]), ["car"],
    ...                        Boxes.empty())
    >>> batch = Dataset.build(Images.build(["b"], [9], [9]), ["car"], Boxes.empty())
    >>> align(golden, batch).labeling_to_golden.tolist()
    [1]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bbqa.dataset import Boxes, Dataset, IntArray, StrArray
from bbqa.errors import InputError
from bbqa.pairs_file import read_pairs


class ImageKey(StrEnum):
    """How golden and batch images are joined."""

    AUTO = "auto"
    NAME = "name"
    STEM = "stem"
    ID = "id"


@dataclass(frozen=True)
class Alignment:
    """How the batch lines up with the golden set.

    ``labeling_to_golden[i]`` is the golden image that batch image entry ``i`` labels, or -1.
    ``classes`` is the union of category names (golden first); ``golden_class`` and
    ``batch_class`` map each set's category index into it.
    """

    labeling_to_golden: IntArray
    classes: tuple[str, ...]
    golden_class: IntArray
    batch_class: IntArray
    not_delivered: npt.NDArray[np.intp]
    not_audited: npt.NDArray[np.intp]
    size_mismatch: npt.NDArray[np.intp]
    key_mode: ImageKey
    golden_only_classes: tuple[str, ...]
    batch_only_classes: tuple[str, ...]

    @property
    def audited(self) -> npt.NDArray[np.intp]:
        """Batch image entries (labelings) that are compared with a golden image."""
        return np.flatnonzero(self.labeling_to_golden >= 0)


def _stems(keys: StrArray) -> list[str]:
    # Keys are file names without folders; like pathlib, a leading dot does not start a suffix.
    return [k[:k.rindex(".")] if "." in k[1:-1] else k for k in keys.tolist()]


def _has_extensions(keys: StrArray) -> bool:
    ends = np.strings.str_len(keys) - 1
    return bool(len(keys)) and bool(np.all(np.strings.find(keys, ".", 1, ends) >= 0))


def resolve_key_mode(golden: Dataset, batch: Dataset, mode: ImageKey) -> ImageKey:
    """``auto`` becomes ``name`` when both sides' keys carry an extension, else ``stem``."""
    if mode is not ImageKey.AUTO:
        return mode
    both = _has_extensions(golden.images.key) and _has_extensions(batch.images.key)
    return ImageKey.NAME if both else ImageKey.STEM


def _join_keys(dataset: Dataset, mode: ImageKey) -> StrArray:
    if mode is ImageKey.ID:
        return dataset.images.source_id
    if mode is ImageKey.STEM:
        return np.asarray(_stems(dataset.images.key), dtype=np.str_)
    return dataset.images.key


def align(golden: Dataset, batch: Dataset, key: ImageKey = ImageKey.AUTO) -> Alignment:
    """Join batch image entries to golden images and unify the category names."""
    mode = resolve_key_mode(golden, batch, key)
    golden_keys = _join_keys(golden, mode)
    batch_keys = _join_keys(batch, mode)
    order = np.argsort(golden_keys, kind="stable")
    sorted_keys = golden_keys[order]
    if len(sorted_keys) > 1:
        dup = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
        if dup.size:
            first = order[dup[0]], order[dup[0] + 1]
            raise InputError(
                f"two golden images share the key {str(sorted_keys[dup[0]])!r} under --image-key "
                f"{mode.value} (image ids {golden.images.source_id[first[0]]} and "
                f"{golden.images.source_id[first[1]]}); expected one golden image per key",
                path=golden.path,
                role="golden",
            )
    labeling_to_golden = np.full(len(batch.images), -1, dtype=np.int32)
    if len(sorted_keys) and len(batch_keys):
        pos = np.clip(np.searchsorted(sorted_keys, batch_keys), 0, len(sorted_keys) - 1)
        found = sorted_keys[pos] == batch_keys
        labeling_to_golden[found] = order[pos[found]]
    linked = np.flatnonzero(labeling_to_golden >= 0)
    target = labeling_to_golden[linked]
    differs = (batch.images.width[linked] != golden.images.width[target]) | (
        batch.images.height[linked] != golden.images.height[target]
    )
    size_mismatch = linked[differs]
    not_audited = np.flatnonzero(labeling_to_golden < 0)
    delivered = np.zeros(len(golden.images), dtype=bool)
    delivered[target] = True
    labeling_to_golden[size_mismatch] = -1
    classes = list(golden.categories)
    classes += [c for c in batch.categories if c not in golden.categories]
    index = {name: i for i, name in enumerate(classes)}
    batch_class = np.array([index[c] for c in batch.categories], dtype=np.int32)
    golden_names = {golden.categories[i] for i in _used_categories(golden)}
    batch_names = {batch.categories[i] for i in _used_categories(batch)}
    return Alignment(
        labeling_to_golden=labeling_to_golden,
        classes=tuple(classes),
        golden_class=np.arange(len(golden.categories), dtype=np.int32),
        batch_class=batch_class,
        not_delivered=np.flatnonzero(~delivered),
        not_audited=not_audited,
        size_mismatch=size_mismatch,
        key_mode=mode,
        golden_only_classes=tuple(sorted(golden_names - batch_names)),
        batch_only_classes=tuple(sorted(batch_names - golden_names)),
    )


def read_class_map(path: Path) -> dict[str, str]:
    """Read a class map (old name -> new name) from CSV (two columns) or a JSON object."""
    return read_pairs(path, headers={"old", "from"}, columns="old,new")


def rename_categories(dataset: Dataset, mapping: Mapping[str, str]) -> Dataset:
    """Rename categories; categories that end up with the same name are merged into one."""
    if not mapping:
        return dataset
    renamed = [mapping.get(c, c) for c in dataset.categories]
    names = list(dict.fromkeys(renamed))
    remap = np.array([names.index(n) for n in renamed], dtype=np.int32)
    b = dataset.boxes
    boxes = Boxes(
        image=b.image, category=remap[b.category] if len(b) else b.category, x1=b.x1, y1=b.y1,
        x2=b.x2, y2=b.y2, ids=b.ids, annotator=b.annotator, crowd=b.crowd,
        valid=b.valid, score=b.score, attributes=b.attributes,
    )
    return Dataset.build(
        images=dataset.images, categories=names, boxes=boxes, annotators=dataset.annotators,
        problems=dataset.problems, path=dataset.path, format=dataset.format,
    )


def _used_categories(dataset: Dataset) -> list[int]:
    """The categories that have a box: one count over the boxes, no sort (the indices are
    below the number of categories)."""
    counts = np.bincount(dataset.boxes.category, minlength=len(dataset.categories))
    used: list[int] = np.flatnonzero(counts).tolist()
    return used
