"""scripts/make.py (the Makefile for Windows) runs the same commands as the Makefile."""

from __future__ import annotations

import re
import shlex

import pytest

from helpers import REPO, load_script

MAKEFILE = (REPO / "Makefile").read_text()


def make_py():
    return load_script(REPO / "scripts" / "make.py")


def recipe(target: str) -> list[str]:
    block = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", MAKEFILE, re.MULTILINE)
    return [line.strip() for line in block.group(1).splitlines()]


@pytest.mark.parametrize("lock", ["cpu", "gpu"])
def test_both_install_with_the_same_pip_lines(lock):
    pip = re.search(r"^PIP\s*:=\s*\$\(BIN\)/python (.*)$", MAKEFILE, re.MULTILINE).group(1).split()
    assert pip == make_py().PIP
    lines = []
    for line in recipe("$(STAMP)"):
        conditional = re.fullmatch(r"\$\(if \$\(filter (\w+),\$\(LOCK\)\),(.*)\)", line)
        if conditional:
            if conditional.group(1) != lock:
                continue
            line = conditional.group(2)
        # the lock's line: `$(PIP) uv && $(UV) lock || { echo "$(FALLBACK)"; $(PIP) lock; }`
        for part in re.split(r"&&|\|\||;|[{}]", line.replace("$(LOCK)", lock)):
            if part.strip().startswith("$(PIP)"):
                lines.append(shlex.split(part)[1:])
    assert lines == make_py().pip_installs(lock)


def test_both_install_the_lock_with_uv_and_fall_back_to_pip_alike():
    module = make_py()
    uv = re.search(r"^UV\s*:=\s*\$\(BIN\)/python (.*)$", MAKEFILE, re.MULTILINE).group(1)
    assert uv.replace("$(BIN)/python", "{venv}").split() == module.UV
    fallback = re.search(r"^FALLBACK\s*:=\s*(.*)$", MAKEFILE, re.MULTILINE).group(1)
    assert fallback == module.FALLBACK
    (line,) = [line for line in recipe("$(STAMP)") if "$(UV)" in line]
    assert line == (
        "$(PIP) -r requirements/uv.txt && $(UV) -r requirements/$(LOCK).txt"
        ' || { echo "$(FALLBACK)"; $(PIP) -r requirements/$(LOCK).txt; }'
    )
    assert "requirements/uv.txt" in re.search(r"^\$\(STAMP\):(.*)$", MAKEFILE, re.MULTILINE)[1]
    assert re.fullmatch(r"uv==[\d.]+", (REPO / "requirements/uv.txt").read_text().split()[-1])


@pytest.mark.parametrize("target", ["run", "test", "retest", "lint", "unit", "guide-check"])
def test_both_run_the_same_commands(target):
    # test: lint suite, and suite: browser hub-proxy (make runs the browser's and the proxy's
    # installs beside the set-up, and the linters beside the tests; make.py one after the other)
    parts = {
        "test": ["lint", "browser", "hub-proxy", "suite"],
        "retest": ["browser", "hub-proxy", "retest"],
    }.get(target, [target])
    commands = [shlex.split(line) for part in parts for line in recipe(part)]
    # the browser's and the proxy's scripts need only the standard library: make runs them with
    # $(PYTHON)
    programs = {"$(PYTHON)": "python"}
    expected = [
        [programs.get(program, program.removeprefix("$(BIN)/")), *args]
        for program, *args in commands
    ]
    assert expected == make_py().TARGETS[target]
    if target == "test":
        assert re.search(r"^test: lint suite$", MAKEFILE, re.MULTILINE)
        assert re.search(r"^suite: \$\(STAMP\) browser hub-proxy$", MAKEFILE, re.MULTILINE)


def test_both_check_the_platform_first_and_write_the_same_stamp():
    assert recipe("$(STAMP)")[0] == "@$(PYTHON) src/diptych/platforms.py"
    assert "STAMP  := $(VENV)/.diptych-installed" in MAKEFILE
    assert make_py().STAMP.relative_to(REPO).as_posix() == ".venv/.diptych-installed"
