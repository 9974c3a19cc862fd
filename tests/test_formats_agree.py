"""The same annotations in COCO, YOLO and VOC give the same boxes and the same audit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bbqa import AuditResult, audit, load
from bbqa.dataset import Dataset
from tests import synth
from tests.conftest import shared_dataset


def box_rows(ds: Dataset) -> list[tuple[str, str, float, float, float, float]]:
    b = ds.boxes
    return sorted(
        (str(ds.images.key[i]), ds.categories[c], x1, y1, x2, y2)
        for i, c, x1, y1, x2, y2 in zip(b.image.tolist(), b.category.tolist(), b.x1.tolist(),
                                        b.y1.tolist(), b.x2.tolist(), b.y2.tolist(), strict=True)
    )


@pytest.fixture(scope="module")
def three_formats(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("formats")
    golden = synth.make_golden(40, seed=11)
    synth.write_json(synth.without_crowd(synth.golden_coco(golden)), root / "golden.json")
    synth.write_yolo(golden, root / "yolo")
    synth.write_voc(golden, root / "voc")
    synth.write_json(synth.batch_coco(golden, seed=11), root / "batch.json")
    return {"coco": root / "golden.json", "yolo": root / "yolo", "voc": root / "voc",
            "batch": root / "batch.json"}


def test_synthetic_golden_loads_identically_in_three_formats(
    three_formats: dict[str, Path],
) -> None:
    coco = box_rows(load(three_formats["coco"]))
    yolo = box_rows(load(three_formats["yolo"]))
    voc = box_rows(load(three_formats["voc"]))
    assert len(coco) > 300
    assert voc == coco  # integer pixel edges: exact after VOC's 1-based shift
    assert [r[:2] for r in yolo] == [r[:2] for r in coco]
    np.testing.assert_allclose([r[2:] for r in yolo], [r[2:] for r in coco], atol=1e-9)


def test_synthetic_audit_is_the_same_whatever_the_golden_format(
    three_formats: dict[str, Path],
) -> None:
    batch = load(three_formats["batch"])
    results = {name: audit(load(three_formats[name]), batch) for name in ("coco", "yolo", "voc")}
    reference = results["coco"]
    assert reference.summary["outcomes"]["matched"] > 200
    for name in ("yolo", "voc"):
        other = results[name]
        assert other.summary["outcomes"] == reference.summary["outcomes"], name
        np.testing.assert_allclose(other.summary["iou"]["iou_mean"],
                                   reference.summary["iou"]["iou_mean"], rtol=1e-9)
        for column in ("golden", "matched", "missing", "extra", "wrong_class", "iou_median"):
            assert by_class(other, column) == pytest.approx(by_class(reference, column),
                                                            nan_ok=True), (name, column)


def by_class(result: AuditResult, column: str) -> dict[str, float]:
    values = result.classes.columns[column]
    return {name: float(values[i]) for i, name in enumerate(result.classes.classes)}


PADILLA = "rafaelpadilla_voc2012_100img_multiformat"


def padilla_sizes(root: Path, out: Path) -> Path:
    """A sizes manifest from the COCO file's images (its YOLO export carries no sizes)."""
    doc = json.loads((root / "gts/coco_format_v1/instances_default.json").read_text())
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "width", "height"])
        for image in doc["images"]:
            writer.writerow([image["file_name"], image["width"], image["height"]])
    return out


def test_real_multiformat_set_each_file_read_as_its_format_says(tmp_path: Path) -> None:
    """The COCO and YOLO exports copied VOC's 1-based numbers without the shift.

    Read by each format's own convention, their boxes therefore start one pixel right of and
    below the VOC boxes and end at the same place: x1 differs by exactly 1, x2 not at all.
    """
    root = shared_dataset(PADILLA)
    voc = box_rows(load(root / "gts/pascalvoc_format"))
    coco1 = box_rows(load(root / "gts/coco_format_v1/instances_default.json"))
    coco2 = box_rows(load(root / "gts/coco_format_v2/instances_v2.json"))
    yolo = box_rows(load(root / "gts/yolo_format/obj_train_data",
                         sizes=padilla_sizes(root, tmp_path / "sizes.csv")))
    assert len(voc) == len(coco1) == len(coco2) == len(yolo) == 273
    assert coco1 == coco2
    by_end = {(r[0], r[1], r[4], r[5]): r for r in voc}
    for row in coco1:
        twin = by_end[(row[0], row[1], row[4], row[5])]
        assert (row[2] - twin[2], row[3] - twin[3]) == (1.0, 1.0)
    # YOLO keeps 6 decimals of the normalized numbers: within a third of a pixel of COCO.
    assert [r[:2] for r in yolo] == [r[:2] for r in coco1]
    np.testing.assert_allclose([r[2:] for r in yolo], [r[2:] for r in coco1], atol=0.35)


def test_real_multiformat_audit_sees_the_one_pixel_shift(tmp_path: Path) -> None:
    root = shared_dataset(PADILLA)
    result = audit(load(root / "gts/pascalvoc_format"),
                   load(root / "gts/coco_format_v1/instances_default.json"))
    assert result.summary["outcomes"]["matched"] == 273
    golden = load(root / "gts/pascalvoc_format")
    b = golden.boxes
    w, h = b.x2 - b.x1, b.y2 - b.y1
    # A box shrunk by one pixel on the left and top: IoU = (w-1)(h-1) / (w h).
    expected = np.mean((w - 1) * (h - 1) / (w * h))
    assert result.summary["iou"]["iou_mean"] == pytest.approx(expected, rel=1e-12)
