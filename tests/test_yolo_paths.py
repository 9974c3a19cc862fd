"""YOLO rows parsed all at once equal the line-by-line parse, which takes over for any bad row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbqa.dataset import Dataset
from bbqa.io import load, yolo, yolo_rows
from bbqa.io.yolo_rows import read_rows
from tests.conftest import shared_dataset
from tests.test_formats_agree import PADILLA, padilla_sizes


def line_by_line(texts: list[str], n_classes: int) -> np.ndarray:
    """The reference: every file through the per-line parser, rows as [image, line, ...]."""
    rows = []
    for image, text in enumerate(texts):
        problems: list[object] = []
        for row in yolo._parse_text(text, Path(f"f{image}.txt"), n_classes, problems):  # type: ignore[arg-type]
            rows.append([image, *row])
        assert not problems
    return np.array(rows, dtype=np.float64).reshape(-1, 8)


number = st.one_of(st.floats(-2, 2, allow_nan=False).map(repr),
                   st.sampled_from(["0", "1", ".5", "1e-3", "0.25", "-0.0"]))


@pytest.mark.parametrize("token", ["1_0", "0_5", "\u0661", "\u0660.5"])
def test_numbers_only_python_reads_take_the_path_that_reports_them(token: str) -> None:
    # float() and numpy's cast read "1_0" as 10 and Arabic-Indic digits as digits; no reader
    # of the three may: the rows go to the line-by-line parse, which reports the row.
    text = f"0 0.5 0.5 0.2 0.2\n0 {token} 0.5 0.2 0.2\n"
    assert yolo._parse_all([text], 1) is None
    assert read_rows([text.encode()], 1) is None
    problems: list[Any] = []
    assert len(yolo._parse_text(text, Path("a.txt"), 1, problems)) == 1
    assert [p.location for p in problems] == ["a.txt:2"]
    assert "expected numbers after the class id" in problems[0].message


@st.composite
def label_files(draw: st.DrawFn) -> tuple[list[str], int]:
    n_classes = draw(st.integers(1, 12))
    columns = draw(st.sampled_from([5, 6]))
    texts = []
    for _ in range(draw(st.integers(0, 5))):
        lines: list[str] = []
        for _ in range(draw(st.integers(0, 6))):
            if draw(st.booleans()) and lines:
                lines.append(draw(st.sampled_from(["", "   ", "\t"])))
                continue
            fields = [str(draw(st.integers(0, n_classes - 1)))]
            fields += [draw(number) for _ in range(columns - 1)]
            lines.append(draw(st.sampled_from([" ", "  ", "\t"])).join(fields))
        end = draw(st.sampled_from(["\n", "\r\n"]))
        trailing = draw(st.booleans()) and bool(lines)
        texts.append(end.join(lines) + (end if trailing else ""))
    return texts, n_classes


@settings(max_examples=300, deadline=None)
@given(files=label_files())
def test_all_at_once_equals_line_by_line(files: tuple[list[str], int]) -> None:
    texts, n_classes = files
    at_once = yolo._parse_all(texts, n_classes)
    assert at_once is not None
    rows, image = at_once
    combined = np.column_stack([image.astype(np.float64), rows]).reshape(-1, 8)
    np.testing.assert_array_equal(combined, line_by_line(texts, n_classes))


@settings(max_examples=300, deadline=None)
@given(files=label_files())
def test_bytes_at_once_equal_line_by_line(files: tuple[list[str], int]) -> None:
    texts, n_classes = files
    at_once = read_rows([t.encode() for t in texts], n_classes)
    with pytest.MonkeyPatch.context() as patch:  # one file per chunk changes nothing
        patch.setattr(yolo_rows, "CHUNK_BYTES", 1)
        chunked = read_rows([t.encode() for t in texts], n_classes)
    assert (at_once is None) == (chunked is None)
    if at_once is not None and chunked is not None:
        np.testing.assert_array_equal(at_once[0], chunked[0])
        np.testing.assert_array_equal(at_once[1], chunked[1])
    if any("_" in t for t in texts):  # "1_0": float() reads it, but it is not plain
        assert at_once is None
        return
    assert at_once is not None
    rows, image = at_once
    combined = np.column_stack([image.astype(np.float64), rows]).reshape(-1, 8)
    np.testing.assert_array_equal(combined, line_by_line(texts, n_classes))


@settings(max_examples=3000)
@given(st.one_of(st.text(alphabet="0123456789.+-eE", min_size=1, max_size=24),
                 st.floats(allow_nan=False).map(repr)))
def test_numpy_text_cast_reads_what_float_reads(text: str) -> None:
    """yolo_rows reads long numbers with numpy's cast: it must accept and give what float()
    does, for every text made of the bytes a plain label file may hold."""
    try:
        expected: float | None = float(text)
    except ValueError:
        expected = None
    try:
        got: float | None = float(np.array([text.encode()]).astype(np.float64)[0])
    except ValueError:
        got = None
    assert got == expected or (got is not None and expected is not None
                               and np.isnan(got) and np.isnan(expected))


@pytest.mark.parametrize("text", ["0 0.5 0.5 0.1 0.1\n1 ０.5 0.5 0.1 0.1",  # another script's digit
                                  "0 0.5 0.5 0.1 nan", "\ufeff0 0.5 0.5 0.1 0.1",
                                  "0 0.5 0.5 0.1 1e", "0 0.5 0.5 0.1 0.333333333333333333e",
                                  "0 0.5 0.5 0.1 " + "1" * 40])
def test_text_the_bytes_parse_leaves_to_the_text_parse(text: str) -> None:
    assert read_rows([text.encode()], 5) is None


@pytest.mark.parametrize("text", [
    "0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1 0.1 0.9",    # five and six columns mixed
    "0 0.5 0.5 0.1",                              # four columns
    "1.0 0.5 0.5 0.1 0.1",                        # class written as a float
    "-1 0.5 0.5 0.1 0.1",                         # negative class
    "+1 0.5 0.5 0.1 0.1",                         # signed class
    "5 0.5 0.5 0.1 0.1",                          # out of range (5 classes: 0..4)
    "0 0.5 abc 0.1 0.1",                          # not a number
    "0,0.5,0.5,0.1,0.1",                          # commas
    "0 0.5 0.5 0.1 0.1 0.2 0.3 0.4",              # a polygon row
])
def test_rows_needing_a_message_take_the_line_by_line_parse(text: str) -> None:
    assert yolo._parse_all(["0 0.1 0.1 0.1 0.1", text], 5) is None
    assert read_rows([b"0 0.1 0.1 0.1 0.1", text.encode()], 5) is None


def write_dataset(root: Path, labels: dict[str, str]) -> Path:
    (root / "labels").mkdir(parents=True)
    for stem, text in labels.items():
        (root / "labels" / f"{stem}.txt").write_text(text)
    (root / "classes.txt").write_text("car\nbus\n")
    sizes = "".join(f"{stem}.jpg,200,100\n" for stem in labels)
    (root / "image_sizes.csv").write_text("file,width,height\n" + sizes)
    return root


def assert_same(a: Dataset, b: Dataset) -> None:
    assert a.problems == b.problems and a.categories == b.categories
    assert a.images.key.tolist() == b.images.key.tolist()
    for name in ("image", "category", "x1", "y1", "x2", "y2", "score", "valid", "source_id"):
        x, y = getattr(a.boxes, name), getattr(b.boxes, name)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


def load_both(path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: object
              ) -> tuple[Dataset, Dataset]:
    fast = load(path, **kwargs)  # type: ignore[arg-type]
    with monkeypatch.context() as patched:
        patched.setattr(yolo, "read_rows", lambda *_args: None)
        patched.setattr(yolo, "_parse_all", lambda *_args: None)
        slow = load(path, **kwargs)  # type: ignore[arg-type]
    return fast, slow


def test_a_dataset_loads_the_same_both_ways(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_dataset(tmp_path / "ds", {
        "a": "1 0.5 0.5 0.2 0.4\n\n0 1e-1 0.5 0.1 0.1\n", "b": "", "c": "0 0.9 0.9 0.5 0.5",
        "d": "1 0.5 0.5 0 0.1\n"})
    fast, slow = load_both(root, monkeypatch)
    assert len(fast.boxes) == 4
    assert_same(fast, slow)


def test_one_bad_row_is_reported_where_it_is_and_the_rest_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_dataset(tmp_path / "ds", {"a": "1 0.5 0.5 0.2 0.4\n", "b": "0 0.5\n1 .5 .5 .1 .1"})
    ds = load(root)
    assert [p.location for p in ds.problems] == [f"{root / 'labels' / 'b.txt'}:1"]
    assert sorted(ds.boxes.source_id.tolist()) == [f"{root / 'labels' / 'a.txt'}:1",
                                                    f"{root / 'labels' / 'b.txt'}:2"]


@pytest.mark.parametrize("split", ["train", "val"])
def test_roboflow_yolo_export_loads_the_same_both_ways(split: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = shared_dataset("datumaro_format_edge_cases/roboflow_yolo")
    fast, slow = load_both(root / split, monkeypatch, names=root / "data.yaml")
    assert len(fast.boxes) > 0
    assert_same(fast, slow)


def test_voc2012_yolo_export_loads_the_same_both_ways(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = shared_dataset(PADILLA)
    fast, slow = load_both(root / "gts/yolo_format/obj_train_data", monkeypatch,
                           sizes=padilla_sizes(root, tmp_path / "sizes.csv"))
    assert len(fast.boxes) == 273
    assert_same(fast, slow)


def test_problems_are_listed_in_file_order(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds", {"a": "0 0.5\n", "c": "1 .5 .5 .1 .1", "d": ""})
    (root / "labels" / "b.txt").write_text("0 .5 .5 .1 .1")  # no size for b.jpg
    (root / "labels" / "d.txt").write_bytes(b"\xff\xfe0 .5")  # not UTF-8
    ds = load(root)
    labels = root / "labels"
    assert [(p.code, p.location) for p in ds.problems] == [
        ("bad_row", f"{labels / 'a.txt'}:1"),
        ("no_image_size", str(labels / "b.txt")),
        ("unreadable", str(labels / "d.txt")),
    ]
