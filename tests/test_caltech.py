"""Real crowd data: 43 MTurk workers, 7 per image, against an expert golden set.

The Caltech lean-crowdsourcing files are converted to COCO here: the expert answers are the
golden set; each worker's answer for an image is one image entry (one labeling) carrying the
worker as annotator. Boxes are centre-based (x, y, scaleX, scaleY); a negative scale is a box
drawn right-to-left, the same box. Per-worker figures are recomputed by brute force: IoUs by a
plain loop, the optimal assignment by SciPy's solver on the thresholded matrix.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import bbqa
from tests.conftest import shared_dataset
from tests.test_geometry import brute_iou

FOLDER = "caltech_pedestrians_lean_crowdsourcing"


def to_boxes(entries: list[Any] | None) -> list[list[float]]:
    boxes = []
    for entry in entries or []:
        if entry is None:  # a deleted box
            continue
        b = entry[1]
        w, h = abs(b["scaleX"]), abs(b["scaleY"])
        boxes.append([b["x"] - w / 2, b["y"] - h / 2, w, h])
    return boxes


def convert(path: Path, per_worker: bool) -> dict[str, Any]:
    raw = json.loads(path.read_text())
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for record in raw["annotations"]:
        for image_id, entries in record["answer"]["images"].items():
            meta = raw["images"][image_id]
            entry_id = len(images) + 1
            images.append({"id": entry_id, "file_name": f"{image_id}.png",
                           "width": meta["width"], "height": meta["height"],
                           "annotator": record["worker"] if per_worker else "expert"})
            for box in to_boxes(entries):
                annotations.append({"id": len(annotations) + 1, "image_id": entry_id,
                                    "category_id": 1, "bbox": box})
    return {"images": images, "categories": [{"id": 1, "name": "pedestrian"}],
            "annotations": annotations}


def brute_force(golden: dict[str, Any], batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    def xyxy(b: list[float]) -> list[float]:
        return [b[0], b[1], b[0] + b[2], b[1] + b[3]]

    gold_by_name: dict[str, list[list[float]]] = defaultdict(list)
    gold_ids = {im["id"]: im["file_name"] for im in golden["images"]}
    for a in golden["annotations"]:
        if a["bbox"][2] > 0 and a["bbox"][3] > 0:
            gold_by_name[gold_ids[a["image_id"]]].append(xyxy(a["bbox"]))
    batch_by_entry: dict[int, list[list[float]]] = defaultdict(list)
    for a in batch["annotations"]:
        if a["bbox"][2] > 0 and a["bbox"][3] > 0:
            batch_by_entry[a["image_id"]].append(xyxy(a["bbox"]))
    figures: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"matched": 0, "missing": 0, "extra": 0, "ious": []})
    golden_names = set(gold_ids.values())
    for entry in batch["images"]:
        if entry["file_name"] not in golden_names:
            continue
        g = gold_by_name[entry["file_name"]]
        b = batch_by_entry[entry["id"]]
        stats = figures[entry["annotator"]]
        weights = np.array([[brute_iou(x, y) for y in b] for x in g]).reshape(len(g), len(b))
        weights[weights < 0.5] = 0.0
        rows, cols = linear_sum_assignment(weights, maximize=True)
        pairs = [(r, c) for r, c in zip(rows, cols, strict=True) if weights[r, c] > 0]
        stats["matched"] += len(pairs)
        stats["missing"] += len(g) - len(pairs)
        stats["extra"] += len(b) - len(pairs)
        stats["ious"] += [float(weights[r, c]) for r, c in pairs]
    return figures


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = shared_dataset(FOLDER)
    out = tmp_path_factory.mktemp("caltech")
    golden = convert(folder / "expert_groundtruth_177_3_wh.json", per_worker=False)
    batch = convert(folder / "crowd_mturk_7workers_179_wh.json", per_worker=True)
    (out / "golden.json").write_text(json.dumps(golden))
    (out / "batch.json").write_text(json.dumps(batch))
    return out / "golden.json", out / "batch.json"


def test_per_worker_figures_equal_brute_force(converted: tuple[Path, Path]) -> None:
    golden_path, batch_path = converted
    result = bbqa.audit(bbqa.load(golden_path), bbqa.load(batch_path))
    expected = brute_force(json.loads(golden_path.read_text()),
                           json.loads(batch_path.read_text()))
    table = result.annotators.annotators
    assert result.summary["images"]["audited_images"] == 938
    assert result.summary["images"]["audited_labelings"] == 938 * 7
    assert len(table["annotator"]) == len(expected) > 30
    for i, worker in enumerate(table["annotator"]):
        e = expected[worker]
        assert (table["matched"][i], table["missing"][i], table["extra"][i]) == (
            e["matched"], e["missing"], e["extra"]), worker
        if e["ious"]:
            assert table["iou_mean"][i] == pytest.approx(np.mean(e["ious"]), rel=1e-12)
    totals = result.summary["outcomes"]
    assert totals["matched"] == sum(e["matched"] for e in expected.values())
