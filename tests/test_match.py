"""Matching against a brute-force enumeration of every one-to-one assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bbqa.align import align
from bbqa.dataset import Dataset
from bbqa.match import Matches, Outcome, match
from tests.conftest import make_dataset, random_boxes
from tests.test_geometry import brute_iou

Row = tuple[int, str, float, float, float, float, str]


def best_assignment(
    golden: list[Row], batch: list[Row], t: float
) -> tuple[float, set[tuple[str, str]]]:
    """Largest total IoU over one-to-one assignments using only pairs with IoU >= t."""
    best_total, best_pairs = 0.0, set()
    n = len(golden)
    choices: list[list[int | None]] = []
    for g in golden:
        options: list[int | None] = [None]
        options += [j for j, b in enumerate(batch) if brute_iou(list(g[2:6]), list(b[2:6])) >= t]
        choices.append(options)
    for combo in itertools.product(*choices):
        used = [j for j in combo if j is not None]
        if len(used) != len(set(used)):
            continue
        total = sum(brute_iou(list(golden[i][2:6]), list(batch[j][2:6]))
                    for i, j in zip(range(n), combo, strict=True) if j is not None)
        if total > best_total + 1e-12:
            best_total = total
            best_pairs = {(golden[i][6], batch[j][6])
                          for i, j in zip(range(n), combo, strict=True) if j is not None}
    return best_total, best_pairs


def pairs_of(m: Matches, golden: Dataset, batch: Dataset, outcome: Outcome) -> set[tuple[str,
                                                                                         str]]:
    rows = m.where(outcome)
    return {(golden.boxes.source_id[g], batch.boxes.source_id[b])
            for g, b in zip(m.golden[rows], m.batch[rows], strict=True)}


def random_case(seed: int, n_images: int = 4) -> tuple[list[Row], list[Row]]:
    """Clustered boxes so that groups with several competing pairs are common."""
    rng = np.random.default_rng(seed)
    golden: list[Row] = []
    batch: list[Row] = []
    for image in range(n_images):
        centres = random_boxes(rng, 2, 60.0)
        centres[:, 2:] = centres[:, :2] + 12
        for k in range(int(rng.integers(0, 6))):
            base = centres[k % 2] + rng.normal(0, 2.5, 4)
            base[2:] = np.maximum(base[2:], base[:2] + 2)
            golden.append((image, str(rng.choice(["a", "b"])), *base.tolist(), f"g{image}_{k}"))
        for k in range(int(rng.integers(0, 6))):
            base = centres[k % 2] + rng.normal(0, 2.5, 4)
            base[2:] = np.maximum(base[2:], base[:2] + 2)
            batch.append((image, str(rng.choice(["a", "b"])), *base.tolist(), f"b{image}_{k}"))
    return golden, batch


def brute_force_audit(golden: list[Row], batch: list[Row], t: float) -> dict[str, set[tuple[str,
                                                                                          str]]]:
    """Pass 1 per (image, class), pass 2 per image on the rest, both by enumeration."""
    matched: set[tuple[str, str]] = set()
    wrong: set[tuple[str, str]] = set()
    images = {r[0] for r in golden} | {r[0] for r in batch}
    for image in images:
        g_img = [r for r in golden if r[0] == image]
        b_img = [r for r in batch if r[0] == image]
        for cls in ("a", "b"):
            _, pairs = best_assignment([r for r in g_img if r[1] == cls],
                                       [r for r in b_img if r[1] == cls], t)
            matched |= pairs
        used_g = {p[0] for p in matched}
        used_b = {p[1] for p in matched}
        _, pairs = best_assignment([r for r in g_img if r[6] not in used_g],
                                   [r for r in b_img if r[6] not in used_b], t)
        wrong |= pairs
    return {"matched": matched, "wrong_class": wrong}


@pytest.mark.parametrize("seed", range(40))
def test_matching_equals_brute_force(seed: int) -> None:
    golden_rows, batch_rows = random_case(seed)
    keys = [f"img{i}.jpg" for i in range(4)]
    golden = make_dataset(keys, golden_rows, classes=["a", "b"])
    batch = make_dataset(keys, batch_rows, classes=["a", "b"])
    m = match(golden, batch, align(golden, batch), 0.5)
    expected = brute_force_audit(golden_rows, batch_rows, 0.5)
    assert pairs_of(m, golden, batch, Outcome.MATCHED) == expected["matched"]
    assert pairs_of(m, golden, batch, Outcome.WRONG_CLASS) == expected["wrong_class"]
    paired_g = {p[0] for p in expected["matched"] | expected["wrong_class"]}
    paired_b = {p[1] for p in expected["matched"] | expected["wrong_class"]}
    missing = {golden.boxes.source_id[g] for g in m.golden[m.where(Outcome.MISSING)]}
    extra = {batch.boxes.source_id[b] for b in m.batch[m.where(Outcome.EXTRA)]}
    assert missing == {r[6] for r in golden_rows} - paired_g
    assert extra == {r[6] for r in batch_rows} - paired_b
    assert np.all(m.iou[m.where(Outcome.MATCHED)] >= 0.5)


def test_brute_force_cases_include_contested_groups() -> None:
    """The random cases above must exercise the optimal solver, not only single pairs."""
    contested = 0
    for seed in range(40):
        golden_rows, batch_rows = random_case(seed)
        for g in golden_rows:
            partners = [b for b in batch_rows if b[0] == g[0] and b[1] == g[1]
                        and brute_iou(list(g[2:6]), list(b[2:6])) >= 0.5]
            contested += len(partners) > 1
    assert contested >= 10


def greedy_total(ious: np.ndarray, t: float) -> float:
    """Highest IoU first, each box used once: the matching optimal assignment must beat."""
    taken_g: set[int] = set()
    taken_b: set[int] = set()
    total = 0.0
    for flat in np.argsort(-ious, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, ious.shape)
        if ious[i, j] >= t and i not in taken_g and j not in taken_b:
            taken_g.add(int(i))
            taken_b.add(int(j))
            total += float(ious[i, j])
    return total


def test_optimal_total_never_below_greedy_and_beats_it_somewhere() -> None:
    from bbqa.geometry import iou_matrix

    rng = np.random.default_rng(7)
    beaten = 0
    for case in range(300):
        # Boxes around one centre with random sizes: several partners above threshold each.
        centre = rng.uniform(20, 30, 2)
        g = np.concatenate([centre - rng.uniform(3, 8, (3, 2)),
                            centre + rng.uniform(3, 8, (3, 2))], 1)
        b = np.concatenate([centre - rng.uniform(3, 8, (3, 2)),
                            centre + rng.uniform(3, 8, (3, 2))], 1)
        g_rows: list[Row] = [(0, "a", *r.tolist(), f"g{i}") for i, r in enumerate(g)]
        b_rows: list[Row] = [(0, "a", *r.tolist(), f"b{i}") for i, r in enumerate(b)]
        golden = make_dataset(["x.jpg"], g_rows)
        batch = make_dataset(["x.jpg"], b_rows)
        m = match(golden, batch, align(golden, batch), 0.3)
        got = float(m.iou[m.where(Outcome.MATCHED)].sum())
        best, _ = best_assignment(g_rows, b_rows, 0.3)
        greedy = greedy_total(iou_matrix(g, b), 0.3)
        assert got == pytest.approx(best, abs=1e-12), f"case {case}"
        assert got >= greedy - 1e-12
        beaten += got > greedy + 1e-9
    assert beaten > 0, "no case where greedy loses: the test would not catch a greedy matcher"


@pytest.mark.parametrize("seed", range(10))
def test_matching_is_invariant_under_shuffling(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    golden_rows, batch_rows = random_case(seed, n_images=5)
    # Exact duplicates create ties that only source ids can break.
    if golden_rows:
        golden_rows.append((*golden_rows[0][:6], "dup_g"))
    if batch_rows:
        batch_rows.append((*batch_rows[0][:6], "dup_b"))
    keys = [f"img{i}.jpg" for i in range(5)]

    def run(g_rows: list[Row], b_rows: list[Row], classes: list[str],
            order: list[int]) -> set[tuple[str, str | None, str | None]]:
        perm_keys = [keys[i] for i in order]
        remap = {old: new for new, old in enumerate(order)}
        g = make_dataset(perm_keys, [(remap[r[0]], *r[1:]) for r in g_rows], classes=classes)
        b = make_dataset(perm_keys, [(remap[r[0]], *r[1:]) for r in b_rows], classes=classes)
        m = match(g, b, align(g, b), 0.5)
        return {
            (Outcome(int(o)).label,
             g.boxes.source_id[gi] if gi >= 0 else None,
             b.boxes.source_id[bi] if bi >= 0 else None)
            for o, gi, bi in zip(m.outcome, m.golden, m.batch, strict=True)
        }

    reference = run(golden_rows, batch_rows, ["a", "b"], list(range(5)))
    for _ in range(5):
        g_perm = [golden_rows[i] for i in rng.permutation(len(golden_rows))]
        b_perm = [batch_rows[i] for i in rng.permutation(len(batch_rows))]
        classes = ["b", "a"] if rng.random() < 0.5 else ["a", "b"]
        order = rng.permutation(5).tolist()
        assert run(g_perm, b_perm, classes, order) == reference


def test_wrong_class_missing_extra_and_crowd() -> None:
    golden = make_dataset(
        ["x.jpg"],
        [(0, "car", 0, 0, 10, 10, "1"), (0, "bus", 50, 50, 60, 60, "2"),
         (0, "car", 100, 100, 110, 110, "3"), (0, "person", 200, 200, 300, 300, "crowd")],
        classes=["car", "bus", "person"],
        crowd=[False, False, False, True],
    )
    batch = make_dataset(
        ["x.jpg"],
        [(0, "car", 0, 0, 10, 9, "a"), (0, "truck", 50, 50, 60, 60, "b"),
         (0, "car", 400, 400, 410, 410, "c"), (0, "person", 210, 210, 220, 230, "d")],
        classes=["car", "truck", "person"],
    )
    m = match(golden, batch, align(golden, batch), 0.5)
    got = {(Outcome(int(o)).label,
            golden.boxes.source_id[g] if g >= 0 else None,
            batch.boxes.source_id[b] if b >= 0 else None)
           for o, g, b in zip(m.outcome, m.golden, m.batch, strict=True)}
    assert got == {
        ("matched", "1", "a"),
        ("wrong_class", "2", "b"),
        ("missing", "3", None),
        ("extra", None, "c"),
        ("ignored", None, "d"),
        ("region", "crowd", None),
    }


def test_each_labeling_of_an_image_is_matched_on_its_own() -> None:
    golden = make_dataset(["x.jpg"], [(0, "a", 0, 0, 10, 10, "g")])
    batch = make_dataset(["x.jpg", "x.jpg"], [(0, "a", 0, 0, 10, 10, "first"),
                                              (1, "a", 1, 0, 10, 10, "second")])
    m = match(golden, batch, align(golden, batch), 0.5)
    matched = m.where(Outcome.MATCHED)
    assert sorted(m.labeling[matched].tolist()) == [0, 1]
    assert sorted(m.iou[matched].tolist()) == pytest.approx([0.9, 1.0])


def test_per_class_thresholds_apply_to_pass_two_by_golden_class() -> None:
    golden = make_dataset(["x.jpg"], [(0, "a", 0, 0, 10, 10, "g")], classes=["a", "b"])
    batch = make_dataset(["x.jpg"], [(0, "b", 0, 0, 10, 6, "b")], classes=["a", "b"])
    # IoU 0.6: below a's 0.7 threshold, above b's 0.5. Pass 2 uses the golden class (a).
    m = match(golden, batch, align(golden, batch), np.array([0.7, 0.5]))
    assert m.where(Outcome.WRONG_CLASS).sum() == 0
    m = match(golden, batch, align(golden, batch), np.array([0.5, 0.7]))
    assert m.where(Outcome.WRONG_CLASS).sum() == 1


def test_dense_image_is_chunked_without_changing_the_answer(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    import bbqa.match as match_module

    rng = np.random.default_rng(5)
    g = random_boxes(rng, 300, 400.0)
    b = g + rng.normal(0, 3.0, g.shape)
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
    golden = make_dataset(["x.jpg"], [(0, "a", *r.tolist(), f"g{i}") for i, r in enumerate(g)])
    batch = make_dataset(["x.jpg"], [(0, "a", *r.tolist(), f"b{i}") for i, r in enumerate(b)])
    whole = match(golden, batch, align(golden, batch), 0.5)
    monkeypatch.setattr(match_module, "PAIR_CHUNK", 1000)
    chunked = match(golden, batch, align(golden, batch), 0.5)
    np.testing.assert_array_equal(whole.golden, chunked.golden)
    np.testing.assert_array_equal(whole.batch, chunked.batch)
    np.testing.assert_array_equal(whole.outcome, chunked.outcome)


def test_where_any_is_isin() -> None:
    rng = np.random.default_rng(5)
    outcome = rng.integers(0, len(Outcome), 500).astype(np.int8)
    n = len(outcome)
    none = np.full(n, -1, np.int64)
    matches = Matches(labeling=np.zeros(n, np.int32), golden=none, batch=none,
                      iou=np.zeros(n), outcome=outcome)
    for kinds in ([Outcome.MATCHED], [Outcome.MISSING, Outcome.EXTRA], list(Outcome), []):
        assert np.array_equal(matches.where_any(*kinds), np.isin(outcome, [int(k) for k in kinds]))


def test_group_ranges_by_counting_and_by_search_agree_with_a_scan() -> None:
    """Dense keys (counted), sparse and negative keys (searched), empty sides."""
    from bbqa.match import _group_ranges

    rng = np.random.default_rng(19)
    cases = [(rng.integers(0, 50, 300), rng.integers(0, 60, 200)),  # dense
             (rng.integers(0, 10**9, 300), rng.integers(0, 10**9, 50)),  # sparse
             (rng.integers(-20, 20, 100), rng.integers(-25, 25, 80)),  # negative
             (np.zeros(0, np.int64), rng.integers(0, 5, 10)),
             (rng.integers(0, 5, 10), np.zeros(0, np.int64))]
    for golden_group, batch_group in cases:
        g, b = np.sort(golden_group).astype(np.int64), np.sort(batch_group).astype(np.int64)
        low, high = _group_ranges(g, b)
        glist = g.tolist()
        assert low.tolist() == [sum(1 for x in glist if x < key) for key in b.tolist()]
        assert high.tolist() == [sum(1 for x in glist if x <= key) for key in b.tolist()]


def test_row_order_is_the_lexsort_with_one_key_or_four() -> None:
    """Small spans (one combined key), spans past 63 bits and negative labelings (lexsort):
    the lexsort's order either way."""
    from bbqa.match import _row_order

    rng = np.random.default_rng(23)
    for n, labelings, boxes in ((500, 30, 80), (300, 5, 2**40), (200, 4, 50), (0, 1, 1)):
        labeling = rng.integers(0 if boxes != 50 else -2, labelings, n).astype(np.int32)
        outcome = rng.integers(0, len(Outcome), n).astype(np.int8)
        golden = rng.integers(-1, boxes, n).astype(np.int64)
        batch = rng.integers(-1, boxes, n).astype(np.int64)
        expected = np.lexsort((batch, golden, outcome, labeling))
        assert _row_order(labeling, outcome, golden, batch).tolist() == expected.tolist()


def test_outcome_counts_and_their_sums_are_a_tally() -> None:
    from collections import Counter

    from bbqa.match import count_of, outcome_counts

    rng = np.random.default_rng(29)
    group = rng.integers(0, 7, 400)
    outcome = rng.integers(0, len(Outcome), 400).astype(np.int8)
    tally = Counter(zip(group.tolist(), outcome.tolist(), strict=True))
    table = outcome_counts(group, outcome, 8)
    assert table.tolist() == [[tally[g, o] for o in range(len(Outcome))] for g in range(8)]
    kinds = (Outcome.MATCHED, Outcome.EXTRA)
    assert count_of(table, *kinds).tolist() == [
        sum(tally[g, int(k)] for k in kinds) for g in range(8)]
