"""Inter-annotator agreement: the published kalphacv alphas, KSCGR against brute force,
bootstrap intervals, and consensus recovering a known truth."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.optimize import linear_sum_assignment
from typer.testing import CliRunner

import bbqa
from bbqa.agreement.alpha import build_units, picture_alpha, unit_values
from bbqa.agreement.measures import agree
from bbqa.agreement.pictures import group_pictures
from bbqa.cli import app
from tests.conftest import shared_dataset
from tests.test_geometry import brute_iou

TOY = "kalphacv_multi_annotator_toy"
runner = CliRunner()


def alphas(path: Path, threshold: float = 0.5) -> list[float]:
    ds = bbqa.load(path)
    values = []
    for picture in group_pictures(ds):
        units = build_units(picture.labelings, threshold)
        values.append(picture_alpha(unit_values(units, picture.labelings),
                                    len(ds.categories)))
    return values


@pytest.mark.parametrize(("name", "expected"), [
    ("fruits.json", [0.0222]),
    ("smile_fruits.json", [0.494]),
    ("landscape_annotations.json", [0.4889]),
    ("test_annotation.json", [0.3714, 1.0, 0.3645]),
])
def test_published_kalphacv_values(name: str, expected: list[float]) -> None:
    assert alphas(shared_dataset(TOY) / name) == expected


def test_dataset_value_is_the_unweighted_mean(tmp_path: Path) -> None:
    ds = bbqa.load(shared_dataset(TOY) / "test_annotation.json")
    result = agree(ds, group_pictures(ds), bootstrap=0)
    assert result.summary["alpha"]["0.5"]["alpha"] == pytest.approx((0.3714 + 1.0 + 0.3645) / 3,
                                                                    abs=1e-12)


def test_fruits_units_follow_the_worked_example() -> None:
    """AGREEMENT.md section 7: U1 {1, 6, 9}, U2 {2, 5, -}, U3 {3, 4, 8}, U4 {-, -, 7}."""
    ds = bbqa.load(shared_dataset(TOY) / "fruits.json")
    (picture,) = group_pictures(ds)
    assert picture.annotators == ["Ann1", "Ann2", "ann3"]
    units = build_units(picture.labelings, 0.5)
    ids = [[picture.labelings[a].source_id[box] if box >= 0 else None
            for a, box in enumerate(unit)] for unit in units]
    assert ids == [["1", "6", "9"], ["2", "5", None], ["3", "4", "8"], [None, None, "7"]]
    # The coincidence table of the example, by hand: n = 12, observed off-diagonal 8,
    # sum of n_c n_k over c != k = 90, alpha = 1 - 11 * 8 / 90 = 1/45.
    assert picture_alpha(unit_values(units, picture.labelings), 2) == round(1 - 11 * 8 / 90, 4)


def kscgr_to_coco(path: Path, out: Path) -> Path:
    """The KSCGR tab-separated file as COCO: frame N is image N.jpg (256 x 256)."""
    annotations: list[dict[str, Any]] = []
    frames = set()
    for line in path.read_text().splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) < 4 or not fields[0].strip().isdigit():
            continue  # the trailer lines
        x, y, w, h = (float(v) for v in fields[2].strip("()").split(","))
        frame = int(fields[0])
        frames.add(frame)
        annotations.append({"id": len(annotations) + 1, "image_id": frame + 1,
                            "category_id": int(fields[3]), "bbox": [x, y, w, h]})
    names = {}
    for line in (path.parent / "classes.cfg").read_text().splitlines():
        if line.strip():
            number, name = line.split(maxsplit=1)
            names[int(number)] = name.strip()
    doc = {"images": [{"id": f + 1, "file_name": f"{f}.jpg", "width": 256, "height": 256}
                      for f in sorted(frames)],
           "categories": [{"id": k, "name": v} for k, v in sorted(names.items())],
           "annotations": annotations}
    out.write_text(json.dumps(doc))
    return out


def brute_pairs(first: dict[str, Any], second: dict[str, Any]) -> tuple[int, list[float]]:
    """Matched pairs per frame and class: IoU by loop, optimal assignment on IoU >= 0.5."""
    def grouped(doc: dict[str, Any]) -> dict[tuple[int, int], list[list[float]]]:
        out: dict[tuple[int, int], list[list[float]]] = defaultdict(list)
        for a in doc["annotations"]:
            x, y, w, h = a["bbox"]
            out[a["image_id"], a["category_id"]].append([x, y, x + w, y + h])
        return out

    g1, g2 = grouped(first), grouped(second)
    matched, ious = 0, []
    for key in set(g1) & set(g2):
        weights = np.array([[brute_iou(p, q) for q in g2[key]] for p in g1[key]])
        weights[weights < 0.5] = 0.0
        rows, cols = linear_sum_assignment(weights, maximize=True)
        chosen = [weights[r, c] for r, c in zip(rows, cols, strict=True) if weights[r, c] > 0]
        matched += len(chosen)
        ious += chosen
    return matched, ious


def test_kscgr_pairwise_against_brute_force(tmp_path: Path) -> None:
    folder = shared_dataset("kscgr_ham_egg_2annotators")
    first = kscgr_to_coco(folder / "annotator_1.txt", tmp_path / "annotator_1.json")
    second = kscgr_to_coco(folder / "annotator_2.txt", tmp_path / "annotator_2.json")
    result = runner.invoke(app, ["agree", str(first), str(second), "--bootstrap", "50",
                                 "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.stderr
    (row,) = pq.read_table(tmp_path / "out" / "annotator_matrix.parquet").to_pylist()
    assert (row["annotator_a"], row["annotator_b"]) == ("annotator_1", "annotator_2")
    assert (row["boxes_a"], row["boxes_b"]) == (61624, 61456)
    matched, ious = brute_pairs(json.loads(first.read_text()), json.loads(second.read_text()))
    assert row["matched"] == matched
    assert row["iou_mean"] == pytest.approx(float(np.mean(ious)), rel=1e-12)
    assert row["f1"] == pytest.approx(2 * matched / (61624 + 61456))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["pictures_compared"] == 4983


def noisy_annotators(n_pictures: int, seed: int, n_annotators: int = 4) -> tuple[Any, Any]:
    """A known truth and annotators who jitter it, miss 10% and add 5% stray boxes.

    Each truth entry is (class, box, how many annotators drew it).
    """
    rng = np.random.default_rng(seed)
    truth: list[list[Any]] = []
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for p in range(n_pictures):
        boxes: list[Any] = []
        for k in range(int(rng.integers(2, 6))):
            # One object per 200-px column: objects never overlap each other.
            x, y = 200 * k + rng.uniform(0, 40), rng.uniform(0, 800)
            w, h = rng.uniform(40, 150, 2)
            boxes.append([int(rng.integers(0, 3)), [x, y, x + w, y + h], 0])
        truth.append(boxes)
        for a in range(n_annotators):
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": f"p{p}.jpg", "width": 1000,
                           "height": 1000, "annotator": f"ann{a}"})
            for entry in boxes:
                cls, box = entry[0], entry[1]
                if rng.random() < 0.10:
                    continue
                entry[2] += 1
                w, h = box[2] - box[0], box[3] - box[1]
                jitter = rng.normal(0, 0.03, 4) * [w, h, w, h]
                x1, y1, x2, y2 = np.array(box) + jitter
                annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                    "category_id": cls + 1, "bbox": [x1, y1, x2 - x1, y2 - y1]})
            if rng.random() < 0.05:
                annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                    "category_id": 1, "bbox": [900, 900, 30, 30]})
    doc = {"images": images, "annotations": annotations,
           "categories": [{"id": i + 1, "name": n} for i, n in enumerate(["a", "b", "c"])]}
    return doc, truth


def test_bootstrap_intervals_shrink_as_pictures_are_added(tmp_path: Path) -> None:
    widths = []
    for n in (15, 240):
        doc, _ = noisy_annotators(n, seed=3)
        path = tmp_path / f"multi{n}.json"
        path.write_text(json.dumps(doc))
        ds = bbqa.load(path)
        result = agree(ds, group_pictures(ds), bootstrap=400, seed=1)
        overall = {r["measure"]: r for r in result.rows if r["group"] == "overall"}
        widths.append((overall["alpha"]["high"] - overall["alpha"]["low"],
                       overall["f1"]["high"] - overall["f1"]["low"]))
    assert widths[1][0] < widths[0][0] / 2
    assert widths[1][1] < widths[0][1] / 2


def test_consensus_recovers_the_known_truth(tmp_path: Path) -> None:
    doc, truth = noisy_annotators(60, seed=5, n_annotators=5)
    path = tmp_path / "multi.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "consensus.json"
    result = runner.invoke(app, ["consensus", str(path), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    merged = json.loads(out.read_text())
    by_picture: dict[str, list[dict[str, Any]]] = defaultdict(list)
    names = {im["id"]: im["file_name"] for im in merged["images"]}
    for a in merged["annotations"]:
        by_picture[names[a["image_id"]]].append(a)
        assert a["support"] >= 3 and len(a["source_ids"]) == a["support"]
    # A truth box drawn by at least 3 of the 5 annotators (the majority quorum) must come back
    # as one consensus box of its class; nothing else may.
    expected = [[(cls, box) for cls, box, drawn in boxes if drawn >= 3] for boxes in truth]
    assert sum(len(e) for e in expected) < sum(len(t) for t in truth), "some must be lost"
    recovered = 0
    for p, boxes in enumerate(expected):
        found = by_picture[f"p{p}.jpg"]
        assert len(found) == len(boxes), f"picture {p}: stray boxes survived or truth lost"
        for cls, box in boxes:
            best = max(found, key=lambda a: brute_iou(box, [a["bbox"][0], a["bbox"][1],
                                                            a["bbox"][0] + a["bbox"][2],
                                                            a["bbox"][1] + a["bbox"][3]]))
            xyxy = [best["bbox"][0], best["bbox"][1], best["bbox"][0] + best["bbox"][2],
                    best["bbox"][1] + best["bbox"][3]]
            recovered += brute_iou(box, xyxy) > 0.85 and best["category_id"] == cls + 1
    assert recovered == sum(len(e) for e in expected)


def test_agree_cli_outputs_and_policy_gate(tmp_path: Path) -> None:
    path = shared_dataset(TOY) / "test_annotation.json"
    out = tmp_path / "out"
    result = runner.invoke(app, ["agree", str(path), "--iou", "0.5,0.75", "--out", str(out),
                                 "--bootstrap", "100"])
    assert result.exit_code == 0, result.stderr
    assert "Krippendorff's alpha" in result.stdout and "revise" in result.stdout
    rows = pq.read_table(out / "agreement.parquet").to_pylist()
    overall = {r["threshold"]: r["value"] for r in rows
               if r["measure"] == "alpha" and r["group"] == "overall"}
    assert overall[0.5] == pytest.approx(0.5786333, abs=1e-6)
    pairs = pq.read_table(out / "pairs.parquet").to_pylist()
    assert {p["outcome"] for p in pairs} <= {"matched", "wrong_class", "only_a", "only_b"}
    policy = tmp_path / "p.toml"
    # Per-class alphas are 0.3704 (apple), 0.6 (banana), 0.5 (orange): 0.45 flags apple.
    policy.write_text("version = 1\n[defaults]\nmin_agreement = 0.45\n")
    assert runner.invoke(app, ["agree", str(path), "--policy", str(policy), "-q"]).exit_code == 1
    policy.write_text("version = 1\n[defaults]\nmin_agreement = 0.30\n")
    assert runner.invoke(app, ["agree", str(path), "--policy", str(policy), "-q"]).exit_code == 0
    assert runner.invoke(app, ["agree", str(path), "--iou", "x"]).exit_code == 2


def _one_picture(tmp_path: Path, labelings: list[tuple[str, list[list[float]]]]) -> Path:
    """One picture labeled once per (annotator, boxes) entry, as a COCO file."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, (annotator, boxes) in enumerate(labelings, start=1):
        images.append({"id": image_id, "file_name": "a.jpg", "width": 100, "height": 80,
                       "annotator": annotator})
        annotations += [{"id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                         "bbox": box} for box in boxes]
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "car"}]}))
    return path


@pytest.mark.parametrize(("labelings", "compared", "alpha"), [
    # Nobody to compare with: nothing is measured, and the summary says null.
    ([("x", [[1, 2, 30, 40]])], 0, None),
    # Two annotators, one of whom drew nothing: one unit, "box" against "no box". By hand:
    # observed disagreement 1 (its one pair disagrees), expected disagreement 2*1*1/(2*1) = 1
    # from the two values pooled, alpha = 1 - 1/1 = 0.
    ([("x", [[1, 2, 30, 40]]), ("y", [])], 1, 0.0),
    ([("x", []), ("y", [[1, 2, 30, 40]])], 1, 0.0),
])
def test_agree_with_nothing_to_compare_writes_its_outputs(
        tmp_path: Path, labelings: list[tuple[str, list[list[float]]]], compared: int,
        alpha: float | None) -> None:
    import msgspec

    path = _one_picture(tmp_path, labelings)
    out = tmp_path / "out"
    result = runner.invoke(app, ["agree", str(path), "--out", str(out), "--bootstrap", "10",
                                 "-q"])
    assert result.exit_code == 0, result.stderr
    summary = msgspec.json.decode((out / "summary.json").read_bytes())  # strict: no NaN
    assert summary["pictures_compared"] == compared
    assert summary["alpha"]["0.5"]["alpha"] == alpha
