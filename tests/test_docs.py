"""The README stays true: the demo output, the options and the Parquet schemas it documents.

Run ``python -m tests.test_docs --update`` to rewrite the README's demo block from a real run.
"""

from __future__ import annotations

import re
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from bbqa.cli import app
from bbqa.tables import BOXES_SCHEMA, CLASSES_SCHEMA
from tests.conftest import ROOT

README = ROOT / "README.md"
DEMO_BLOCK = re.compile(r"(<!-- demo-output -->\n```\n)(.*?)(\n```\n<!-- /demo-output -->)",
                        re.DOTALL)


def demo_output() -> str:
    result = CliRunner().invoke(app, ["audit", "fixtures/demo/batch.json", "--golden",
                                      "fixtures/demo/golden.json"])
    assert result.exit_code == 0, result.stderr
    return "\n".join(line.rstrip() for line in result.stdout.rstrip("\n").splitlines())


def test_readme_shows_the_real_demo_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    found = DEMO_BLOCK.search(README.read_text(encoding="utf-8"))
    assert found, "README lost its demo-output block"
    assert found.group(2) == demo_output(), (
        "README demo output is stale: run python -m tests.test_docs --update")


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


if __name__ == "__main__" and "--update" in sys.argv:
    import os

    os.chdir(ROOT)
    text = README.read_text(encoding="utf-8")
    README.write_text(DEMO_BLOCK.sub(lambda m: m.group(1) + demo_output() + m.group(3), text),
                      encoding="utf-8")
    print("README demo output updated")
