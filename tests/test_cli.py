"""The command line through Typer's runner: report, Parquet outputs and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from concurrent import futures
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bbqa import auditing
from bbqa.cli import app
from bbqa.tables import BOXES_SCHEMA, CLASSES_SCHEMA
from tests.conftest import ROOT
from tests.test_geometry import brute_iou

DEMO = ROOT / "fixtures" / "demo"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "out"
    code, stdout, stderr = run("audit", str(DEMO / "batch.json"), "--golden",
                               str(DEMO / "golden.json"), "--out", str(out))
    assert code == 0, stderr
    return out, stdout


def test_demo_report_has_summary_and_class_table(demo_out: tuple[Path, str]) -> None:
    _, stdout = demo_out
    assert "bbqa audit" in stdout and "Per-class IoU" in stdout
    golden = json.loads((DEMO / "golden.json").read_text())
    for category in golden["categories"]:
        assert category["name"] in stdout
    assert "not delivered" in stdout


def test_boxes_parquet_schema_and_ious(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    table = pq.read_table(out / "boxes.parquet")
    fixed = len(BOXES_SCHEMA)
    assert pa.schema(list(table.schema)[:fixed]).equals(BOXES_SCHEMA)
    assert table.schema.names[fixed:] == ["golden_attr_occluded", "golden_attr_truncated",
                                          "batch_attr_occluded", "batch_attr_truncated"]
    rows = table.to_pylist()
    pairs = [r for r in rows if r["outcome"] in ("matched", "wrong_class")]
    assert pairs
    for r in pairs:
        g = [r["golden_x1"], r["golden_y1"], r["golden_x2"], r["golden_y2"]]
        b = [r["batch_x1"], r["batch_y1"], r["batch_x2"], r["batch_y2"]]
        assert r["iou"] == pytest.approx(brute_iou(g, b), abs=1e-12)
        assert r["iou"] >= 0.5
        assert (r["golden_class"] == r["batch_class"]) == (r["outcome"] == "matched")
    for r in rows:
        has_g = r["golden_id"] is not None
        has_b = r["batch_id"] is not None
        expected = {"matched": (True, True), "wrong_class": (True, True),
                    "missing": (True, False), "extra": (False, True), "ignored": (False, True),
                    "region": (True, False), "invalid": (False, True)}[r["outcome"]]
        assert (has_g, has_b) == expected
        assert (r["iou"] is not None) == (r["outcome"] in ("matched", "wrong_class"))


def test_boxes_parquet_accounts_for_every_box_of_the_input(demo_out: tuple[Path, str]) -> None:
    """Every golden box of a delivered image and every batch box of an audited image has one
    row per labeling: counted here from the JSON files directly."""
    out, _ = demo_out
    rows = pq.read_table(out / "boxes.parquet").to_pylist()
    golden = json.loads((DEMO / "golden.json").read_text())
    batch = json.loads((DEMO / "batch.json").read_text())
    golden_names = {im["id"]: im["file_name"] for im in golden["images"]}
    batch_names = {im["id"]: im["file_name"] for im in batch["images"]}
    shared = set(golden_names.values()) & set(batch_names.values())
    golden_ids = {str(a["id"]) for a in golden["annotations"]
                  if golden_names[a["image_id"]] in shared}
    batch_ids = {str(a["id"]) for a in batch["annotations"]
                 if batch_names[a["image_id"]] in shared}
    assert {r["golden_id"] for r in rows if r["golden_id"]} == golden_ids
    assert {r["batch_id"] for r in rows if r["batch_id"]} == batch_ids
    assert len([r for r in rows if r["golden_id"]]) == len(golden_ids)
    annotators = {im["file_name"]: im["annotator"] for im in batch["images"]}
    for r in rows:
        assert r["annotator"] == annotators[r["image"]]


def test_classes_parquet_counts_follow_from_boxes_parquet(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    classes = pq.read_table(out / "classes.parquet")
    assert classes.schema.equals(CLASSES_SCHEMA)
    rows = pq.read_table(out / "boxes.parquet").to_pylist()
    by_golden = Counter((r["outcome"], r["golden_class"]) for r in rows)
    by_batch = Counter((r["outcome"], r["batch_class"]) for r in rows)
    for c in classes.to_pylist():
        name = c["class"]
        matched = by_golden["matched", name]
        golden_n = matched + by_golden["missing", name] + by_golden["wrong_class", name]
        batch_n = (matched + by_batch["wrong_class", name] + by_batch["extra", name]
                   + by_batch["ignored", name])
        assert (c["matched"], c["golden"], c["batch"]) == (matched, golden_n, batch_n)
        assert c["extra"] == by_batch["extra", name]
        assert c["recall"] == pytest.approx(matched / golden_n)
        assert c["precision"] == pytest.approx(matched / (batch_n - by_batch["ignored", name]))
        ious = np.array([r["iou"] for r in rows
                         if r["outcome"] == "matched" and r["golden_class"] == name])
        assert c["iou_mean"] == pytest.approx(sum(ious) / len(ious))
        ordered = sorted(ious)
        # Linear interpolation between order statistics, written out for the median.
        mid = (len(ordered) - 1) / 2
        median = ordered[int(mid)] + (ordered[-(-int(mid * 2) // 2)] - ordered[int(mid)]) * (
            mid - int(mid))
        assert c["iou_median"] == pytest.approx(median)
        assert c["iou_min"] == min(ious)
        assert c["iou_std"] == pytest.approx(
            (sum((x - c["iou_mean"]) ** 2 for x in ious) / (len(ious) - 1)) ** 0.5)
    medians = [c["iou_median"] for c in classes.to_pylist()]
    assert medians == sorted(medians), "classes are listed worst median IoU first"


def test_summary_json_is_strict_json(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    summary = json.loads((out / "summary.json").read_text())
    outcomes = summary["outcomes"]
    assert summary["boxes"]["golden"] == (outcomes["matched"] + outcomes["missing"]
                                          + outcomes["wrong_class"])
    assert summary["images"]["not_delivered"] == 3
    assert summary["images"]["not_audited_keys"] == ["extra_0.jpg", "extra_1.jpg"]


def test_outputs_are_deterministic(tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        code, _, _ = run("audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"),
                         "--out", str(tmp_path / name), "--quiet")
        assert code == 0
        outs.append({p.name: p.read_bytes() for p in (tmp_path / name).iterdir()})
    assert outs[0] == outs[1]
    assert sorted(outs[0]) == sorted([
        "boxes.parquet", "classes.parquet", "breakdowns.parquet", "confusion.parquet",
        "annotators.parquet", "annotator_classes.parquet", "attributes.parquet",
        "hygiene.parquet", "images.parquet", "corrections.parquet", "corrections.csv",
        "summary.json"])


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    code, stdout, _ = run("audit", str(DEMO / "batch.json"), "--golden",
                          str(DEMO / "golden.json"), "--quiet")
    assert code == 0 and stdout == ""


def coco(tmp_path: Path, name: str, file_name: str = "a.jpg", **extra: object) -> Path:
    doc: dict[str, object] = {
        "images": [{"id": 1, "file_name": file_name, "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]}],
    }
    doc.update(extra)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_exit_codes(tmp_path: Path) -> None:
    golden = coco(tmp_path, "golden.json")
    batch = coco(tmp_path, "batch.json")
    assert run("audit", str(batch), "--golden", str(golden))[0] == 0
    # An unreadable batch: the delivery is unusable (1).
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [')
    code, _, stderr = run("audit", str(broken), "--golden", str(golden))
    assert code == 1 and "batch" in stderr and "broken.json:1" in stderr
    # An unreadable or invalid golden set, or a missing path (2).
    assert run("audit", str(batch), "--golden", str(broken))[0] == 2
    assert run("audit", str(batch), "--golden", str(tmp_path / "nope.json"))[0] == 2
    invalid = coco(tmp_path, "invalid.json", annotations=[
        {"id": 1, "image_id": 1, "category_id": 5, "bbox": [0, 0, 1, 1]}])
    code, _, stderr = run("audit", str(batch), "--golden", str(invalid))
    assert code == 2 and "annotation id 1" in stderr and "is not in 'categories'" in stderr
    # No image in common: 2, unless --allow-empty.
    other = coco(tmp_path, "other.json", file_name="zzz.jpg")
    code, _, stderr = run("audit", str(other), "--golden", str(golden))
    assert code == 2 and "no image in common" in stderr and "zzz.jpg" in stderr
    assert run("audit", str(other), "--golden", str(golden), "--allow-empty", "-q")[0] == 0
    # Usage errors.
    assert run("audit", str(batch), "--golden", str(golden), "--iou", "1.5")[0] == 2
    assert run("audit", str(batch), "--golden", str(golden), "--image-key", "nope")[0] == 2
    assert run("audit", str(batch))[0] == 2


def test_batch_box_problems_are_findings_not_failures(tmp_path: Path) -> None:
    golden = coco(tmp_path, "golden.json")
    batch = coco(tmp_path, "batch.json", annotations=[
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
        {"id": 2, "image_id": 1, "category_id": 9, "bbox": [0, 0, 10, 10]},
        {"id": 3, "image_id": 1, "category_id": 1, "bbox": [5, 5, 0, 10]},
    ])
    code, stdout, _ = run("audit", str(batch), "--golden", str(golden), "--out",
                          str(tmp_path / "out"))
    assert code == 0
    assert "annotation id 2" in stdout and "annotation id 3" in stdout
    rows = pq.read_table(tmp_path / "out" / "boxes.parquet").to_pylist()
    assert {(r["outcome"], r["batch_id"]) for r in rows} == {("matched", "1"), ("invalid", "3")}


def test_class_map_renames_batch_classes(tmp_path: Path) -> None:
    golden = coco(tmp_path, "golden.json")
    batch = coco(tmp_path, "batch.json", categories=[{"id": 1, "name": "automobile"}])
    mapping = tmp_path / "map.csv"
    mapping.write_text("old,new\nautomobile,car\n")
    out = tmp_path / "out"
    assert run("audit", str(batch), "--golden", str(golden), "--out", str(out), "-q")[0] == 0
    assert pq.read_table(out / "boxes.parquet").column("outcome").to_pylist() == [
        "wrong_class"]
    assert run("audit", str(batch), "--golden", str(golden), "--class-map", str(mapping),
               "--out", str(out), "-q")[0] == 0
    assert pq.read_table(out / "boxes.parquet").column("outcome").to_pylist() == ["matched"]


def test_failed_write_leaves_previous_outputs_intact(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    args = ("audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"), "--out",
            str(out), "-q")
    assert run(*args)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_write(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bbqa.arrow_kernels.write_parquet", broken_write)
    code, _, stderr = run(*args)
    assert code == 2 and "No space left" in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_internal_errors_are_one_line_with_exit_3(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(auditing, "match", explode)
    code, _, stderr = run("audit", str(DEMO / "batch.json"), "--golden",
                          str(DEMO / "golden.json"))
    assert code == 3
    assert "internal error: RuntimeError: boom" in stderr and "Traceback" not in stderr


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "bbqa", "--version"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("bbqa ")


def test_console_entry_keeps_exit_codes_and_flushes_output(tmp_path: Path) -> None:
    """main() ends the process with os._exit: codes, piped output and files must survive it."""
    def bbqa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bbqa", *args], capture_output=True,
                              text=True, check=False)

    missing = bbqa("audit", str(DEMO / "batch.json"), "--golden", str(tmp_path / "none.json"))
    assert missing.returncode == 2 and "none.json" in missing.stderr
    out = tmp_path / "out"
    done = bbqa("audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"),
                "--out", str(out))
    assert done.returncode == 0
    # The whole report reached the pipe (its last table ends the output), and the files exist.
    in_process = run("audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"))
    assert done.stdout.strip().splitlines()[-1] == in_process[1].strip().splitlines()[-1]
    assert (out / "boxes.parquet").stat().st_size > 0 and (out / "summary.json").exists()
    usage = bbqa("audit")
    assert usage.returncode == 2 and "Usage" in usage.stderr


def test_loading_alone_does_not_import_the_audit_pipeline() -> None:
    code = ("import sys, bbqa; before = 'bbqa.auditing' in sys.modules; "
            "import bbqa.auditing; print(before, callable(bbqa.audit), bbqa.audit.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    # Imported on first use; bbqa.audit stays the function, not the module's name.
    assert done.stdout.split() == ["False", "True", "audit"]


def test_loading_does_not_import_rich() -> None:
    """Loaders draw no display: Rich (tens of milliseconds to import) loads only for one."""
    code = (f"import sys, bbqa; d = bbqa.load({str(DEMO / 'golden.json')!r}); "
            "print(len(d.boxes) > 0, any(m.split('.')[0] == 'rich' for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["True", "False"]


def test_console_entry_runs_the_command_with_the_collector_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """bbqa.console holds the garbage collector only while the modules load."""
    import gc

    from bbqa import cli, console

    seen: list[bool] = []
    monkeypatch.setattr(cli, "main", lambda: seen.append(gc.isenabled()))
    try:
        console.main()
        assert seen == [True] and gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


_FAKE_CLI = """
import os, sys, types
fake = types.ModuleType("bbqa.cli")
def main():
    import numpy
    threads = [line.split()[1] for line in open("/proc/self/status")
               if line.startswith("Threads:")]
    print(os.environ.get("OPENBLAS_NUM_THREADS"), *threads)
fake.main = main
sys.modules["bbqa.cli"] = fake
import bbqa.console
bbqa.console.main()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("chosen", "expected"), [(None, "1"), ("2", "2")])
def test_console_entry_asks_openblas_for_one_thread_unless_told(chosen: str | None,
                                                               expected: str) -> None:
    """numpy's OpenBLAS starts a thread per core on import; bbqa needs none of them."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if chosen is not None:
        env["OPENBLAS_NUM_THREADS"] = chosen
    done = subprocess.run([sys.executable, "-c", _FAKE_CLI], capture_output=True, text=True,
                          check=True, env=env)
    value, threads = done.stdout.split()
    assert value == expected
    if chosen is None:
        # numpy loaded after the entry point set the limit: no BLAS thread besides the main one.
        assert threads == "1"


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = ("import sys, bbqa; heavy = sorted(m for m in ('numpy', 'pyarrow', 'typer') "
            "if m in sys.modules); print(heavy, bbqa.Dataset.__name__, bbqa.load.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["[]", "Dataset", "bbqa.io"]


def test_commands_carry_real_annotations() -> None:
    """Typer reads every command's signature on every run; string annotations (a
    ``from __future__ import annotations`` in cli.py) cost it an eval and a compile each."""
    import inspect

    from bbqa import cli

    for command in (cli.audit, cli.validate):
        parameters = inspect.signature(command).parameters.values()
        assert not any(isinstance(p.annotation, str) for p in parameters)


def _modules_loaded_by_audit(*options: str, arrow: bool = False) -> list[str]:
    """Which of the costly optional imports a quiet audit of the demo loads; ``arrow`` reads
    the demo's small files with the Arrow reader, as large files are."""
    args = ["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"),
            "--quiet", *options]
    optional = ("pyarrow.compute", "numpy.ma", "rich", "msgspec", "concurrent.futures",
                "pyarrow.parquet", "pyarrow.fs", "ssl", "bbqa.gate", "bbqa.policy")
    code = (
        "import sys\n"
        "from bbqa.cli import app\n"
        "import bbqa.io.coco\n"
        f"bbqa.io.coco.ARROW_MIN_BYTES = {0 if arrow else 'bbqa.io.coco.ARROW_MIN_BYTES'}\n"
        "try:\n"
        f"    app({args!r}, standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {optional!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))
    return loaded


def test_a_quiet_audit_imports_only_what_it_uses(tmp_path: Path) -> None:
    """Rich (20 ms), pyarrow.compute (30 ms), numpy.ma (8 ms), msgspec (7 ms),
    concurrent.futures (4 ms) and pyarrow.parquet with the file systems and ssl it imports
    (10 ms) are start-up time a short audit notices. numpy.ma would load
    with the first numpy array given to pa.array (it checks for masked arrays): the tables
    are built from buffers instead. msgspec decodes small files and whatever the Arrow reader
    leaves to the strict path. The gate and the policy reader (5 ms) load for --policy."""
    assert _modules_loaded_by_audit(arrow=True) == []
    policy = ROOT / "fixtures" / "policies" / "prototype-loose.toml"
    assert _modules_loaded_by_audit("--policy", str(policy), arrow=True) == [
        "bbqa.gate", "bbqa.policy"]
    assert _modules_loaded_by_audit("--out", str(tmp_path), arrow=True) == []
    assert (tmp_path / "corrections.csv").stat().st_size > 0
    assert _modules_loaded_by_audit() == ["msgspec"]


def test_inputs_are_only_read(tmp_path: Path) -> None:
    import hashlib
    import shutil

    golden = shutil.copy(DEMO / "golden.json", tmp_path / "golden.json")
    batch = shutil.copy(DEMO / "batch.json", tmp_path / "batch.json")

    def digest(path: str | Path) -> tuple[str, float]:
        p = Path(path)
        return hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime

    before = [digest(golden), digest(batch)]
    for args in (["audit", batch, "--golden", golden, "--out", str(tmp_path / "out"), "-q"],
                 ["validate", batch, "-q"], ["agree", batch, "-q", "--bootstrap", "10"],
                 ["convert", golden, "--to", "yolo", "--out", str(tmp_path / "y"), "-q"]):
        runner.invoke(app, [str(a) for a in args])
    assert [digest(golden), digest(batch)] == before


@pytest.mark.parametrize("beside", ["process", "thread"])
def test_parallel_load_gives_the_same_audit(beside: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Big inputs load the golden set beside the batch (a worker process, or a thread when
    both are COCO files for the Arrow reader); results and errors are the same."""
    from bbqa.io import coco

    serial = tmp_path / "serial"
    parallel = tmp_path / "parallel"
    args = ["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"), "-q"]
    assert run(*args, "--out", str(serial))[0] == 0
    monkeypatch.setattr(auditing, "PARALLEL_LOAD_BYTES", 0)
    if beside == "thread":
        monkeypatch.setattr(coco, "ARROW_MIN_BYTES", 0)
    created: list[str] = []

    def recording(module: Any, kind: str) -> Any:
        original = getattr(module, kind)

        def make(*args: Any, **kwargs: Any) -> Any:
            created.append(kind)
            return original(*args, **kwargs)

        return make

    from bbqa import background

    monkeypatch.setattr(futures, "ProcessPoolExecutor", recording(futures, "ProcessPoolExecutor"))
    monkeypatch.setattr(background, "Task", recording(background, "Task"))
    assert run(*args, "--out", str(parallel))[0] == 0
    # The thread is a Task started before the batch loads (the input fingerprints' Task
    # comes after loading).
    expected = "Task" if beside == "thread" else "ProcessPoolExecutor"
    assert created[0] == expected, created
    for name in ("boxes.parquet", "classes.parquet", "annotators.parquet"):
        assert (serial / name).read_bytes() == (parallel / name).read_bytes()
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [')
    code, _, stderr = run("audit", str(DEMO / "batch.json"), "--golden", str(broken))
    assert code == 2 and "golden" in stderr and "broken.json:1" in stderr


def test_parallel_load_spawns_when_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a thread alive (the spinner on a terminal), the worker is spawned, not forked."""
    import threading
    from functools import partial

    from bbqa import io

    module = auditing
    monkeypatch.setattr(module, "PARALLEL_LOAD_BYTES", 0)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        golden, batch = module.load_pair(
            partial(io.load, DEMO / "golden.json"), [partial(io.load, DEMO / "batch.json")],
            [DEMO / "golden.json"])
    finally:
        stop.set()
    serial_golden = io.load(DEMO / "golden.json")
    serial_batch = io.load(DEMO / "batch.json")
    assert golden.boxes.source_id.tolist() == serial_golden.boxes.source_id.tolist()
    assert batch.boxes.x1.tolist() == serial_batch.boxes.x1.tolist()


@pytest.mark.parametrize(("to", "where", "message"), [
    ("coco", "folder", "{folder} is a folder; expected the path of a .json file"),
    ("coco", "file/x.json", "cannot write {file}/x.json: {file} is a file, not a folder"),
    ("yolo", "file", "{file} is a file; expected a new folder"),
    ("voc", "file/sub/deeper", "cannot write {file}/sub/deeper: {file} is a file, not a folder"),
])
def test_convert_to_a_path_that_cannot_be_written_is_a_usage_error(
        tmp_path: Path, to: str, where: str, message: str) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "kept.txt").write_text("kept")
    file = tmp_path / "file"
    file.write_text("kept")
    out = str(tmp_path / where) if where != "folder" else str(folder)
    code, _, stderr = run("convert", str(DEMO / "golden.json"), "--to", to, "--out", out, "-q")
    assert code == 2, stderr
    assert message.format(folder=folder, file=file) in " ".join(stderr.split())
    assert "internal error" not in stderr
    assert file.read_text() == "kept" and sorted(p.name for p in folder.iterdir()) == ["kept.txt"]


def test_a_report_path_that_is_a_folder_is_named_in_the_error(tmp_path: Path) -> None:
    code, _, stderr = run("audit", str(DEMO / "batch.json"), "--golden",
                          str(DEMO / "golden.json"), "--report", f"json:{tmp_path}", "-q")
    assert code == 2 and f"cannot write {tmp_path}: Is a directory" in " ".join(stderr.split())
    assert list(tmp_path.iterdir()) == []  # nothing half-written left beside it


@pytest.mark.parametrize(("option", "message"), [
    (("--annotator-field", "id"), "the annotator field 'id' is a COCO key bbqa reads"),
    (("--annotator-field", "bbox"), "the annotator field 'bbox' is a COCO key bbqa reads"),
    (("--scene-field", "file_name"), "the scene field 'file_name' is a COCO key bbqa reads"),
    (("--scene-field", "annotator"), "the scene and annotator fields are both 'annotator'"),
])
def test_tag_fields_that_name_a_key_bbqa_reads_are_usage_errors(
        option: tuple[str, str], message: str) -> None:
    # Before, msgspec refused the schema ("Multiple fields rename to the same name"): exit 3.
    commands = [["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json")]]
    if option[0] == "--annotator-field":  # validate reads no scenes
        commands.append(["validate", str(DEMO / "batch.json")])
    for command in commands:
        code, _, stderr = run(*command, *option, "-q")
        assert code == 2 and message in " ".join(stderr.split()), stderr


@pytest.mark.parametrize("name", ["[/]", "[bold red]car", "car[/bold]"])
def test_names_that_look_like_rich_markup_are_shown_as_they_are(tmp_path: Path,
                                                                name: str) -> None:
    # Rich read "[/]" as a closing tag (MarkupError, exit 3) and "[bold red]" as a style.
    from tests.test_gate import one_box_missing

    golden, batch, policy = one_box_missing(tmp_path, name)
    code, stdout, stderr = run("audit", str(batch), "--golden", str(golden), "--show", "all")
    assert code == 0, stderr
    assert stdout.count(name) >= 3  # the class table, the breakdowns, the worst images
    code, stdout, stderr = run("audit", str(batch), "--golden", str(golden), "--policy",
                               str(policy))
    assert code == 1 and name in stdout, stderr


def _two_classes(tmp_path: Path, name: str, file_name: str = "a.jpg") -> Path:
    source = tmp_path / "source.json"
    source.write_text(json.dumps({
        "images": [{"id": 1, "file_name": file_name, "width": 100, "height": 80}],
        "categories": [{"id": 1, "name": name}, {"id": 2, "name": "bus"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40]},
                        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [50, 50, 9, 9]}]}))
    return source


@pytest.mark.parametrize(("to", "name", "file_name", "message"), [
    # YOLO read "a\nb" back as two classes, and every later class id named the wrong class.
    ("yolo", "a\nb", "a.jpg", "the class name 'a\\nb' holds a line break"),
    ("voc", "ctl\x01", "a.jpg", "the class name 'ctl\\x01' holds a character XML cannot"),
    ("voc", "car", "x\x01.jpg", "the image name 'x\\x01.jpg' cannot be written as a VOC file"),
    ("yolo", " car ", "a.jpg", "the class name ' car ' has spaces around it"),
    ("voc", "", "a.jpg", "the class name '' is empty"),
])
def test_convert_refuses_names_the_format_cannot_give_back(
        tmp_path: Path, to: str, name: str, file_name: str, message: str) -> None:
    out = tmp_path / "out"
    code, _, stderr = run("convert", str(_two_classes(tmp_path, name, file_name)), "--to", to,
                          "--out", str(out), "-q")
    assert code == 2 and message in stderr and "convert to COCO" in stderr, stderr
    assert not out.exists()


@pytest.mark.parametrize("to", ["yolo", "voc"])
def test_convert_round_trips_names_with_markup_and_commas(tmp_path: Path, to: str) -> None:
    import bbqa

    # image_sizes.csv was written without quoting: a comma in a file name split its row.
    out = tmp_path / "out"
    source = _two_classes(tmp_path, "car<&>\"'", "a,b\".jpg")
    assert run("convert", str(source), "--to", to, "--out", str(out), "-q")[0] == 0
    back = bbqa.load(out)
    assert sorted(back.categories) == ["bus", "car<&>\"'"]
    assert back.images.key.tolist() == ["a,b\".jpg"] and len(back.boxes.x1) == 2
