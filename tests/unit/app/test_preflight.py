"""Start-up checks: a refused key stops the start with one line naming the venue; an unreachable venue only warns."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest

from fundarb_core.app.preflight import check_venues
from fundarb_core.clock import EPOCH, SimClock
from fundarb_core.errors import ConfigError, VenueRejected, VenueUnavailable
from fundarb_core.model import RejectReason
from fundarb_core.secrets import Secret
from fundarb_core.venues import Balance


class FakeVenue:
    """Answers `fetch_balance` with `balance_error` raised (or a balance), and counts every call."""

    def __init__(self, balance_error: Exception | None = None, account_error: Exception | None = None) -> None:
        self.balance_error = balance_error
        self.account_error = account_error
        self.calls: list[str] = []

    async def fetch_balance(self) -> Balance:
        self.calls.append("fetch_balance")
        if self.balance_error is not None:
            raise self.balance_error
        return Balance("USD", Decimal(100), Decimal(100), Decimal(0), Decimal(0), EPOCH)


class CheckedVenue(FakeVenue):
    async def check_account(self) -> None:
        self.calls.append("check_account")
        if self.account_error is not None:
            raise self.account_error


def refused(message: str = "invalid API-key, IP, or permissions for action") -> VenueRejected:
    return VenueRejected(message, venue="x", reason=RejectReason.AUTHENTICATION, status=401, code=-2015)


async def test_good_venues_pass_and_check_their_account() -> None:
    plain, checked = FakeVenue(), CheckedVenue()
    await check_venues({"a": plain, "b": checked})
    assert plain.calls == ["fetch_balance"]
    assert checked.calls == ["fetch_balance", "check_account"]


async def test_a_refused_key_is_one_line_naming_the_venue() -> None:
    good, bad = FakeVenue(), CheckedVenue(refused())
    with pytest.raises(ConfigError) as info:
        await check_venues({"good": good, "main": bad})
    assert info.value.problems == (
        "venues.main: the venue refused the credentials (invalid API-key, IP, or permissions for action, "
        "code -2015); check the API key and secret",
    )
    assert bad.calls == ["fetch_balance"]  # with a refused key the account is not asked about


async def test_every_refused_venue_is_reported() -> None:
    with pytest.raises(ConfigError) as info:
        await check_venues({"a": FakeVenue(refused()), "b": FakeVenue(refused())})
    assert [line.split(":")[0] for line in info.value.problems] == ["venues.a", "venues.b"]


async def test_a_secret_echoed_by_the_venue_is_masked() -> None:
    key = Secret("sk-preflight-echoed-4242")
    with pytest.raises(ConfigError) as info:
        await check_venues({"main": FakeVenue(refused(f"bad key {key.reveal()}"))})
    (line,) = info.value.problems
    assert key.reveal() not in line
    assert "bad key ***" in line


async def test_an_account_config_error_is_refused_with_the_venue_path() -> None:
    venue = CheckedVenue(account_error=ConfigError(["position mode is hedge; switch to one-way"]))
    with pytest.raises(ConfigError) as info:
        await check_venues({"aster": venue})
    assert info.value.problems == ("venues.aster: position mode is hedge; switch to one-way",)


async def test_an_unreachable_venue_only_warns(log_output: io.StringIO) -> None:
    venue = CheckedVenue(VenueUnavailable("timeout", venue="x"), VenueUnavailable("503", venue="x", status=503))
    await check_venues({"flaky": venue})
    text = log_output.getvalue()
    assert "cannot be reached now" in text
    assert "account could not be checked now" in text
    assert "venue=flaky" in text


async def test_a_rejection_other_than_authentication_only_warns(log_output: io.StringIO) -> None:
    error = VenueRejected("margin", venue="x", reason=RejectReason.INSUFFICIENT_MARGIN)
    await check_venues({"a": FakeVenue(error)})
    assert "balance read was refused" in log_output.getvalue()


async def test_the_sim_venue_passes(tmp_path: Any) -> None:
    from fundarb_core.app.bot import build_venues
    from fundarb_core.config import parse_config
    from fundarb_core.plugins import Plugins
    from fundarb_core.venues import VenueContext

    clock = SimClock(EPOCH)
    plugins = Plugins().load(entry_points=False)
    config = parse_config({"venues": {"a": {"kind": "sim"}, "b": {"kind": "sim", "profile": "lighter-like"}}}, plugins)
    venues = build_venues(config, plugins, VenueContext(clock, data_dir=tmp_path))
    await clock.run(check_venues(venues))
    assert all(v.calls.get("query") == 1 for v in venues.values())
