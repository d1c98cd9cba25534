"""Registration, config validation, and invariant 7: a secret never reaches a log line or an exception message."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from decimal import Decimal

import pytest
from fundarb_venue_aster import plugin
from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.venue import AsterVenue
from loguru import logger

from fundarb_core.clock import SimClock
from fundarb_core.config import parse_config
from fundarb_core.convert import get_converter
from fundarb_core.errors import ConfigError, VenueError
from fundarb_core.model import Side
from fundarb_core.plugins import Plugins
from fundarb_core.venues import REQUIRED_METHODS, VenueContext

from .conftest import SIGNER, SIGNER_KEY, USER, V1_KEY, V1_SECRET, v1_config, v3_config


def loaded() -> Plugins:
    manager = Plugins().load(entry_points=False)
    manager.register(plugin, name="aster", distribution="fundarb-venue-aster")
    return manager


def test_venue_kind_is_registered_and_builds_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASTER_TEST_KEY", SIGNER_KEY)
    manager = loaded()
    registration = manager.registry.get("venues", plugin.KIND)
    assert registration.config_cls is AsterConfig
    section = {"kind": "aster", "user": USER, "signer": SIGNER, "private_key": "env:ASTER_TEST_KEY",
               "base_url": "http://127.0.0.1:9"}  # fmt: skip
    config = parse_config({"venues": {"main": section}}, manager).venues["main"].config
    venue = registration.factory("main", config, VenueContext(clock=SimClock()))
    assert venue.name == "main"
    for method in REQUIRED_METHODS:
        assert inspect.iscoroutinefunction(getattr(venue, method)), method
    shown = str(get_converter().unstructure(config))
    assert SIGNER_KEY not in shown
    assert SIGNER_KEY[2:] not in shown


def test_sections_are_validated_with_key_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASTER_MISSING", raising=False)
    with pytest.raises(ConfigError) as info:
        parse_config({"venues": {"a": {"kind": "aster", "user": "0x12", "signer": SIGNER,
                                       "private_key": "env:ASTER_MISSING"}}}, loaded())  # fmt: skip
    assert info.value.problems == (
        "venues.a.user: expected a 0x-prefixed 20-byte hex address, found '0x12'",
        "venues.a.private_key: environment variable ASTER_MISSING is not set",
    )
    with pytest.raises(ConfigError) as missing:
        parse_config({"venues": {"a": {"kind": "aster", "auth": "v1", "api_key": "k-123456"}}}, loaded())
    assert missing.value.problems == ("venues.a: auth = 'v1' needs api_secret",)


async def test_no_secret_in_logs_or_exception_messages(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    lines: list[str] = []
    logger.enable("fundarb_venue_aster")
    sink = logger.add(lambda message: lines.append(str(message) + repr(message.record["extra"])), level="DEBUG")
    errors: list[str] = []
    try:
        for config in (v3_config(fake), v1_config(fake)):
            venue = make_venue(config)
            stream = venue.order_updates()
            bbo = await venue.fetch_bbo_prices("BTC")
            await venue.place_limit_order(
                "BTC", Side.BUY, Decimal("0.002"), bbo.bid - 100, client_order_id=f"s-{config.auth}"
            )
            fake.faults.clock_skew_ms = 40_000  # clock refusals and a resync are logged
            await venue.fetch_balance()
            fake.faults.clock_skew_ms = 0
            for status, code in ((400, -1022), (503, None), (429, -1003), (418, -1003)):
                fake.faults.inject(status, code, "refused", headers={"Retry-After": "0"})
                try:
                    await venue.place_limit_order(
                        "BTC", Side.BUY, Decimal("0.002"), bbo.bid - 100, client_order_id=f"e-{config.auth}-{status}"
                    )
                except VenueError as exc:
                    errors.append(f"{exc!r} {exc}")
            await fake.drop_streams()
            await stream.aclose()  # type: ignore[attr-defined]
            errors.append(repr(config))
            await venue.close()
        async with FakeAsterServer() as closed:
            url = closed.url
        try:
            await make_venue(v1_config(fake, base_url=url)).fetch_balance()
        except VenueError as exc:
            errors.append(str(exc))
    finally:
        logger.remove(sink)
        logger.disable("fundarb_venue_aster")
    assert lines, "nothing was logged: the test would prove nothing"
    assert any("ALERT" in line for line in lines), "the 418 alert was not logged"
    text = "\n".join(lines + errors)
    for secret in (SIGNER_KEY, SIGNER_KEY[2:], V1_SECRET, V1_KEY):
        assert secret not in text
