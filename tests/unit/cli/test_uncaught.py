"""An uncaught exception in the CLI (main thread or an asyncio task) goes through the redacting log sink."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

SECRET = "sk-live-uncaught-7731"

PLUGIN = """
import asyncio
import gc
from pathlib import Path

import attrs
import click

from fundarb_core import hookimpl
from fundarb_core.secrets import Secret


@attrs.frozen
class KeyedConfig:
    api_secret: Secret


async def _leak(secret):
    async def sign():
        raise RuntimeError(f"task could not sign with {secret}")

    task = asyncio.ensure_future(sign())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    del task  # never awaited: asyncio reports "Task exception was never retrieved" when it is collected
    gc.collect()


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
def boom(file):
    from fundarb_core.cli import get_plugins
    from fundarb_core.config import load_config

    secret = load_config(file, get_plugins()).venues["main"].config.api_secret.reveal()
    asyncio.run(_leak(secret))
    raise RuntimeError(f"could not sign with {secret}")


@hookimpl
def fundarb_register_venues(register):
    register("keyed", KeyedConfig, lambda *args: None)


@hookimpl
def fundarb_register_commands(cli):
    cli.add_command(boom)
"""


@pytest.mark.parametrize("log_json", [False, True])
def test_an_uncaught_exception_is_logged_with_the_secret_masked(fundarb, site, tmp_path, log_json: bool) -> None:
    site.add("fundarb-boom", modules={"boom_mod": PLUGIN}, entry_points={"boom": "boom_mod"})
    path = tmp_path / "keyed.toml"
    path.write_text('[venues.main]\nkind = "keyed"\napi_secret = "env:BOOM_SECRET"\n')
    env = {"FUNDARB_LOAD_PLUGINS": "fundarb-boom", "BOOM_SECRET": SECRET}

    run = fundarb(*(["--log-json"] if log_json else []), "boom", str(path), path=site.root, env=env)

    assert run.returncode == 1
    assert SECRET not in run.stdout + run.stderr
    if log_json:
        records = [json.loads(line)["record"] for line in run.stderr.splitlines()]
        assert {r["level"]["name"] for r in records} == {"ERROR", "CRITICAL"}
        assert any(r["message"] == "uncaught exception" for r in records)
        assert "could not sign with ***" in json.dumps(records)
    else:
        assert "uncaught exception" in run.stderr
        assert "RuntimeError: could not sign with ***" in run.stderr
        assert "Task exception was never retrieved" in run.stderr
        assert "RuntimeError: task could not sign with ***" in run.stderr
