"""`python -m fundarb_core.cli`: the `fundarb` command, for environments without the console script."""

from __future__ import annotations

from fundarb_core.cli import run

if __name__ == "__main__":
    run()
