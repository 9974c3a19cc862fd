"""Property-based tests (hypothesis): IoU, matching and format round trips."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bbqa
from bbqa.align import align
from bbqa.dataset import Boxes, Dataset, Images
from bbqa.geometry import iou_matrix
from bbqa.io.writers import write_coco, write_voc, write_yolo
from bbqa.match import Outcome, match
from tests.conftest import make_dataset
from tests.test_match import Row, greedy_total

coordinate = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
size = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)


@st.composite
def boxes(draw: st.DrawFn, n: int | None = None) -> np.ndarray:
    count = draw(st.integers(1, 8)) if n is None else n
    rows = [[x, y, x + w, y + h] for x, y, w, h in (
        (draw(coordinate), draw(coordinate), draw(size), draw(size)) for _ in range(count))]
    return np.array(rows, dtype=np.float64)


@given(boxes(), boxes())
def test_iou_is_symmetric_bounded_and_never_nan(a: np.ndarray, b: np.ndarray) -> None:
    forward = iou_matrix(a, b)
    assert not np.isnan(forward).any()
    assert ((forward >= 0) & (forward <= 1)).all()
    np.testing.assert_allclose(forward, iou_matrix(b, a).T, rtol=1e-12, atol=0)


@given(boxes())
def test_iou_of_a_box_with_itself_is_one(a: np.ndarray) -> None:
    np.testing.assert_allclose(np.diag(iou_matrix(a, a)), 1.0, rtol=1e-9)


@given(boxes(), boxes(), st.floats(-500, 500), st.floats(-500, 500),
       st.floats(0.1, 10))
def test_iou_is_invariant_under_translation_and_uniform_scaling(
        a: np.ndarray, b: np.ndarray, dx: float, dy: float, scale: float) -> None:
    shift = np.array([dx, dy, dx, dy])
    moved = iou_matrix((a + shift) * scale, (b + shift) * scale)
    np.testing.assert_allclose(moved, iou_matrix(a, b), rtol=1e-6, atol=1e-9)


@given(boxes(n=1), st.floats(0, 1e3))
def test_iou_of_disjoint_boxes_is_zero(a: np.ndarray, gap: float) -> None:
    other = a.copy()
    width = a[0, 2] - a[0, 0]
    other[0, [0, 2]] += width + gap  # to the right, touching at most
    assert iou_matrix(a, other)[0, 0] == 0.0


def coords(d: Dataset, i: np.ndarray) -> np.ndarray:
    return np.column_stack([d.boxes.x1[i], d.boxes.y1[i], d.boxes.x2[i], d.boxes.y2[i]])


def _dataset(rows: list[Row],
             keys: list[str], classes: list[str]) -> Dataset:
    return make_dataset(keys, rows, classes=classes)


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[Row], list[Row]]:
    """Golden and batch rows on 3 images and 2 classes, batch boxes near golden ones."""
    golden: list[Row] = []
    batch: list[Row] = []
    for image in range(3):
        for k in range(draw(st.integers(0, 5))):
            x, y = draw(st.floats(0, 50)), draw(st.floats(0, 50))
            w, h = draw(st.floats(5, 30)), draw(st.floats(5, 30))
            cls = draw(st.sampled_from(["a", "b"]))
            golden.append((image, cls, x, y, x + w, y + h, f"g{image}-{k}"))
        for k in range(draw(st.integers(0, 5))):
            x, y = draw(st.floats(0, 50)), draw(st.floats(0, 50))
            w, h = draw(st.floats(5, 30)), draw(st.floats(5, 30))
            cls = draw(st.sampled_from(["a", "b"]))
            batch.append((image, cls, x, y, x + w, y + h, f"b{image}-{k}"))
    return golden, batch


def _outcome_set(golden_rows: list[Row], batch_rows: list[Row], keys: list[str],
                 classes: list[str]) -> set[tuple[str, str | None, str | None]]:
    g = _dataset(golden_rows, keys, classes)
    b = _dataset(batch_rows, keys, classes)
    m = match(g, b, align(g, b), 0.3)
    return {(Outcome(int(o)).label, g.boxes.source_id[gi] if gi >= 0 else None,
             b.boxes.source_id[bi] if bi >= 0 else None)
            for o, gi, bi in zip(m.outcome, m.golden, m.batch, strict=True)}


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(scenes(), st.randoms(use_true_random=False))
def test_matching_is_invariant_under_shuffling(scene: tuple[list[Row], list[Row]],
                                               rnd: object) -> None:
    golden, batch = scene
    keys = ["x.jpg", "y.jpg", "z.jpg"]
    reference = _outcome_set(golden, batch, keys, ["a", "b"])
    shuffled_g, shuffled_b = list(golden), list(batch)
    rnd.shuffle(shuffled_g)  # type: ignore[attr-defined]
    rnd.shuffle(shuffled_b)  # type: ignore[attr-defined]
    order = [2, 0, 1]
    remap = {old: new for new, old in enumerate(order)}
    moved_g = [(remap[r[0]], *r[1:]) for r in shuffled_g]
    moved_b = [(remap[r[0]], *r[1:]) for r in shuffled_b]
    assert _outcome_set(moved_g, moved_b, [keys[i] for i in order], ["b", "a"]) == reference


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_matching_is_one_to_one_above_threshold_and_beats_greedy(
        scene: tuple[list[Row], list[Row]]) -> None:
    golden, batch = scene
    keys = ["x.jpg", "y.jpg", "z.jpg"]
    g = _dataset(golden, keys, ["a", "b"])
    b = _dataset(batch, keys, ["a", "b"])
    m = match(g, b, align(g, b), 0.3)
    pairs = np.isin(m.outcome, [Outcome.MATCHED, Outcome.WRONG_CLASS])
    assert len(set(m.golden[pairs].tolist())) == int(pairs.sum())
    assert len(set(m.batch[pairs].tolist())) == int(pairs.sum())
    assert (m.iou[pairs] >= 0.3).all()
    matched = m.where(Outcome.MATCHED)
    for image in range(3):
        for cls in (0, 1):
            gi = np.flatnonzero((g.boxes.image == image) & (g.boxes.category == cls))
            bi = np.flatnonzero((b.boxes.image == image) & (b.boxes.category == cls))
            greedy = greedy_total(iou_matrix(coords(g, gi), coords(b, bi)), 0.3) if len(
                gi) and len(bi) else 0.0
            here = matched & np.isin(m.golden, gi)
            assert m.iou[here].sum() >= greedy - 1e-9


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    """Datasets with whole-pixel and fractional boxes inside their images."""
    n_images = draw(st.integers(1, 3))
    widths = [draw(st.integers(20, 400)) for _ in range(n_images)]
    heights = [draw(st.integers(20, 400)) for _ in range(n_images)]
    rows = []
    for i in range(n_images):
        for k in range(draw(st.integers(0, 4))):
            x1 = draw(st.floats(0, widths[i] - 10))
            y1 = draw(st.floats(0, heights[i] - 10))
            x2 = draw(st.floats(x1 + 1, widths[i]))
            y2 = draw(st.floats(y1 + 1, heights[i]))
            rows.append((i, draw(st.integers(0, 2)), x1, y1, x2, y2, f"{i}-{k}"))
    return Dataset.build(
        Images.build([f"img{i}.jpg" for i in range(n_images)], widths, heights),
        ["cat", "dog", "bird"],
        Boxes.build([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                    [r[3] for r in rows], [r[4] for r in rows], [r[5] for r in rows],
                    [r[6] for r in rows]))


def _box_set(ds: Dataset) -> list[tuple[str, str, float, float, float, float]]:
    b = ds.boxes
    rows = [(str(ds.images.key[i]), ds.categories[c], x1, y1, x2, y2) for i, c, x1, y1, x2, y2
            in zip(b.image.tolist(), b.category.tolist(), b.x1.tolist(), b.y1.tolist(),
                   b.x2.tolist(), b.y2.tolist(), strict=True)]
    # Sorted on rounded coordinates: float noise must not reorder boxes that are equal.
    return sorted(rows, key=lambda r: (r[0], r[1], *(round(v, 6) for v in r[2:])))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(datasets())
def test_round_trip_coco_yolo_voc_coco(tmp_path_factory: object, ds: Dataset) -> None:
    root = Path(tmp_path_factory.mktemp("rt"))  # type: ignore[attr-defined]
    write_coco(ds, root / "a.json")
    first = bbqa.load(root / "a.json")
    write_yolo(first, root / "yolo")
    second = bbqa.load(root / "yolo")
    write_voc(second, root / "voc")
    third = bbqa.load(root / "voc")
    write_coco(third, root / "b.json")
    final = bbqa.load(root / "b.json")
    expected, got = _box_set(ds), _box_set(final)
    assert [r[:2] for r in got] == [r[:2] for r in expected]
    for e, g in zip(expected, got, strict=True):
        assert all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) for x, y in zip(e[2:], g[2:],
                                                                                  strict=True))


@settings(max_examples=1000)
@given(st.text(alphabet="ab./\\:_ ", max_size=12))
def test_voc_file_key_is_the_name_without_any_folder(file_name: str) -> None:
    from pathlib import PurePosixPath, PureWindowsPath

    from bbqa.io.voc import _file_key

    # The fast string split agrees with pathlib, which the loader used before.
    assert _file_key(file_name) == PureWindowsPath(PurePosixPath(file_name).name).name


@settings(max_examples=1000)
@given(st.text(alphabet="ab._ \\", max_size=8))
def test_file_stem_is_pathlibs(name: str) -> None:
    from pathlib import PurePosixPath

    from bbqa.io.files import stem

    assert stem(name) == PurePosixPath(name).stem


@settings(max_examples=100, deadline=None)
@given(scenes(), st.sampled_from([1, 3, 7, 1 << 20]), st.sampled_from([0.0, 0.3, 0.9]))
def test_duplicate_pairs_equal_a_brute_force_loop(scene: tuple[list[Row], list[Row]],
                                                  chunk: int, min_iou: float) -> None:
    import pytest

    from bbqa.metrics import hygiene
    from bbqa.metrics.hygiene import duplicate_pairs

    rows = scene[0] + [(r[0], r[1], r[2] + 0.5, r[3], r[4] + 0.5, r[5], r[6] + "d")
                       for r in scene[0][::2]]  # near-copies, so that duplicates exist
    dataset = _dataset(rows, ["i0", "i1", "i2"], ["a", "b"])
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(hygiene, "HYGIENE_PAIR_CHUNK", chunk)  # pairs split across chunks
        first, second, iou = duplicate_pairs(dataset, min_iou)
    b = dataset.boxes
    expected = set()
    for i in range(len(b)):
        for j in range(i + 1, len(b)):
            if (b.image[i], b.category[i], b.annotator[i]) != (b.image[j], b.category[j],
                                                                b.annotator[j]):
                continue
            value = iou_matrix(coords(dataset, np.array([i])), coords(dataset, np.array([j])))
            if value[0, 0] >= min_iou:
                expected.add((i, j, round(float(value[0, 0]), 9)))
    got = {(min(i, j), max(i, j), round(v, 9)) for i, j, v in
           zip(first.tolist(), second.tolist(), iou.tolist(), strict=True)}
    assert got == expected
    assert len(first) == len(expected), "each pair once"


@given(st.lists(st.integers(0, 5000), max_size=300))
def test_decimal_texts_match_numpys_cast(numbers: list[int]) -> None:
    from bbqa.arrays import decimal_texts

    values = np.array(numbers, dtype=np.int64)
    assert decimal_texts(values).tolist() == [str(n) for n in numbers]


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), max_size=60),
       st.booleans(), st.booleans())
def test_box_order_is_lexsorts(rows: list[tuple[int, int]], increasing: bool, text: bool) -> None:
    """Dataset.build's sort: (image, category, id), ids as numbers or as text, whether or not
    the ids already increase (the shortcut's case)."""
    from bbqa.dataset import Boxes, _box_order

    n = len(rows)
    shuffled = np.random.default_rng(n).permutation(n)
    ids = np.arange(n, dtype=np.int64) * 3 if increasing else shuffled
    id_column = np.array([f"f#{i:03d}" for i in ids]) if text else ids
    boxes = Boxes.build(image=np.array([r[0] for r in rows], dtype=np.int32),
                        category=np.array([r[1] for r in rows], dtype=np.int32),
                        x1=np.zeros(n), y1=np.zeros(n), x2=np.ones(n), y2=np.ones(n),
                        source_id=id_column)
    expected = np.lexsort((boxes.ids, boxes.category, boxes.image))
    assert np.array_equal(_box_order(boxes, 4), expected)


@given(st.lists(st.sampled_from(["", "urban", "rural", "b", "é", "a b", "Z"]), max_size=40))
def test_text_dictionary_is_the_sorted_names_and_their_positions(texts: list[str]) -> None:
    from bbqa.arrays import text_dictionary

    names, codes = text_dictionary(np.array(texts, dtype=np.str_))
    expected = sorted({t for t in texts if t})
    assert names == expected
    assert codes.tolist() == [expected.index(t) if t else -1 for t in texts]
