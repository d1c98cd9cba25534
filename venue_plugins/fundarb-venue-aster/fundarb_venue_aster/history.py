"""History and account checks of the Aster venue: funding payments, settled rates, mark-price candles, start-up checks.

Facts relied on (Aster's V3 futures API docs, Binance-compatible):
- `GET fundingRate` (symbol, startTime, endTime in ms, both inclusive; limit ≤ 1000) answers ascending rows
  `{symbol, fundingRate, fundingTime, markPrice}`; the interval is the symbol's `fundingIntervalHours` from
  `fundingInfo` (4 or 8; unlisted symbols 8). A change of interval in the past is not visible: every row gets the
  current one.
- `GET markPriceKlines` (symbol, interval, startTime, endTime, limit ≤ 1500) answers ascending rows
  `[openTime, open, high, low, close, volume(ignored), closeTime, ...]`.
- `GET income?incomeType=FUNDING_FEE` (limit ≤ 1000, startTime/endTime inclusive) answers signed amounts;
  `tranId` is unique within an income type.
- `GET positionSide/dual` → `{"dualSidePosition": bool}`: true is hedge mode, which fundarb does not trade.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from fundarb_core.errors import ConfigError, RateLimited, VenueRejected, VenueUnavailable
from fundarb_core.model import RejectReason
from fundarb_core.venues import FundingHistoryEntry, FundingPayment, PriceCandle
from fundarb_venue_aster.account import position_rows
from fundarb_venue_aster.decode import Malformed
from fundarb_venue_aster.errors import VenueHalted
from fundarb_venue_aster.records import DualSide, FundingRateRow, IncomeRow, Kline, read, read_rows
from fundarb_venue_aster.wire import time_from_ms

# The venue is passed in (these are parts of `AsterVenue` kept in their own module); typed as Any so that this
# module does not import venue.py back (no import cycle, not even for type checking).
AsterVenue = Any

__all__ = ["FUNDING_PAGE", "KLINE_PAGE", "check_account", "funding_history", "funding_payments", "price_candles"]

FUNDING_PAGE = 1000  # fundingRate's and income's largest page
KLINE_PAGE = 1500  # markPriceKlines' largest page
_KLINE_INTERVALS = {
    timedelta(minutes=1): "1m", timedelta(minutes=3): "3m", timedelta(minutes=5): "5m",
    timedelta(minutes=15): "15m", timedelta(minutes=30): "30m", timedelta(hours=1): "1h", timedelta(hours=2): "2h",
    timedelta(hours=4): "4h", timedelta(hours=6): "6h", timedelta(hours=8): "8h", timedelta(hours=12): "12h",
    timedelta(days=1): "1d", timedelta(days=3): "3d", timedelta(weeks=1): "1w",
}  # fmt: skip


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


async def _read(venue: AsterVenue, endpoint: str, params: dict[str, str], into: Any, *, weight: int = 1) -> Any:
    """A public history read; a ban is reported as `RateLimited` with the time left, as the contract asks."""
    try:
        return await venue.rest.call("GET", endpoint, params, weight=weight, into=into)
    except VenueHalted as exc:
        left = max(0.0, venue.rest.ban_remaining())
        raise RateLimited(str(exc.message), venue=venue.name, retry_after=left, status=418) from None


def _ascending(endpoint: str, venue: str, times: Sequence[int]) -> None:
    if any(b <= a for a, b in pairwise(times)):
        raise VenueUnavailable(f"{endpoint}: rows not in ascending time order", venue=venue)


async def funding_history(venue: AsterVenue, symbol: str, start: datetime, end: datetime) -> list[FundingHistoryEntry]:
    """Every rate settled at `start <= at < end`, oldest first, paging through `fundingRate`."""
    market = await venue._market(symbol)
    name, interval = market.units.market, market.instrument.funding_interval
    cursor, last = _ms(start), _ms(end) - 1
    entries: list[FundingHistoryEntry] = []
    while cursor <= last:
        params = {"symbol": name, "startTime": str(cursor), "endTime": str(last), "limit": str(FUNDING_PAGE)}
        page: list[FundingRateRow] = await _read(venue, "fundingRate", params, lambda d: read_rows(d, FundingRateRow))
        if any(r.symbol != name or not cursor <= r.fundingTime <= last for r in page):
            raise VenueUnavailable(f"fundingRate: rows outside {name} {cursor}..{last}", venue=venue.name)
        _ascending("fundingRate", venue.name, [r.fundingTime for r in page])
        entries.extend(FundingHistoryEntry(symbol, _at(r.fundingTime), r.fundingRate, interval) for r in page)
        if len(page) < FUNDING_PAGE:
            break
        cursor = page[-1].fundingTime + 1
    return entries


async def price_candles(
    venue: AsterVenue, symbol: str, resolution: timedelta, start: datetime, end: datetime
) -> list[PriceCandle]:
    """Mark-price candles opening at `start <= at < end`, oldest first, paging through `markPriceKlines`."""
    interval = _KLINE_INTERVALS.get(resolution)
    if interval is None:
        raise VenueRejected(
            f"no {resolution} candles on Aster (intervals: {', '.join(_KLINE_INTERVALS.values())})",
            venue=venue.name,
            reason=RejectReason.OTHER,
        )
    market = await venue._market(symbol)
    units, step = market.units, int(resolution.total_seconds() * 1000)
    cursor, last = _ms(start), _ms(end) - 1
    candles: list[PriceCandle] = []
    while cursor <= last:
        params = {
            "symbol": units.market, "interval": interval, "startTime": str(cursor), "endTime": str(last),
            "limit": str(KLINE_PAGE),
        }  # fmt: skip
        page: list[Kline] = await _read(venue, "markPriceKlines", params, lambda d: read_rows(d, Kline), weight=10)
        if any(not cursor <= k.at <= last for k in page):
            raise VenueUnavailable(f"markPriceKlines: candles outside {cursor}..{last}", venue=venue.name)
        _ascending("markPriceKlines", venue.name, [k.at for k in page])
        candles.extend(
            PriceCandle(
                symbol=symbol,
                at=_at(k.at),
                resolution=resolution,
                open=units.price_from_venue(k.open),
                high=units.price_from_venue(k.high),
                low=units.price_from_venue(k.low),
                close=units.price_from_venue(k.close),
                kind="mark",
            )
            for k in page
        )
        if len(page) < KLINE_PAGE:
            break
        cursor = page[-1].at + step
    return candles


async def funding_payments(venue: AsterVenue, symbol: str | None, since: datetime) -> list[FundingPayment]:
    """`FUNDING_FEE` income since `since`, oldest first, each with the rate it settled at.

    `income` has the amount only; the rate (and mark, where Aster reports it) comes from `fundingRate` history,
    and the position size is amount / (rate × mark) when both are known, else 0 (the amount is what counts).
    Income in another asset than the quote asset is not counted as quote (logged and left out).
    """
    await venue._ensure_markets()
    start = _ms(since)
    base = {"incomeType": "FUNDING_FEE", "limit": str(FUNDING_PAGE)}
    if symbol is not None:
        base["symbol"] = (await venue._market(symbol)).units.market
    rows: dict[str, IncomeRow] = {}
    while True:
        page: list[IncomeRow] = await venue.rest.call(
            "GET", "income", {**base, "startTime": str(start)}, signed=True, weight=30,
            into=lambda d: read_rows(d, IncomeRow),
        )  # fmt: skip
        for row in page:
            key = f"{row.tranId}:{row.symbol}"
            held = rows.setdefault(key, row)
            if held != row:  # the same id twice with different contents: which one is true?
                raise VenueUnavailable(f"income: transaction {row.tranId} listed twice, differently", venue=venue.name)
        if len(page) < FUNDING_PAGE:
            break
        # Same-millisecond rows come again and are deduplicated by tranId; a full page of one millisecond moves on.
        start = max(start + 1, max(r.time for r in page))
    history: dict[str, list[FundingRateRow]] = {}
    payments: list[FundingPayment] = []
    for key, row in sorted(rows.items(), key=lambda kv: kv[1].time):
        canonical = venue._symbols.to_canonical(row.symbol)
        if canonical is None or row.incomeType != "FUNDING_FEE":
            continue
        if row.asset != venue.config.quote_asset:
            venue._log.warning(
                "funding payment {} in {} is not counted as {}", key, row.asset, venue.config.quote_asset
            )
            continue
        units = venue._markets[canonical].units
        if row.symbol not in history:
            params = {"symbol": row.symbol, "startTime": str(_ms(since) - 3_600_000), "limit": str(FUNDING_PAGE)}
            history[row.symbol] = await venue.rest.call(
                "GET", "fundingRate", params, into=lambda d: read_rows(d, FundingRateRow)
            )
        match = min(history[row.symbol], key=lambda h: abs(h.fundingTime - row.time), default=None)
        rate = mark = Decimal(0)
        if match is not None and abs(match.fundingTime - row.time) <= 60_000:
            try:
                rate, mark = match.fundingRate, match.mark() or Decimal(0)
            except Malformed as exc:
                raise VenueUnavailable(
                    f"fundingRate: malformed reply at {exc.where}: {exc.why}", venue=venue.name
                ) from None
        qty = -row.income / (rate * mark) if rate != 0 and mark != 0 else Decimal(0)
        payments.append(
            FundingPayment(
                payment_id=key,
                symbol=canonical,
                amount=row.income,
                rate=rate,
                position_qty=units.qty_from_venue(qty),
                mark_price=units.price_from_venue(mark),
                at=time_from_ms(row.time, venue.clock.now()),
            )
        )
    return payments


async def check_account(venue: AsterVenue) -> None:
    """Verify, before any order, that the credentials work and the account is in a mode fundarb trades.

    - one authenticated read (`balance`): bad credentials raise `VenueRejected(reason=AUTHENTICATION)`;
    - position mode (`positionSide/dual`): hedge mode raises `ConfigError` (fundarb nets one position per symbol);
    - margin type (`positionRisk`): with `margin_type` set to "cross" or "isolated", a traded market in the other
      mode raises `ConfigError`.
    Other `VenueError`s (Aster unreachable) propagate unchanged: the caller may retry.
    """
    await venue.fetch_balance()
    key = f"venues.{venue.name}"
    mode = await venue.rest.call("GET", "positionSide/dual", signed=True, weight=30, into=lambda d: read(d, DualSide))
    if mode.dualSidePosition:
        raise ConfigError(
            [
                f"{key}: the Aster account is in hedge mode (dualSidePosition = true); fundarb trades one-way mode "
                "only: switch the account to one-way mode in Aster's settings"
            ]
        )
    wanted = venue.config.margin_type
    if wanted == "any":
        return
    await venue._ensure_markets()
    ours = {m.units.market for m in venue._markets.values()}
    rows = await position_rows(venue, None)
    wrong = sorted({r.symbol for r in rows if r.symbol in ours and r.isolated != (wanted == "isolated")})
    if wrong:
        shown = ", ".join(wrong[:5]) + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
        raise ConfigError([f"{key}.margin_type: {shown} not in {wanted} margin mode on Aster"])
