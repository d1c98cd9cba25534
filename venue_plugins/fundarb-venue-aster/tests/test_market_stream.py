"""The market streams (`<s>@bookTicker`, `<s>@markPrice@1s`) against the fake server's `/stream`: BBO and funding
rates come from them while current, from REST otherwise; reconnects resubscribe; Aster's limits are kept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.market_stream import ALL_MARKS, MAX_STREAMS, MarketStream
from fundarb_venue_aster.testing import FakeAsterServer
from fundarb_venue_aster.venue import AsterVenue
from hypothesis import given, settings
from hypothesis import strategies as st

from fundarb_core.clock import SimClock
from fundarb_core.secrets import Secret

from .conftest import v3_config

WAIT = 5.0  # seconds a condition may take before the test fails (they take milliseconds)


async def until(venue: AsterVenue, condition: Callable[[], object]) -> None:
    """Wait (at most WAIT seconds) until `condition` holds, re-checking whenever the market stream changes."""
    changed = venue.market_stream.changed

    async def watch() -> None:
        while not condition():
            changed.clear()
            await changed.wait()

    await asyncio.wait_for(watch(), WAIT)


def rest_calls(fake: FakeAsterServer, endpoint: str) -> int:
    return sum(1 for _, path in fake.requests if path.endswith("/" + endpoint))


async def test_bbo_comes_from_the_book_ticker_stream_once_subscribed(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v3_config(fake, market_streams=True))
    first = await venue.fetch_bbo_prices("BTC")  # REST, and subscribes
    assert rest_calls(fake, "ticker/bookTicker") == 1
    await until(venue, lambda: venue.market_stream.book("BTCUSDT") is not None)
    streamed = await venue.fetch_bbo_prices("BTC")
    assert (streamed.bid, streamed.ask) == (first.bid, first.ask)

    market = fake.exchange.market("BTCUSDT")
    fake.exchange.set_mark("BTCUSDT", market.mark + 100)
    fake.market.push_books()
    await until(venue, lambda: (b := venue.market_stream.book("BTCUSDT")) is not None and b.b == market.best_bid)
    moved = await venue.fetch_bbo_prices("BTC")
    assert (moved.bid, moved.ask) == (market.best_bid, market.best_ask)
    assert rest_calls(fake, "ticker/bookTicker") == 1  # both answers came from the stream
    assert fake.market.opened == [["btcusdt@bookTicker", "btcusdt@markPrice@1s"]]


async def test_funding_rates_come_from_the_mark_price_stream(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v3_config(fake, market_streams=True))
    await venue.fetch_funding_rates()  # REST: subscribes !markPrice@arr@1s
    assert rest_calls(fake, "premiumIndex") == 1
    await until(venue, lambda: venue.market_stream.connected.is_set())
    market = fake.exchange.market("ETHUSDT")
    market.funding_rate = Decimal("0.00077")
    fake.market.push_marks()
    await until(venue, lambda: (m := venue.market_stream.mark("ETHUSDT")) is not None and m.r == Decimal("0.00077"))
    rates = await venue.fetch_funding_rates()
    assert rates["ETH"].rate == Decimal("0.00077")
    assert rates["ETH"].mark_price == market.mark
    assert set(rates) == set(await venue.load_instruments())
    assert rest_calls(fake, "premiumIndex") == 1
    assert ALL_MARKS in fake.market.opened[0]


async def test_silent_stream_falls_back_to_rest(fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]) -> None:
    venue = make_venue(v3_config(fake, market_streams=True, market_stream_max_age=timedelta(seconds=30)))
    await venue.fetch_funding_rates(["BTC"])
    await until(venue, lambda: venue.market_stream.connected.is_set())
    fake.market.push_marks()
    await until(venue, lambda: venue.market_stream.mark("BTCUSDT") is not None)
    await venue.fetch_funding_rates(["BTC"])
    assert rest_calls(fake, "premiumIndex") == 1
    venue.market_stream.last_message -= 31  # the connection went silent for longer than the bound
    await venue.fetch_funding_rates(["BTC"])
    assert rest_calls(fake, "premiumIndex") == 2


async def test_reconnect_resubscribes_every_stream_and_stale_values_are_not_served(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v3_config(fake, market_streams=True))
    await venue.fetch_bbo_prices("BTC")
    await until(venue, lambda: venue.market_stream.book("BTCUSDT") is not None)
    await venue.fetch_bbo_prices("ETH")  # subscribed live, on the open connection
    await until(venue, lambda: venue.market_stream.book("ETHUSDT") is not None)
    assert fake.market.subscribed == [["ethusdt@bookTicker", "ethusdt@markPrice@1s"]]

    fake.market.pause = True  # nothing new arrives on the next connection until resumed
    await fake.market.drop()
    await until(venue, lambda: venue.market_stream.connects == 2)
    assert venue.market_stream.book("BTCUSDT") is None  # brought by the old connection: not vouched for
    await venue.fetch_bbo_prices("BTC")
    assert rest_calls(fake, "ticker/bookTicker") == 3
    assert sorted(fake.market.opened[-1]) == sorted(
        ["btcusdt@bookTicker", "btcusdt@markPrice@1s", "ethusdt@bookTicker", "ethusdt@markPrice@1s"]
    )
    fake.market.pause = False
    fake.market.push_books(force=True)
    await until(venue, lambda: venue.market_stream.book("ETHUSDT") is not None)


async def test_connection_is_renewed_before_asters_24_hour_limit(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    # The lifetime is scaled down from 23.5 h to 50 ms; the renewal must not need the server to close anything.
    venue = make_venue(v3_config(fake, market_streams=True, market_stream_lifetime=timedelta(milliseconds=50)))
    await venue.fetch_bbo_prices("BTC")
    await until(venue, lambda: venue.market_stream.connects >= 2)
    assert fake.market.opened[1] == fake.market.opened[0]


async def test_unreadable_events_are_skipped_and_the_stream_carries_on(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v3_config(fake, market_streams=True))
    await venue.fetch_bbo_prices("BTC")
    await until(venue, lambda: venue.market_stream.book("BTCUSDT") is not None)
    fake.market.push_raw("{not json")
    fake.market.push_raw('{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","s":"BTCUSDT","b":"2","B":"1",'
                         '"a":"1","A":"1"}}')  # fmt: skip
    fake.market.push_raw('{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","s":"BTCUSDT","b":"NaN"}}')
    await until(venue, lambda: venue.market_stream.skipped == 3)
    book = venue.market_stream.book("BTCUSDT")
    assert book is not None
    assert book.b < book.a  # the crossed book was not taken
    assert venue.market_stream.connects == 1


async def test_streams_past_asters_limit_stay_on_rest(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v3_config(fake, market_streams=True))
    names = [f"s{i}usdt@bookTicker" for i in range(MAX_STREAMS + 5)]
    venue.market_stream.want(*names)
    assert len(venue.market_stream.streams) == MAX_STREAMS
    assert venue.market_stream.refused == set(names[MAX_STREAMS:])
    await venue.market_stream.stop()


async def test_switched_off_streams_mean_rest_only(
    fake: FakeAsterServer, make_venue: Callable[..., AsterVenue]
) -> None:
    venue = make_venue(v3_config(fake, market_streams=False))
    assert (venue.capabilities.bbo_stream, venue.capabilities.mark_stream) == (False, False)
    await venue.fetch_bbo_prices("BTC")
    await venue.fetch_bbo_prices("BTC")
    assert rest_calls(fake, "ticker/bookTicker") == 2
    assert not venue.market_stream.running
    assert fake.market.opened == []


_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "1", "-1", "0", "NaN", "1e400", "25.35", "25.36", "BTCUSDT", "[]", "{}"]),
    st.builds(list), st.builds(dict),
)  # fmt: skip
_fields = st.fixed_dictionaries(
    {"e": st.sampled_from(["bookTicker", "markPriceUpdate", "other"]), "s": st.sampled_from(["BTCUSDT", 1, None])},
    optional={k: _values for k in ("b", "B", "a", "A", "u", "E", "T", "p", "i", "r")},
)


@given(event=_fields, wrap=st.booleans())
@settings(max_examples=30, deadline=None)  # ~20 ms an example (drawing them); 30 keep it under 1 s
def test_any_market_frame_is_a_sane_value_or_skipped(event: dict[str, object], wrap: bool) -> None:
    """Invariant 8 for the market stream: whatever a frame holds, nothing escapes and nothing absurd is cached."""
    stream = MarketStream("aster", AsterConfig(auth="v1", api_key=Secret("k"), api_secret=Secret("s")),
                          lambda: None, SimClock())  # type: ignore[arg-type,return-value]  # fmt: skip
    frame = {"stream": "x", "data": [event] if wrap else event}
    stream._on_text(json.dumps(frame, default=str))
    for book, _ in stream.books.values():
        assert 0 < book.b < book.a
        assert book.B >= 0
        assert book.A >= 0
    for mark, _, _ in stream.marks.values():
        assert mark.p > 0
        assert mark.i > 0
        assert abs(mark.r) < 1
    assert len(stream.books) + len(stream.marks) + stream.skipped >= 1
