"""The README stays true: its command outputs, options and Parquet schemas.

README blocks between ``<!-- output: ARGS -->`` and ``<!-- /output -->`` hold the real output
of ``bbqa ARGS`` run from the repository root. Run ``python -m tests.test_docs --update`` to
rewrite them from real runs.
"""

from __future__ import annotations

import os
import re
import shlex
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from bbqa.cli import app
from bbqa.tables import BOXES_SCHEMA, CLASSES_SCHEMA
from tests.conftest import ROOT

README = ROOT / "README.md"
# <!-- output: ARGS -->, or <!-- output, exit N: ARGS --> for a command expected to exit N,
# or <!-- output, stderr: ARGS --> for a command that reports on stderr.
OUTPUT_BLOCK = re.compile(
    r"(<!-- output(?:, exit (\d))?(, stderr)?: (.*?) -->\n```\n)(.*?)(\n```\n<!-- /output -->)",
    re.DOTALL)


def command_output(args: str, exit_code: int = 0, stderr: bool = False) -> str:
    result = CliRunner().invoke(app, shlex.split(args))
    assert result.exit_code == exit_code, result.stderr
    text = result.stderr if stderr else result.stdout
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines())


def test_readme_shows_real_command_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    blocks = OUTPUT_BLOCK.findall(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 2, "README lost its command-output blocks"
    for _, code, stderr, args, shown, _ in blocks:
        assert shown == command_output(args, int(code or 0), bool(stderr)), (
            f"README output of 'bbqa {args}' is stale: run python -m tests.test_docs --update")


def test_readme_gives_the_two_commands_first() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block


def test_every_audit_option_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    audit = typer.main.get_command(app).commands["audit"]  # type: ignore[attr-defined]
    for param in audit.params:
        for flag in getattr(param, "opts", []):
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in text, f"{flag} is not documented in README"


def test_every_parquet_column_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    for name in BOXES_SCHEMA.names + CLASSES_SCHEMA.names:
        assert f"`{name}`" in text, f"column {name} is not documented in README"


def test_every_output_file_is_documented(tmp_path: object) -> None:
    from pathlib import Path

    out = Path(str(tmp_path)) / "out"
    result = CliRunner().invoke(app, ["audit", str(ROOT / "fixtures/demo/batch.json"),
                                      "--golden", str(ROOT / "fixtures/demo/golden.json"),
                                      "--out", str(out), "-q"])
    assert result.exit_code == 0
    text = README.read_text(encoding="utf-8")
    for file in out.iterdir():
        assert f"`{file.name}`" in text or f"`{file.stem}.parquet` / `.csv`" in text, file.name


if __name__ == "__main__" and "--update" in sys.argv:
    os.chdir(ROOT)
    text = README.read_text(encoding="utf-8")
    README.write_text(
        OUTPUT_BLOCK.sub(lambda m: m.group(1) + command_output(
            m.group(4), int(m.group(2) or 0), bool(m.group(3))) + m.group(6), text),
        encoding="utf-8")
    print("README command outputs updated")
