"""Credentials: a malformed key is a config error, a wrong key an authentication refusal; neither quotes the key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fundarb_venue_lighter import plugin
from fundarb_venue_lighter.signer import import_lighter
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue

from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError, VenueRejected
from fundarb_core.model import RejectReason
from fundarb_core.plugins import Plugins
from fundarb_core.secrets import Secret


def loaded() -> Plugins:
    manager = Plugins().load(entry_points=False)
    manager.register(plugin, name="lighter", distribution="fundarb-venue-lighter")
    return manager


@pytest.mark.parametrize("key", ["0x1234", "0x" + "g" * 80, "not a key at all", "0x" + "ab" * 41])
def test_a_malformed_key_is_one_config_line_naming_the_key_path(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("LIGHTER_KEY", key)
    section = {"kind": "lighter", "account_index": 5, "api_key_index": 3, "api_private_key": "env:LIGHTER_KEY"}
    with pytest.raises(ConfigError) as info:
        parse_config({"venues": {"lighter_main": section}}, loaded())
    assert len(info.value.problems) == 1
    line = info.value.problems[0]
    assert line.startswith("venues.lighter_main.api_private_key: must be the API key's private key")
    assert key not in line
    assert key.removeprefix("0x") not in line


async def test_the_right_key_passes_the_start_up_check(venue: LighterVenue) -> None:
    balance = await venue.fetch_balance()
    assert balance.asset == "USDC"  # Lighter's collateral (Aster's is USDT: a different asset)
    assert venue._credentials_checked


async def test_a_wrong_key_is_an_authentication_refusal_naming_the_venue(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue]
) -> None:
    private, _public, error = import_lighter().create_api_key()
    assert error is None
    venue = make_venue("lighter_main", api_private_key=Secret(private))
    with pytest.raises(VenueRejected) as info:
        await venue.fetch_balance()
    assert info.value.reason is RejectReason.AUTHENTICATION
    text = str(info.value)
    assert text.startswith("[lighter_main]")
    assert private not in text
    assert private.removeprefix("0x") not in text
    assert fake.sent_txs == []
