#!/usr/bin/env python3
"""How long `fundarb --help` takes to start, as a new process each time: the median of N runs, in milliseconds.

    .venv/bin/python benchmarks/cli_startup.py [--runs 20] [-- FUNDARB_ARGS...]   # default: -- --help

Every run is a fresh interpreter, so the figure includes Python's start, the imports `fundarb --help` needs and the
discovery of installed plugins' commands (read from their `fundarb.commands` entry-point metadata; no plugin is
imported). Target: 150 ms (issue 19). tests/unit/cli/test_main.py guards the import set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def fundarb_command() -> list[str]:
    """The `fundarb` console script beside this interpreter, else `python -m fundarb_core.cli`."""
    script = Path(sys.executable).with_name("fundarb.exe" if os.name == "nt" else "fundarb")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "fundarb_core.cli"]


def measure(command: list[str], runs: int) -> list[float]:
    """Run `command` `runs` times (after one unmeasured warm-up run) and return each run's wall time in ms."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs (default 20)")
    parser.add_argument("args", nargs="*", default=["--help"], help="fundarb arguments (default --help)")
    options = parser.parse_args(argv)
    command = [*fundarb_command(), *options.args]
    times = measure(command, options.runs)
    label = " ".join(["fundarb", *options.args])
    print(
        f"{label}: median {statistics.median(times):.1f} ms "
        f"(min {min(times):.1f}, max {max(times):.1f}, {options.runs} runs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
