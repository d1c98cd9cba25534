"""Run every benchmark in this folder (each module's `main()`), printing its figures. `--quick` for fewer reps."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    only = [a for a in argv if not a.startswith("-")]
    for path in sorted(HERE.glob("*.py")):
        if path.name == "run.py" or (only and path.stem not in only):
            continue
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        entry = getattr(module, "main", None)
        if entry is None:
            continue
        print(f"== {path.stem}", flush=True)
        started = time.perf_counter()
        sys.argv = [str(path)]  # benchmarks with their own argument parsing get none of ours
        if "quick" in inspect.signature(entry).parameters:
            entry(quick=quick)
        else:
            entry()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
