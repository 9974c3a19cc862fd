"""The choice between the two COCO readers: Arrow for boxes, the typed decode for files whose
annotations carry many polygon points (which Arrow would build into columns nobody reads)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bbqa import auditing
from bbqa.io import coco, coco_route
from bbqa.io.coco_columns import read_with_arrow
from tests import synth
from tests.conftest import ROOT, shared_dataset
from tests.test_coco_paths import assert_same, coco_files


def test_samples_are_the_bytes_at_evenly_spaced_offsets(tmp_path: Path) -> None:
    data = np.random.default_rng(1).integers(0, 256, 1_000_003, dtype=np.uint8).tobytes()
    for size in (len(data), 100, 0):
        path = tmp_path / f"f{size}"
        path.write_bytes(data[:size])
        with open(path, "rb") as handle:
            pieces = coco_route.samples(handle.fileno(), size)
        # A fifth, two fifths, three and four fifths of the way in, 65,536 bytes each.
        expected = [data[:size][size * k // 5:size * k // 5 + 65536] for k in (1, 2, 3, 4)]
        assert pieces == expected


def test_unreadable_samples_are_none() -> None:
    read, write = os.pipe()
    try:
        assert coco_route.samples(read, 1 << 20) == []  # a pipe cannot be read at an offset
    finally:
        os.close(read)
        os.close(write)
    assert coco_route.arrow_is_faster([])  # nothing to judge by: the reader for big files


@pytest.mark.parametrize("commas", [0, 11, 24, 25, 80])
def test_the_typed_decode_takes_more_than_24_commas_a_box(commas: int) -> None:
    assert coco_route.MAX_COMMAS_PER_BOX == 24
    # Pieces with a known number of commas per "bbox" key, spread over several pieces.
    piece = (b'{"bbox": ' + b"1," * commas + b"}\n") * 50
    assert coco_route.arrow_is_faster([piece, piece[:-1]]) is (commas * 100 - 1 <= 24 * 100)
    assert coco_route.arrow_is_faster([piece] * 4) is (commas <= 24)


def test_polygons_without_boxes_go_to_the_typed_decode() -> None:
    # The Arrow reader declines an annotation without a bbox, after parsing the whole file.
    polygons = b'{"id": 1, "segmentation": [[1, 2, 3, 4, 5, 6]]},' * 100
    images = b'{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9},' * 100
    assert not coco_route.arrow_is_faster([images, polygons])
    assert coco_route.arrow_is_faster([images, images])


def _documents(tmp_path: Path, points: int, name: str = "") -> Path:
    doc = synth.golden_coco(synth.make_golden(40, 5, 1.0))
    path = tmp_path / (name or f"polygons-{points}.json")
    synth.write_json(synth.with_polygons(doc, points), path)
    return path


@pytest.mark.parametrize("points", [0, 4, 32])
def test_load_gives_files_with_many_polygon_points_to_the_typed_decode(
        points: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _documents(tmp_path, points)
    # The whole file's commas per box, counted here without samples: about 12 for a box with
    # its usual fields, two more for each polygon point.
    raw = path.read_bytes()
    per_box = raw.count(b",") / raw.count(b'"bbox"')
    assert (per_box <= 24) is (points < 6)
    monkeypatch.setattr(coco, "ARROW_MIN_BYTES", 1)
    parsed_by_arrow: list[int] = []
    def spy(raw: Any, *args: Any) -> Any:
        parsed_by_arrow.append(len(raw))
        return read_with_arrow(raw, *args)

    monkeypatch.setattr(coco, "read_with_arrow", spy)
    loaded = coco.load(path)
    assert bool(parsed_by_arrow) is (points < 6) is coco.arrow_reads(path)
    # Polygons change nothing in the dataset (boxes come from bbox), whichever reader read it.
    monkeypatch.setattr(coco_route, "MAX_COMMAS_PER_BOX", float("inf"))
    assert_same(coco.load(path), loaded)
    assert_same(coco.load(_documents(tmp_path, 0, name=path.name)), loaded)


def test_inputs_for_the_typed_decode_do_not_load_in_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The typed decode holds the GIL, so two such files load in two processes (when big
    enough to be worth one), not in two threads that would take turns."""
    boxes, polygons = _documents(tmp_path, 0), _documents(tmp_path, 32)
    monkeypatch.setattr(coco, "ARROW_MIN_BYTES", 1)
    assert auditing._parse_without_the_gil([boxes, boxes])
    assert not auditing._parse_without_the_gil([boxes, polygons])
    assert not auditing._parse_without_the_gil([tmp_path, boxes])  # a folder


def _sampled_coco_files() -> list[Path]:
    """COCO files (fixtures, ../shared) big enough for four samples that do not overlap."""
    return [f for f in coco_files() if f.stat().st_size >= 4 * coco_route.SAMPLE_BYTES
            and b'"bbox"' in f.read_bytes()]


@pytest.mark.parametrize("path", _sampled_coco_files(),
                         ids=lambda p: str(p.relative_to(p.parents[2])))
def test_the_samples_decide_as_the_whole_file_would(path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    raw = path.read_bytes()
    whole_file = raw.count(b",") <= 24 * raw.count(b'"bbox"')
    monkeypatch.setattr(coco, "ARROW_MIN_BYTES", 1)
    assert coco.arrow_reads(path) is whole_file


def test_real_polygons_go_to_the_typed_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """TACO's annotations carry real polygons: about 50 points a box, counted here from the
    parsed JSON."""
    path = shared_dataset("taco_trash_coco") / "annotations.json"
    annotations = json.loads(path.read_bytes())["annotations"]
    points = sum(len(p) for a in annotations for p in a["segmentation"]) / 2 / len(annotations)
    assert points > 6
    monkeypatch.setattr(coco, "ARROW_MIN_BYTES", 1)
    assert not coco.arrow_reads(path)
    assert coco.arrow_reads(ROOT / "fixtures" / "demo" / "golden.json")


def test_files_too_big_for_one_arrow_block_are_read_for_the_typed_decode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrow's reader takes the document as one block of under 2 GB; a bigger file is read
    into bytes for the typed decode at once, not mapped and then copied."""
    from bbqa.io import coco_columns

    path = _documents(tmp_path, 0)
    size = path.stat().st_size
    monkeypatch.setattr(coco, "ARROW_MIN_BYTES", 1)
    expected = coco.load(path)
    monkeypatch.setattr(coco_columns, "ARROW_MAX_BYTES", size + 1)
    assert coco.arrow_reads(path)
    monkeypatch.setattr(coco_columns, "ARROW_MAX_BYTES", size)
    assert not coco.arrow_reads(path)
    raw, arrow = coco._contents(path)
    assert isinstance(raw, bytes) and not arrow
    assert read_with_arrow(raw, "scene", "annotator") is None  # the reader refuses it too
    assert_same(coco.load(path), expected)
