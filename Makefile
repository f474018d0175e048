# The README's two commands: `make run` (the curriculum and its parity table) and `make test`
# (the linters and the type checker beside every test and notebook); `make unit` is the fast loop:
# the tests that execute no notebook, and how much of the package they run (coverage). `make test` also finds a Chromium for the site's browser
# tests, installing Debian's package where it can (scripts/chromium.py; they skip, saying why,
# where there is none), and JupyterHub's proxy for its test (scripts/hub_proxy.py, from npm).
# Both create the virtual environment .venv from the lock file first, once, and again only when
# the lock or pyproject.toml changes. `make run LOCK=gpu` installs the GPU lock instead (Linux x86-64,
# CUDA); switching locks recreates .venv. scripts/make.py does the same without make (Windows):
# keep the two in step (tests/test_make_py.py compares them).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.diptych-installed
LOCK   ?= cpu
PIP    := $(BIN)/python -m pip install -qq --disable-pip-version-check
UV     := $(BIN)/python -m uv pip install -q --python $(BIN)/python --compile-bytecode
FALLBACK := uv could not install the lock here: pip installs it instead
# two jobs at once: `make test` installs the site's browser (apt-get: network and disk) while pip
# makes .venv and the linters run (CPU)
MAKEFLAGS += --jobs=2

.PHONY: run test suite retest unit lint browser hub-proxy guide-check lock-check clean-venv
# the stamp names the lock installed (an empty one is from before there was a choice: cpu)
ifneq ($(LOCK),$(or $(shell cat $(STAMP) 2>/dev/null),cpu))
.PHONY: $(STAMP)
endif

run: $(STAMP)
	$(BIN)/diptych run

# the linters run beside the tests (make runs two jobs at once): run one after the other, the
# type checker's 11 s on one core left the other idle
test: lint suite

suite: $(STAMP) browser hub-proxy
	$(BIN)/python -m pytest

# the suite again after a local change: a notebook run whose inputs (the notebook, the library, the
# lock, the packages, the configuration) are those of a run that passed and was kept in
# build/notebook-runs/ is not executed again, and says so (tests/reused_runs.py). Never in CI,
# which starts from a fresh clone; `make test` reuses nothing.
retest: $(STAMP) browser hub-proxy
	$(BIN)/python -m pytest --reuse-runs build/notebook-runs

# standard library only, so it needs no .venv and runs beside the set-up
browser:
	$(PYTHON) scripts/chromium.py --install

# JupyterHub's proxy for its test, from npm into build/hub-proxy/ where none is found (standard
# library too; without npm the test skips, saying why)
hub-proxy:
	$(PYTHON) scripts/hub_proxy.py --install

# the fast loop, with the package's line coverage (configured in pyproject.toml): reported, not a gate
unit: $(STAMP)
	$(BIN)/python -m coverage run -m pytest tests -m "not slow and not lock" -q
	$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m mypy

# CONTRIBUTING followed to the end: a throwaway lesson run, saved and tested as the guide says
# (about a minute of framework kernels, which make test's budget leaves out)
guide-check: $(STAMP)
	$(BIN)/python -m pytest -m guide tests/test_contributing.py

# the lock checks: every supported platform and Python version has a wheel of every pin (network)
lock-check: $(STAMP)
	$(PIP) -r requirements/uv.txt
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m lock tests/test_lock.py

# platforms.py says in one sentence, before pip starts, why this Python or machine cannot install.
# On Linux, torch-cpu.txt puts PyTorch's CPU build in place first (PyPI's is the CUDA build). uv
# installs the rest of the lock (requirements/uv.txt says why); pip does where uv cannot (uv reads
# neither pip.conf nor PIP_* variables: a mirror, a wheel folder, no network). PyTorch's index is
# asked twice more, not five times, when it cannot be reached: a room whose wheels come from a
# folder (pip's find-links) would otherwise wait 8 s for pip's back-off.
$(STAMP): requirements/$(LOCK).txt requirements/torch-cpu.txt requirements/uv.txt pyproject.toml
	@$(PYTHON) src/diptych/platforms.py
	@if [ -s $(STAMP) ] && [ "$$(cat $(STAMP))" != "$(LOCK)" ]; then rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(if $(filter cpu,$(LOCK)),$(PIP) --retries 2 --no-deps -r requirements/torch-cpu.txt)
	$(PIP) -r requirements/uv.txt && $(UV) -r requirements/$(LOCK).txt || { echo "$(FALLBACK)"; $(PIP) -r requirements/$(LOCK).txt; }
	$(PIP) --no-deps --no-build-isolation -e .
	echo $(LOCK) > $(STAMP)

clean-venv:
	rm -rf $(VENV)
