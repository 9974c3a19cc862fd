"""The allocator is tuned by the console script only, for every run, never by the library."""

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


def test_console_script_tunes_before_numpy_loads() -> None:
    """The console script's entry point tunes first thing, whatever the command: in a fresh
    process, the real tuning runs before numpy is imported and leaves huge pages off."""
    code = ("import sys\n"
            "from bbqa import console, memory\n"
            "real = memory.tune_allocator\n"
            "def tune():\n"
            "    done = real()\n"
            "    flag = next((line.split()[1] for line in open('/proc/self/status')\n"
            "                 if line.startswith('THP_enabled:')), 'absent')\n"
            "    print('tuned', done, 'numpy' in sys.modules, flag)\n"
            "    return done\n"
            "memory.tune_allocator = tune\n"
            "sys.argv = ['bbqa', '--version']\n"
            "console.main()\n")
    done = _run_fresh(code)
    tuned_line = done.stdout.splitlines()[0].split()
    assert tuned_line[:3] == ["tuned", "True", "False"], done.stdout
    if sys.platform.startswith("linux") and tuned_line[3] != "absent":
        assert tuned_line[3] == "0"


def test_the_app_and_the_library_leave_the_allocator_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An audit through the Typer app (as a host program or the tests run it) never tunes:
    only the console script's process is bbqa's own."""
    calls: list[bool] = []

    def record() -> bool:
        calls.append(True)
        return True

    monkeypatch.setattr(auditing, "PARALLEL_LOAD_BYTES", 0)  # even the big-input path
    monkeypatch.setattr(memory, "tune_allocator", record)
    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
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
