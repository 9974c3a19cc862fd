"""Fuzzing every loader: mutated valid files either load or raise a bbqa error, nothing else.

`make test` runs a short budget; `make fuzz` runs a long one (BBQA_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import bbqa
from bbqa.cli import app
from bbqa.errors import BbqaError

EXAMPLES = int(os.environ.get("BBQA_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="BBQA_FUZZ_EXAMPLES" not in
                os.environ, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])

COCO: dict[str, Any] = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80, "annotator": "x"},
               {"id": 2, "file_name": "b.jpg", "width": 50, "height": 50}],
    "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40], "iscrowd": 0,
         "attributes": {"occluded": True}, "segmentation": [[1, 2, 31, 2, 31, 42]]},
        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 10], "score": 0.5},
    ],
}
YOLO_ROWS = "0 0.5 0.5 0.2 0.3\n1 0.1 0.2 0.05 0.05 0.9\n\n"
VOC_XML = ("<annotation><filename>a.jpg</filename><size><width>100</width><height>80</height>"
           "</size><object><name>car</name><truncated>1</truncated><bndbox><xmin>2</xmin>"
           "<ymin>3</ymin><xmax>31</xmax><ymax>43</ymax></bndbox></object></annotation>")

# Halves of UTF-16 surrogate pairs, alone or paired, which json.dumps writes as \u escapes.
surrogates = st.lists(st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "a"]),
                      min_size=1, max_size=4).map("".join)
junk = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(),
                 st.text(max_size=5), surrogates, st.lists(st.integers(), max_size=5),
                 st.dictionaries(st.text(max_size=3) | surrogates, st.integers(), max_size=2))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated_json(draw: st.DrawFn) -> bytes:
    doc = json.loads(json.dumps(COCO))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["delete", "swap", "duplicate"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "swap":
            parent[path[-1]] = draw(junk)
        elif isinstance(parent, list):
            parent.append(parent[path[-1]])
    text = json.dumps(doc, allow_nan=True).encode()
    return _byte_damage(draw, text)


def _byte_damage(draw: Callable[..., Any], data: bytes) -> bytes:
    choice = draw(st.sampled_from(["none", "truncate", "insert", "flip"]))
    if choice == "truncate" and data:
        return data[:draw(st.integers(0, len(data) - 1))]
    if choice == "insert":
        at = draw(st.integers(0, len(data)))
        inserted: bytes = draw(st.binary(min_size=1, max_size=8))
        return data[:at] + inserted + data[at:]
    if choice == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    return data


def _load_or_bbqa_error(path: Path) -> None:
    with contextlib.suppress(BbqaError):
        bbqa.load(path)


@FUZZ
@given(mutated_json())
def test_coco_loader_never_crashes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    _load_or_bbqa_error(path)


@FUZZ
@given(st.data())
def test_yolo_loader_never_crashes(tmp_path: Path, data: st.DataObject) -> None:
    root = tmp_path / "yolo"
    (root / "labels").mkdir(parents=True, exist_ok=True)
    rows = data.draw(st.one_of(
        st.just(YOLO_ROWS),
        st.lists(st.lists(st.one_of(st.integers(-3, 3).map(str), st.floats().map(repr),
                                    st.text(max_size=4)), max_size=8)
                 .map(" ".join), max_size=5).map("\n".join)))
    (root / "labels" / "a.txt").write_bytes(_byte_damage(data.draw, rows.encode()))
    (root / "classes.txt").write_bytes(_byte_damage(data.draw, b"car\nbus\n"))
    (root / "image_sizes.csv").write_bytes(
        _byte_damage(data.draw, b"file,width,height\na.jpg,100,80\n"))
    _load_or_bbqa_error(root)


@FUZZ
@given(st.data())
def test_voc_loader_never_crashes(tmp_path: Path, data: st.DataObject) -> None:
    folder = tmp_path / "voc"
    folder.mkdir(exist_ok=True)
    text = VOC_XML
    for tag in ("xmin", "width", "name", "truncated"):
        if data.draw(st.booleans()):
            replacement = data.draw(st.text(max_size=6).filter(lambda s: "<" not in s))
            text = text.replace(f">{text.split(f'<{tag}>')[1].split('<')[0]}<",
                                f">{replacement}<", 1) if f"<{tag}>" in text else text
    (folder / "a.xml").write_bytes(_byte_damage(data.draw, text.encode()))
    _load_or_bbqa_error(folder)


@settings(max_examples=max(EXAMPLES // 3, 10), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutated_json())
def test_cli_exit_codes_stay_documented(tmp_path: Path, data: bytes) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(COCO))
    bad = tmp_path / "bad.json"
    bad.write_bytes(data)
    runner = CliRunner()
    for args in (["audit", str(bad), "--golden", str(good), "-q"],
                 ["audit", str(good), "--golden", str(bad), "-q"]):
        result = runner.invoke(app, args)
        assert result.exit_code in (0, 1, 2), result.stderr
