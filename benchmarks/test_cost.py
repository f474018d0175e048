"""What one `make test` costs: kernels started, executions per notebook per configuration, and
seconds per consumer.

    python benchmarks/test_cost.py                      # runs `make test` once, then prints
    python benchmarks/test_cost.py --command "python -m pytest notebooks/01_tensors"
    python benchmarks/test_cost.py --json cost.json
    python benchmarks/test_cost.py --report cost.json          # print a saved report again

In a fresh clone, run it with any Python 3 (the command makes the virtual environment): the run
needs only the standard library, the tables need tabulate, from the virtual environment.

The command runs once, in this checkout, with two additions that change nothing it does: a private
IPYTHONDIR whose startup file writes one line per IPython kernel that starts (the test that
started it, its working folder, the folder it records into, its CPU configuration), and a JUnit
XML report added through PYTEST_ADDOPTS. Then three tables: kernels by consumer, executions per
notebook and configuration, seconds per consumer (summed over xdist's workers, so they add up to
more than the wall time). Nothing is asserted: times depend on the machine and its load, which is
printed. The suite's design (one execution per notebook per configuration) is in docs/design.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOG_ENV = "DIPTYCH_KERNEL_LOG"
#: runs in every IPython kernel the command starts, before its first cell
STARTUP = f"""
import json, os, sys, time
if os.environ.get({LOG_ENV!r}) and "ipykernel" in sys.modules:  # a kernel, not a shell
    with open(os.environ[{LOG_ENV!r}], "a", encoding="utf-8") as log:
        log.write(json.dumps({{
            "time": time.time(), "pid": os.getpid(), "cwd": os.getcwd(),
            "test": os.environ.get("PYTEST_CURRENT_TEST", ""),
            "record": os.environ.get("DIPTYCH_RECORD_DIR", ""),
            "isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        }}) + "\\n")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--command", default="make test", help="what to run (default: make test)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--report", type=Path, help="only print a report saved by --json")
    args = parser.parse_args()
    if args.report:
        print_report(json.loads(args.report.read_text(encoding="utf-8")))
        return 0
    with tempfile.TemporaryDirectory(prefix="diptych-cost-") as scratch:
        folder = Path(scratch)
        startup = folder / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-count-kernels.py").write_text(STARTUP, encoding="utf-8")
        log, junit = folder / "kernels.jsonl", folder / "junit.xml"
        env = {
            **os.environ,
            "IPYTHONDIR": str(folder / "ipython"),
            LOG_ENV: str(log),
            "PYTEST_ADDOPTS": f"{os.environ.get('PYTEST_ADDOPTS', '')} --junitxml={junit}",
        }
        started = time.perf_counter()
        finished = subprocess.run(shlex.split(args.command), cwd=REPO, env=env)
        wall = time.perf_counter() - started
        kernels = (
            [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        )
        seconds = consumer_seconds(junit) if junit.exists() else {}
    report = {
        "command": args.command,
        "exit_status": finished.returncode,
        "wall_seconds": round(wall, 1),
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "kernels": len(kernels),
        "kernels_by_consumer": dict(Counter(consumer_of(k) for k in kernels).most_common()),
        "executions": executions(kernels),
        "seconds_by_consumer": seconds,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print_report(report)
    return finished.returncode


def consumer_of(kernel: dict) -> str:
    """Who started a kernel: the suite's notebook runs, or the test file whose test did."""
    if "notebook-runs" in kernel["record"]:
        kind = Path(kernel["record"]).parts[-3]
        return f"{kind} (nbval, tests/notebook_runs.py)"
    test = kernel["test"].split("::")[0]
    return test or "outside any test"


def executions(kernels: list[dict]) -> dict[str, dict[str, int]]:
    """notebook -> configuration -> how many times it ran: the suite's runs exactly (their record
    folder names them), the rest by the folder the kernel ran in."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kernel in kernels:
        record = Path(kernel["record"])
        if "notebook-runs" in record.parts:
            at = record.parts.index("notebook-runs")
            configuration, kind, lesson, framework = record.parts[at + 1 : at + 5]
            found[f"{kind}/{lesson} {framework}"][configuration] += 1
        else:
            where = Path(kernel["cwd"])
            inside = where.is_relative_to(REPO)
            name = where.relative_to(REPO).as_posix() if inside else "a scratch folder (tiny)"
            found[f"{name} [{consumer_of(kernel)}]"][kernel["isa"] or "default"] += 1
    return {name: dict(counts) for name, counts in sorted(found.items())}


def consumer_seconds(junit: Path) -> dict[str, float]:
    """Seconds per test file (lesson notebooks per configuration), from pytest's JUnit report."""
    totals: dict[str, float] = defaultdict(float)
    for case in ElementTree.parse(junit).iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        if ".ipynb" in classname or ".ipynb" in name:
            kind = "notebooks" if classname.startswith("notebooks") else "solutions"
            configuration = "avx2-1thread" if "avx2-1thread" in classname + name else "default"
            key = f"{kind} ({configuration})"
        else:  # "tests.test_site" or "tests.test_site.TestClass": the module's file
            parts = classname.split(".")
            module = next((i for i, part in enumerate(parts) if part.startswith("test_")), None)
            key = "/".join(parts[: module + 1]) + ".py" if module is not None else classname
        totals[key] += float(case.get("time", 0) or 0)
    return {key: round(value, 1) for key, value in sorted(totals.items(), key=lambda kv: -kv[1])}


def print_report(report: dict) -> None:
    try:
        from tabulate import tabulate
    except ImportError:  # a fresh clone's first run, under a Python without the lock's packages
        print(
            f"\ntabulate is missing here: print the tables with .venv/bin/python {__file__} "
            "--report JSON (the run's figures are in the file --json named)"
        )
        return
    load = ", ".join(f"{x:.1f}" for x in report["load_average"])
    print(
        f"\n{report['command']}: exit {report['exit_status']}, {report['wall_seconds']} s wall on "
        f"{report['cpus']} CPUs (load average after: {load}); {report['kernels']} kernels started"
    )
    rows = list(report["kernels_by_consumer"].items())
    print("\n" + tabulate(rows, headers=["who started kernels", "kernels"]))
    configurations = sorted({c for counts in report["executions"].values() for c in counts})
    rows = [
        [name, *(counts.get(c, 0) for c in configurations)]
        for name, counts in report["executions"].items()
    ]
    print("\n" + tabulate(rows, headers=["executions of", *configurations]))
    rows = list(report["seconds_by_consumer"].items())
    print("\n" + tabulate(rows, headers=["consumer", "test seconds (all workers)"]))


if __name__ == "__main__":
    sys.exit(main())
