"""`fundarb serve` from the command line: refused addresses, a real server answering, and a light `--help`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import tomli_w

from tests.conftest import Run
from tests.integration.api.conftest import config_data


def _config(tmp_path: Path, **serve: object) -> Path:
    data = config_data(tmp_path / "data", tokens=False)
    data["serve"] = serve
    path = tmp_path / "bot.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def test_a_public_address_without_an_operator_token_is_refused(fundarb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result: Run = fundarb("serve", "--config", str(_config(tmp_path)), "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "serve.host: refusing to listen on 0.0.0.0" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_one_readable_line(fundarb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result: Run = fundarb("serve", "--config", str(_config(tmp_path)), "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip() == f"cannot listen on 127.0.0.1:{port}: Address already in use"
    assert not (tmp_path / "data").exists()  # refused before the store was opened


def test_serve_answers_over_http_until_stopped(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNDARB_")}
    config = str(_config(tmp_path))
    command = [sys.executable, "-m", "fundarb_core.cli", "serve", "--config", config, "--port", str(port)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()  # printed once the socket listens
            assert f"http://127.0.0.1:{port}/" in banner
            assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).json() == {"status": "ok"}
            state = httpx.get(f"http://127.0.0.1:{port}/api/state", timeout=10).json()
            assert state["state"] == "stopped"  # no bot holds the store
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert process.returncode == 0


def test_help_does_not_import_the_web_stack() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from fundarb_core.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
        "assert 'serve' in r.output; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'uvicorn', 'starlette'})))"
    )
    done = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_run_serve_serves_while_the_bot_runs_and_stops_with_it(fundarb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result: Run = fundarb("run", "--config", str(_config(tmp_path)), "--duration", "1h", "--serve", "--port", "0")
    assert result.returncode == 0, result.stderr
    assert "serving the API and dashboard on http://127.0.0.1:" in result.stderr
    assert "API server stopped" in result.stderr
    assert "positions:" in result.stdout


def test_the_listening_socket_is_tcp_so_responses_are_not_delayed() -> None:
    from fundarb_core.app.api import bind

    # asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections of an IPPROTO_TCP socket: with proto 0,
    # every response waited ~40 ms for a delayed ACK.
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
