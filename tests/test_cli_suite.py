"""Metric-suite options of `bbqa audit`: scenes, annotator field, sections, input digests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bbqa.cli import app
from bbqa.report.sections import Section
from tests.conftest import ROOT

DEMO = ROOT / "fixtures" / "demo"
runner = CliRunner()


def coco_pair(tmp_path: Path) -> tuple[Path, Path]:
    golden = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100, "cam": "north"},
                   {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100, "cam": "south"}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10],
             "attributes": {"occluded": True}},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [0, 0, 10, 10],
             "attributes": {"occluded": False}},
        ],
    }
    batch = {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 100, "who": "w1"},
                   {"id": 8, "file_name": "b.jpg", "width": 100, "height": 100, "who": "w2"}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [0, 0, 10, 10], "who": "w3",
             "attributes": {"color": "red"}},
        ],
    }
    (tmp_path / "golden.json").write_text(json.dumps(golden))
    (tmp_path / "batch.json").write_text(json.dumps(batch))
    return tmp_path / "golden.json", tmp_path / "batch.json"


def test_scene_field_annotator_field_and_digests(tmp_path: Path) -> None:
    golden, batch = coco_pair(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(batch), "--golden", str(golden), "--scene-field",
                                 "cam", "--annotator-field", "who", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    rows = {r["outcome"]: r for r in pq.read_table(out / "boxes.parquet").to_pylist()}
    assert rows["matched"]["scene"] == "north" and rows["matched"]["annotator"] == "w3"
    assert rows["missing"]["scene"] == "south" and rows["missing"]["annotator"] == "w2"
    breakdowns = pq.read_table(out / "breakdowns.parquet").to_pylist()
    scene = {(r["bucket"], r["class"]): r for r in breakdowns if r["dimension"] == "scene"}
    assert scene["south", "car"]["missing_rate"] == 1.0
    assert scene["north", "car"]["missing_rate"] == 0.0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"]["golden"]["sha256"] == hashlib.sha256(golden.read_bytes()
                                                                   ).hexdigest()
    assert summary["inputs"]["batch"][0]["sha256"] == hashlib.sha256(batch.read_bytes()
                                                                     ).hexdigest()
    assert summary["attributes_not_comparable"] == {"occluded": "golden only",
                                                    "color": "batch only"}


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_scenes_file(tmp_path: Path, suffix: str) -> None:
    golden, batch = coco_pair(tmp_path)
    scenes = tmp_path / f"scenes{suffix}"
    if suffix == ".csv":
        scenes.write_text("image,scene\na.jpg,night\nb,day\n")
    else:
        scenes.write_text(json.dumps({"a.jpg": "night", "b": "day"}))
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(batch), "--golden", str(golden), "--scenes",
                                 str(scenes), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    rows = {r["outcome"]: r["scene"] for r in pq.read_table(out / "boxes.parquet").to_pylist()}
    assert rows == {"matched": "night", "missing": "day"}


def test_show_picks_sections() -> None:
    args = ["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json")]
    default = runner.invoke(app, args).stdout
    assert "Annotators" in default and "Top class confusions" not in default
    only = runner.invoke(app, [*args, "--show", "confusion", "--show", "images"]).stdout
    assert "Top class confusions" in only and "Images with the most defects" in only
    assert "Per-class IoU" not in only
    everything = runner.invoke(app, [*args, "--show", "all"]).stdout
    for title in ("Per-class IoU", "Worst cells", "Top class confusions", "Annotators",
                  "Attribute agreement", "Hygiene", "Images with the most defects"):
        assert title in everything
    assert runner.invoke(app, [*args, "--show", "nope"]).exit_code == 2


def test_every_section_choice_is_rendered() -> None:
    """Each --show choice must print something of its own (like pip-audit's format test)."""
    args = ["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json")]
    for section in Section:
        output = runner.invoke(app, [*args, "--show", section.value]).stdout
        assert output.strip(), f"--show {section.value} printed nothing"


def test_bad_density_bins_is_a_usage_error() -> None:
    result = runner.invoke(app, ["audit", str(DEMO / "batch.json"), "--golden",
                                 str(DEMO / "golden.json"), "--density-bins", "10,5"])
    assert result.exit_code == 2 and "--density-bins" in result.stderr


def test_per_class_iou_and_tolerance(tmp_path: Path) -> None:
    golden, batch = coco_pair(tmp_path)
    doc = json.loads(batch.read_text())
    doc["annotations"][0]["bbox"] = [0, 0, 10, 8]  # IoU 0.8 with the golden a.jpg box
    batch.write_text(json.dumps(doc))
    out = tmp_path / "out"

    def outcomes(*extra: str) -> list[tuple[str, bool]]:
        result = runner.invoke(app, ["audit", str(batch), "--golden", str(golden), "--out",
                                     str(out), "-q", *extra])
        assert result.exit_code == 0, result.stderr
        return sorted((r["outcome"], r["loose"])
                      for r in pq.read_table(out / "boxes.parquet").to_pylist())

    assert outcomes() == [("matched", False), ("missing", False)]
    assert outcomes("--class-tolerance", "car=0.85") == [("matched", True), ("missing", False)]
    assert outcomes("--class-iou", "car=0.9") == [("extra", False), ("missing", False),
                                                  ("missing", False)]
    bad = runner.invoke(app, ["audit", str(batch), "--golden", str(golden), "--class-iou",
                              "bus=0.5"])
    assert bad.exit_code == 2 and "no class named 'bus'" in bad.stderr
    bad = runner.invoke(app, ["audit", str(batch), "--golden", str(golden), "--class-iou",
                              "car"])
    assert bad.exit_code == 2 and "expected CLASS=VALUE" in bad.stderr
