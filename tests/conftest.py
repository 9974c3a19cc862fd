"""Shared test helpers: the real datasets in ../shared, and small dataset builders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bbqa.dataset import Boxes, Dataset, Images

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    """Path of a real dataset in ../shared/datasets, or skip the test with the reason."""
    path = SHARED_DATASETS / name
    if not path.exists():
        pytest.skip(f"real dataset {name} is not available: {SHARED_DATASETS} is absent")
    return path


def make_dataset(
    keys: Sequence[str],
    boxes: Sequence[tuple[int, str, float, float, float, float, str]],
    classes: Sequence[str] | None = None,
    size: float = 1000.0,
    crowd: Sequence[bool] | None = None,
) -> Dataset:
    """A dataset from rows (image index, class name, x1, y1, x2, y2, source id)."""
    names = list(classes) if classes is not None else sorted({b[1] for b in boxes})
    rows = list(boxes)
    return Dataset.build(
        images=Images.build(list(keys), [size] * len(keys), [size] * len(keys)),
        categories=names,
        boxes=Boxes.build(
            image=[r[0] for r in rows],
            category=[names.index(r[1]) for r in rows],
            x1=[r[2] for r in rows], y1=[r[3] for r in rows],
            x2=[r[4] for r in rows], y2=[r[5] for r in rows],
            source_id=[r[6] for r in rows],
            crowd=crowd,
        ),
    )


def random_boxes(rng: np.random.Generator, n: int, extent: float = 100.0) -> np.ndarray:
    """``n`` random xyxy boxes of positive size inside ``[0, extent]``."""
    xy = rng.uniform(0, extent * 0.8, (n, 2))
    wh = rng.uniform(1, extent * 0.3, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)
