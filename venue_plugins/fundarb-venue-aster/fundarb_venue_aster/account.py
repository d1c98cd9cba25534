"""Positions (one symbol, or all in one `positionRisk` request) and the futures wallet, from validated records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fundarb_core.errors import VenueUnavailable
from fundarb_core.venues import Balance, PositionSnapshot
from fundarb_venue_aster.markets import Market
from fundarb_venue_aster.records import BalanceRow, PositionRow, PremiumIndex, read, read_rows
from fundarb_venue_aster.wire import time_from_ms

# The venue is passed in (these are parts of `AsterVenue` kept in their own module); typed as Any so that this
# module does not import venue.py back (no import cycle, not even for type checking).
AsterVenue = Any

__all__ = ["balance", "position_rows", "position_snapshot", "position_snapshots", "snapshot"]


async def position_rows(venue: AsterVenue, market: str | None) -> list[PositionRow]:
    params = {"symbol": market} if market is not None else {}
    rows: list[PositionRow] = await venue.rest.call(
        "GET", "positionRisk", params, signed=True, weight=5, into=lambda d: read_rows(d, PositionRow)
    )
    keys = [(r.symbol, r.positionSide) for r in rows]
    if len(set(keys)) != len(keys):
        raise VenueUnavailable("positionRisk: the same position listed twice", venue=venue.name)
    return rows


async def position_snapshot(venue: AsterVenue, symbol: str) -> PositionSnapshot:
    """Return the net position (`positionRisk`, signed `positionAmt`); flat is quantity 0."""
    market = await venue._market(symbol)
    rows = [r for r in await position_rows(venue, market.units.market) if r.symbol == market.units.market]
    return await snapshot(venue, symbol, market, rows, None)


async def position_snapshots(venue: AsterVenue, symbols: Sequence[str]) -> Mapping[str, PositionSnapshot]:
    """Return every asked position from one `positionRisk` request without a symbol (flat ones too)."""
    markets = {symbol: await venue._market(symbol) for symbol in symbols}
    rows = await position_rows(venue, None)
    by_market: dict[str, list[PositionRow]] = {}
    for row in rows:
        by_market.setdefault(row.symbol, []).append(row)
    # A symbol Aster left out (or listed without a mark) is flat; its mark comes from one premiumIndex read.
    missing = [s for s, m in markets.items() if not any(r.markPrice > 0 for r in by_market.get(m.units.market, []))]
    marks: dict[str, Decimal] = {}
    if missing:
        rates = await venue.fetch_funding_rates(missing)
        marks = {s: r.mark_price for s, r in rates.items() if r.mark_price is not None}
    return {
        symbol: await snapshot(venue, symbol, market, by_market.get(market.units.market, []), marks.get(symbol))
        for symbol, market in markets.items()
    }


async def snapshot(
    venue: AsterVenue, symbol: str, market: Market, rows: list[PositionRow], mark_hint: Decimal | None
) -> PositionSnapshot:
    units = market.units
    now = venue.clock.now()
    quantity = sum((r.positionAmt for r in rows), Decimal(0))  # hedge-mode legs net out (check_account refuses)
    mark: Decimal | None = next((r.markPrice for r in rows if r.markPrice > 0), None)
    if mark is None and mark_hint is not None:
        mark = units.price_to_venue(mark_hint)
    if mark is None:
        index = await venue.rest.call(
            "GET", "premiumIndex", {"symbol": units.market}, weight=1, into=lambda d: read(d, PremiumIndex)
        )
        mark = index.markPrice
    main = max(rows, key=lambda r: abs(r.positionAmt), default=None)
    leverage = Decimal(main.leverage) if main is not None else Decimal(1)
    if main is not None and main.isolated:
        margin = main.isolatedMargin or Decimal(0)
    else:
        margin = abs(quantity) * mark / leverage
    entry = main.entryPrice if main is not None else Decimal(0)
    liquidation = main.liquidationPrice if main is not None else Decimal(0)
    return PositionSnapshot(
        symbol=symbol,
        quantity=units.qty_from_venue(quantity),
        entry_price=units.price_from_venue(entry) if quantity != 0 and entry > 0 else None,
        mark_price=units.price_from_venue(mark),
        unrealized_pnl=sum((r.unRealizedProfit for r in rows), Decimal(0)),
        # positionRisk carries no funding total; fundarb's PnL reads funding from fetch_funding_payments.
        funding_accrued=Decimal(0),
        margin=margin,
        leverage=leverage,
        liquidation_price=units.price_from_venue(liquidation) if quantity != 0 and liquidation > 0 else None,
        at=time_from_ms(main.updateTime, now) if main is not None and quantity != 0 else now,
    )


async def balance(venue: AsterVenue) -> Balance:
    """The futures wallet in the quote asset (USDT; other assets are not counted as USDT)."""
    rows = await venue.rest.call("GET", "balance", signed=True, weight=5, into=lambda d: read_rows(d, BalanceRow))
    assets = [r.asset for r in rows]
    if len(set(assets)) != len(assets):
        raise VenueUnavailable("balance: the same asset listed twice", venue=venue.name)
    row = next((r for r in rows if r.asset == venue.config.quote_asset), None)
    now = venue.clock.now()
    if row is None:
        return Balance(venue.config.quote_asset, Decimal(0), Decimal(0), Decimal(0), Decimal(0), now)
    return Balance(
        asset=venue.config.quote_asset,
        wallet=row.balance,
        available=row.availableBalance,
        margin_used=max(Decimal(0), row.balance + row.crossUnPnl - row.availableBalance),
        unrealized_pnl=row.crossUnPnl,
        at=time_from_ms(row.updateTime, now),
    )
