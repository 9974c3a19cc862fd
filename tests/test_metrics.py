"""Every metric-suite statistic against an independent computation written here."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest
from scipy import special, stats

import bbqa
from bbqa.auditing import AuditResult
from bbqa.metrics.attributes import cohens_kappa
from bbqa.metrics.stats import (
    holm_adjust,
    incomplete_beta,
    student_t_quantile,
    student_t_sf,
    wilson_interval,
)
from bbqa.tables import boxes_table, corrections_table
from tests.conftest import ROOT
from tests.test_geometry import brute_iou

DEMO = ROOT / "fixtures" / "demo"


@pytest.fixture(scope="module")
def demo() -> AuditResult:
    return bbqa.audit(bbqa.load(DEMO / "golden.json"), bbqa.load(DEMO / "batch.json"))


@pytest.fixture(scope="module")
def rows(demo: AuditResult) -> list[dict[str, Any]]:
    return boxes_table(demo).to_pylist()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [(8, 10, 0.4902, 0.9433), (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634),
     (1, 1, 0.2065, 1.0), (50, 100, 0.4038, 0.5962)],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(np.array([k]), np.array([n]))
    assert (round(float(got_low[0]), 4), round(float(got_high[0]), 4)) == (low, high)


def _plain_t_bisection(p: float, df: float) -> float:
    """The quantile by the plain bisection, every step evaluated: what the shortcut must
    reproduce bit for bit."""
    if p < 0.5:
        return -_plain_t_bisection(1.0 - p, df)
    low, high = 0.0, 1.0
    while student_t_sf(high, df) > 1.0 - p:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if student_t_sf(mid, df) > 1.0 - p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return 0.5 * (low + high)


def test_t_quantile_shortcut_gives_the_plain_bisections_bits() -> None:
    from bbqa.metrics.stats import _t_bracket

    rng = np.random.default_rng(11)
    cases = [(p, float(df)) for p in (0.975, 0.95, 0.995, 0.9995, 0.6, 0.025)
             for df in (*range(1, 40), 99, 1000, 54321, 10**6)]
    cases += [(0.975, 1e-300), (0.975, 1e300), (0.999999, 0.01)]  # no shortcut, no error
    cases += [(float(rng.uniform(0.5, 0.9999)),
               float(rng.integers(1, 10**5)) if rng.random() < 0.5 else float(rng.uniform(0.5, 50)))
              for _ in range(400)]
    used = 0
    for p, df in cases:
        student_t_quantile.cache_clear()
        assert student_t_quantile(p, df) == _plain_t_bisection(p, df), (p, df)
        q = max(p, 1 - p)
        below, above = _t_bracket(1 - q, q, df)
        if math.isfinite(below):
            used += 1
            assert below < abs(_plain_t_bisection(q, df)) < above
    # The shortcut is taken in the usual cases (else this test would prove nothing about it).
    assert used > 0.8 * len(cases)
    assert all(math.isfinite(_t_bracket(0.025, 0.975, df)[0]) for df in range(2, 3000, 7))


def test_t_distribution_and_beta_against_scipy() -> None:
    for df in (1, 2.5, 7, 30, 400, 5000):
        for t in (-3.0, -0.4, 0.0, 0.7, 2.0, 6.5):
            assert student_t_sf(t, df) == pytest.approx(stats.t.sf(t, df), rel=1e-9, abs=1e-15)
        for p in (0.6, 0.975, 0.999):
            assert student_t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-8)
    for a, b, x in ((0.5, 0.5, 0.3), (2, 3, 0.9), (250, 0.5, 0.95), (10, 10, 0.5)):
        assert incomplete_beta(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-10)


def test_holm_by_hand() -> None:
    # sorted p: .01 (x3 = .03), .03 (x2 = .06), .04 (x1 = .04 -> monotone .06)
    assert holm_adjust(np.array([0.04, 0.01, np.nan, 0.03])).tolist()[:2] == pytest.approx(
        [0.06, 0.03])


def test_kappa_from_a_hand_computed_table() -> None:
    # 2x2 table: yes/yes 20, yes/no 5, no/yes 10, no/no 15.
    # p_o = 35/50 = .7; p_e = (25*30 + 25*20) / 50^2 = .5; kappa = .4
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohens_kappa(first, second) == pytest.approx(0.4)
    assert math.isnan(cohens_kappa(["a", "a"], ["a", "a"]))


def golden_density() -> dict[str, int]:
    """Golden boxes per image, counted from the JSON (crowd regions not counted)."""
    doc = json.loads((DEMO / "golden.json").read_text())
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    counts: Counter[str] = Counter()
    for a in doc["annotations"]:
        if not a["iscrowd"]:
            counts[names[a["image_id"]]] += 1
    return {name: counts[name] for name in names.values()}


def bucket_of(density: int) -> str:
    if density == 0:
        return "0"
    for low, high in ((1, 5), (6, 15), (16, 40)):
        if low <= density <= high:
            return f"{low}-{high}"
    return "41+"


def test_density_breakdown_recounted_from_the_rows(demo: AuditResult,
                                                   rows: list[dict[str, Any]]) -> None:
    density = golden_density()
    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in rows:
        bucket = bucket_of(density[r["image"]])
        assert r["density"] == density[r["image"]] and r["density_bucket"] == bucket
        if r["outcome"] in ("matched", "missing", "wrong_class"):
            for cls in (r["golden_class"], "(all)"):
                expected[bucket, cls]["golden"] += 1
                expected[bucket, cls][r["outcome"]] += 1
        if r["outcome"] in ("matched", "wrong_class", "extra"):
            for cls in (r["batch_class"], "(all)"):
                expected[bucket, cls]["judged"] += 1
                expected[bucket, cls][f"batch_{r['outcome']}"] += 1
    c = demo.breakdowns.columns
    seen = 0
    for i in range(len(c["class"])):
        if c["dimension"][i] != "density":
            continue
        seen += 1
        e = expected[c["bucket"][i], c["class"][i]]
        assert (int(c["golden"][i]), int(c["missing"][i]), int(c["extra"][i])) == (
            e["golden"], e["missing"], e["batch_extra"])
        if e["golden"]:
            assert c["missing_rate"][i] == pytest.approx(e["missing"] / e["golden"])
            low, high = wilson_interval(np.array([e["missing"]]), np.array([e["golden"]]))
            assert c["missing_low"][i] == pytest.approx(low[0])
            assert c["missing_high"][i] == pytest.approx(high[0])
    assert seen == len([k for k, v in expected.items() if v["golden"] or v["judged"]])


def test_every_breakdown_count_recounted_from_the_rows(demo: AuditResult,
                                                     rows: list[dict[str, Any]]) -> None:
    """All five counts of every dimension (density, size, scene), counted row by row."""
    expected: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for r in rows:
        for dimension in ("density", "size", "scene"):
            bucket = r[f"{dimension}_bucket" if dimension != "scene" else "scene"]
            if bucket is None:
                continue
            if r["outcome"] in ("matched", "missing", "wrong_class"):
                for cls in (r["golden_class"], "(all)"):
                    expected[dimension, bucket, cls]["golden"] += 1
                    expected[dimension, bucket, cls][r["outcome"]] += 1
            if r["outcome"] in ("matched", "wrong_class", "extra"):
                for cls in (r["batch_class"], "(all)"):
                    expected[dimension, bucket, cls]["judged"] += 1
                    if r["outcome"] == "extra":
                        expected[dimension, bucket, cls]["extra"] += 1
    c = demo.breakdowns.columns
    got = {(c["dimension"][i], c["bucket"][i], c["class"][i]): {
        name: int(c[name][i]) for name in ("golden", "missing", "wrong_class", "judged", "extra")}
        for i in range(len(c["class"]))}
    assert got == {key: {name: counts[name] for name in ("golden", "missing", "wrong_class",
                                                          "judged", "extra")}
                   for key, counts in expected.items()}
    assert {d for d, _, _ in got} == {"density", "size", "scene"}
    assert any(v["wrong_class"] for v in got.values()) and any(v["extra"] for v in got.values())


def test_size_buckets_follow_coco_areas(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if r["golden_x1"] is not None:
            area = (r["golden_x2"] - r["golden_x1"]) * (r["golden_y2"] - r["golden_y1"])
        elif r["batch_x1"] is not None:
            area = (r["batch_x2"] - r["batch_x1"]) * (r["batch_y2"] - r["batch_y1"])
        else:
            continue
        expected = "small" if area < 32**2 else "medium" if area < 96**2 else "large"
        assert r["size_bucket"] == expected


def test_confusion_recounted(demo: AuditResult, rows: list[dict[str, Any]]) -> None:
    expected: Counter[tuple[str, str]] = Counter()
    for r in rows:
        if r["outcome"] in ("matched", "wrong_class"):
            expected[r["golden_class"], r["batch_class"]] += 1
        elif r["outcome"] == "missing":
            expected[r["golden_class"], "(missing)"] += 1
        elif r["outcome"] == "extra":
            expected["(extra)", r["batch_class"]] += 1
    c = demo.confusion
    got = {(c.rows[i], c.columns[j]): int(c.counts[i, j])
           for i in range(len(c.rows)) for j in range(len(c.columns)) if c.counts[i, j]}
    assert got == dict(expected)
    real = sorted(((g, b, n) for (g, b), n in expected.items()
                   if g != b and "(missing)" not in (g, b) and "(extra)" not in (g, b)),
                  key=lambda cell: (-cell[2], cell[0], cell[1]))
    assert c.top(5) == real[:5]


def test_annotator_figures_and_bias_by_brute_force(demo: AuditResult,
                                                   rows: list[dict[str, Any]]) -> None:
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        counts[r["annotator"]][r["outcome"]] += 1
        if r["outcome"] != "matched":
            continue
        w = r["golden_x2"] - r["golden_x1"]
        h = r["golden_y2"] - r["golden_y1"]
        edges = [(r["golden_x1"] - r["batch_x1"]) / w, (r["batch_x2"] - r["golden_x2"]) / w,
                 (r["golden_y1"] - r["batch_y1"]) / h, (r["batch_y2"] - r["golden_y2"]) / h]
        assert [r[f"edge_{e}"] for e in ("left", "right", "top", "bottom")] == pytest.approx(
            edges)
        per[r["annotator"]]["looseness"].append(sum(edges) / 4)
        per[r["annotator"]]["iou"].append(r["iou"])
        batch_w, batch_h = r["batch_x2"] - r["batch_x1"], r["batch_y2"] - r["batch_y1"]
        per[r["annotator"]]["shift_x"].append(
            (r["batch_x1"] + r["batch_x2"] - r["golden_x1"] - r["golden_x2"]) / (2 * w))
        per[r["annotator"]]["shift_y"].append(
            (r["batch_y1"] + r["batch_y2"] - r["golden_y1"] - r["golden_y2"]) / (2 * h))
        per[r["annotator"]]["log_area_ratio"].append(math.log(batch_w * batch_h / (w * h)))
    a = demo.annotators.annotators
    for i, name in enumerate(a["annotator"]):
        n = len(per[name]["iou"])
        assert a["matched"][i] == n == counts[name]["matched"]
        golden = counts[name]["matched"] + counts[name]["missing"] + counts[name]["wrong_class"]
        assert a["missing_rate"][i] == pytest.approx(counts[name]["missing"] / golden)
        values = per[name]["looseness"]
        mean = sum(values) / n
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        assert a["looseness_mean"][i] == pytest.approx(mean)
        assert a["looseness_low"][i] == pytest.approx(mean - half)
        assert a["looseness_high"][i] == pytest.approx(mean + half)
        assert a["iou_mean"][i] == pytest.approx(sum(per[name]["iou"]) / n)
        for measure in ("shift_x", "shift_y", "log_area_ratio"):
            assert a[f"{measure}_mean"][i] == pytest.approx(sum(per[name][measure]) / n)


def test_bias_verdicts_find_exactly_the_injected_annotators(demo: AuditResult) -> None:
    """tests/synth.py makes ann_ben 5% loose and ann_cho 4% tight per edge; ann_eli is 1%
    loose, under the 2% margin; ann_ada and ann_dev have no bias."""
    a = demo.annotators.annotators
    verdicts = dict(zip(a["annotator"], a["verdict"], strict=True))
    assert verdicts == {"ann_ada": "consistent", "ann_ben": "looser", "ann_cho": "tighter",
                        "ann_dev": "consistent", "ann_eli": "consistent"}
    assert set(a["shift_verdict"]) == {"none"}


def test_iou_spread_test_against_scipy_welch(demo: AuditResult,
                                            rows: list[dict[str, Any]]) -> None:
    ious: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r["outcome"] == "matched":
            ious[r["annotator"]].append(r["iou"])
    deviations = {name: [abs(v - float(np.median(vals))) for v in vals]
                  for name, vals in ious.items()}
    a = demo.annotators.annotators
    raw = []
    for i, name in enumerate(a["annotator"]):
        rest = [d for other, devs in deviations.items() if other != name for d in devs]
        expected = stats.ttest_ind(deviations[name], rest, equal_var=False,
                                   alternative="greater").pvalue
        assert a["iou_spread_p"][i] == pytest.approx(expected, rel=1e-6, abs=1e-300)
        raw.append(expected)
    flagged = dict(zip(a["annotator"], a["iou_spread_flag"], strict=True))
    assert flagged["ann_dev"], "the generator's noisy annotator must be flagged"
    assert not flagged["ann_ada"] and not flagged["ann_eli"]


def test_insufficient_data_is_never_consistent() -> None:
    golden = bbqa.load(DEMO / "golden.json")
    batch = bbqa.load(DEMO / "batch.json")
    result = bbqa.audit(golden, batch, bbqa.AuditOptions(min_matched=10_000))
    assert set(result.annotators.annotators["verdict"]) == {"insufficient data"}


def test_attribute_agreement_recounted(demo: AuditResult, rows: list[dict[str, Any]]) -> None:
    for row in demo.attributes.rows:
        name, cls = row["attribute"], row["class"]
        pairs = [(r[f"golden_attr_{name}"], r[f"batch_attr_{name}"]) for r in rows
                 if r["outcome"] == "matched" and (cls == "(all)" or r["golden_class"] == cls)
                 and r[f"golden_attr_{name}"] is not None
                 and r[f"batch_attr_{name}"] is not None]
        n = len(pairs)
        assert row["n"] == n
        table = Counter(pairs)
        observed = sum(v for (g, b), v in table.items() if g == b) / n
        g_marg = Counter(g for g, _ in pairs)
        b_marg = Counter(b for _, b in pairs)
        chance = sum(g_marg[v] * b_marg[v] for v in g_marg) / n**2
        assert row["agreement"] == pytest.approx(observed)
        if chance < 1:
            assert row["kappa"] == pytest.approx((observed - chance) / (1 - chance))
        confusion: list[dict[str, Any]] = row["confusion"]
        assert {(c["golden"], c["batch"]): c["count"] for c in confusion} == dict(table)
    mismatched = [r for r in rows if r["attribute_mismatch"]]
    for r in rows:
        differs = r["outcome"] == "matched" and any(
            r[f"golden_attr_{n}"] is not None and r[f"batch_attr_{n}"] is not None
            and r[f"golden_attr_{n}"] != r[f"batch_attr_{n}"] for n in ("occluded", "truncated"))
        assert r["attribute_mismatch"] == differs
    assert mismatched


def test_duplicates_by_brute_force(demo: AuditResult) -> None:
    doc = json.loads((DEMO / "batch.json").read_text())
    by_group: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for a in doc["annotations"]:
        by_group[a["image_id"], a["category_id"]].append(a)
    expected = set()
    for group in by_group.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                box_a = [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                         a["bbox"][1] + a["bbox"][3]]
                box_b = [b["bbox"][0], b["bbox"][1], b["bbox"][0] + b["bbox"][2],
                         b["bbox"][1] + b["bbox"][3]]
                if brute_iou(box_a, box_b) >= 0.9:
                    expected.add(frozenset((str(a["id"]), str(b["id"]))))
    got = {frozenset((f.box_id, f.other_id)) for f in demo.hygiene
           if f.set == "batch" and f.check == "duplicate"}
    assert got == expected and len(expected) > 5


def test_loose_and_defects(demo: AuditResult, rows: list[dict[str, Any]]) -> None:
    loose = [r for r in rows if r["outcome"] == "matched" and r["iou"] < 0.75]
    assert [r["loose"] for r in rows].count(True) == len(loose)
    defects = demo.summary["defects"]["by_type"]
    assert defects["loose"] == len(loose)
    assert defects["missing"] == sum(r["outcome"] == "missing" for r in rows)
    corrections = corrections_table(demo).to_pylist()
    assert Counter(c["defect"] for c in corrections) == Counter(
        {k: v for k, v in defects.items() if v})
    images = demo.images.columns
    assert int(np.sum(images["defects"])) == demo.summary["defects"]["total"]
    assert list(images["defects"]) == sorted(images["defects"], reverse=True)


def test_every_correction_row_names_its_own_boxes_and_action(
        demo: AuditResult, rows: list[dict[str, Any]]) -> None:
    """Each correction's boxes are its pair's boxes (COCO x y w h, two decimals) and its action
    is the sentence for its defect type, built from that same row: no row takes another's."""
    by_pair = {(r["labeling"], r["golden_id"], r["batch_id"]): r for r in rows}
    corrections = corrections_table(demo).to_pylist()
    sentences = {
        "missing": "draw missing {golden_class} at {golden_box}",
        "wrong_class": "relabel {batch_class} -> {golden_class}",
        "loose": "redraw {golden_class} box {batch_box} as {golden_box}",
        "extra": "delete extra {batch_class} box at {batch_box}",
        "invalid": "fix or delete invalid {batch_class} box {batch_box}",
    }
    for c in corrections:
        row = by_pair[c["labeling"], c["golden_id"], c["batch_id"]]
        for side in ("golden", "batch"):
            if row[f"{side}_x1"] is None:
                assert c[f"{side}_box"] is None
                continue
            x1, y1, x2, y2 = (row[f"{side}_{k}"] for k in ("x1", "y1", "x2", "y2"))
            numbers = [float(t) for t in c[f"{side}_box"].split(" ")]
            assert numbers == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=0.005 + 1e-9)
        if c["defect"] == "attribute_mismatch":
            # Each attribute both boxes carry with different values, in the compared order.
            values = [(name, row[f"golden_attr_{name}"], row[f"batch_attr_{name}"])
                      for name in demo.rows.compared_attributes]
            changes = [f"{name}={g} (was {b})" for name, g, b in values
                       if g is not None and b is not None and g != b]
            assert changes and c["action"] == "set " + "; ".join(changes)
        else:
            assert c["action"] == sentences[c["defect"]].format(**c)
    assert {c["defect"] for c in corrections} >= {*sentences, "attribute_mismatch"} - {"invalid"}


def test_image_table_recounted_from_the_rows(demo: AuditResult,
                                             rows: list[dict[str, Any]]) -> None:
    """Every labeling's outcome and defect counts, mean IoU, image and annotator, row by row."""
    expected: dict[int, Counter[str]] = defaultdict(Counter)
    ious: dict[int, list[float]] = defaultdict(list)
    named: dict[int, tuple[str, str | None]] = {}
    for r in rows:
        e, outcome = expected[r["labeling"]], r["outcome"]
        named[r["labeling"]] = (r["image"], r["annotator"])
        e["golden"] += outcome in ("matched", "missing", "wrong_class")
        e["batch"] += outcome in ("matched", "wrong_class", "extra", "ignored")
        for kind in ("missing", "wrong_class", "extra", "invalid"):
            e[kind] += outcome == kind
        e["loose"] += bool(r["loose"])
        e["attribute_mismatch"] += bool(r["attribute_mismatch"])
        e["defects"] += (outcome in ("missing", "wrong_class", "extra", "invalid")
                         or bool(r["loose"]) or bool(r["attribute_mismatch"]))
        if outcome == "matched":
            ious[r["labeling"]].append(r["iou"])
    c = demo.images.columns
    assert sorted(int(v) for v in c["labeling"]) == sorted(expected)
    for i in range(len(c["labeling"])):
        labeling = int(c["labeling"][i])
        for name, count in expected[labeling].items():
            assert int(c[name][i]) == count, (labeling, name)
        if ious[labeling]:
            assert float(c["iou_mean"][i]) == pytest.approx(sum(ious[labeling])
                                                           / len(ious[labeling]))
        else:
            assert math.isnan(float(c["iou_mean"][i]))
        image, annotator = named[labeling]
        assert (str(c["image"][i]), str(c["annotator"][i]) or None) == (image, annotator)


def test_corrections_use_the_batch_convention(tmp_path: Any) -> None:
    """A VOC batch's corrections give boxes as 1-based inclusive xmin ymin xmax ymax."""
    golden_path = tmp_path / "golden.json"
    golden_path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "dog"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40]},
                        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [60, 60, 10, 10]}],
    }))
    voc = tmp_path / "voc"
    voc.mkdir()
    (voc / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>100</width><height>100</height>"
        "</size><object><name>dog</name><bndbox><xmin>19</xmin><ymin>21</ymin><xmax>40</xmax>"
        "<ymax>60</ymax></bndbox></object></annotation>")
    result = bbqa.audit(bbqa.load(golden_path), bbqa.load(voc))
    found = {c["defect"]: c for c in corrections_table(result).to_pylist()}
    assert found["missing"]["golden_box"] == "61 61 70 70"
    assert found["missing"]["action"] == "draw missing dog at 61 61 70 70"
    assert found["loose"]["batch_box"] == "19 21 40 60"
    assert found["loose"]["golden_box"] == "11 21 40 60"


@pytest.mark.parametrize("empty_side", ["golden", "batch"])
def test_corrections_when_one_side_has_no_box_at_all(tmp_path: Any, empty_side: str) -> None:
    """Every box is missing or extra: the other side's box texts are all null (this used to
    index an empty box table and fail)."""
    def document(boxes: list[list[float]]) -> Any:
        return {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
                "categories": [{"id": 1, "name": "car"}],
                "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": box}
                                for i, box in enumerate(boxes)]}

    full, empty = tmp_path / "full.json", tmp_path / "empty.json"
    full.write_text(json.dumps(document([[1, 2, 30, 40], [50.125, 10, 5, 5]])))
    empty.write_text(json.dumps(document([])))
    golden, batch = (empty, full) if empty_side == "golden" else (full, empty)
    rows = corrections_table(bbqa.audit(bbqa.load(golden), bbqa.load(batch))).to_pylist()
    defect, present, absent = (("extra", "batch_box", "golden_box") if empty_side == "golden"
                               else ("missing", "golden_box", "batch_box"))
    assert [r["defect"] for r in rows] == [defect, defect]
    # COCO x y w h at two decimals, half to even: 50.125 is written 50.12.
    assert sorted(r[present] for r in rows) == ["1 2 30 40", "50.12 10 5 5"]
    assert all(r[absent] is None for r in rows)


def test_quantiles_and_median_are_numpys_bit_for_bit() -> None:
    """Random sizes, ties, extremes and NaN, against np.quantile and np.median themselves."""
    from bbqa.metrics.stats import linear_quantiles, median

    rng = np.random.default_rng(7)
    ps = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1 / 3, 0.999999]
    for trial in range(600):
        n = int(rng.integers(1, 60))
        if trial % 3 == 0:
            values = rng.integers(0, 4, n).astype(np.float64) / 3  # ties
        else:
            values = rng.random(n) * 10.0 ** rng.integers(-3, 4)
        if trial % 50 == 0:
            values[rng.integers(0, n)] = np.nan
        expected = np.quantile(values, ps)
        got = linear_quantiles(values, ps)
        assert np.array_equal(got, expected, equal_nan=True), (values, got, expected)
        assert got.tobytes() == expected.tobytes() or np.isnan(expected).all()
        read_off = linear_quantiles(np.sort(values), ps, presorted=True)
        assert read_off.tobytes() == expected.tobytes() or np.isnan(expected).all()
        assert np.isnan(read_off).all() == np.isnan(expected).all()
        assert median(values) == np.median(values) or (
            math.isnan(median(values)) and np.isnan(np.median(values)))


def test_sorted_histogram_is_numpys() -> None:
    """Values on the edges, ties at the right edge, values outside: np.histogram's counts."""
    from bbqa.metrics.classes import sorted_histogram

    rng = np.random.default_rng(13)
    for trial in range(300):
        edges = np.linspace(rng.choice([0.0, 0.5, 0.9]), 1.0, int(rng.integers(2, 12)))
        n = int(rng.integers(0, 80))
        values = rng.uniform(-0.2, 1.2, n)
        if n and trial % 2:
            values[: n // 2] = rng.choice(edges, n // 2)  # exactly on an edge
        values = np.sort(values)
        assert sorted_histogram(values, edges).tolist() == np.histogram(values, edges)[0].tolist()


def test_group_order_groups_stably_with_their_bounds() -> None:
    """Narrow keys (radix sort) and wide ones: the int64 stable argsort's order, and each
    key's bounds counted by hand."""
    from bbqa.arrays import group_order

    rng = np.random.default_rng(17)
    for n_keys, n in ((5, 2000), (40_000, 3000), (1, 0), (70, 1)):
        key = rng.integers(0, n_keys, n).astype(np.int64)
        order, bounds = group_order(key, n_keys)
        assert order.tolist() == np.argsort(key, kind="stable").tolist()
        assert bounds.tolist() == np.searchsorted(np.sort(key), np.arange(n_keys + 1)).tolist()
        for k in rng.integers(0, n_keys, 20).tolist():
            assert set(order[bounds[k]:bounds[k + 1]].tolist()) == set(
                np.flatnonzero(key == k).tolist())


def test_images_per_annotator_counts_distinct_labelings_either_way() -> None:
    """The flag table and the sorted path (many annotators) agree with a set count."""
    from bbqa.metrics.annotators import _images_per_annotator

    rng = np.random.default_rng(3)
    for n_names, n_rows, n_labelings in ((3, 500, 40), (2000, 300, 900), (1, 0, 1), (5, 7, 3)):
        annotator = rng.integers(0, n_names, n_rows).astype(np.int64)
        labeling = rng.integers(0, n_labelings, n_rows).astype(np.int64)
        expected = [len({int(lab) for a, lab in zip(annotator, labeling, strict=True) if a == k})
                    for k in range(n_names)]
        assert _images_per_annotator(annotator, labeling, n_names).tolist() == expected


def test_attribute_mismatch_compares_texts_whatever_each_sides_value_order() -> None:
    """Golden and batch number their attribute values on their own; a pair differs when the
    texts differ, never because the same text has another code on the other side."""
    from bbqa.align import align
    from bbqa.dataset import Attribute, Boxes, Dataset, Images
    from bbqa.match import Outcome, match
    from bbqa.metrics.rows import row_context

    rng = np.random.default_rng(5)
    n = 400
    xy = rng.uniform(0, 500, (n, 2))
    golden_choices: list[str | None] = ["yes", "no", None]
    batch_choices: list[str | None] = ["maybe", "no", "yes", None]
    golden_text = [golden_choices[i] for i in rng.integers(0, 3, n).tolist()]
    batch_text = [batch_choices[i] for i in rng.integers(0, 4, n).tolist()]

    def dataset(values: tuple[str, ...], texts: list[str | None]) -> Dataset:
        codes = np.array([values.index(t) if t is not None else -1 for t in texts], np.int32)
        return Dataset.build(
            Images.build(["a.jpg"], [1000.0], [1000.0]), ["car"],
            Boxes.build(np.zeros(n, int), np.zeros(n, int), xy[:, 0], xy[:, 1], xy[:, 0] + 9,
                        xy[:, 1] + 9, [str(i) for i in range(n)],
                        attributes={"occluded": Attribute(codes, values)}))

    # The same boxes on both sides, each with its own order of values.
    golden = dataset(("yes", "no"), golden_text)
    batch = dataset(("maybe", "no", "yes"), batch_text)
    alignment = align(golden, batch)
    matches = match(golden, batch, alignment)
    rows = row_context(golden, batch, alignment, matches)
    gb, bb = golden.boxes, batch.boxes
    golden_of = dict(zip(gb.ids.tolist(), gb.attributes["occluded"].decoded(), strict=True))
    batch_of = dict(zip(bb.ids.tolist(), bb.attributes["occluded"].decoded(), strict=True))
    matched = set(np.flatnonzero(matches.outcome == Outcome.MATCHED).tolist())
    assert len(matched) > 0.9 * n
    for row in range(len(matches)):
        g_text = golden_of[gb.ids[matches.golden[row]]] if matches.golden[row] >= 0 else None
        b_text = batch_of[bb.ids[matches.batch[row]]] if matches.batch[row] >= 0 else None
        expected = (row in matched and g_text is not None and b_text is not None
                    and g_text != b_text)
        assert bool(rows.attribute_mismatch[row]) == expected, row


def test_labeling_annotator_from_the_image_else_most_boxes() -> None:
    """Names: box-level ones in their order, then image-level ones not among them. An image's
    own annotator wins; otherwise its boxes' most frequent one, ties to the earlier name."""
    from bbqa.dataset import Boxes, Dataset, Images
    from bbqa.metrics.rows import labeling_annotators

    box_names = ["zed", "amy"]
    # (image, box annotator index into box_names, -1 for none)
    boxes = [(0, 0), (1, 0), (1, 1), (1, 1), (2, 0), (2, 0), (3, 0), (3, 1), (4, -1)]
    batch = Dataset.build(
        Images.build([f"{i}.jpg" for i in range(6)], [10.0] * 6, [10.0] * 6,
                     annotators=["bob", "", "amy", "", "", "cat"]),
        ["car"],
        Boxes.build(image=[b[0] for b in boxes], category=[0] * len(boxes),
                    x1=[0.0] * len(boxes), y1=[0.0] * len(boxes), x2=[5.0] * len(boxes),
                    y2=[5.0] * len(boxes), source_id=[str(i) for i in range(len(boxes))],
                    annotator=[b[1] for b in boxes]),
        annotators=box_names,
    )
    names, per_image = labeling_annotators(batch)
    assert names == ["zed", "amy", "bob", "cat"]
    expected = {0: "bob", 1: "amy", 2: "amy", 3: "zed", 4: None, 5: "cat"}
    assert [names[i] if i >= 0 else None for i in per_image.tolist()] == [
        expected[i] for i in range(6)]
