"""How far the curriculum's run time is above its floor: ``diptych run`` over a mirror curriculum
whose notebooks only start a kernel, import their framework and call ``setup``, then over the
real curriculum, in one call; prints both, per notebook and in all, and the ratio.

Run: ``.venv/bin/python benchmarks/floor.py [--rounds N] [LESSON ...] [-- DIPTYCH-RUN-OPTIONS]``,
e.g. ``benchmarks/floor.py 04 05 06`` or ``benchmarks/floor.py -- --jobs 1``. Each round runs
the floor, then the real lessons; with several rounds the medians are printed. The floor is what
no lesson can avoid (a kernel, the framework's import, seeding); the ratio is the price of what
the lessons teach. A benchmark, not a test: timings depend on the machine and its load, so the
load average is printed with them. Nothing in the real curriculum is written.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from diptych import frameworks
from diptych.command import registry

#: the curriculum measured: $DIPTYCH_ROOT if set (another checkout, say), else this one
REPO = Path(os.environ.get("DIPTYCH_ROOT") or Path(__file__).resolve().parents[1])


def floor_cells(framework: frameworks.Framework) -> list[str]:
    """The unavoidable start of every lesson: the adapter (which, for TensorFlow, sets its
    environment before importing it), the framework itself, and the visible setup call."""
    return [
        f"from {framework.adapter} import setup\n\nimport {framework.module}",
        "print(setup(seed=0))",
    ]


def write_mirror(lessons: list[registry.Lesson], folder: Path) -> None:
    """A curriculum under ``folder`` with the same lessons and file names, floor cells only."""
    for lesson in lessons:
        for key, source in lesson.notebooks.items():
            cells = [new_markdown_cell(f"# floor of {lesson.name} ({key})")]
            cells += [new_code_cell(code) for code in floor_cells(frameworks.BY_KEY[key])]
            notebook = new_notebook(cells=cells)
            notebook.metadata["kernelspec"] = {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
            path = folder / "notebooks" / lesson.name / source.name
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, path)


def run(root: Path, lessons: list[str], options: list[str], scratch: Path) -> dict:
    """``diptych run`` over the curriculum at ``root``: wall seconds and seconds per notebook."""
    report = scratch / "run.json"
    command = [sys.executable, "-m", "diptych.command.cli", "run", *lessons]
    command += ["--no-progress", "--json", str(report), *options]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    finished = subprocess.run(
        command,
        env={**os.environ, registry.ROOT_ENV: str(root)},
        cwd=scratch,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if finished.returncode != 0:
        sys.exit(f"diptych run failed under {root}:\n{finished.stdout[-2000:]}{finished.stderr}")
    document = json.loads(report.read_text())
    notebooks = {
        f"{entry['lesson']} {framework}": run["seconds"]
        for entry in document["lessons"]
        for framework, run in entry["notebooks"].items()
    }
    return {"wall": wall, "cpu": cpu, "notebooks": notebooks}


def _children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process and their own children, the
    kernels included: less sensitive to what else runs than the wall clock (nan off POSIX)."""
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    """The 1-, 5- and 15-minute load averages (what else ran meanwhile), where the OS has them."""
    if not hasattr(os, "getloadavg"):  # Windows
        return "unknown"
    return " ".join(f"{average:.2f}" for average in os.getloadavg())


def median_of(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lessons to run (default: all)")
    parser.add_argument("--rounds", type=int, default=1, help="floor + real pairs (default 1)")
    argv = sys.argv[1:]  # after "--": options passed to both runs of diptych run
    options = argv[argv.index("--") + 1 :] if "--" in argv else []
    arguments = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)

    chosen = [lesson for lesson in registry.lessons(REPO) if _wanted(lesson, arguments.lessons)]
    if not chosen:
        sys.exit(f"no lesson matches {arguments.lessons}")
    names = [lesson.name for lesson in chosen]
    print(
        f"{len(names)} lessons, {sum(len(les.notebooks) for les in chosen)} notebooks, "
        f"{os.cpu_count()} CPUs; load average before: {load()}"
    )
    floors, reals = [], []
    with tempfile.TemporaryDirectory(prefix="diptych-floor-") as folder:
        scratch = Path(folder)
        write_mirror(chosen, scratch / "mirror")
        for _ in range(arguments.rounds):
            floors.append(run(scratch / "mirror", names, options, scratch))
            reals.append(run(REPO, names, options, scratch))
    print(f"load average after: {load()}\n")
    print(f"{'notebook':<32} {'floor s':>8} {'real s':>8} {'above':>8}")
    for name in reals[0]["notebooks"]:
        floor = statistics.median(f["notebooks"][name] for f in floors)
        real = statistics.median(r["notebooks"][name] for r in reals)
        print(f"{name:<32} {floor:8.1f} {real:8.1f} {real - floor:8.1f}")
    floor_wall, real_wall = median_of(floors, "wall"), median_of(reals, "wall")
    floor_cpu, real_cpu = median_of(floors, "cpu"), median_of(reals, "cpu")
    print(
        f"\ndiptych run, wall clock: floor {floor_wall:.1f} s, real {real_wall:.1f} s "
        f"(median of {arguments.rounds}); ratio {real_wall / floor_wall:.2f}x"
    )
    print(
        f"CPU time, the kernels included: floor {floor_cpu:.1f} s, real {real_cpu:.1f} s; "
        f"ratio {real_cpu / floor_cpu:.2f}x (on a busy machine, closer to the quiet wall ratio)"
    )


def _wanted(lesson: registry.Lesson, asked: list[str]) -> bool:
    return not asked or any(a in (lesson.name, lesson.number, lesson.slug) for a in asked)


if __name__ == "__main__":
    main()
