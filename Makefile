# Every target creates .venv itself; nothing but Python 3.11+ and make is assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The constraints file pins every dependency (runtime, dev and build) for reproducible installs.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

.PHONY: demo test lint bench fuzz fixtures clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml constraints.txt
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/bbqa audit fixtures/demo/batch.json --golden fixtures/demo/golden.json

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check bbqa tests
	$(BIN)/mypy

fixtures: $(VENV)/.installed
	$(BIN)/python tests/synth.py demo fixtures/demo
	$(BIN)/python tests/synth.py overlap fixtures/agree --images 80 --density 0.6

# A long fuzzing run of every loader and the CLI (make test runs a short, fixed one).
fuzz: $(VENV)/.installed-dev
	BBQA_FUZZ_EXAMPLES=$${BBQA_FUZZ_EXAMPLES:-3000} $(BIN)/python -m pytest -q tests/test_fuzz.py

$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(PIP_INSTALL) -e '.[dev,bench]'
	touch $@

# Byte-code is compiled first, as pip does for an installed package: an editable install
# under PYTHONDONTWRITEBYTECODE would otherwise compile every module in every timed run.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m compileall -q bbqa
	$(BIN)/python tests/bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
