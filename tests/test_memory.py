"""The allocator is tuned for big audits from the command line only, never for small ones."""

from __future__ import annotations

import platform
import sys

import pytest
from typer.testing import CliRunner

from bbqa import auditing, memory
from bbqa.cli import app
from tests.conftest import ROOT

DEMO = ROOT / "fixtures" / "demo"
ARGS = ["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"), "--quiet"]


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_tuning_applies_on_glibc() -> None:
    assert memory.tune_allocator() is True


@pytest.mark.parametrize(("threshold", "tuned"), [(0, True), (1 << 40, False)])
def test_cli_tunes_only_above_the_big_input_size(threshold: int, tuned: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []

    def record() -> bool:
        calls.append(True)
        return True

    monkeypatch.setattr(auditing, "PARALLEL_LOAD_BYTES", threshold)
    monkeypatch.setattr(memory, "tune_allocator", record)
    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    assert bool(calls) is tuned
