"""Loaders: each format's convention, attributes, and errors that name the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bbqa.dataset import Level
from bbqa.errors import InputError
from bbqa.io import Format, detect_format, load


def coco_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "images": [{"id": 1, "file_name": "dir/a.jpg", "width": 100, "height": 80,
                    "annotator": "ann1"}],
        "categories": [{"id": 0, "name": "car"}, {"id": 7, "name": "bus"}],
        "annotations": [
            {"id": 0, "image_id": 1, "category_id": 7, "bbox": [10, 20, 30, 40],
             "attributes": {"occluded": True, "color": "red"}},
            {"id": 5, "image_id": 1, "category_id": 0, "bbox": [1.5, 2, 3, 4], "iscrowd": 1,
             "annotator": "ann2"},
            {"id": 6, "image_id": 1, "category_id": 0, "bbox": [50, 50, 10, 10], "ignore": 1,
             "score": 0.25},
        ],
    }
    doc.update(overrides)
    return doc


def write(tmp_path: Path, doc: Any, name: str = "gt.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_coco_boxes_attributes_annotators_and_crowd(tmp_path: Path) -> None:
    ds = load(write(tmp_path, coco_doc()))
    assert ds.images.key.tolist() == ["a.jpg"]
    by_id = {sid: i for i, sid in enumerate(ds.boxes.source_id.tolist())}
    bus = by_id["0"]
    assert ds.categories[ds.boxes.category[bus]] == "bus"
    assert [ds.boxes.x1[bus], ds.boxes.y1[bus], ds.boxes.x2[bus], ds.boxes.y2[bus]] == [10, 20,
                                                                                       40, 60]
    assert ds.boxes.attributes["occluded"].decoded()[bus] == "true"
    assert ds.boxes.attributes["color"].decoded()[by_id["5"]] is None
    assert ds.boxes.crowd.tolist() == [bool(sid in ("5", "6")) for sid in ds.boxes.source_id]
    names = [ds.annotators[a] for a in ds.boxes.annotator]
    assert names[by_id["5"]] == "ann2" and names[bus] == "ann1"
    assert ds.boxes.score[by_id["6"]] == 0.25 and np.isnan(ds.boxes.score[bus])


def test_integer_ids_are_kept_as_numbers_and_read_as_text(tmp_path: Path) -> None:
    from bbqa.dataset import merge

    numeric = load(write(tmp_path, coco_doc(), "a.json"))
    assert numeric.boxes.ids.dtype == np.int64
    assert sorted(numeric.boxes.ids.tolist()) == [0, 5, 6]
    assert sorted(numeric.boxes.source_id.tolist()) == ["0", "5", "6"]
    texts = coco_doc(images=[{"id": 2, "file_name": "b.jpg", "width": 100, "height": 80}])
    for entry, name in zip(texts["annotations"], ("x", "y", "z"), strict=True):
        entry.update(id=name, image_id=2)
    textual = load(write(tmp_path, texts, "b.json"))
    assert textual.boxes.ids.dtype.kind == "U"
    both = merge([numeric, textual])
    # Numbers and text together: every id becomes text, none is lost or renumbered.
    assert both.boxes.ids.dtype.kind == "U"
    assert sorted(both.boxes.source_id.tolist()) == ["0", "5", "6", "x", "y", "z"]
    twice = merge([numeric, numeric])
    assert twice.boxes.ids.dtype == np.int64


def test_ids_beyond_64_bits_are_kept_exactly(tmp_path: Path) -> None:
    doc = coco_doc()
    doc["annotations"][0]["id"] = 10 ** 30
    ds = load(write(tmp_path, doc))
    assert str(10 ** 30) in ds.boxes.source_id.tolist()


def test_coco_rows_are_sorted_whatever_the_file_order(tmp_path: Path) -> None:
    doc = coco_doc()
    a = load(write(tmp_path, doc, "a.json"))
    doc["annotations"].reverse()
    b = load(write(tmp_path, doc, "b.json"))
    assert a.boxes.source_id.tolist() == b.boxes.source_id.tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"images": [', "gt.json:1: invalid JSON"),
        ('{"images": [],\n "categories": [], "annotations": [{"id": 1, "image_id": 1, '
         '"category_id": 1, "bbox": [1, 1, 2, 3]}}', "gt.json:2: invalid JSON"),
        ("[]", "results file"),
    ],
)
def test_coco_unreadable_files_name_the_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        load(write(tmp_path, text))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["images"].append(dict(d["images"][0])), "duplicate image id"),
        (lambda d: d["images"].append({**d["images"][0], "id": "2"}), "mix numbers and strings"),
        (lambda d: d["categories"].append({"id": 9, "name": "car"}), "two categories are named"),
    ],
)
def test_coco_structural_errors_name_the_id(tmp_path: Path, change: Any, expected: str) -> None:
    doc = coco_doc()
    change(doc)
    with pytest.raises(InputError, match=expected):
        load(write(tmp_path, doc))


def test_coco_box_level_errors_are_problems_with_ids(tmp_path: Path) -> None:
    doc = coco_doc()
    doc["annotations"] += [
        {"id": 10, "image_id": 99, "category_id": 0, "bbox": [1, 1, 2, 2]},
        {"id": 11, "image_id": 1, "category_id": 42, "bbox": [1, 1, 2, 2]},
        {"id": 12, "image_id": 1, "category_id": 0, "bbox": [1, 1, 2]},
        {"id": 13, "image_id": 1, "category_id": 0, "bbox": [1, 1, -2, 2]},
        {"id": 14, "image_id": 1, "category_id": 0, "bbox": [1, 1, 0, 2]},
        {"id": 0, "image_id": 1, "category_id": 0, "bbox": [1, 1, 2, 2]},
    ]
    ds = load(write(tmp_path, doc))
    problems = {p.location.split("annotation id ")[1]: p for p in ds.problems}
    assert "is not in 'images'" in problems["10"].message
    assert "is not in 'categories'" in problems["11"].message
    assert "got 3 numbers" in problems["12"].message
    assert problems["13"].level is Level.ERROR and "negative" in problems["13"].message
    assert problems["14"].level is Level.WARNING and problems["14"].code == "degenerate"
    assert "duplicate annotation id" in problems["0"].message
    # The degenerate box is kept but not matchable; the others are left out.
    assert sorted(ds.boxes.source_id.tolist()) == ["0", "14", "5", "6"]
    assert not ds.boxes.valid[ds.boxes.source_id.tolist().index("14")]


def write_yolo(root: Path, labels: dict[str, str], names: str = "car\nbus\n",
               sizes: str = "file,width,height\na.jpg,200,100\nb.png,50,50\n") -> Path:
    (root / "labels").mkdir(parents=True)
    for stem, text in labels.items():
        (root / "labels" / f"{stem}.txt").write_text(text)
    (root / "classes.txt").write_text(names)
    (root / "image_sizes.csv").write_text(sizes)
    return root


def test_yolo_layout_conversion_score_and_empty_files(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "ds", {"a": "1 0.5 0.5 0.2 0.4 0.9\n\n0 1e-1 0.5 0.1 0.1",
                                        "b": ""})
    (root / "labels" / "README.txt").write_text("not a label file")
    ds = load(root)
    assert ds.images.key.tolist() == ["a.jpg", "b.png"]
    assert ds.categories == ("car", "bus")
    rows = sorted(zip(ds.boxes.source_id.tolist(), ds.boxes.x1.tolist(), ds.boxes.y1.tolist(),
                      ds.boxes.x2.tolist(), ds.boxes.y2.tolist(), ds.boxes.score.tolist(),
                      strict=True))
    assert rows[0][0].endswith("a.txt:1") and rows[1][0].endswith("a.txt:3")
    assert rows[0][1:5] == pytest.approx((80.0, 30.0, 120.0, 70.0))
    assert rows[0][5] == 0.9 and np.isnan(rows[1][5])
    assert rows[1][1:5] == pytest.approx((10.0, 45.0, 30.0, 55.0))


def test_yolo_data_yaml_names_mapping(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "ds", {"a": "1 0.5 0.5 0.2 0.2\n"}, names="")
    (root / "classes.txt").unlink()
    (root / "data.yaml").write_text("names:\n  0: person\n  1: dog\n")
    assert load(root).categories == ("person", "dog")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("5 0.5 0.5 0.1 0.1", "class id 5 is out of range"),
        ("cat 0.5 0.5 0.1 0.1", "expected an integer class id"),
        ("0,0.5,0.5,0.1,0.1", "separated by commas"),
        ("0 0.5 0.5 0.1", "expected 5 columns"),
        ("0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2", "polygon"),
        ("0 0.5 x 0.1 0.1", "expected numbers"),
    ],
)
def test_yolo_bad_rows_are_problems_at_file_and_line(tmp_path: Path, row: str,
                                                     expected: str) -> None:
    root = write_yolo(tmp_path / "ds", {"a": f"0 0.5 0.5 0.1 0.1\n{row}\n"})
    ds = load(root)
    assert len(ds.boxes) == 1
    (problem,) = ds.problems
    assert problem.location.endswith("a.txt:2") and expected in problem.message


def test_yolo_label_without_size_is_a_problem_naming_the_file(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "ds", {"zzz": "0 0.5 0.5 0.1 0.1\n"})
    ds = load(root)
    assert len(ds.images) == 0
    assert ds.problems[0].code == "no_image_size" and "zzz.txt" in ds.problems[0].location


def test_yolo_sizes_from_image_headers_respect_exif_rotation(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    image = Image.new("RGB", (40, 20))
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90 degrees: shown as 20 x 40
    image.save(root / "images" / "a.jpg", exif=exif)
    Image.new("RGB", (30, 10)).save(root / "images" / "b.png")
    (root / "labels").mkdir()
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 1 1\n")
    (root / "labels" / "b.txt").write_text("0 0.5 0.5 1 1\n")
    (root / "classes.txt").write_text("car\n")
    ds = load(root)
    assert ds.images.key.tolist() == ["a.jpg", "b.png"]
    assert ds.images.width.tolist() == [20.0, 30.0]
    assert ds.images.height.tolist() == [40.0, 10.0]


VOC = """<annotation>
  <filename>{name}</filename>
  {size}
  <object>
    <name>dog</name><truncated>1</truncated><difficult>0</difficult>
    <bndbox><xmin>{xmin}</xmin><ymin>1</ymin><xmax>10</xmax><ymax>20.5</ymax></bndbox>
  </object>
  <object>
    <name>cat</name>
    <bndbox><xmin>5</xmin><ymin>5</ymin><xmax>6</xmax></bndbox>
  </object>
</annotation>
"""
SIZE = "<size><width>50</width><height>40</height></size>"


def test_voc_is_one_based_inclusive_with_flags(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(VOC.format(name="x/a.jpg", size=SIZE, xmin=1))
    ds = load(tmp_path)
    assert ds.images.key.tolist() == ["a.jpg"]
    assert (ds.boxes.x1[0], ds.boxes.y1[0], ds.boxes.x2[0], ds.boxes.y2[0]) == (0, 0, 10, 20.5)
    assert ds.boxes.attributes["truncated"].decoded() == ["true"]
    assert ds.boxes.attributes["difficult"].decoded() == ["false"]
    assert ds.boxes.source_id[0].endswith("a.xml#0")
    (problem,) = ds.problems
    assert problem.location.endswith("a.xml:8") and "ymax" in problem.message


def test_voc_zero_xmin_warns_of_zero_based_export(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(VOC.format(name="a.jpg", size=SIZE, xmin=0))
    ds = load(tmp_path)
    assert any(p.code == "zero_based" and p.location.endswith("a.xml:4") for p in ds.problems)


def test_voc_malformed_xml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text("<annotation>\n<filename>a.jpg</filename>\n<size>\n")
    with pytest.raises(InputError, match=r"a.xml:4: malformed XML"):
        load(tmp_path)


def test_voc_missing_size_without_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(VOC.format(name="a.jpg", size="", xmin=1))
    with pytest.raises(InputError, match="missing or invalid <size>"):
        load(tmp_path)


def test_voc_refuses_entity_expansion(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx">]>'
        "<annotation><filename>&x;</filename></annotation>")
    with pytest.raises(InputError, match="unsafe XML"):
        load(tmp_path)


def test_format_detection_and_missing_paths(tmp_path: Path) -> None:
    assert detect_format(Path("x.json")) is Format.COCO
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "a.xml").write_text("<annotation/>")
    assert detect_format(tmp_path / "voc") is Format.VOC
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="cannot tell the format"):
        load(tmp_path / "empty")
    with pytest.raises(InputError, match="no such file or folder"):
        load(tmp_path / "nope.json")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("s.csv", "file,width,height\na.jpg,100,80\nother/a.jpg,200,80\n",
     "s.csv:3: a.jpg is given twice with different sizes (line 2: 100 x 80; here: 200 x 80)"),
    ("s.json", '[{"file": "a.jpg", "width": 100, "height": 80},'
               ' {"file": "d/a.jpg", "width": 100, "height": 81}]',
     "s.json: record 1: a.jpg is given twice with different sizes (record 0: 100 x 80; "
     "here: 100 x 81)"),
    ("s.json", '[{"file": null, "width": 100, "height": 80}]',
     's.json: record 0: expected "file" to be a file name, got None'),
    ("s.json", '[{"file": ["a.jpg"], "width": 100, "height": 80}]',
     's.json: record 0: expected "file" to be a file name, got [\'a.jpg\']'),
])
def test_size_manifest_conflicts_and_odd_names_are_errors(tmp_path: Path, name: str, text: str,
                                                          message: str) -> None:
    """Before: the last size given won without a word, and a null file became the key 'None'."""
    from bbqa.io.sizes import read_manifest

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        read_manifest(path)
    assert str(raised.value) == f"{path.parent}/{message}"


def test_size_manifest_repeating_a_size_is_fine(tmp_path: Path) -> None:
    from bbqa.io.sizes import read_manifest

    path = tmp_path / "s.csv"
    path.write_text("file,width,height\na.jpg,100,80\nother/a.jpg,100,80\nb.png,5,6\n")
    assert read_manifest(path) == {"a.jpg": (100.0, 80.0), "b.png": (5.0, 6.0)}
