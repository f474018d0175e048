"""How long ``import diptych`` and the modules a lesson imports first take, in a fresh process.

Run: ``.venv/bin/python benchmarks/import_time.py [ROUNDS]``. Prints the median and range over
ROUNDS fresh interpreters (default 7), each measured with ``-X importtime``'s own clock so
interpreter start-up is not counted. A benchmark, not a test: timings depend on the machine's load.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

MODULES = "diptych,diptych.data,diptych.initial,diptych.parity,diptych.plot,diptych.reference"


def one_round() -> float:
    """Seconds spent importing MODULES (and what they import) in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {MODULES}"],
        capture_output=True,
        text=True,
        check=True,
    )
    # each line: "import time: self [us] | cumulative | name"; top-level imports have no indent
    total = 0
    for line in result.stderr.splitlines():
        fields = line.split("|")
        top_level = len(fields) == 3 and fields[2].startswith(" ") and fields[2][1:2] != " "
        if top_level and fields[1].strip().isdigit():
            total += int(fields[1])
    return total / 1e6


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    times = sorted(one_round() for _ in range(rounds))
    print(
        f"import {MODULES}: median {statistics.median(times) * 1000:.0f} ms "
        f"(min {times[0] * 1000:.0f}, max {times[-1] * 1000:.0f}, {rounds} fresh processes)"
    )


if __name__ == "__main__":
    main()
