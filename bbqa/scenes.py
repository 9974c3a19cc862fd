"""Scene tags from a mapping file (``--scenes``): image key -> tag, as CSV or a JSON object.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scenes.csv"
    >>> _ = path.write_text("image,scene\\na.jpg,night\\n")
    >>> read_scene_map(path)
    {'a.jpg': 'night'}
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath

import numpy as np

from bbqa.dataset import Dataset, normalize_key
from bbqa.errors import InputError


def read_scene_map(path: Path) -> dict[str, str]:
    """Read ``image key -> scene tag`` from a two-column CSV (header optional) or JSON object."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read scene map: {exc.strerror or exc}", path=path) from exc
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
        if not isinstance(data, dict):
            raise InputError('expected a JSON object like {"image.jpg": "night"}', path=path)
        return {normalize_key(str(k)): str(v) for k, v in data.items()}
    mapping: dict[str, str] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise InputError(f"expected 2 columns (image,scene), got {len(row)}", path=path,
                             line=number)
        if number == 1 and row[0].strip().lower() in ("image", "file", "key"):
            continue
        mapping[normalize_key(row[0].strip())] = row[1].strip()
    return mapping


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
