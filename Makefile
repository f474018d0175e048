# The README's two commands: `make run` (the curriculum and its parity table) and `make test`
# (the linters, the type checker, then every test and notebook); `make unit` is the fast loop:
# the tests that execute no notebook.
# Both create the virtual environment .venv from the lock file first, once, and again only when
# the lock or pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.diptych-installed

.PHONY: run test unit lint clean-venv

run: $(STAMP)
	$(BIN)/diptych run

test: lint
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" -p no:xdist -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m mypy

$(STAMP): requirements/cpu.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check -r requirements/cpu.txt
	$(BIN)/python -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

clean-venv:
	rm -rf $(VENV)
