"""Aster's markets: `exchangeInfo` filters, `fundingInfo` intervals, leverage brackets and the account's fee rates.

Every reply is read through `records`; an entry that cannot be trusted is skipped with a warning (its market is not
offered), except `fundingInfo`, where one bad row fails the load: a wrong interval would misread every rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs

from fundarb_core.errors import VenueError
from fundarb_core.venues import Instrument, SymbolMap
from fundarb_venue_aster.decode import Malformed
from fundarb_venue_aster.fees import BASE_TIER_TAKER
from fundarb_venue_aster.records import (
    Brackets,
    CommissionRate,
    FundingInfoRow,
    RateLimit,
    SymbolInfo,
    read,
    read_rows,
    read_rows_lenient,
)
from fundarb_venue_aster.symbols import MarketUnits, canonical_for
from fundarb_venue_aster.wire import instrument_from

# The venue is passed in (these are parts of `AsterVenue` kept in their own module); typed as Any so that this
# module does not import venue.py back (no import cycle, not even for type checking).
AsterVenue = Any

__all__ = ["Market", "account_fees", "exchange_info", "load", "max_leverages"]


@attrs.frozen
class Market:
    instrument: Instrument
    units: MarketUnits
    base_asset: str = ""


def exchange_info(data: Any) -> tuple[list[RateLimit], list[SymbolInfo], list[Malformed]]:
    """`exchangeInfo`'s rate limits and symbols (each read on its own), and what was wrong with the others."""
    if not isinstance(data, dict) or not isinstance(data.get("symbols"), list):
        raise Malformed("$.symbols", "exchangeInfo without a list of symbols")
    raw_limits = data.get("rateLimits", [])
    if isinstance(raw_limits, list):
        limits, bad_limits = read_rows_lenient(raw_limits, RateLimit)
    else:
        limits, bad_limits = [], [Malformed("$.rateLimits", "not a list")]
    rows, bad_rows = read_rows_lenient(data["symbols"], SymbolInfo)
    return limits, rows, [*bad_limits, *bad_rows]


async def load(venue: AsterVenue) -> None:
    limits, rows, problems = await venue.rest.call("GET", "exchangeInfo", weight=1, into=exchange_info)
    venue.rest.limiter.configure(limits)
    for problem in problems:
        venue._log.warning("exchangeInfo: skipping an entry: {}", problem)
    # A wrong interval would misread every rate of the symbol: a bad fundingInfo row fails the whole load.
    funding_info = await venue.rest.call("GET", "fundingInfo", weight=1, into=lambda d: read_rows(d, FundingInfoRow))
    intervals = {row.symbol: Decimal(row.fundingIntervalHours) for row in funding_info}
    brackets = await max_leverages(venue)
    wanted = set(venue.config.symbols)
    candidates = [
        s
        for s in rows
        # Markets that stopped trading (settling, delisting) stay addressable, so a position in them can still be
        # read and closed; load_instruments() offers only the TRADING ones.
        if s.contractType == "PERPETUAL" and s.status != "PENDING_TRADING" and s.quoteAsset == venue.config.quote_asset
    ]
    fees = await account_fees(venue, candidates)
    markets: dict[str, Market] = {}
    for entry in candidates:
        market = entry.symbol
        try:
            instrument, units = instrument_from(
                entry,
                # fundingInfo lists only symbols whose parameters were adjusted; the rest settle every 8 h.
                funding_hours=intervals.get(market, Decimal(8)),
                max_leverage=brackets.get(market, venue.config.default_max_leverage),
                fees=fees.get(market) or fees.get("*"),
            )
        except (ValueError, ArithmeticError) as exc:
            venue._log.warning("skipping market {}: {}", market, exc)
            continue
        if wanted and instrument.symbol not in wanted:
            continue
        held = markets.get(instrument.symbol)
        # PEPEUSDT and 1000PEPEUSDT would both be PEPE: keep the plain market.
        if held is not None and held.units.multiplier <= units.multiplier:
            continue
        markets[instrument.symbol] = Market(instrument, units, entry.baseAsset)
    venue._markets = markets
    venue._symbols = SymbolMap(venue.name, {s: m.units.market for s, m in markets.items()})
    venue._loaded_at = venue.clock.monotonic()


async def max_leverages(venue: AsterVenue) -> dict[str, Decimal]:
    """Each market's highest leverage from its leverage brackets (signed; default when they cannot be read)."""
    try:
        reply = await venue.rest.call("GET", "leverageBracket", signed=True, weight=1)
    except VenueError as exc:
        venue._log.warning("leverage brackets unavailable ({}); using {}x", exc, venue.config.default_max_leverage)
        return {}
    try:
        entries, bad = read_rows_lenient(reply if isinstance(reply, list) else [reply], Brackets)
    except Malformed as exc:
        entries, bad = [], [exc]
    for problem in bad:
        venue._log.warning("leverageBracket: unreadable entry ({}); its market uses the default", problem)
    result: dict[str, Decimal] = {}
    for entry in entries:
        try:
            top = entry.max_leverage()
        except Malformed as exc:
            venue._log.warning("leverageBracket of {}: {}; using the default", entry.symbol, exc)
            continue
        if top is not None:
            result[entry.symbol] = top
    return result


async def account_fees(venue: AsterVenue, candidates: Sequence[SymbolInfo]) -> dict[str, tuple[Decimal, Decimal]]:
    """Fee rates from `commissionRate` (weight 20 each): the configured symbols, or one market for all."""
    ttl = venue.config.fees_ttl.total_seconds()
    if venue._fees_at is not None and venue.clock.monotonic() - venue._fees_at < ttl:
        return venue._fees
    by_symbol: dict[str, str] = {canonical_for(s.baseAsset)[0]: s.symbol for s in candidates}
    if venue.config.symbols:
        markets = [m for symbol, m in by_symbol.items() if symbol in venue.config.symbols]
    else:
        # An account's rates are per tier, not per market: one reading (BTC's, or the first) stands for all.
        markets = [by_symbol.get("BTC") or next(iter(by_symbol.values()), "")]
    fees: dict[str, tuple[Decimal, Decimal]] = {}
    for market in filter(None, markets):
        try:
            reply = await venue.rest.call(
                "GET",
                "commissionRate",
                {"symbol": market},
                signed=True,
                weight=20,
                into=lambda d: read(d, CommissionRate),
            )
        except VenueError as exc:
            venue._log.warning(
                "commission rate of {} unavailable ({}); fees assumed at the base tier's taker rate {} for maker and "
                "taker",
                market,
                exc,
                BASE_TIER_TAKER,
            )
            continue
        fees[market] = (reply.makerCommissionRate, reply.takerCommissionRate)
    if not venue.config.symbols and fees:
        fees["*"] = next(iter(fees.values()))
    if fees:  # nothing read: ask again at the next load instead of caching "unknown" for fees_ttl
        venue._fees, venue._fees_at = fees, venue.clock.monotonic()
    return fees
