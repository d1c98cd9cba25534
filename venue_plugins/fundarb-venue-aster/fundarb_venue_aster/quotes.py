"""Market data: funding rates and marks (`premiumIndex`), best bid and ask (`ticker/bookTicker`), books (`depth`).

`streamed_bbo` and `streamed_rates` give the same values from the market streams (`market_stream`) while those are
current, and None otherwise (the caller then asks REST).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fundarb_core.errors import VenueUnavailable
from fundarb_core.venues import BBO, BookLevel, FundingRate, OrderBook
from fundarb_venue_aster.markets import Market
from fundarb_venue_aster.records import BookTicker, Depth, PremiumIndex, read, read_rows_lenient
from fundarb_venue_aster.wire import time_from_ms

# The venue is passed in (these are parts of `AsterVenue` kept in their own module); typed as Any so that this
# module does not import venue.py back (no import cycle, not even for type checking).
AsterVenue = Any

__all__ = ["DEPTH_LIMITS", "bbo", "funding_rates", "order_book", "same_symbol", "streamed_bbo", "streamed_rates"]

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


async def funding_rates(venue: AsterVenue, symbols: Sequence[str] | None = None) -> Mapping[str, FundingRate]:
    """Return each symbol's current rate per its own interval (`premiumIndex`), with next time and mark."""
    await venue._ensure_markets()
    if symbols is not None and len(symbols) == 1:
        market = await venue._market(symbols[0])
        params = {"symbol": market.units.market}
        entries = [await venue.rest.call("GET", "premiumIndex", params, weight=1, into=lambda d: read(d, PremiumIndex))]
    else:
        entries, bad = await venue.rest.call(
            "GET", "premiumIndex", weight=10, into=lambda d: read_rows_lenient(d, PremiumIndex)
        )
        for problem in bad:
            venue._log.warning("premiumIndex: skipping an entry: {}", problem)
    wanted = set(symbols) if symbols is not None else None
    now = venue.clock.now()
    rates: dict[str, FundingRate] = {}
    for entry in entries:
        symbol = venue._symbols.to_canonical(entry.symbol)
        if symbol is None or (wanted is not None and symbol not in wanted) or symbol in rates:
            continue
        market = venue._markets[symbol]
        rates[symbol] = FundingRate(
            symbol=symbol,
            rate=entry.lastFundingRate,
            interval=market.instrument.funding_interval,
            next_funding_time=time_from_ms(entry.nextFundingTime, now),
            mark_price=market.units.price_from_venue(entry.markPrice),
            index_price=market.units.price_from_venue(entry.indexPrice),
        )
    return rates


async def bbo(venue: AsterVenue, symbol: str) -> BBO:
    market = await venue._market(symbol)
    data = await venue.rest.call(
        "GET", "ticker/bookTicker", {"symbol": market.units.market}, weight=2, into=lambda d: read(d, BookTicker)
    )
    same_symbol(venue, "ticker/bookTicker", data.symbol, market)
    units = market.units
    return BBO(
        symbol=symbol,
        bid=units.price_from_venue(data.bidPrice),
        ask=units.price_from_venue(data.askPrice),
        bid_qty=units.qty_from_venue(data.bidQty),
        ask_qty=units.qty_from_venue(data.askQty),
        at=time_from_ms(data.time, venue.clock.now()),
    )


async def order_book(venue: AsterVenue, symbol: str, depth: int = 10) -> OrderBook:
    market = await venue._market(symbol)
    limit = next((n for n in DEPTH_LIMITS if n >= depth), DEPTH_LIMITS[-1])
    weight = 2 if limit <= 50 else 5 if limit == 100 else 10 if limit == 500 else 20
    params = {"symbol": market.units.market, "limit": str(limit)}
    data = await venue.rest.call("GET", "depth", params, weight=weight, into=lambda d: read(d, Depth))
    units = market.units

    def levels(rows: Sequence[Any]) -> tuple[BookLevel, ...]:
        return tuple(BookLevel(units.price_from_venue(r.price), units.qty_from_venue(r.qty)) for r in rows[:depth])

    return OrderBook(
        symbol=symbol,
        bids=levels(data.bids),
        asks=levels(data.asks),
        at=time_from_ms(data.T or data.E, venue.clock.now()),
    )


def same_symbol(venue: AsterVenue, endpoint: str, got: str, market: Market) -> None:
    if got != market.units.market:
        raise VenueUnavailable(
            f"{endpoint}: reply for {got!r} to a request for {market.units.market}", venue=venue.name
        )


def streamed_bbo(venue: AsterVenue, symbol: str, market: Market) -> BBO | None:
    """The best bid and ask from `<s>@bookTicker` if the stream vouches for it now, else None."""
    book = venue.market_stream.book(market.units.market)
    if book is None:
        return None
    units = market.units
    return BBO(
        symbol=symbol,
        bid=units.price_from_venue(book.b),
        ask=units.price_from_venue(book.a),
        bid_qty=units.qty_from_venue(book.B),
        ask_qty=units.qty_from_venue(book.A),
        at=time_from_ms(book.T or book.E, venue.clock.now()),
    )


def streamed_rates(venue: AsterVenue, symbols: Sequence[str] | None) -> dict[str, FundingRate] | None:
    """Every asked symbol's rate from the mark-price stream, or None unless all of them are current there.

    Without `symbols`: every trading market (what the scanner asks for each tick).
    """
    if symbols is None:
        wanted = [s for s, m in venue._markets.items() if m.instrument.extra.get("status") == "TRADING"]
    else:
        wanted = list(symbols)
    now = venue.clock.now()
    rates: dict[str, FundingRate] = {}
    for symbol in wanted:
        market = venue._markets.get(symbol)
        mark = venue.market_stream.mark(market.units.market) if market is not None else None
        if market is None or mark is None:
            return None
        rates[symbol] = FundingRate(
            symbol=symbol,
            rate=mark.r,
            interval=market.instrument.funding_interval,
            next_funding_time=time_from_ms(mark.T, now),
            mark_price=market.units.price_from_venue(mark.p),
            index_price=market.units.price_from_venue(mark.i),
        )
    return rates
