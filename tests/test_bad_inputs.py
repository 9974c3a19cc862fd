"""Every case of ../shared/BAD_INPUTS.md, fed through the CLI as golden set and as batch.

Golden set: a structural problem exits 2 naming the place; a single box's geometry is a
warning. Batch: every problem is a finding naming the place and the run goes on (exit 0 without
a policy); a batch that cannot be read at all exits 1.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import bbqa
from bbqa.cli import app

runner = CliRunner()
Doc = dict[str, Any]


def base_doc() -> Doc:
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
                        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 20, 20]}],
    }


def write(path: Path, doc: Any) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def run(golden: Path, batch: Path, *extra: str) -> Any:
    return runner.invoke(app, ["audit", str(batch), "--golden", str(golden), *extra])


def both_roles(tmp_path: Path, bad: Any) -> tuple[Any, Any]:
    """Run the bad document once as the golden set and once as the batch."""
    good = write(tmp_path / "good.json", base_doc())
    bad_path = write(tmp_path / "bad.json", bad)
    return run(bad_path, good), run(good, bad_path)


def mutate(change: Callable[[Doc], object]) -> Doc:
    doc = base_doc()
    change(doc)
    return doc


# (name, mutation, message expected in both roles): structural in the golden set (exit 2),
# a finding in the batch (exit 0, the box left out, the run goes on).
BOX_ERRORS = [
    ("2 duplicate annotation ids",
     lambda d: d["annotations"][1].update(id=1),
     "annotation id 1: duplicate annotation id (first at annotations[0], again at "
     "annotations[1])"),
    ("4 image_id not in images",
     lambda d: d["annotations"][1].update(image_id=9), "annotation id 2: image_id 9 is not"),
    ("5 category_id not in categories",
     lambda d: d["annotations"][1].update(category_id=9),
     "annotation id 2: category_id 9 is not"),
    ("7 NaN in bbox", lambda d: d["annotations"][1].update(bbox=[float("nan"), 1, 2, 3]),
     "annotation id 2: coordinates must be finite"),
    ("7 Infinity in bbox", lambda d: d["annotations"][1].update(bbox=[1, 1, float("inf"), 3]),
     "annotation id 2: coordinates must be finite"),
    ("8 negative width", lambda d: d["annotations"][1].update(bbox=[50, 50, -5, 20]),
     "annotation id 2: expected a non-negative width and height"),
    ("10 bbox of 3 numbers", lambda d: d["annotations"][1].update(bbox=[1, 2, 3]),
     "annotation id 2: expected 'bbox' to be [x, y, width, height], got 3 numbers"),
    ("10 bbox with a string", lambda d: d["annotations"][1].update(bbox=["1", 2, 3, 4]),
     "annotation id 2: bbox[0]: Expected `float`, got `str`"),
    ("10 bbox with a boolean", lambda d: d["annotations"][1].update(bbox=[True, 2, 3, 4]),
     "annotation id 2: bbox[0]: Expected `float`, got `bool`"),
    ("10 bbox not a list", lambda d: d["annotations"][1].update(bbox="1,2,3,4"),
     "annotation id 2: bbox: Expected `array | null`, got `str`"),
    ("13 polygon of 2 points",
     lambda d: d["annotations"][1].update(bbox=None, segmentation=[[1, 1, 5, 5]]),
     "annotation id 2: no 'bbox', and the segmentation has a polygon of 4 numbers"),
    ("10 annotation without a category", lambda d: d["annotations"][1].pop("category_id"),
     "annotation id 2: Object missing required field `category_id`"),
]


@pytest.mark.parametrize(("name", "change", "message"), BOX_ERRORS,
                         ids=[case[0] for case in BOX_ERRORS])
def test_box_errors(tmp_path: Path, name: str, change: Callable[[Doc], None],
                    message: str) -> None:
    as_golden, as_batch = both_roles(tmp_path, mutate(change))
    assert as_golden.exit_code == 2, as_golden.stderr
    assert message in as_golden.stderr and "bad.json" in as_golden.stderr
    assert as_batch.exit_code == 0, as_batch.stderr
    assert message in as_batch.stdout.replace("\n", " ").replace("  ", " ") or \
        message in as_batch.stdout
    assert "batch findings" in as_batch.stdout
    # The good box still matched: the run went on.
    assert "1 matched" in as_batch.stdout


# Whole-file problems: exit 2 as golden set, 1 as batch (the delivery is unusable).
FILE_ERRORS = [
    ("3 duplicate image ids", lambda d: d["images"].append(dict(d["images"][0])),
     "image id 1: duplicate image id"),
    ("6 two categories with one name",
     lambda d: d["categories"].append({"id": 2, "name": "car"}),
     "category id 2: two categories are named 'car'"),
    ("6 one id with two names",
     lambda d: d["categories"].append({"id": 1, "name": "bus"}),
     "category id 1: duplicate category id"),
    ("11 image ids of mixed types",
     lambda d: d["images"].append({"id": "2", "file_name": "b.jpg", "width": 9, "height": 9}),
     "image ids mix numbers and strings"),
    ("11 annotation ids of mixed types", lambda d: d["annotations"][1].update(id="2"),
     "annotation ids mix numbers and strings"),
    ("images not a list", lambda d: d.update(images={"1": {}}), "Expected `array`"),
    ("image without a width", lambda d: d["images"][0].pop("width"),
     "missing required field `width`"),
]


@pytest.mark.parametrize(("name", "change", "message"), FILE_ERRORS,
                         ids=[case[0] for case in FILE_ERRORS])
def test_file_errors(tmp_path: Path, name: str, change: Callable[[Doc], None],
                     message: str) -> None:
    as_golden, as_batch = both_roles(tmp_path, mutate(change))
    assert as_golden.exit_code == 2 and message in as_golden.stderr, as_golden.stderr
    assert as_batch.exit_code == 1 and message in as_batch.stderr, as_batch.stderr
    assert "Traceback" not in as_golden.stderr + as_batch.stderr


@pytest.mark.parametrize(("name", "text", "message"), [
    ("15 truncated JSON", '{"images": [\n{"id": 1', "bad.json:2: invalid JSON"),
    ("15 invalid JSON", '{"images": [],\n "categories": [}', "bad.json:2: invalid JSON"),
    ("16 a results file", '[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], '
     '"score": 0.9}]', "a list of detections (a results file)"),
    ("not an object", '"hello"', "Expected `object`, got `str`"),
    ("empty file", "", "invalid JSON"),
    ("binary garbage", "\x00\x01\x02", "invalid JSON"),
    # Python's parser and msgspec stop at the interpreter's recursion limit, with a message.
    ("nested 100,000 deep", json.dumps(base_doc()).replace(
        '"bbox": [10, 10, 20, 20]', '"bbox": [10, 10, 20, 20], "x": ' + "[" * 100_000
        + "]" * 100_000, 1), "invalid JSON: arrays or objects nested more than"),
])
def test_unreadable_json(tmp_path: Path, name: str, text: str, message: str) -> None:
    as_golden, as_batch = both_roles(tmp_path, text)
    assert as_golden.exit_code == 2 and message in as_golden.stderr, as_golden.stderr
    assert as_batch.exit_code == 1 and message in as_batch.stderr, as_batch.stderr


def test_7_a_number_beyond_a_float_is_infinite_and_reported_per_box(tmp_path: Path) -> None:
    # 1e400 is valid JSON but no float: msgspec refuses it, Python's parser reads infinity.
    text = json.dumps(base_doc()).replace("[50, 50, 20, 20]", "[50, 1e400, 20, 20]")
    as_golden, as_batch = both_roles(tmp_path, text)
    message = "annotation id 2: coordinates must be finite"
    assert as_golden.exit_code == 2 and message in as_golden.stderr, as_golden.stderr
    assert as_batch.exit_code == 0, as_batch.stderr
    assert message in " ".join(as_batch.stdout.split()), as_batch.stdout


def test_9_a_box_too_large_to_measure_is_an_error_and_never_matched(tmp_path: Path) -> None:
    import warnings

    from bbqa.io.checks import MAX_AREA, check_geometry

    # Just inside and just outside the largest area: 1e150 x 1e150 is 1e300 square pixels.
    x2 = np.array([1e150, 1e150 * 1.01, 1e308, 30.0])
    y2 = np.array([1e150, 1e150, 1e308, 30.0])
    zeros = np.zeros(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning reaches the user
        keep, valid, problems = check_geometry(zeros, zeros, x2, y2, np.full(4, 100.0),
                                               np.full(4, 100.0), lambda row: f"row {row}")
    assert MAX_AREA == 1e300 and 1e150 * 1e150 <= MAX_AREA < 1e150 * 1.01 * 1e150
    assert keep.tolist() == [True] * 4 and valid.tolist() == [True, False, False, True]
    too_large = [p.location for p in problems if p.code == "too_large"]
    assert too_large == ["row 1", "row 2"]
    # Through the CLI: two identical huge boxes would give IoU inf / inf; here they are
    # errors, and the ordinary box beside them still matches.
    doc = base_doc()
    doc["annotations"][0]["bbox"] = [0, 0, 1e308, 1e308]
    as_golden, as_batch = both_roles(tmp_path, doc)
    message = "annotation id 1: box is too large to measure"
    assert as_golden.exit_code == 2 and message in " ".join(as_golden.stderr.split())
    assert as_batch.exit_code == 0 and message in " ".join(as_batch.stdout.split())
    assert "1 matched, 1 missing, 0 extra, 1 invalid" in as_batch.stdout
    assert "Warning" not in as_batch.stderr


def test_1_annotation_id_zero_and_6_category_ids_by_name(tmp_path: Path) -> None:
    golden = mutate(lambda d: (d["annotations"][0].update(id=0),
                               d["categories"][0].update(id=0),
                               [a.update(category_id=0) for a in d["annotations"]]))
    batch = mutate(lambda d: (d["categories"][0].update(id=7),
                              [a.update(category_id=7) for a in d["annotations"]]))
    out = tmp_path / "out"
    result = run(write(tmp_path / "g.json", golden), write(tmp_path / "b.json", batch),
                 "--out", str(out), "-q")
    assert result.exit_code == 0
    rows = pq.read_table(out / "boxes.parquet").to_pylist()
    assert {(r["outcome"], r["golden_id"]) for r in rows} == {("matched", "0"),
                                                              ("matched", "2")}


def test_8_zero_size_is_a_golden_warning_and_a_batch_finding(tmp_path: Path) -> None:
    bad = mutate(lambda d: d["annotations"][1].update(bbox=[50, 50, 0, 20]))
    as_golden, as_batch = both_roles(tmp_path, bad)
    assert as_golden.exit_code == 0 and "golden warnings" in as_golden.stdout
    assert "annotation id 2: box has zero width or height" in as_golden.stdout
    assert as_batch.exit_code == 0 and "annotation id 2: box has zero width" in as_batch.stdout


def test_9_boxes_past_the_edge_are_kept_as_drawn(tmp_path: Path) -> None:
    golden = mutate(lambda d: d["annotations"][1].update(bbox=[90, 90, 20, 20]))
    out = tmp_path / "out"
    result = run(write(tmp_path / "g.json", golden), write(tmp_path / "b.json", golden),
                 "--out", str(out))
    assert result.exit_code == 0
    assert "annotation id 2: box reaches past the image edge" in result.stdout
    rows = pq.read_table(out / "boxes.parquet").to_pylist()
    far = next(r for r in rows if r["golden_id"] == "2")
    assert (far["outcome"], far["golden_x2"], far["batch_y2"]) == ("matched", 110.0, 110.0)


def test_12_crowd_and_ignore_regions_and_missing_optional_keys(tmp_path: Path) -> None:
    golden = mutate(lambda d: (d["annotations"].append(
        {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 60, 40, 40], "iscrowd": 1}),
        d["annotations"].append({"id": 4, "image_id": 1, "category_id": 1,
                                 "bbox": [60, 0, 40, 40], "ignore": 1})))
    batch = mutate(lambda d: d["annotations"].extend([
        {"id": 5, "image_id": 1, "category_id": 1, "bbox": [5, 65, 10, 10]},
        {"id": 6, "image_id": 1, "category_id": 1, "bbox": [65, 5, 10, 10]}]))
    out = tmp_path / "out"
    assert run(write(tmp_path / "g.json", golden), write(tmp_path / "b.json", batch),
               "--out", str(out), "-q").exit_code == 0
    outcomes = sorted(r["outcome"] for r in pq.read_table(out / "boxes.parquet").to_pylist())
    assert outcomes == ["ignored", "ignored", "matched", "matched", "region", "region"]


def test_13_box_from_segmentation_with_a_warning(tmp_path: Path) -> None:
    polygon = mutate(lambda d: d["annotations"][1].update(
        bbox=None, segmentation=[[50, 50, 70, 50, 70, 70, 50, 70]]))
    mask = np.zeros((100, 100), dtype=np.uint8)
    mask[50:70, 50:70] = 1  # the same 20 x 20 square, as an uncompressed RLE
    flat = mask.flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    rle = mutate(lambda d: d["annotations"][1].update(
        segmentation={"size": [100, 100], "counts": counts}))
    del rle["annotations"][1]["bbox"]
    for doc in (polygon, rle):
        as_golden, _ = both_roles(tmp_path, doc)
        assert as_golden.exit_code == 0
        assert "annotation id 2: no 'bbox': the box around the segmentation is used" in \
            as_golden.stdout
        assert "2 matched" in as_golden.stdout


def test_13_segmentation_boxes_equal_pycocotools() -> None:
    from pycocotools import mask as coco_mask

    from bbqa.io.segmentation import segmentation_box

    rng = np.random.default_rng(0)
    for _ in range(30):
        mask = np.zeros((37, 53), dtype=np.uint8, order="F")
        y, x = rng.integers(0, 30), rng.integers(0, 45)
        mask[y:y + rng.integers(1, 8), x:x + rng.integers(1, 9)] = 1
        encoded = coco_mask.encode(mask)
        expected = coco_mask.toBbox(encoded).tolist()
        compressed = {"size": encoded["size"], "counts": encoded["counts"].decode()}
        assert segmentation_box(compressed) == expected


def test_14_empty_batch_is_everything_missing(tmp_path: Path) -> None:
    empty = mutate(lambda d: d.update(annotations=[]))
    good = write(tmp_path / "good.json", base_doc())
    result = run(good, write(tmp_path / "empty.json", empty))
    assert result.exit_code == 0 and "0 matched, 2 missing" in result.stdout


def yolo(tmp_path: Path, rows: str, names: str = "car\n",
         sizes: str = "file,width,height\na.jpg,100,100\n", stem: str = "a") -> Path:
    root = tmp_path / "yolo"
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / f"{stem}.txt").write_text(rows)
    (root / "classes.txt").write_text(names)
    (root / "image_sizes.csv").write_text(sizes)
    return root


GOOD_ROW = "0 0.2 0.2 0.2 0.2"  # the golden box [10, 10, 30, 30]


@pytest.mark.parametrize(("name", "row", "message"), [
    ("18 class -1", "-1 0.6 0.6 0.2 0.2", "class id -1 is out of range"),
    ("18 class name", "cat 0.6 0.6 0.2 0.2", "expected an integer class id, got 'cat'"),
    ("18 class out of range", "3 0.6 0.6 0.2 0.2", "class id 3 is out of range"),
    ("18 class as a float", "0.0 0.6 0.6 0.2 0.2", "expected an integer class id"),
    ("19 four columns", "0 0.6 0.6 0.2", "expected 5 columns"),
    ("19 commas", "0,0.6,0.6,0.2,0.2", "separated by commas"),
    ("19 polygon row", "0 0.1 0.1 0.3 0.1 0.3 0.3", "a polygon (segmentation) row"),
    ("19 a word among numbers", "0 0.6 x 0.2 0.2", "expected numbers after the class id"),
    ("20 outside [0, 1]", "0 1.5 0.6 0.2 0.2", "box lies wholly outside the image"),
    ("20 past the edge", "0 0.95 0.6 0.2 0.2", "box reaches past the image edge"),
    ("20 NaN", "0 nan 0.6 0.2 0.2", "coordinates must be finite"),
    ("20 near the largest double", "0 1e308 0.6 1e308 0.2", "coordinates must be finite"),
    # float() and int() take these; a label file's numbers are never written so.
    ("19 an underscore in a number", "0 0_6 0.6 0.2 0.2", "expected numbers after the class"),
    ("19 digits of another script", "0 \u0660.6 0.6 0.2 0.2", "expected numbers after the class"),
    ("18 an underscore in a class id", "0_0 0.6 0.6 0.2 0.2", "expected an integer class id"),
])
@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy's overflow warnings reach users
def test_yolo_rows(tmp_path: Path, name: str, row: str, message: str) -> None:
    good = write(tmp_path / "good.json", base_doc())
    root = yolo(tmp_path, f"{GOOD_ROW}\n\n{row}")  # 17: a blank line, no trailing newline
    as_batch = run(good, root)
    assert as_batch.exit_code == 0, as_batch.stderr
    assert "labels/a.txt:3" in as_batch.stdout and message in as_batch.stdout
    assert "1 matched" in as_batch.stdout
    as_golden = run(root, good)
    is_error = not message.startswith("box")
    assert as_golden.exit_code == (2 if is_error else 0), as_golden.stderr


def test_21_scientific_notation_and_23_stray_files(tmp_path: Path) -> None:
    root = yolo(tmp_path, "0 2e-1 2.0E-1 0.2 0.2\n")
    (root / "labels" / "README.txt").write_text("these are labels\n")
    (root / "labels" / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "labels" / "train.txt").write_text("images/a.jpg\n")
    good = write(tmp_path / "good.json", base_doc())
    result = run(good, root)
    assert result.exit_code == 0 and "batch findings" not in result.stdout
    assert "1 matched, 1 missing" in result.stdout


def test_22_label_without_an_image_size(tmp_path: Path) -> None:
    root = yolo(tmp_path, f"{GOOD_ROW}\n", stem="zz")
    (root / "labels" / "a.txt").write_text(f"{GOOD_ROW}\n")
    good = write(tmp_path / "good.json", mutate(lambda d: d["images"].append(
        {"id": 2, "file_name": "zz.jpg", "width": 100, "height": 100})))
    as_batch = run(good, root)
    assert "labels/zz.txt: no size for the image of this label file" in as_batch.stdout
    as_golden = run(root, good)
    assert as_golden.exit_code == 2 and "labels/zz.txt" in as_golden.stderr


def test_22_a_broken_image_costs_only_its_own_labels(tmp_path: Path) -> None:
    """Sizes read from image headers (--images): one truncated image is a problem of its
    label file, not a batch that cannot be read (before, the whole load failed)."""
    from PIL import Image

    root = tmp_path / "yolo"
    (root / "labels").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "classes.txt").write_text("car\n")
    Image.new("RGB", (100, 100)).save(root / "images" / "a.png")
    whole = (root / "images" / "a.png").read_bytes()
    (root / "images" / "zz.png").write_bytes(whole[:20])  # cut inside the header
    for stem in ("a", "zz"):
        (root / "labels" / f"{stem}.txt").write_text(f"{GOOD_ROW}\n")
    good = write(tmp_path / "good.json",
                 mutate(lambda d: d["images"][0].update(file_name="a.png")))
    as_batch = run(good, root)
    assert as_batch.exit_code == 0, as_batch.stderr
    text = " ".join(as_batch.stdout.split())
    assert "labels/zz.txt: no size for the image of this label file" in text
    assert "zz.png: cannot read the image header" in text and "1 matched" in text
    as_golden = run(root, good)
    assert as_golden.exit_code == 2 and "labels/zz.txt" in as_golden.stderr


VOC_OBJECT = ("<object><name>car</name>{flags}<bndbox><xmin>{xmin}</xmin><ymin>11</ymin>"
              "<xmax>30</xmax><ymax>30</ymax></bndbox></object>")


def voc(tmp_path: Path, name: str, body: str) -> Path:
    folder = tmp_path / "voc"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(body)
    return folder


def voc_file(size: bool = True, xmin: str = "11", flags: str = "") -> str:
    size_xml = "<size><width>100</width><height>100</height></size>" if size else ""
    return (f"<annotation>\n<filename>a.jpg</filename>\n{size_xml}\n"
            f"{VOC_OBJECT.format(flags=flags, xmin=xmin)}\n</annotation>\n")


@pytest.mark.parametrize("plain", [True, False])
@pytest.mark.parametrize("xmin", ["1_1", "\u0661\u0661", "0x11"])
def test_26_coordinates_python_would_read_but_voc_never_writes(
        tmp_path: Path, xmin: str, plain: bool) -> None:
    # float() reads "1_1" and the Arabic-Indic "11" as 11; both readers refuse them now.
    text = voc_file(xmin=xmin)
    if not plain:  # a comment sends the file to the element-tree reader
        text = text.replace("<annotation>", "<annotation><!-- exported -->")
    folder = voc(tmp_path, "a.xml", text)
    dataset = bbqa.load(folder)
    assert len(dataset.boxes.x1) == 0
    assert any("numeric xmin, ymin, xmax, ymax" in p.message for p in dataset.problems)


def test_24_missing_size_needs_images(tmp_path: Path) -> None:
    folder = voc(tmp_path, "a.xml", voc_file(size=False))
    good = write(tmp_path / "good.json", base_doc())
    as_golden = run(folder, good)
    assert as_golden.exit_code == 2 and "missing or invalid <size>" in as_golden.stderr
    assert "a.xml" in as_golden.stderr
    from PIL import Image

    (tmp_path / "images").mkdir()
    Image.new("RGB", (100, 100)).save(tmp_path / "images" / "a.jpg")
    fixed = run(folder, good, "--images", str(tmp_path / "images"))
    assert fixed.exit_code == 0 and "1 matched" in fixed.stdout


def test_25_missing_flags_default_to_false_and_26_float_and_zero_coordinates(
        tmp_path: Path) -> None:
    import bbqa

    folder = voc(tmp_path, "a.xml", voc_file(xmin="11.0"))
    ds = bbqa.load(folder)
    assert ds.boxes.attributes["difficult"].decoded() == ["false"]
    assert ds.boxes.attributes["truncated"].decoded() == ["false"]
    assert ds.boxes.x1.tolist() == [10.0]
    zero = voc(tmp_path / "z", "a.xml", voc_file(xmin="0"))
    result = run(write(tmp_path / "good.json", base_doc()), zero)
    assert "a.xml:4: xmin or ymin is 0 in a 1-based format" in result.stdout


@pytest.mark.parametrize("text", [
    "<annotation>\n<filename>a.jpg</filename>\n<size>\n",
    "<annotation><object></annotation>",
    "not xml at all",
])
def test_27_malformed_xml(tmp_path: Path, text: str) -> None:
    folder = voc(tmp_path, "a.xml", text)
    good = write(tmp_path / "good.json", base_doc())
    as_golden = run(folder, good)
    assert as_golden.exit_code == 2 and "a.xml" in as_golden.stderr
    assert "malformed XML" in as_golden.stderr
    as_batch = run(good, folder)
    assert as_batch.exit_code == 1  # the only file of the delivery is unreadable
    (folder / "b.xml").write_text(voc_file().replace("a.jpg", "b.jpg"))
    two_files = run(good, folder, "--allow-empty")
    assert two_files.exit_code == 0, two_files.stderr
    assert "a.xml" in two_files.stdout and "malformed XML" in two_files.stdout


def test_28_paths_that_do_not_hold_annotations(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", base_doc())
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("hello")
    for path, message in ((tmp_path / "nope.json", "no such file or folder"),
                          (tmp_path / "empty", "cannot tell the format"),
                          (tmp_path / "notes", "cannot tell the format")):
        as_golden = run(path, good)
        assert as_golden.exit_code == 2 and message in as_golden.stderr
        as_batch = run(good, path)
        assert as_batch.exit_code == 1 and message in as_batch.stderr


def test_29_no_image_in_common(tmp_path: Path) -> None:
    other = mutate(lambda d: d["images"][0].update(file_name="zzz.png"))
    good = write(tmp_path / "good.json", base_doc())
    result = run(good, write(tmp_path / "other.json", other))
    assert result.exit_code == 2
    assert "no image in common" in result.stderr and "--image-key" in result.stderr
    assert "a.jpg" in result.stderr and "zzz.png" in result.stderr


def test_30_thousands_of_boxes_on_one_image_stay_in_bounded_memory() -> None:
    """5,000 overlapping boxes of one class on one image: 25 million candidate pairs, which
    unchunked would take gigabytes; matching walks them in bounded chunks."""
    import bbqa
    from bbqa.align import align
    from bbqa.match import match
    from tests.conftest import make_dataset

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 60, (5000, 2))
    boxes = np.concatenate([xy, xy + 40], axis=1)
    golden = make_dataset(["a.jpg"], [(0, "car", *b, f"g{i}") for i, b in
                                      enumerate(boxes.tolist())])
    batch = make_dataset(["a.jpg"], [(0, "car", *b, f"b{i}") for i, b in
                                     enumerate((boxes + 0.5).tolist())])
    tracemalloc.start()
    matches = match(golden, batch, align(golden, batch), 0.97)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Unchunked, the pair indices and IoU temporaries alone would take several GiB.
    assert peak < 300 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert len(matches) > 0
    del bbqa
