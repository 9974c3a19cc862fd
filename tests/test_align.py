"""Joining images by key and classes by name; several batch paths; class maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bbqa.align import ImageKey, align, read_class_map, rename_categories
from bbqa.dataset import Boxes, Dataset, Images, merge
from bbqa.errors import InputError
from bbqa.match import Outcome, match
from tests.conftest import make_dataset


def images(keys: list[str], sizes: list[float] | None = None, ids: list[str] | None = None
           ) -> Dataset:
    sizes = sizes or [100.0] * len(keys)
    return Dataset.build(Images.build(keys, sizes, sizes, source_ids=ids), ["car"],
                         Boxes.empty())


@pytest.mark.parametrize(
    ("golden", "batch", "mode", "expected"),
    [
        (["a.jpg", "b.jpg"], ["b.jpg", "a.png"], ImageKey.AUTO, [1, -1]),
        (["a.jpg", "b.jpg"], ["b", "a"], ImageKey.AUTO, [1, 0]),  # a side without extensions
        (["a.jpg", "b.jpg"], ["b.png", "a.png"], ImageKey.STEM, [1, 0]),
        (["a.jpg"], ["a.JPG"], ImageKey.NAME, [-1]),
        (["caf\u00e9.jpg"], ["cafe\u0301.jpg"], ImageKey.AUTO, [0]),  # NFC-normalized
    ],
)
def test_image_keys(golden: list[str], batch: list[str], mode: ImageKey,
                    expected: list[int]) -> None:
    assert align(images(golden), images(batch), mode).labeling_to_golden.tolist() == expected


def test_join_by_id() -> None:
    golden = images(["a.jpg", "b.jpg"], ids=["7", "8"])
    batch = images(["x.jpg"], ids=["8"])
    assert align(golden, batch, ImageKey.ID).labeling_to_golden.tolist() == [1]


def test_not_delivered_not_audited_and_size_mismatch_are_listed() -> None:
    golden = images(["a.jpg", "b.jpg", "c.jpg"], sizes=[100, 100, 100])
    batch = images(["a.jpg", "c.jpg", "z.jpg"], sizes=[100, 120, 100])
    alignment = align(golden, batch)
    assert alignment.labeling_to_golden.tolist() == [0, -1, -1]
    assert golden.images.key[alignment.not_delivered].tolist() == ["b.jpg"]
    assert batch.images.key[alignment.not_audited].tolist() == ["z.jpg"]
    assert batch.images.key[alignment.size_mismatch].tolist() == ["c.jpg"]


def test_duplicate_golden_keys_are_an_error() -> None:
    with pytest.raises(InputError, match="two golden images share the key 'a'"):
        align(images(["a.jpg", "a.png"]), images(["a"]))


def test_several_batch_paths_are_separate_labelings() -> None:
    golden = make_dataset(["a.jpg"], [(0, "car", 0, 0, 10, 10, "g1")])
    first = make_dataset(["a.jpg"], [(0, "car", 0, 0, 10, 10, "1")])
    second = make_dataset(["a.jpg"], [(0, "bus", 0, 0, 10, 10, "1")], classes=["bus"])
    batch = merge([first, second])
    assert batch.categories == ("car", "bus")
    m = match(golden, batch, align(golden, batch))
    assert sorted(zip(m.labeling.tolist(), [Outcome(int(o)).label for o in m.outcome],
                      strict=True)) == [(0, "matched"), (1, "wrong_class")]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_class_map_files(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"map{suffix}"
    if suffix == ".csv":
        path.write_text("old,new\nautomobile,car\nlorry,truck\n")
    else:
        path.write_text(json.dumps({"automobile": "car", "lorry": "truck"}))
    assert read_class_map(path) == {"automobile": "car", "lorry": "truck"}


def test_class_map_merges_categories_that_meet() -> None:
    ds = make_dataset(["a.jpg"], [(0, "auto", 0, 0, 1, 1, "1"), (0, "car", 2, 2, 3, 3, "2")],
                      classes=["auto", "car"])
    renamed = rename_categories(ds, {"auto": "car"})
    assert renamed.categories == ("car",)
    assert renamed.boxes.category.tolist() == [0, 0]


def test_bad_class_map_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text("a,b\nc,d,e\n")
    with pytest.raises(InputError, match=r"map.csv:2: expected 2 columns"):
        read_class_map(path)


def test_a_class_mapped_twice_to_different_names_is_an_error(tmp_path: Path) -> None:
    # Before, the last line won without a word; the same pair twice is harmless.
    path = tmp_path / "map.csv"
    path.write_text("old,new\nlorry,truck\nautomobile,car\nlorry,truck\nlorry,bus\n")
    with pytest.raises(InputError, match=r"map.csv:5: 'lorry' is given twice: 'truck' on line "
                                         r"2, 'bus' here"):
        read_class_map(path)
    path.write_text("old,new\nlorry,truck\nlorry,truck\n")
    assert read_class_map(path) == {"lorry": "truck"}


def test_dataset_validates_and_sorts() -> None:
    with pytest.raises(ValueError, match="category"):
        Dataset.build(Images.build(["a.jpg"], [9], [9]), ["car"],
                      Boxes.build([0], [3], [0.0], [0.0], [1.0], [1.0], ["1"]))
    with pytest.raises(ValueError, match="finite"):
        Dataset.build(Images.build(["a.jpg"], [9], [9]), ["car"],
                      Boxes.build([0], [0], [np.nan], [0.0], [1.0], [1.0], ["1"]))
    ds = make_dataset(["a.jpg", "b.jpg"], [(1, "b", 0, 0, 1, 1, "z"), (0, "b", 0, 0, 1, 1, "y"),
                                           (0, "a", 0, 0, 1, 1, "x")], classes=["a", "b"])
    assert ds.boxes.source_id.tolist() == ["x", "y", "z"]
    assert ds.image_offsets().tolist() == [0, 2, 3]


def test_to_arrow_shares_numeric_memory() -> None:
    ds = make_dataset(["a.jpg"], [(0, "a", 0, 0, 1, 1, "1"), (0, "a", 2, 2, 3, 3, "2")])
    table = ds.to_arrow()
    assert table.column("x1").chunk(0).buffers()[1].address == ds.boxes.x1.ctypes.data
    assert table.column("source_id").to_pylist() == ["1", "2"]


def test_classes_drawn_on_one_side_only_are_named() -> None:
    """A class counts for its side only where it has a box: declared but empty ones do not."""
    golden_rows = [(0, "a", 0, 0, 5, 5, "1"), (0, "b", 0, 0, 5, 5, "2"), (1, "a", 1, 1, 4, 4, "3")]
    batch_rows = [(0, "b", 0, 0, 5, 5, "7"), (1, "d", 0, 0, 5, 5, "8"), (1, "d", 2, 2, 5, 5, "9")]
    golden = make_dataset(["x.jpg", "y.jpg"], golden_rows, classes=["c", "b", "a"])
    batch = make_dataset(["x.jpg", "y.jpg"], batch_rows, classes=["e", "d", "b"])
    alignment = align(golden, batch)
    golden_drawn = {r[1] for r in golden_rows}
    batch_drawn = {r[1] for r in batch_rows}
    assert alignment.golden_only_classes == tuple(sorted(golden_drawn - batch_drawn)) == ("a",)
    assert alignment.batch_only_classes == tuple(sorted(batch_drawn - golden_drawn)) == ("d",)
