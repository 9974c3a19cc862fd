"""The allocator is tuned by the audit command, whatever the input size, never by the library."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bbqa import auditing, memory
from bbqa.cli import app
from tests.conftest import ROOT

DEMO = ROOT / "fixtures" / "demo"
ARGS = ["audit", str(DEMO / "batch.json"), "--golden", str(DEMO / "golden.json"), "--quiet"]


def _run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by a fresh interpreter: allocator settings belong to the whole process."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_tuning_applies_on_glibc() -> None:
    assert memory.tune_allocator() is True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages are "
                    "Linux's")
def test_tuning_turns_off_transparent_huge_pages() -> None:
    """Checked in a fresh process: the setting is the whole process's, and children inherit
    it (this test process may have it already, so the child first turns it back on)."""
    code = ("import ctypes\n"
            "from bbqa.memory import tune_allocator\n"
            "u = ctypes.c_ulong\n"
            "ctypes.CDLL(None).prctl(ctypes.c_int(41), u(0), u(0), u(0), u(0))\n"
            "def flag():\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('THP_enabled:'):\n"
            "            return line.split()[1]\n"
            "    return 'absent'\n"
            "before = flag(); tune_allocator(); print(before, flag())\n")
    done = _run_fresh(code)
    before, after = done.stdout.split()
    if before == "absent":
        pytest.skip("this kernel does not report THP_enabled (Linux 5.0 and later do)")
    assert (before, after) == ("1", "0")


@pytest.mark.parametrize("threshold", [0, 1 << 40])
def test_audit_command_tunes_whatever_the_input_size(threshold: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's small files and a big-input run alike: the audit command tunes once."""
    calls: list[bool] = []

    def record() -> bool:
        calls.append(True)
        return True

    monkeypatch.setattr(auditing, "PARALLEL_LOAD_BYTES", threshold)
    monkeypatch.setattr(memory, "tune_allocator", record)
    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    assert calls == [True]


def test_the_library_leaves_the_allocator_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bbqa.load`` and ``bbqa.audit`` in a host program never tune its allocator."""
    import bbqa

    calls: list[bool] = []

    def record() -> bool:
        calls.append(True)
        return True

    monkeypatch.setattr(memory, "tune_allocator", record)
    result = bbqa.audit(bbqa.load(DEMO / "golden.json"), bbqa.load(DEMO / "batch.json"))
    assert len(result.matches.outcome) > 0
    assert calls == []


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="malloc arenas are glibc's")
@pytest.mark.parametrize(("tune", "arenas"), [(False, 2), (True, 1)])
def test_tuned_threads_allocate_from_the_main_arena(tune: bool, arenas: int) -> None:
    """In a fresh process, a thread allocates; glibc's malloc_stats (on stderr) then lists
    one arena when tuned, and the thread's own second arena otherwise (the control run)."""
    code = ("import ctypes, sys, threading\n"
            "from bbqa.memory import tune_allocator\n"
            f"if {tune}:\n"
            "    assert tune_allocator()\n"
            "libc = ctypes.CDLL(None)\n"
            "libc.malloc.restype = ctypes.c_void_p\n"
            "kept = []\n"
            "worker = threading.Thread(target=lambda: kept.append(libc.malloc(1 << 16)))\n"
            "worker.start(); worker.join()\n"
            "sys.stdout.flush()\n"
            "libc.malloc_stats()\n")
    done = _run_fresh(code)
    listed = [line for line in done.stderr.splitlines() if line.startswith("Arena ")]
    assert len(listed) == arenas, done.stderr
