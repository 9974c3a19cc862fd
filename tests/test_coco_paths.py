"""The two COCO readers (Arrow columns for big files, the typed msgspec decode otherwise) give
the same dataset, problems and errors, and the Arrow reader declines what it cannot vouch for."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbqa.dataset import Dataset
from bbqa.errors import InputError
from bbqa.io import coco
from bbqa.io.coco_columns import read_with_arrow
from tests.conftest import ROOT, SHARED_DATASETS


def load_both(path: Path, monkeypatch: pytest.MonkeyPatch,
              **kwargs: Any) -> tuple[Dataset | str, Dataset | str]:
    """Load ``path`` with the Arrow reader allowed for any size and any number of polygons,
    then with msgspec only."""
    from bbqa.io import coco_route

    results: list[Dataset | str] = []
    monkeypatch.setattr(coco_route, "MAX_COMMAS_PER_BOX", math.inf)
    for threshold in (0, 1 << 62):
        monkeypatch.setattr(coco, "ARROW_MIN_BYTES", threshold)
        try:
            results.append(coco.load(path, **kwargs))
        except InputError as exc:
            results.append(f"InputError: {exc}")
    return results[0], results[1]


def assert_same(a: Dataset | str, b: Dataset | str) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert a.categories == b.categories and a.annotators == b.annotators
    assert (a.path, a.format) == (b.path, b.format)
    assert a.problems == b.problems
    for name in ("key", "width", "height", "source_id", "annotator", "scene"):
        assert np.array_equal(getattr(a.images, name), getattr(b.images, name)), name
    for name in ("image", "category", "x1", "y1", "x2", "y2", "annotator", "crowd", "valid",
                 "score", "source_id"):
        x, y = getattr(a.boxes, name), getattr(b.boxes, name)
        assert x.dtype.kind == y.dtype.kind, name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert a.boxes.ids.dtype == b.boxes.ids.dtype
    assert a.boxes.attributes.keys() == b.boxes.attributes.keys()
    for name, attribute in a.boxes.attributes.items():
        other = b.boxes.attributes[name]
        assert attribute.values == other.values, name
        assert np.array_equal(attribute.codes, other.codes), name


def coco_files() -> list[Path]:
    files = sorted((ROOT / "fixtures").rglob("*.json"))
    if SHARED_DATASETS.exists():
        files += sorted(SHARED_DATASETS.rglob("*.json"))
    return files


@pytest.mark.parametrize("path", coco_files(), ids=lambda p: str(p.relative_to(p.parents[2])))
def test_both_readers_agree_on_real_files(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrow, strict = load_both(path, monkeypatch)
    assert_same(arrow, strict)


def test_real_files_take_the_arrow_path() -> None:
    # Without this the agreement test could pass with the Arrow reader declining everything.
    for path in (ROOT / "fixtures" / "demo" / "golden.json", ROOT / "fixtures" / "demo" /
                 "batch.json"):
        assert read_with_arrow(path.read_bytes(), "scene", "annotator") is not None


def document(annotations: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
                   {"id": 2, "file_name": "dir/b.jpg", "width": 640, "height": 480,
                    "annotator": "ann_b", "scene": "night"}],
        "categories": [{"id": 1, "name": "car"}, {"id": 7, "name": "bus"}],
        "annotations": annotations,
        **extra,
    }


def box(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": i, "image_id": 1 + i % 2, "category_id": 1 if i % 3 else 7,
            "bbox": [i, i / 2, 10 + i, 5.5], **fields}


ACCEPTED: dict[str, dict[str, Any]] = {
    "plain": document([box(i) for i in range(6)]),
    "every field": document([
        box(0, iscrowd=1, ignore=False, score=0.5, annotator="ann_a",
            attributes={"occluded": True, "level": 2, "ratio": 0.25, "color": "red"}),
        box(1, iscrowd=0, ignore=True, score=1, attributes={"occluded": False, "level": 2.0}),
        box(2, iscrowd=0, ignore=False, annotator="ann_c", attributes={"color": "blue"}),
        box(3, iscrowd=0, ignore=False, segmentation=[[1, 2, 3, 4, 5, 6]], area=3.0),
    ]),
    "integer annotators": document([box(0, annotator=7), box(1), box(2, annotator=None)]),
    "string ids": {"images": [{"id": "img-1", "file_name": "a.jpg", "width": 50, "height": 50}],
                   "categories": [{"id": "c", "name": "car"}],
                   "annotations": [{"id": "x9", "image_id": "img-1", "category_id": "c",
                                    "bbox": [1, 1, 4, 4]},
                                   {"id": "x10", "image_id": "img-1", "category_id": "c",
                                    "bbox": [2, 2, 4, 4]}]},
    "broken references and geometry": document([
        box(0), box(1, image_id=99), box(2, category_id=42), box(3, bbox=[90, 70, 50, 50]),
        box(4, bbox=[5, 5, 0, 3]), box(5, bbox=[-300, 5, 10, 3]), box(0),
    ]),
    "attribute only on a dropped box": document([
        box(0), box(1, image_id=99, attributes={"occluded": True})]),
    "empty annotations": document([]),
    "extra sections": document([box(0)], info={"year": 2024, "date": "2024-01-01"},
                               licenses=[{"id": 1, "name": "CC"}]),
}

DECLINED: dict[str, Callable[[], bytes]] = {
    "NaN literal": lambda: json.dumps(document([box(0, bbox=[float("nan"), 1, 2, 3])])).encode(),
    "invalid UTF-8": lambda: json.dumps(document([box(0)])).encode().replace(
        b"a.jpg", b"\xff.jpg"),
    "explicit null iscrowd": lambda: json.dumps(document([box(0, iscrowd=None)])).encode(),
    "iscrowd on some boxes only": lambda: json.dumps(document([box(0, iscrowd=1),
                                                               box(1)])).encode(),
    "segmentation without bbox": lambda: json.dumps(document([
        {k: v for k, v in box(0, segmentation=[[1, 1, 9, 1, 9, 9]]).items() if k != "bbox"}
    ])).encode(),
    "bbox of three numbers": lambda: json.dumps(document([box(0, bbox=[1, 2, 3])])).encode(),
    "float id": lambda: json.dumps(document([box(0, id=1.5)])).encode(),
    "mixed id types": lambda: json.dumps(document([box(0), box(1, id="b")])).encode(),
    "nested attribute": lambda: json.dumps(document([box(0, attributes={"a": [1]})])).encode(),
    "date-like attribute": lambda: json.dumps(document([
        box(0, attributes={"shot": "2024-01-01"})])).encode(),
    "annotator is a bool": lambda: json.dumps(document([box(0, annotator=True)])).encode(),
    "results list": lambda: json.dumps([box(0, score=0.5)]).encode(),
    "two documents": lambda: json.dumps(document([box(0)])).encode() * 2,
    "duplicate key": lambda: json.dumps(document([box(0)])).encode().replace(
        b'"id": 0,', b'"id": 0, "id": 5,'),
    "huge integer id": lambda: json.dumps(document([box(0, id=10 ** 30)])).encode(),
    # Arrow cannot tell a missing key from an explicit null (an error): msgspec decides both.
    "no annotations key": lambda: json.dumps({k: v for k, v in document([]).items()
                                              if k != "annotations"}).encode(),
    "null annotations": lambda: json.dumps(document(None)).encode(),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_arrow_reader_takes_these_and_matches_the_strict_decode(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps(ACCEPTED[name]).encode()
    assert read_with_arrow(raw, "scene", "annotator") is not None
    path = tmp_path / "gt.json"
    path.write_bytes(raw)
    arrow, strict = load_both(path, monkeypatch)
    assert isinstance(strict, Dataset)
    assert_same(arrow, strict)


@pytest.mark.parametrize("name", list(DECLINED))
def test_arrow_reader_declines_what_the_strict_decode_must_judge(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = DECLINED[name]()
    assert read_with_arrow(raw, "scene", "annotator") is None
    path = tmp_path / "gt.json"
    path.write_bytes(raw)
    arrow, strict = load_both(path, monkeypatch)
    assert_same(arrow, strict)


def test_renamed_scene_and_annotator_fields(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    doc = document([box(0, who="ann_x"), box(1)])
    doc["images"][0]["where"] = "rain"
    doc["images"][1]["who"] = 12
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(doc))
    arrow, strict = load_both(path, monkeypatch, scene_field="where", annotator_field="who")
    assert_same(arrow, strict)
    assert isinstance(arrow, Dataset)
    assert sorted(arrow.annotators) == ["12", "ann_x"]
    assert "rain" in arrow.images.scene.tolist()


scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(
    [0.5, 2.0, -1.25]), st.sampled_from(["a", "b", "", "1"]))


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 12))
    attribute_names = draw(st.lists(st.sampled_from(["occ", "trunc", "kind"]), unique=True,
                                    max_size=2))
    value_kind = {name: draw(st.sampled_from(["bool", "int", "float", "str", "mixed"]))
                  for name in attribute_names}
    uniform = draw(st.booleans())
    rows = []
    for i in range(n):
        entry = box(i)
        entry["id"] = draw(st.integers(0, 40))
        entry["image_id"] = draw(st.sampled_from([1, 2, 3]))
        entry["bbox"] = [draw(st.floats(-20, 700, allow_nan=False)) for _ in range(2)] + [
            draw(st.floats(-2, 300, allow_nan=False)) for _ in range(2)]
        if uniform or draw(st.booleans()):
            entry["iscrowd"] = draw(st.sampled_from([0, 1]))
        if draw(st.booleans()):
            entry["score"] = draw(st.one_of(st.none(), st.floats(0, 1)))
        if draw(st.booleans()):
            entry["annotator"] = draw(st.sampled_from([None, "ann_a", "ann_b"]))
        if draw(st.booleans()) and attribute_names:
            values = {}
            for name in attribute_names:
                strategies: dict[str, st.SearchStrategy[Any]] = {
                    "bool": st.booleans(), "int": st.integers(-3, 3),
                    "float": st.sampled_from([0.5, 2.0]), "str": st.sampled_from(["x", "y"]),
                    "mixed": scalars}
                strategy = strategies[value_kind[name]]
                if draw(st.booleans()):
                    values[name] = draw(st.one_of(st.none(), strategy))
            entry["attributes"] = values
        rows.append(entry)
    return document(rows)


@settings(max_examples=150, deadline=None)
@given(doc=documents())
def test_readers_agree_on_generated_documents(doc: dict[str, Any], tmp_path_factory:
                                              pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("doc") / "gt.json"
    path.write_text(json.dumps(doc))
    with pytest.MonkeyPatch.context() as monkeypatch:
        arrow, strict = load_both(path, monkeypatch)
    assert_same(arrow, strict)


file_stems = st.text(st.sampled_from("ab_-.0 é\u0301\u00e9Ωz"), min_size=1, max_size=8)


@st.composite
def image_sections(draw: st.DrawFn) -> dict[str, Any]:
    """Image entries whose names, ids and scenes take every shape the Arrow reader turns
    into numpy text (present, ASCII) and the ones it leaves to lists."""
    n = draw(st.integers(1, 8))
    ids = draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n, unique=True))
    folder = draw(st.sampled_from(["", "dir/", "C:\\shots\\", "a/b\\"]))
    scene_kind = draw(st.sampled_from(["all", "some", "none", "integers", "mixed"]))
    images = []
    for i in range(n):
        image: dict[str, Any] = {"id": ids[i], "width": 64, "height": 48,
                                 "file_name": folder * draw(st.booleans())
                                 + draw(file_stems) + f"_{i}.jpg"}
        if scene_kind == "all" or (scene_kind == "some" and draw(st.booleans())):
            image["scene"] = draw(st.sampled_from(["day", "", "nuit é", "rain"]))
        elif scene_kind == "integers":
            image["scene"] = draw(st.integers(-5, 5))
        elif scene_kind == "mixed":
            image["scene"] = draw(st.sampled_from([3, None]))
        images.append(image)
    boxes = [{"id": j, "image_id": ids[j % n], "category_id": 1, "bbox": [1, 2, 3, 4]}
             for j in range(draw(st.integers(0, 6)))]
    return {"images": images, "categories": [{"id": 1, "name": "car"}], "annotations": boxes}


@settings(max_examples=150, deadline=None)
@given(doc=image_sections())
def test_readers_agree_on_image_names_ids_and_scenes(
        doc: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    """Folders cut, names NFC-normalized, ids and scenes as text: the same either way."""
    path = tmp_path_factory.mktemp("doc") / "gt.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert read_with_arrow(path.read_bytes(), "scene", "annotator") is not None
    with pytest.MonkeyPatch.context() as monkeypatch:
        arrow, strict = load_both(path, monkeypatch)
    assert_same(arrow, strict)


@pytest.mark.parametrize("ids", [[5, 3, 7, 3, 5], ["5", "3", "7", "3", "5"], [2, 9, 9, 2],
                                 [1, 2**70, 3, 2**70]])
def test_duplicate_image_ids_name_the_first_repeat(ids: list[Any], tmp_path: Path) -> None:
    """Integer ids are checked with a sort, others with a scan: the same error either way."""
    first_seen: dict[Any, int] = {}
    for row, image_id in enumerate(ids):  # the reference: a scan in file order
        if image_id in first_seen:
            expected = f"also at images[{first_seen[image_id]}]", f"image id {image_id!r}"
            break
        first_seen[image_id] = row
    doc = document([])
    doc["images"] = [{"id": i, "file_name": f"{n}.jpg", "width": 10, "height": 10}
                     for n, i in enumerate(ids)]
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as error:
        coco.load(path)
    assert expected[0] in str(error.value) and expected[1] in str(error.value)


def test_big_files_are_mapped_and_checked_as_utf8_across_pieces(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file the Arrow reader takes is memory-mapped, not read; its UTF-8 check works on the
    map in 8 MB pieces, with a character split between two pieces."""
    import mmap

    from bbqa.io.coco_columns import _is_utf8

    piece = 1 << 23
    for name, body, valid in (
            ("split", b"a" * (piece - 1) + "é".encode() + b"z", True),
            ("ascii-then-bad", b"a" * piece + b"\xff", False),
            ("cut-at-end", b"a" * (piece - 1) + "é".encode()[:1], False),
            ("bad-then-ascii", b"\xc3(" + b"a" * piece, False)):
        path = tmp_path / name
        path.write_bytes(body)
        monkeypatch.setattr(coco, "ARROW_MIN_BYTES", 1)
        mapped, arrow = coco._contents(path)
        assert isinstance(mapped, mmap.mmap) and mapped[:] == body and arrow
        monkeypatch.setattr(coco, "ARROW_MIN_BYTES", 1 << 62)
        read, arrow = coco._contents(path)
        assert isinstance(read, bytes) and read == body and not arrow
        for raw in (mapped, read):
            assert _is_utf8(raw) is valid, name
        # The check agrees with Python's own decoder.
        try:
            body.decode("utf-8")
            assert valid
        except UnicodeDecodeError:
            assert not valid


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 63, 64, 1000])
def test_ascii_check_sees_every_byte(size: int) -> None:
    """A byte of 0x80 or more is found wherever it is: in the eight-byte words or the tail."""
    from bbqa.io.coco_columns import _is_ascii

    clean = bytes(range(32, 127)) * (size // 95 + 1)
    clean = clean[:size]
    assert _is_ascii(clean)
    for where in range(size):
        for high in (0x80, 0xC3, 0xFF):
            dirty = clean[:where] + bytes([high]) + clean[where + 1:]
            assert not _is_ascii(dirty), (where, high)


def test_id_lookup_matches_a_dict_dense_or_sparse() -> None:
    """Image and category ids are found by a direct table when dense and by a binary search
    otherwise; both agree with a dict, with every id in the table and with ids outside it and
    at int64's ends."""
    import numpy as np

    from bbqa.io.coco import _lookup_ids

    rng = np.random.default_rng(11)
    edge = [-2**63, 2**63 - 1, -1, 0]
    for keys in (list(range(1, 300)), list(range(-50, 50, 2)), [5, 7, 10**12],
                 [2**62 - 3, 2**62 - 2], [-(2**63), 2**63 - 1], []):
        rows = {k: i for i, k in enumerate(rng.permutation(keys).tolist())}
        order = np.argsort(np.array(list(rows), dtype=np.int64))
        table = (np.array(list(rows), dtype=np.int64)[order],
                 np.array(list(rows.values()), dtype=np.int64)[order])
        # Every id in the table (the dense table's shortcut), then ids outside it too.
        just_past = [keys[-1] + 1] if keys and keys[-1] < 2**63 - 1 else []
        just_before = [keys[0] - 1] if keys and keys[0] > -(2**63) else []
        for wanted_list in (rng.permutation(keys).tolist(), [*keys, *just_past],
                            [*just_before, *keys],
                            [*keys, *edge, *(k + 1 for k in keys if k < 2**63 - 1)]):
            wanted = np.array(wanted_list, dtype=np.int64)
            expected = [rows.get(v, -1) for v in wanted_list]
            assert _lookup_ids(wanted, table).tolist() == expected
            assert _lookup_ids(wanted, rows).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(scalars, st.sampled_from([-0.0, 0.0, 1.0, 3.0])), max_size=30),
       unhashable=st.booleans())
def test_attribute_encoding_matches_a_lookup_by_text(values: list[Any],
                                                     unhashable: bool) -> None:
    """Each value is coded by its text (``true``, ``1``, ``2``): ``True`` and ``1`` stay apart
    even though they are equal as dict keys, ``2`` and ``2.0`` share a text and a code."""
    from bbqa.io.coco_columns import attribute_text
    from bbqa.io.coco_typed import _encode_attribute

    if unhashable:
        values = [*values, [1, 2]]
    texts = [attribute_text(v) if not isinstance(v, list) else str(v) for v in values]
    distinct = sorted({t for t in texts if t is not None})
    encoded = _encode_attribute(values)
    assert encoded.values == tuple(distinct)
    assert encoded.codes.tolist() == [distinct.index(t) if t is not None else -1 for t in texts]


@pytest.mark.parametrize("image_id", [2**63 - 1, 2**63, 2**64 + 5])
def test_integer_ids_beyond_64_bits_still_join(image_id: int, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Integer ids become an int64 column when they fit and stay Python integers when one
    does not; either way each annotation finds its image and keeps its id's text."""
    doc = {"images": [{"id": 7, "file_name": "b.jpg", "width": 64, "height": 48},
                      {"id": image_id, "file_name": "a.jpg", "width": 64, "height": 48}],
           "categories": [{"id": 3, "name": "car"}],
           "annotations": [{"id": 2**64, "image_id": image_id, "category_id": 3,
                            "bbox": [1, 2, 10, 5]},
                           {"id": 1, "image_id": 7, "category_id": 3, "bbox": [1, 2, 10, 5]}]}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setattr(coco, "ARROW_MIN_BYTES", 1 << 62)
    loaded = coco.load(path)
    assert not loaded.problems
    keys = loaded.images.key.tolist()
    by_id = dict(zip(loaded.boxes.source_id.tolist(), loaded.boxes.image.tolist(), strict=True))
    assert keys[by_id[str(2**64)]] == "a.jpg" and keys[by_id["1"]] == "b.jpg"
