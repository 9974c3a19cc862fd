"""The delivery gate: policy parsing, decision modes, exit codes and every CI report format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from bbqa.cli import app
from bbqa.gate import Decision, decide
from bbqa.metrics.stats import binomial_quantile, quantile_interval, wilson_interval
from bbqa.policy import PolicyError, parse_policy
from bbqa.report.ci import RENDERERS, ReportFormat
from tests.conftest import ROOT

DEMO = ROOT / "fixtures" / "demo"
runner = CliRunner()


@pytest.mark.parametrize(
    ("kind", "value", "low", "high", "threshold", "point", "lenient", "strict"),
    [
        # max check, interval straddles the threshold: only the point estimate fails it.
        ("max", 0.03, 0.01, 0.05, 0.02, "fail", "pass", "fail"),
        # max check, point passes but the upper bound is above: strict cannot prove it good.
        ("max", 0.015, 0.005, 0.03, 0.02, "pass", "pass", "fail"),
        # max check, wholly above: everyone fails it.
        ("max", 0.03, 0.025, 0.04, 0.02, "fail", "fail", "fail"),
        # max check, wholly below: everyone passes it.
        ("max", 0.01, 0.005, 0.015, 0.02, "pass", "pass", "pass"),
        # min check mirrors: lenient looks at the upper bound, strict at the lower.
        ("min", 0.78, 0.74, 0.82, 0.80, "fail", "pass", "fail"),
        ("min", 0.82, 0.78, 0.86, 0.80, "pass", "pass", "fail"),
        ("min", 0.70, 0.65, 0.75, 0.80, "fail", "fail", "fail"),
    ],
)
def test_decision_modes_by_hand(kind: str, value: float, low: float, high: float,
                                threshold: float, point: str, lenient: str,
                                strict: str) -> None:
    assert decide(kind, value, low, high, threshold, Decision.POINT) == point
    assert decide(kind, value, low, high, threshold, Decision.LENIENT) == lenient
    assert decide(kind, value, low, high, threshold, Decision.STRICT) == strict


def test_quantile_interval_matches_binomial_order_statistics() -> None:
    for n, p in ((10, 0.5), (57, 0.1), (400, 0.5), (1000, 0.9)):
        assert binomial_quantile(0.025, n, p) == stats.binom.ppf(0.025, n, p)
        assert binomial_quantile(0.975, n, p) == stats.binom.ppf(0.975, n, p)
    values = np.arange(1, 101, dtype=float)  # x(k) = k
    low, high = quantile_interval(values, 0.5)
    # ranks: binom.ppf(.025, 100, .5) = 40 -> x(40); binom.ppf(.975) + 1 = 61 -> x(61)
    assert (low, high) == (40.0, 61.0)
    # Coverage by simulation: the interval holds the true median of U(0,1) >= 95% of the time.
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        sample = np.sort(rng.random(60))
        lo, hi = quantile_interval(sample, 0.5)
        hits += lo <= 0.5 <= hi
    assert hits / 2000 >= 0.94


POLICY = """version = 1
[defaults]
max_missing_rate = 0.10
min_support = 5
"""


def coco(path: Path, n_golden: int, n_missing: int, extra: int = 0,
         bad_batch_box: bool = False) -> tuple[Path, Path]:
    """A golden set of ``n_golden`` cars and a batch that misses ``n_missing`` of them."""
    images = [{"id": 1, "file_name": "a.jpg", "width": 10000, "height": 100}]
    golden = [{"id": i, "image_id": 1, "category_id": 1, "bbox": [i * 20, 0, 10, 10]}
              for i in range(n_golden)]
    batch = [dict(a) for a in golden[n_missing:]]
    batch += [{"id": 1000 + i, "image_id": 1, "category_id": 1,
               "bbox": [i * 20 + 5000, 50, 10, 10]} for i in range(extra)]
    if bad_batch_box:
        batch.append({"id": 9999, "image_id": 1, "category_id": 77, "bbox": [0, 0, 1, 1]})
    cats = [{"id": 1, "name": "car"}]
    (path / "golden.json").write_text(json.dumps({"images": images, "categories": cats,
                                                  "annotations": golden}))
    (path / "batch.json").write_text(json.dumps({"images": images, "categories": cats,
                                                 "annotations": batch}))
    return path / "golden.json", path / "batch.json"


def gate_run(tmp_path: Path, policy: str, *extra: str, n_golden: int = 40,
             n_missing: int = 6, **kw: Any) -> Any:
    golden, batch = coco(tmp_path, n_golden, n_missing, **kw)
    (tmp_path / "policy.toml").write_text(policy)
    return runner.invoke(app, ["audit", str(batch), "--golden", str(golden), "--policy",
                               str(tmp_path / "policy.toml"), "-q", *extra])


def test_exit_codes_of_the_gate(tmp_path: Path) -> None:
    # 6 of 40 missing: 15%, Wilson 95% [7.1%, 29.1%] (computed below) against max 10%.
    low, high = wilson_interval(np.array([6]), np.array([40]))
    assert low[0] < 0.10 < 0.15 < high[0]
    assert gate_run(tmp_path, POLICY).exit_code == 1                        # point: fail
    assert gate_run(tmp_path, POLICY, "--decision", "lenient").exit_code == 0
    assert gate_run(tmp_path, POLICY, "--decision", "strict").exit_code == 1
    assert gate_run(tmp_path, POLICY, "--exit-zero").exit_code == 0
    assert gate_run(tmp_path, POLICY, n_missing=2).exit_code == 0           # 5%: pass
    # Not enough support: a warning, exit 0 unless --fail-on warning.
    small = POLICY.replace("min_support = 5", "min_support = 100")
    assert gate_run(tmp_path, small).exit_code == 0
    assert gate_run(tmp_path, small, "--fail-on", "warning").exit_code == 1
    # Error-level findings in the batch fail a gate even when every threshold passes.
    assert gate_run(tmp_path, POLICY, n_missing=0, bad_batch_box=True).exit_code == 1
    # A policy error, and an unknown class in the policy: 2.
    assert gate_run(tmp_path, "version = 2\n").exit_code == 2
    result = gate_run(tmp_path, POLICY + '[classes."bus"]\nmax_missing_rate = 0.1\n')
    assert result.exit_code == 2 and "no class named 'bus'" in result.stderr


def test_without_a_policy_findings_do_not_fail(tmp_path: Path) -> None:
    golden, batch = coco(tmp_path, 10, 5, bad_batch_box=True)
    result = runner.invoke(app, ["audit", str(batch), "--golden", str(golden), "-q"])
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 1\n[defaults]\nmax_misssing_rate = 0.1\n",
         r"p.toml:3: defaults.max_misssing_rate: unknown key"),
        ("version = 1\n[defaults]\nmax_missing_rate = \"low\"\n",
         r"p.toml:3: defaults.max_missing_rate: expected a number"),
        ("version = 1\n[defaults]\nmax_missing_rate = 1.5\n",
         r"defaults.max_missing_rate: expected a value between 0 and 1"),
        ("version = 1\n[defaults]\nmin_support = 2.5\n", r"min_support: expected a whole"),
        ("[defaults]\n", r"version: expected version = 1"),
        ("version = 1\n[defaults\n", r"p.toml:2: invalid TOML"),
        ("version = 1\n[[rules]]\nmax_missing_rate = 0.1\n", r"rules\[0\]: a rule needs"),
        ("version = 1\n[[rules]]\nclass = \"car\"\nmatch_iou = 0.6\n",
         r"rules\[0\].match_iou: unknown key"),
        ("version = 1\n[classes.\"car\"]\nmin_median_iou = true\n",
         r'classes."car".min_median_iou: expected a number'),
        ("version = 1\nthresholds = 3\n", r"p.toml:2: thresholds: unknown key"),
    ],
)
def test_policy_errors_name_the_key_path(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(text, "p.toml")


def test_precedence_and_skipped_keys(tmp_path: Path) -> None:
    text = """version = 1
[defaults]
match_iou = 0.5
min_agreement = 0.7
max_missing_rate = 0.5
[classes."car"]
max_missing_rate = 0.01
"""
    policy = parse_policy(text, "p.toml")
    assert policy.setting("max_missing_rate", "car") == 0.01
    assert policy.setting("max_missing_rate", "bus") == 0.5
    assert policy.skipped_keys == ("defaults.min_agreement",)
    result = gate_run(tmp_path, text, "--report", "json", n_missing=1)
    doc = json.loads(result.stdout)
    checks = {(c["name"], c["subject"]): c for c in doc["gate"]["checks"]}
    assert checks["max_missing_rate", "car"]["threshold"] == 0.01
    assert checks["max_missing_rate", "car"]["source"] == 'classes."car"'
    assert checks["min_agreement", "defaults.min_agreement"]["verdict"] == "skip"


def test_rules_narrow_to_a_density_bucket(tmp_path: Path) -> None:
    text = POLICY + '[[rules]]\nclass = "car"\ndensity = "16-40"\nmax_missing_rate = 0.01\n'
    result = gate_run(tmp_path, text, "--report", "json", n_missing=2)
    doc = json.loads(result.stdout)
    rule = [c for c in doc["gate"]["checks"] if c["scope"] == "rule"]
    assert len(rule) == 1 and rule[0]["n"] == 40 and rule[0]["value"] == pytest.approx(0.05)
    assert rule[0]["verdict"] == "fail" and result.exit_code == 1
    bad = gate_run(tmp_path, POLICY + '[[rules]]\ndensity = "2-3"\nmax_missing_rate = 0.1\n')
    assert bad.exit_code == 2 and "no density bucket named '2-3'" in bad.stderr


def test_every_report_format_is_implemented() -> None:
    assert set(RENDERERS) == set(ReportFormat)


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("reports")
    args = ["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"),
            "--policy", str(ROOT / "fixtures/policies/adas-tight.toml"), "--out",
            str(out / "audit"), "--report", f"junit:{out}/bbqa.xml", "--report",
            f"markdown:{out}/bbqa.md", "--report", f"github:{out}/gh.txt", "--report", "json"]
    result = runner.invoke(app, args)
    return {"result": result, "out": out, "doc": json.loads(result.stdout)}


def test_json_report_is_the_summary_plus_the_gate(demo_reports: dict[str, Any]) -> None:
    result, doc, out = demo_reports["result"], demo_reports["doc"], demo_reports["out"]
    assert result.exit_code == 1
    assert "bbqa audit" in result.stderr, "the human report moves to stderr"
    summary = json.loads((out / "audit" / "summary.json").read_text())
    assert {k: v for k, v in doc.items() if k not in ("gate", "success")} == {
        k: v for k, v in summary.items() if k != "gate"}
    stats_ = doc["gate"]["statistics"]
    verdicts = [c["verdict"] for c in doc["gate"]["checks"]]
    assert stats_ == {"evaluated": len(verdicts), "passed": verdicts.count("pass"),
                      "failed": verdicts.count("fail"), "warned": verdicts.count("warn"),
                      "skipped": verdicts.count("skip")}
    assert doc["success"] is False and doc["inputs"]["golden"]["sha256"]


def test_junit_parses_back(demo_reports: dict[str, Any]) -> None:
    doc, out = demo_reports["doc"], demo_reports["out"]
    root = ET.parse(out / "bbqa.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    checks = doc["gate"]["checks"]
    assert len(cases) == len(checks) == int(suite.get("tests", "0"))
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == doc["gate"]["statistics"]["failed"] == int(suite.get("failures",
                                                                                  "0"))
    first_failed = next(c for c in checks if c["verdict"] == "fail")
    failure = failures[0].find("failure")
    assert failure is not None
    assert first_failed["name"] in failures[0].get("name", "")
    assert f"{first_failed['value']:.4g}" in failure.get("message", "")


def test_github_commands_line_by_line(demo_reports: dict[str, Any]) -> None:
    doc, out = demo_reports["doc"], demo_reports["out"]
    lines = (out / "gh.txt").read_text().splitlines()
    failed = [c for c in doc["gate"]["checks"] if c["verdict"] == "fail"]
    warned = [c for c in doc["gate"]["checks"] if c["verdict"] == "warn"]
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == 11  # the first 10 failures, then one line for the rest
    for line, check in zip(errors[:10], failed[:10], strict=True):
        assert line.startswith(f"::error title=bbqa {check['name']}::")
        assert check["subject"] in line
    assert errors[10] == (f"::error title=bbqa::{len(failed) - 10} more checks failed (see "
                          "the JSON or JUnit report)")
    assert sum(line.startswith("::warning ") for line in lines) == min(len(warned), 10) + (
        len(warned) > 10)
    assert lines[-1].startswith("::notice title=bbqa gate FAILED::")


def test_markdown_line_by_line(demo_reports: dict[str, Any]) -> None:
    doc, out = demo_reports["doc"], demo_reports["out"]
    lines = (out / "bbqa.md").read_text().splitlines()
    failed = [c for c in doc["gate"]["checks"] if c["verdict"] == "fail"]
    assert lines[0] == "## bbqa audit"
    assert lines[2].startswith("**Gate ❌ failed**")
    header = lines.index(f"### Failed checks ({len(failed)})")
    assert lines[header + 2].startswith("| check | subject |")
    rows = lines[header + 4: header + 4 + len(failed)]
    for row, check in zip(rows, failed, strict=True):
        assert row.startswith(f"| `{check['name']}` | {check['scope']} `{check['subject']}` |")
        assert f"| {check['n']} | fail" in row
    assert "<details><summary>All checks</summary>" in lines


def one_box_missing(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A golden set of two boxes of class ``name`` (the name is also the image's file name,
    annotator, scene and an attribute), a batch missing one, and a policy it fails."""
    doc = {"images": [{"id": 1, "file_name": f"{name}.jpg", "width": 100, "height": 80,
                       "annotator": name, "scene": name}],
           "categories": [{"id": 1, "name": name}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40],
                            "attributes": {name: name}},
                           {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 9, 9],
                            "attributes": {name: "x"}}]}
    golden, batch = tmp_path / "golden.json", tmp_path / "batch.json"
    golden.write_text(json.dumps(doc))
    doc["annotations"] = doc["annotations"][:1]
    batch.write_text(json.dumps(doc))
    policy = tmp_path / "policy.toml"
    policy.write_text("version = 1\n[defaults]\nmax_missing_rate = 0.01\nmin_support = 1\n")
    return golden, batch, policy


def test_markdown_cells_hold_class_names_with_pipes_line_breaks_and_backticks(
        tmp_path: Path) -> None:
    import re

    golden, batch, policy = one_box_missing(tmp_path, "car | x`y\nnew")
    out = tmp_path / "bbqa.md"
    runner.invoke(app, ["audit", str(batch), "--golden", str(golden), "--policy", str(policy),
                        "--report", f"markdown:{out}", "-q"])
    rows = [line for line in out.read_text().splitlines() if "max_missing_rate" in line]
    assert rows, out.read_text()
    for row in rows:  # GFM splits cells at every | not escaped, inside backticks too
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert len(cells) == 7, row
        assert cells[1].strip() == "class `` car \\| x`y new ``"


def test_policy_init_writes_a_policy_the_pilot_passes(tmp_path: Path) -> None:
    pilot = tmp_path / "pilot"
    args = ["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json")]
    assert runner.invoke(app, [*args, "--out", str(pilot), "-q"]).exit_code == 0
    policy = tmp_path / "starter.toml"
    made = runner.invoke(app, ["policy", "init", "--from", str(pilot), "--out", str(policy)])
    assert made.exit_code == 0, made.stderr
    parsed = parse_policy(policy.read_text(), str(policy))
    assert parsed.classes["pedestrian"]["min_median_iou"] < 0.883
    passed = runner.invoke(app, [*args, "--policy", str(policy), "-q"])
    assert passed.exit_code == 0, passed.stderr
    stricter = runner.invoke(app, [*args, "--policy", str(policy), "--iou", "0.85", "-q"])
    assert stricter.exit_code == 1
    missing = runner.invoke(app, ["policy", "init", "--from", str(tmp_path)])
    assert missing.exit_code == 2 and "no boxes.parquet" in missing.stderr
    # Another Parquet file under that name: the missing columns are named, not Arrow's schema.
    import pyarrow.parquet as pq

    other = tmp_path / "other"
    other.mkdir()
    pq.write_table(pq.read_table(pilot / "boxes.parquet").drop(["iou", "size_bucket"]),
                   other / "boxes.parquet")
    foreign = runner.invoke(app, ["policy", "init", "--from", str(other)])
    assert foreign.exit_code == 2
    assert "is not an audit's boxes.parquet: it has no iou, size_bucket column" in \
        " ".join(foreign.stderr.split())
    assert "golden_x1" not in foreign.stderr


def test_validate_exit_codes_and_reports(tmp_path: Path) -> None:
    batch = DEMO / "batch.json"
    ok = runner.invoke(app, ["validate", str(batch), "-q"])
    assert ok.exit_code == 0
    warned = runner.invoke(app, ["validate", str(batch), "-q", "--fail-on", "warning"])
    assert warned.exit_code == 1
    names = tmp_path / "classes.txt"
    names.write_text("car\ntruck\n")
    unknown = runner.invoke(app, ["validate", str(batch), "--classes", str(names), "--report",
                                  "json"])
    assert unknown.exit_code == 1
    doc = json.loads(unknown.stdout)
    assert "pedestrian" in doc["unknown_classes"] and "car" not in doc["unknown_classes"]
    assert doc["hygiene"]["duplicate"] == 19
    from_policy = runner.invoke(app, ["validate", str(batch), "-q", "--policy",
                                      str(ROOT / "fixtures/policies/adas-tight.toml")])
    assert from_policy.exit_code == 1  # the policy names 3 classes; the batch has 12
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert runner.invoke(app, ["validate", str(broken), "-q"]).exit_code == 1
    assert runner.invoke(app, ["validate", str(batch), "--report", "yaml"]).exit_code == 2


def test_junit_stays_xml_with_control_characters_in_a_class_name(tmp_path: Path) -> None:
    # XML 1.0 cannot hold U+0001 even as &#1;: written as the text \u0001 instead.
    golden, batch, policy = one_box_missing(tmp_path, "car\u0001\u000b\ufffe")
    out = tmp_path / "bbqa.xml"
    runner.invoke(app, ["audit", str(batch), "--golden", str(golden), "--policy", str(policy),
                        "--report", f"junit:{out}", "-q"])
    names = [case.get("name") for case in ET.parse(out).iter("testcase")]
    assert "max_missing_rate [class car\\u0001\\u000b\\ufffe]" in names
