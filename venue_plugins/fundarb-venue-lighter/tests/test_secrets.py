"""The API private key never reaches a log line, an exception message or the config output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from fundarb_venue_lighter.signer import Signer
from fundarb_venue_lighter.testing import FakeLighter
from fundarb_venue_lighter.venue import LighterVenue
from loguru import logger

from fundarb_core.convert import make_converter
from fundarb_core.errors import VenueError
from fundarb_core.model import Side
from fundarb_core.secrets import MASK, Secret

from .conftest import api_key, make_config


@pytest.fixture
def captured() -> Iterator[list[str]]:
    lines: list[str] = []
    logger.enable("fundarb_venue_lighter")
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{message} {extra}")
    yield lines
    logger.remove(sink)
    logger.disable("fundarb_venue_lighter")


async def test_the_key_is_in_no_log_line_or_error(
    fake: FakeLighter, make_venue: Callable[..., LighterVenue], captured: list[str]
) -> None:
    private = api_key()[0]
    venue = make_venue()
    errors: list[BaseException] = []
    await venue.place_market_order("BTC", Side.BUY, Decimal("0.001"), worst_price=Decimal(61000), client_order_id="s1")
    fake.faults.drop_reply_next = 1
    fake.faults.rate_limit_next = 0
    for call in (
        venue.place_market_order("BTC", Side.BUY, Decimal("0.001"), worst_price=Decimal(61000), client_order_id="s2"),
        venue.place_market_order("BTC", Side.BUY, Decimal("0.001"), worst_price=Decimal(61000), client_order_id="s1"),
        venue.place_limit_order("BTC", Side.BUY, Decimal("100"), Decimal("59000.0"), client_order_id="s3"),
    ):
        try:
            await call
        except VenueError as error:
            errors.append(error)
    assert len(errors) == 3
    assert captured, "the venue logs what it sends"
    text = "\n".join(captured) + "\n".join(f"{e!s} {e!r}" for e in errors) + repr(venue) + repr(venue.config)
    assert private not in text
    assert private.removeprefix("0x") not in text
    assert (await venue.auth_token()) not in "\n".join(captured)


async def test_a_refused_key_does_not_quote_the_key(fake: FakeLighter) -> None:
    bad = "0x" + "zz" * 40  # not hex: the Go signer refuses it, quoting what it was given
    with pytest.raises(VenueError) as info:
        await Signer.open(fake.url, 7, 3, Secret(bad), 304, venue="t")
    assert bad not in str(info.value)
    assert bad[2:] not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or bad[2:] not in str(info.value.__context__)


def test_config_output_masks_the_key(fake: FakeLighter) -> None:
    config = make_config(fake)
    shown = make_converter().unstructure(config)
    assert shown["api_private_key"] == MASK
    assert api_key()[0] not in repr(config)
