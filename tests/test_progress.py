"""Progress: stages, bars with counts on a terminal, silence elsewhere and in worker processes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from rich.console import Console
from typer.testing import CliRunner

from bbqa import progress
from bbqa.align import align
from bbqa.cli import app
from bbqa.io import load
from bbqa.match import match
from bbqa.progress import Stages
from tests.conftest import ROOT, make_dataset

DEMO = ROOT / "fixtures" / "demo"


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100), out


def write_voc(folder: Path, files: int) -> None:
    folder.mkdir()
    for i in range(files):
        (folder / f"img{i}.xml").write_text(
            f"<annotation><filename>img{i}.jpg</filename><size><width>50</width>"
            "<height>40</height></size><object><name>dog</name><bndbox><xmin>1</xmin>"
            "<ymin>1</ymin><xmax>10</xmax><ymax>20</ymax></bndbox></object></annotation>")


def test_a_loader_counts_its_files_on_the_terminal(tmp_path: Path) -> None:
    write_voc(tmp_path / "voc", 7)
    console, out = terminal()
    with Stages(enabled=True, console=console) as stages:
        stages("loading")
        load(tmp_path / "voc")
    assert stages.counted["loading"] == (7, 7, "files")
    assert "files" in out.getvalue()


def test_matching_counts_every_candidate_pair() -> None:
    # Two images; pass 1 pairs boxes of one class on one image, pass 2 whatever is left.
    golden = make_dataset(["a", "b"], [(0, "car", 0, 0, 10, 10, "g1"),
                                       (0, "car", 20, 0, 30, 10, "g2"),
                                       (1, "bus", 0, 0, 10, 10, "g3")])
    batch = make_dataset(["a", "b"], [(0, "car", 0, 0, 10, 10, "b1"),
                                      (0, "car", 50, 50, 60, 60, "b2"),
                                      (1, "car", 0, 0, 10, 10, "b3")])
    alignment = align(golden, batch)
    with Stages(enabled=False) as stages:
        stages("match")
        match(golden, batch, alignment)
    # Pass 1: image a, car: 2 golden x 2 batch; image b has no class in common.
    # Pass 2, class-agnostic, on what pass 1 left: g2 x b2 on a, g3 x b3 on b.
    assert stages.counted["match"] == (6, 6, "pairs")


def test_counting_outside_a_display_does_nothing() -> None:
    step = progress.count(10, "files")
    step(3)  # no display, no error, nothing kept


def test_worker_processes_are_silenced() -> None:
    with Stages(enabled=False) as stages:
        stages("loading")
        progress.silence()
        progress.count(5, "files")(5)
    assert "loading" not in stages.counted


def test_quiet_and_non_terminal_runs_draw_nothing_on_stderr(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", str(DEMO / "batch.json"), "--golden",
                                      str(DEMO / "golden.json"), "--report", "json"])
    assert result.exit_code == 0
    assert "bbqa: loading" not in result.output


def test_profile_lists_the_work_of_each_stage(tmp_path: Path) -> None:
    write_voc(tmp_path / "golden", 4)
    write_voc(tmp_path / "batch", 4)
    result = CliRunner().invoke(app, ["audit", str(tmp_path / "batch"), "--golden",
                                      str(tmp_path / "golden"), "--profile", "--quiet"])
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines()
             if line.count("│") >= 3}
    assert "8 files" in lines["loading"]
    # One golden and one batch box per image, same class, same place: 4 pairs in pass 1.
    assert "4 pairs" in lines["match"]
    assert np.isfinite(float(lines["total"].split("│")[2]))


def test_coco_files_count_as_they_load() -> None:
    console, _ = terminal()
    with Stages(enabled=True, console=console) as stages:
        stages("loading")
        load(DEMO / "golden.json")
        load(DEMO / "batch.json")
    assert stages.counted["loading"] == (2, 2, "files")


def test_counts_from_two_threads_add_up() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work() -> None:
        step = progress.count(2000, "files")
        for _ in range(2000):
            step(1)

    with Stages(enabled=False) as stages:
        stages("loading")
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(work) for _ in range(4)]:
                future.result()
    assert stages.counted["loading"] == (8000, 8000, "files")


def test_work_beside_the_stages_is_counted_and_timed_apart() -> None:
    console, _ = terminal()
    with Stages(enabled=True, console=console, profile=True) as stages:
        stages("match")
        progress.count(3, "pairs")(3)
        with progress.beside("hygiene"):
            progress.count(5, "pairs")(5)
        progress.count(2, "pairs")(2)
    # The running stage keeps only its own pairs; the beside work has its own entry and time.
    assert stages.counted == {"match": (5, 5, "pairs"), "hygiene (beside)": (5, 5, "pairs")}
    assert [name for name, _ in stages.beside_timings] == ["hygiene (beside)"]
    assert "hygiene (beside)" not in dict(stages.timings)


def test_profile_shows_hygiene_beside_the_stages() -> None:
    result = CliRunner().invoke(app, ["audit", str(DEMO / "batch.json"), "--golden",
                                      str(DEMO / "golden.json"), "--profile", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = [line.split("│") for line in result.output.splitlines() if line.count("│") >= 3]
    names = [row[1].strip() for row in rows]
    # After the total, apart: the hygiene checks' own time and candidate pairs.
    assert names.index("hygiene (beside)") > names.index("total")
    beside = rows[names.index("hygiene (beside)")]
    assert float(beside[2]) >= 0 and "pairs" in beside[3]
    assert "pairs" not in rows[names.index("hygiene")][3]
