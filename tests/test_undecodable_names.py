"""File names that are not UTF-8 (an old archive unpacked as is), text that is no character,
and YOLO class names that are not names (a YAML list, mapping, boolean or nothing).

Python keeps a name's undecodable bytes as lone surrogates. Before these checks such a name in
a VOC or YOLO folder ended the audit with an internal error when the fingerprints, the tables
or the report were written; now the bytes are shown as ``\\xNN`` and the audit runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import bbqa
from bbqa.cli import app
from bbqa.dataset import Level, Problem, printable
from bbqa.errors import InputError
from bbqa.inputs import sha256_of
from tests.test_bad_inputs import voc_file

runner = CliRunner()
LATIN1_NAME = b"caf\xe9"  # "café" in Latin-1: not UTF-8


def _bytes_path(folder: Path, name: bytes) -> Path:
    """``folder / name`` for a name given as bytes; skips where the file system refuses it."""
    path = Path(os.fsdecode(os.fsencode(folder) + b"/" + name))
    try:
        path.write_bytes(b"")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system keeps only UTF-8 names")
    path.unlink()
    return path


def test_printable_shows_the_bytes_and_leaves_text_alone() -> None:
    assert printable(os.fsdecode(LATIN1_NAME + b".xml")) == "caf\\xe9.xml"
    assert printable("café.xml") == "café.xml"
    assert printable("\ud800x") == "\\ud800x"  # not an escaped byte: its code point
    problem = Problem(Level.ERROR, "bad_row", "row \udce9", os.fsdecode(b"/a/" + LATIN1_NAME))
    assert (problem.message, problem.location) == ("row \\xe9", "/a/caf\\xe9")


def test_voc_folder_with_a_name_that_is_not_utf8_audits(tmp_path: Path) -> None:
    folder = tmp_path / "voc"
    folder.mkdir()
    _bytes_path(folder, LATIN1_NAME + b".xml").write_text(voc_file())
    result = runner.invoke(app, ["audit", str(folder), "--golden", str(folder), "--quiet",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    ids = pq.read_table(tmp_path / "out" / "boxes.parquet").column("golden_id").to_pylist()
    assert ids and all("/caf\\xe9.xml#" in box_id for box_id in ids), ids


def test_yolo_names_that_are_not_utf8_are_keys_and_problem_locations(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "yolo"
    (root / "labels").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "classes.txt").write_text("car\n")
    for name in (LATIN1_NAME, b"plain"):
        Image.new("RGB", (100, 80)).save(_bytes_path(root / "images", name + b".png"), "PNG")
        _bytes_path(root / "labels", name + b".txt").write_text("0 0.5 0.5 0.2 0.2\n")
    # A label with no image: a problem whose location is the label file's path.
    _bytes_path(root / "labels", b"lost\xff.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    dataset = bbqa.load(root)
    assert sorted(dataset.images.key.tolist()) == ["caf\\xe9.png", "plain.png"]
    assert any(p.location.endswith("lost\\xff.txt") for p in dataset.problems)
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(root), "--golden", str(root), "--quiet",
                                 "--out", str(out)])
    assert result.exit_code == 2 and "lost\\xff.txt" in result.stderr  # golden set invalid
    (tmp_path / "golden.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "caf\u00e9.png", "width": 100, "height": 80},
                   {"id": 2, "file_name": "plain.png", "width": 100, "height": 80}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [40, 32, 20, 16]}]}))
    result = runner.invoke(app, ["audit", str(root), "--golden", str(tmp_path / "golden.json"),
                                 "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    findings = json.loads((out / "summary.json").read_text(encoding="utf-8"))["batch_findings"]
    assert any(item["location"].endswith("lost\\xff.txt") for item in findings["items"])
    images = pq.read_table(out / "images.parquet").column("image").to_pylist()
    assert "plain.png" in images


def test_folder_fingerprint_is_unchanged_for_utf8_names(tmp_path: Path) -> None:
    folder = tmp_path / "labels"
    (folder / "sub").mkdir(parents=True)
    (folder / "café.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (folder / "sub" / "b.txt").write_text("x")
    # The digest as it was computed before names were hashed as bytes: names as UTF-8 text.
    expected = hashlib.sha256()
    for relative in sorted(["café.txt", "sub/b.txt"]):
        content = hashlib.sha256((folder / relative).read_bytes()).hexdigest()
        expected.update(f"{relative}\0{content}\n".encode())
    assert sha256_of(folder) == expected.hexdigest()
    _bytes_path(folder, LATIN1_NAME + b".txt").write_text("y")
    assert len(sha256_of(folder)) == 64  # no error for a name that is not UTF-8


@pytest.mark.parametrize(("yaml_text", "message"), [
    ('names:\n  - "c\\ud800ar"\n', "class 0: the name 'c\\ud800ar' holds half of a UTF-16"),
    ('names:\n  0: car\n  1: "\\udc00"\n', "class 1: the name '\\udc00' holds half"),
    ('names:\n  - "\\UFFFFFFFF"\n', "invalid YAML: an escape that is no character"),
])
def test_yolo_class_names_that_are_no_text_are_errors(tmp_path: Path, yaml_text: str,
                                                      message: str) -> None:
    root = tmp_path / "yolo"
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "image_sizes.csv").write_text("file,width,height\na.jpg,100,80\n")
    (root / "data.yaml").write_text(yaml_text)
    with pytest.raises(InputError) as raised:
        bbqa.load(root)
    assert message in str(raised.value) and "data.yaml" in str(raised.value)


def test_an_input_path_that_is_not_utf8_is_written_readably(tmp_path: Path) -> None:
    from tests.test_bad_inputs import base_doc

    golden = _bytes_path(tmp_path, b"golden\xe9.json")
    golden.write_text(json.dumps(base_doc()))
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(golden), "--golden", str(golden), "--quiet",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    text = (out / "summary.json").read_text(encoding="utf-8")
    summary = msgspec.json.decode(text)  # no lone surrogate escape left
    shown = str(tmp_path / "golden\\xe9.json")
    assert summary["golden"] == summary["batch"] == shown
    assert summary["inputs"]["golden"]["path"] == shown
    assert summary["inputs"]["golden"]["sha256"] == hashlib.sha256(
        golden.read_bytes()).hexdigest()


# A few lines that stand for 9**8 (43 million) items; each line more multiplies by nine.
# Kept at a size that would not take the machine down if the check were lost: turned into
# text, they take about 300 MB.
BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefg", "bcdefgh", strict=True)) + "names: [*h]\n"


@pytest.mark.parametrize(("yaml_text", "message"), [
    (BILLION_LAUGHS, "class 0: expected a name, got a list"),
    ("names:\n  0: car\n  1: {a: 1}\n", "class 1: expected a name, got a dict"),
    ("names: [car, no]\n", "class 1: expected a name, got False (YAML reads an unquoted yes"),
    ("names: [car, null]\n", "class 1: expected a name, got nothing"),
])
def test_yolo_class_names_must_be_names(tmp_path: Path, yaml_text: str, message: str) -> None:
    import resource

    root = tmp_path / "yolo"
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "image_sizes.csv").write_text("file,width,height\na.jpg,100,80\n")
    (root / "data.yaml").write_text(yaml_text)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError) as raised:
        bbqa.load(root)
    assert message in str(raised.value) and "data.yaml" in str(raised.value)
    # The aliases are never expanded into text.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100 * 1024


def test_yolo_numbers_and_quoted_words_are_names(tmp_path: Path) -> None:
    root = tmp_path / "yolo"
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "image_sizes.csv").write_text("file,width,height\na.jpg,100,80\n")
    (root / "data.yaml").write_text('names: [car, "no", 7, 2.5]\n')
    assert bbqa.load(root).categories == ("car", "no", "7", "2.5")
