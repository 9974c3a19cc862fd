"""Scene tags from a mapping file (``--scenes``): image key -> tag, as CSV or a JSON object.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scenes.csv"
    >>> _ = path.write_text("image,scene\\na.jpg,night\\n")
    >>> read_scene_map(path)
    {'a.jpg': 'night'}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath

import numpy as np

from bbqa.dataset import Dataset, normalize_key
from bbqa.pairs_file import read_pairs


def read_scene_map(path: Path) -> dict[str, str]:
    """Read ``image key -> scene tag`` from a two-column CSV (header optional) or JSON object."""
    pairs = read_pairs(path, headers={"image", "file", "key"}, columns="image,scene")
    return {normalize_key(k): v for k, v in pairs.items()}


def apply_scenes(dataset: Dataset, mapping: Mapping[str, str]) -> Dataset:
    """Set each image's scene tag from ``mapping`` (by file name, else by stem)."""
    if not mapping:
        return dataset
    by_stem = {PurePosixPath(k).stem: v for k, v in mapping.items()}
    scenes = [mapping.get(k, by_stem.get(PurePosixPath(k).stem, old))
              for k, old in zip(dataset.images.key.tolist(), dataset.images.scene.tolist(),
                                strict=True)]
    images = replace(dataset.images, scene=np.asarray(scenes, dtype=np.str_).reshape(-1))
    return replace(dataset, images=images)
