"""Annotator names are numbered in order of first appearance, images first, then annotations,
whether they come from Python lists (the typed decode) or Arrow columns (the Arrow reader);
each is checked against a plain dict-and-loop numbering written here."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbqa import arrow_kernels
from bbqa.io import coco, coco_route, names

name_values = st.one_of(st.none(), st.sampled_from(["ann_a", "ann_b", "7", "", "é"]),
                        st.integers(-3, 8), st.just(2**70))


def numbered_one_by_one(parts: list[list[Any]]) -> tuple[list[str], list[list[int]]]:
    """The reference: a dict of names met so far, one row at a time."""
    seen: dict[str, int] = {}
    codes = []
    for part in parts:
        row_codes = []
        for value in part:
            if value is None:
                row_codes.append(-1)
            else:
                row_codes.append(seen.setdefault(str(value), len(seen)))
        codes.append(row_codes)
    return list(seen), codes


def as_arrow(part: list[Any]) -> Any:
    """The column Arrow's reader would hold: strings, or int64 when every name is a number."""
    if all(v is None or (isinstance(v, int) and abs(v) < 2**63) for v in part):
        return pa.array(part, pa.int64())
    if all(v is None or isinstance(v, str) for v in part):
        return pa.array(part, pa.string())
    return part  # mixed: the Arrow reader declines such a column; a list stands in


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.lists(name_values, max_size=12), min_size=1, max_size=3),
       arrow=st.lists(st.booleans(), min_size=3, max_size=3))
def test_numbering_matches_one_by_one(parts: list[list[Any]], arrow: list[bool]) -> None:
    columns = [as_arrow(p) if use else p for p, use in zip(parts, arrow, strict=False)]
    expected_names, expected_codes = numbered_one_by_one(parts)
    got_names, got_codes = names.first_appearance(columns)
    assert got_names == expected_names
    assert [c.tolist() for c in got_codes] == expected_codes
    assert all(c.dtype == np.int32 for c in got_codes)


def test_another_arrow_numbering_is_put_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """If Arrow ever numbered a dictionary otherwise than by first appearance, the names are
    renumbered: here its dictionary comes back reversed."""
    real = arrow_kernels.dictionary_encode

    def reversed_dictionary(values: Any) -> Any:
        encoded = real(values)
        k = len(encoded.dictionary)
        flip = pa.array(np.arange(k - 1, -1, -1, dtype=np.int32))
        indices = arrow_kernels.take(flip, encoded.indices)
        return pa.DictionaryArray.from_arrays(indices, arrow_kernels.take(encoded.dictionary,
                                                                          flip))

    monkeypatch.setattr(arrow_kernels, "dictionary_encode", reversed_dictionary)
    parts = [["x", None, "y", "x"], ["z", "y", None]]
    got_names, got_codes = names.first_appearance([pa.array(p) for p in parts])
    assert (got_names, [c.tolist() for c in got_codes]) == numbered_one_by_one(parts)


def test_none_named() -> None:
    assert names.none_named([]) and names.none_named(pa.nulls(3, pa.string()))
    assert not names.none_named(pa.array([None, "a"]))


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """Images that may name their annotator (text, number or not at all) and annotations
    that may name their own; some annotations point at an image that is not there."""
    n_images = draw(st.integers(1, 5))
    image_kind = draw(st.sampled_from(["text", "numbers", "none", "mixed"]))
    images = []
    for i in range(n_images):
        image: dict[str, Any] = {"id": i + 1, "file_name": f"{i}.jpg", "width": 100,
                                 "height": 100}
        value = {"text": draw(st.sampled_from(["ann_a", "ann_b", "ann_c"])),
                 "numbers": draw(st.integers(1, 4)), "none": None,
                 "mixed": draw(name_values)}[image_kind]
        if value is not None or draw(st.booleans()):
            image["annotator"] = value
        images.append(image)
    own_kind = draw(st.sampled_from(["text", "numbers", "absent"]))
    annotations = []
    for i in range(draw(st.integers(0, 10))):
        annotation: dict[str, Any] = {"id": i + 1, "image_id": draw(st.integers(1, n_images + 1)),
                                      "category_id": 1, "bbox": [10, 10, 20, 20]}
        if own_kind != "absent" and draw(st.booleans()):
            annotation["annotator"] = draw(
                st.sampled_from(["ann_b", "ann_d", None]) if own_kind == "text"
                else st.one_of(st.none(), st.integers(3, 6)))
        annotations.append(annotation)
    return {"images": images, "categories": [{"id": 1, "name": "car"}],
            "annotations": annotations}


@settings(max_examples=150, deadline=None)
@given(doc=documents())
def test_loaded_annotators_match_one_by_one(doc: dict[str, Any],
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """Both COCO readers number a file's annotators as the reference does (images, then the
    annotations kept, in file order) and give each box its own name, else its image's."""
    path = tmp_path_factory.mktemp("names") / "batch.json"
    path.write_text(json.dumps(doc))
    image_ids = {image["id"] for image in doc["images"]}
    kept = [a for a in doc["annotations"] if a["image_id"] in image_ids]
    image_names = [image.get("annotator") for image in doc["images"]]
    expected_names, _ = numbered_one_by_one([image_names, [a.get("annotator") for a in kept]])
    by_image = {image["id"]: image.get("annotator") for image in doc["images"]}
    expected_box = {str(a["id"]): a.get("annotator") if a.get("annotator") is not None
                    else by_image[a["image_id"]] for a in kept}
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(coco_route, "MAX_COMMAS_PER_BOX", math.inf)
        for threshold in (0, 1 << 62):  # the Arrow reader, then the typed decode
            monkeypatch.setattr(coco, "ARROW_MIN_BYTES", threshold)
            dataset = coco.load(path)
            assert list(dataset.annotators) == expected_names
            got = {str(source): dataset.annotators[code] if code >= 0 else None
                   for source, code in zip(dataset.boxes.source_id.tolist(),
                                           dataset.boxes.annotator.tolist(), strict=True)}
            assert got == {k: None if v is None else str(v) for k, v in expected_box.items()}


def test_a_small_file_with_annotators_does_not_import_arrow(tmp_path: Path) -> None:
    """The typed decode's lists are numbered in Python: a small file naming its annotators
    loads without importing Arrow (60 ms)."""
    import subprocess
    import sys

    path = tmp_path / "small.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9,
                    "annotator": "ann_a"}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2],
                         "annotator": "ann_b"}]}))
    code = ("import sys\nfrom pathlib import Path\nfrom bbqa.io import coco\n"
            f"d = coco.load(Path({str(path)!r}))\n"
            "print(list(d.annotators), 'pyarrow' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split("\n")[0] == "['ann_a', 'ann_b'] False"
