"""IoU against a brute-force loop and against pycocotools."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from bbqa.geometry import iou_matrix, pair_ioa, pair_iou
from tests.conftest import random_boxes


def brute_iou(a: list[float], b: list[float]) -> float:
    """IoU written out by hand, continuous coordinates, no +1."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_iou_matrix_equals_brute_force_loop() -> None:
    rng = np.random.default_rng(1)
    a, b = random_boxes(rng, 40), random_boxes(rng, 35)
    expected = np.array([[brute_iou(list(x), list(y)) for y in b] for x in a])
    np.testing.assert_allclose(iou_matrix(a, b), expected, rtol=0, atol=1e-15)
    assert (expected > 0).sum() > 50, "the random boxes should overlap often enough to test"


def test_iou_matrix_equals_pycocotools() -> None:
    rng = np.random.default_rng(2)
    a, b = random_boxes(rng, 60, 500.0), random_boxes(rng, 50, 500.0)
    def to_xywh(boxes: np.ndarray) -> list[list[float]]:
        xywh: list[list[float]] = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]
                                                  ).tolist()
        return xywh

    reference = coco_mask.iou(to_xywh(a), to_xywh(b), [0] * len(b))
    np.testing.assert_allclose(iou_matrix(a, b), reference, rtol=1e-12, atol=1e-12)


def test_pair_iou_is_elementwise() -> None:
    rng = np.random.default_rng(3)
    a, b = random_boxes(rng, 25), random_boxes(rng, 25)
    got = pair_iou(*a.T, *b.T)
    expected = [brute_iou(list(x), list(y)) for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 2, 2], [1, 0, 3, 2], 1 / 3),
        ([0, 0, 2, 2], [2, 0, 4, 2], 0.0),  # touching edges do not overlap
        ([0, 0, 2, 2], [0, 0, 2, 2], 1.0),
        ([0, 0, 0, 2], [0, 0, 0, 2], 0.0),  # zero area: 0, never NaN
        ([0, 0, 4, 4], [1, 1, 3, 3], 4 / 16),
    ],
)
def test_iou_hand_cases(a: list[float], b: list[float], expected: float) -> None:
    assert iou_matrix(np.array([a], float), np.array([b], float))[0, 0] == pytest.approx(expected)


def test_empty_inputs_give_empty_matrices() -> None:
    assert iou_matrix(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)
    assert iou_matrix(np.zeros((2, 4)), np.zeros((0, 4))).shape == (2, 0)


def test_ioa_is_share_of_first_box() -> None:
    small = np.array([[0.0, 0.0, 2.0, 2.0]])
    region = np.array([[1.0, 0.0, 10.0, 10.0]])
    assert pair_ioa(*small.T, *region.T)[0] == pytest.approx(0.5)
    assert pair_ioa(*region.T, *small.T)[0] == pytest.approx(2 / 90)
