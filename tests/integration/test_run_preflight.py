"""`fundarb run` with a venue that refuses its key: exit 2, one line naming the venue, nothing sent, no secret shown.

The venue is a tiny plugin installed in a site directory: a sim venue whose authenticated reads answer
"authentication" (and echo the key, as a careless venue might), and which writes a file if an order ever reaches it.
"""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = pytest.mark.slow

KEY = "sk-live-wrong-key-5150"

PLUGIN = '''
import attrs
from pathlib import Path

from fundarb_core import hookimpl
from fundarb_core.errors import VenueRejected
from fundarb_core.secrets import Secret


@attrs.frozen
class KeyedConfig:
    api_key: Secret
    orders_file: str


class KeyedVenue:
    """A sim venue behind a key the venue refuses."""

    def __init__(self, inner, config):
        self.inner = inner
        self.config = config

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def fetch_balance(self):
        raise VenueRejected(
            f"API-key {self.config.api_key.reveal()} is invalid", venue="keyed", reason="authentication",
            status=401, code=-2015,
        )

    def _sent(self, what):
        with open(self.config.orders_file, "a") as out:
            out.write(what + "\\n")

    async def place_limit_order(self, *args, **kwargs):
        self._sent("limit")
        return await self.inner.place_limit_order(*args, **kwargs)

    async def place_market_order(self, *args, **kwargs):
        self._sent("market")
        return await self.inner.place_market_order(*args, **kwargs)

    async def set_leverage(self, *args, **kwargs):
        self._sent("leverage")
        return await self.inner.set_leverage(*args, **kwargs)


def build(name, config, context):
    from fundarb_core.venues.sim.config import SimVenueConfig
    from fundarb_core.venues.sim.plugin import build_sim_venue

    inner = build_sim_venue(name, SimVenueConfig(profile="aster-like", seed=7, persist=False), context)
    return KeyedVenue(inner, config)


@hookimpl
def fundarb_register_venues(register):
    register("keyed", KeyedConfig, build)
'''


def test_a_refused_key_exits_2_with_one_line_before_any_order(fundarb, site, tmp_path) -> None:
    site.add("fundarb-keyed-venue", modules={"keyed_venue": PLUGIN}, entry_points={"keyed": "keyed_venue"})
    orders = tmp_path / "orders.txt"
    data = tmp_path / "data"
    config = tmp_path / "live.toml"
    config.write_text(
        f"""
[bot]
data_dir = "{data}"

[venues.main]
kind = "keyed"
api_key = "env:KEYED_API_KEY"
orders_file = "{orders}"

[venues.lighter_sim]
kind = "sim"
profile = "lighter-like"
seed = 7
persist = false

[strategy]
min_net_apr = "0"
scan_interval = "1s"
monitor_interval = "1s"
"""
    )
    env = {"FUNDARB_LOAD_PLUGINS": "fundarb-keyed-venue,fundarb-close-maker-first", "KEYED_API_KEY": KEY}

    run = fundarb("run", "--config", str(config), "--duration", "5s", path=site.root, env=env)

    assert run.returncode == 2, run.stderr
    refusals = [line for line in run.stderr.splitlines() if "refused the credentials" in line]
    assert refusals == [
        "venues.main: the venue refused the credentials (API-key *** is invalid, code -2015); "
        "check the API key and secret"
    ]
    assert run.stderr.rstrip().endswith(refusals[0])  # the last thing said
    assert "Traceback" not in run.stderr
    assert KEY not in run.stdout + run.stderr
    assert not orders.exists(), orders.read_text()
    with sqlite3.connect(data / "fundarb.sqlite3") as db:
        assert db.execute("select count(*) from orders").fetchone() == (0,)
        assert db.execute("select count(*) from positions").fetchone() == (0,)
