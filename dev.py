#!/usr/bin/env python3
"""The one setup path: a project-local virtual environment with the core and every in-repo plugin, editable.

    python3 dev.py paper      # set up if needed, then a 3-day paper run on simulated venues (SQLite in var/paper)
    python3 dev.py test       # set up if needed, then ruff, mypy, the import contracts and the whole test suite
    python3 dev.py bench      # set up if needed, then every benchmark, printing figures
    python3 dev.py backtest   # set up if needed, import the demo data (once), backtest it (var/demo)
    python3 dev.py setup      # only set up (re-run automatically when a pyproject.toml changes)
    python3 dev.py fundarb …  # run the fundarb command inside the environment

Needs nothing but Python >= 3.11 and git. Every dependency comes from PyPI through pip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".fundarb-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def _distributions() -> list[Path]:
    """The core and every in-repo plugin directory (each has its own pyproject.toml)."""
    dirs = [ROOT]
    for parent in ("plugins", "venue_plugins"):
        base = ROOT / parent
        if base.is_dir():
            dirs += sorted(p for p in base.iterdir() if (p / "pyproject.toml").is_file() and not p.name.startswith("_"))
    return dirs


def _fingerprint() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for path in [ROOT / "dev.py", *(d / "pyproject.toml" for d in _distributions())]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(*args: str | Path, check: bool = True, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=check, env=env).returncode


def setup() -> None:
    """Create .venv and install everything editable with test extras, unless already done for these files."""
    # dev.py runs under whatever python3 the machine has, which may be older than the project's minimum.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"fundarb needs Python >= 3.11; this is {sys.version.split()[0]}")
    fingerprint = _fingerprint()
    if STAMP.is_file() and STAMP.read_text() == fingerprint and PY.exists():
        return
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    _run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip")
    specs: list[str] = []
    for d in _distributions():
        specs += ["-e", f"{d}[test]"]
    _run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *specs)
    STAMP.write_text(fingerprint)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    if env.get("CI"):
        env.setdefault("HYPOTHESIS_PROFILE", "ci")
    return env


def test(extra: list[str]) -> int:
    env = _env()
    steps = [
        [PY, "-m", "ruff", "check", "."],
        [PY, "-m", "ruff", "format", "--check", "."],
        [PY, "-m", "mypy"],
        # The import contracts of pyproject.toml (layers, no plugin in the core, no private core module in a plugin).
        [BIN / "lint-imports"],
    ]
    for step in steps:
        if _run(*step, check=False, env=env) != 0:
            print(f"FAILED: {' '.join(str(s) for s in step)}", file=sys.stderr)
            return 1
    # pytest's exit code 5 (no tests collected) is a failure here like any other non-zero code.
    # One worker per core (pytest-xdist): the crash-recovery property test alone takes a core for ~2 minutes.
    return _run(PY, "-m", "pytest", "-n", "auto", *extra, check=False, env=env)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command in ("help", "-h", "--help"):
        print(__doc__)
        return 0
    setup()
    env = _env()
    if command == "setup":
        return 0
    if command == "test":
        return test(rest)
    if command == "paper":
        # The main job on its embedded default: the starter config (two simulated venues, SQLite in var/paper),
        # three simulated days as fast as the machine allows; a summary and a chart at the end.
        config = ROOT / "var" / "paper" / "fundarb.toml"
        if not config.exists():
            _run(BIN / "fundarb", "init", config, "--data-dir", config.parent, env=env)
        args = rest or ["--duration", "3d"]
        return _run(BIN / "fundarb", "run", "--config", config, *args, check=False, env=env)
    if command == "backtest":
        # The starter strategy over the shipped real funding and price history (lighter, hyperliquid, binance,
        # bybit), from the day lighter's data starts to the end of the data set. Imported once into var/demo.
        demo = ROOT / "fundarb_core" / "data" / "demo"
        data_dir = ROOT / "var" / "demo"
        if not (data_dir / "history.duckdb").exists():
            files = [demo / "funding_rates.csv.gz", demo / "candles_1h.csv.gz"]
            if _run(BIN / "fundarb", "data", "import", "--data-dir", data_dir, *files, check=False, env=env):
                return 1
        args = rest or ["--from", "2025-10-10", "--to", "2025-12-31"]
        return _run(BIN / "fundarb", "backtest", "--config", demo / "demo.toml", "--data-dir", data_dir,
                    "--out", data_dir / "backtest", *args, check=False, env=env)  # fmt: skip
    if command == "bench":
        return _run(PY, ROOT / "benchmarks" / "run.py", *rest, check=False, env=env)
    if command == "fundarb":
        return _run(BIN / "fundarb", *rest, check=False, env=env)
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
