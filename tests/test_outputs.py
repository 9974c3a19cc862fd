"""Output files: all written or none, also when the biggest starts before the audit ends."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import bbqa
from bbqa import auditing, tables
from bbqa.cli import app
from bbqa.report.files import StagedOutputs, write_atomically
from tests.conftest import ROOT

DEMO = ROOT / "fixtures" / "demo"
AUDIT = ["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"), "--quiet"]


def test_committed_files_appear_together(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    paths = write_atomically(out, {"a.txt": lambda p: p.write_text("a"),
                                   "b.txt": lambda p: p.write_text("b")})
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]
    assert [p.read_text() for p in paths] == ["a", "b"]


def fail_after_starting(folder: Path) -> None:
    with StagedOutputs(folder) as outputs:
        outputs.start("big.parquet", lambda p: p.write_bytes(b"x" * 1000))
        raise RuntimeError("the audit failed after the first file started")


def test_a_failure_after_a_writer_started_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        fail_after_starting(out)
    assert not out.exists(), "the folder this run created is removed again"


def test_a_failure_keeps_an_existing_folder_and_its_files(tmp_path: Path) -> None:
    (tmp_path / "earlier.txt").write_text("keep me")
    with pytest.raises(RuntimeError):
        fail_after_starting(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["earlier.txt"]


def test_a_failing_writer_fails_the_commit_and_leaves_nothing(tmp_path: Path) -> None:
    def broken(path: Path) -> None:
        path.write_text("half")
        raise OSError(28, "No space left on device")

    out = tmp_path / "out"
    with pytest.raises(bbqa.BbqaError, match="No space left"):
        write_atomically(out, {"ok.txt": lambda p: p.write_text("ok"), "bad.txt": broken})
    assert not out.exists() or not list(out.iterdir())


def test_cli_audit_that_fails_mid_way_writes_no_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    # Hygiene runs beside the tables; its error surfaces after boxes.parquet has started.
    monkeypatch.setattr(auditing, "hygiene", explode)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [*AUDIT, "--out", str(out)])
    assert result.exit_code == 3
    assert not out.exists() or not list(out.iterdir())


def test_early_boxes_file_equals_the_finished_audits_table(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert CliRunner().invoke(app, [*AUDIT, "--out", str(out)]).exit_code == 0
    expected = tables.boxes_table(bbqa.audit(bbqa.load(DEMO / "golden.json"),
                                             bbqa.load(DEMO / "batch.json")))
    assert pq.read_table(out / "boxes.parquet").equals(expected)


def test_a_failed_audit_returns_only_once_the_hygiene_thread_is_done(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Hygiene runs on another thread: an error on the main thread must not leave it running."""
    import threading

    release = threading.Event()
    finished: list[str] = []

    def slow_hygiene(_dataset: object, role: str, **_kwargs: object) -> list[object]:
        release.wait(5)
        finished.append(role)
        return []

    def failing_table(*_args: object, **_kwargs: object) -> None:
        # The main thread fails while the hygiene thread is still waiting; let it go on later.
        threading.Timer(0.2, release.set).start()
        raise RuntimeError("boom")

    monkeypatch.setattr(auditing, "hygiene", slow_hygiene)
    monkeypatch.setattr(auditing, "image_table", failing_table)
    golden, batch = bbqa.load(DEMO / "golden.json"), bbqa.load(DEMO / "batch.json")
    with pytest.raises(RuntimeError, match="boom"):
        auditing.audit(golden, batch)
    assert finished == ["golden", "batch"]


def test_hygiene_findings_from_the_thread_match_a_direct_call() -> None:
    from bbqa.metrics.hygiene import hygiene

    golden, batch = bbqa.load(DEMO / "golden.json"), bbqa.load(DEMO / "batch.json")
    result = auditing.audit(golden, batch)
    direct = (*hygiene(golden, "golden"), *hygiene(batch, "batch"))
    assert result.hygiene == direct and len(direct) > 0


@pytest.mark.parametrize("values", [
    ["ann_a", "", None, "é"], [None, "x"], [3, -2**63, 2**63 - 1], [True, False],
    [1, True], [2**63], [None, None], [], [1.5, 2], ["a", 1],
])
def test_list_columns_get_the_type_pyarrow_infers(values: list[object]) -> None:
    """Per-annotator columns given as lists: named types where pa.array would infer the same
    one, inference for the rest (a mix, an integer past int64, no values)."""
    import pyarrow as pa

    try:
        expected = pa.array(values)
    except (pa.ArrowException, OverflowError) as exc:
        with pytest.raises(type(exc)):
            tables._from_columns({"c": values})
        return
    got = tables._from_columns({"c": values}).column("c").combine_chunks()
    assert got.type == expected.type and got.to_pylist() == expected.to_pylist()


def test_temporary_files_are_new_private_and_pass_over_taken_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Names already taken, by a file or by a symbolic link, are skipped and left as they
    were; the new file is empty and private, like tempfile.mkstemp's."""
    import itertools
    import os
    import stat

    from bbqa.report import files

    monkeypatch.setattr(files, "_TEMPORARY_NUMBERS", itertools.count())
    pid = os.getpid()
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    (tmp_path / f".boxes.parquet.{pid}.0.tmp").symlink_to(target)
    (tmp_path / f".boxes.parquet.{pid}.1.tmp").write_text("mine")
    made = files.new_temporary_file(tmp_path, "boxes.parquet")
    assert made == tmp_path / f".boxes.parquet.{pid}.2.tmp"
    assert made.read_bytes() == b"" and stat.S_IMODE(made.stat().st_mode) == 0o600
    assert target.read_text() == "keep"
    assert (tmp_path / f".boxes.parquet.{pid}.1.tmp").read_text() == "mine"
