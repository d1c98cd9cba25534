"""The fake server runs alone: `python -m fundarb_venue_aster.testing.fake_server --host 127.0.0.1 --port 0`."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request


def test_the_fake_server_runs_as_a_module() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "fundarb_venue_aster.testing.fake_server", "--host", "127.0.0.1", "--port", "0",
         "--seed", "3", "--v1-key", "key-1:secret-1"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fake Aster listening on http://127.0.0.1:"), line
        url = line.split()[4]
        with urllib.request.urlopen(f"{url}/fapi/v3/exchangeInfo", timeout=5) as reply:
            info = json.load(reply)
        assert {s["symbol"] for s in info["symbols"]} >= {"BTCUSDT", "1000PEPEUSDT", "2ZUSDT"}
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
