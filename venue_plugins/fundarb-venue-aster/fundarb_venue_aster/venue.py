"""The Aster venue: fundarb's venue contract over Aster's REST API and user-data stream.

Rules the methods follow (the venue contract suite checks them against the fake server):

- Canonical symbols in and out; `BTCUSDT`, `1000PEPEUSDT` and contract units stay inside this package.
- Orders are checked against the instrument's grids and minimums before anything is sent (invariant 3).
- A market order is a LIMIT IOC at the caller's worst price: Aster's MARKET orders have no price cap.
- One client order id is one order. Aster (like Binance) only refuses a duplicate id while the first order is open,
  so the venue also refuses an id it already placed in this process; after a lost reply it asks Aster first.
- Nothing here constructs a connection: building a venue during an Aster outage (503s) cannot fail; the first call
  that needs Aster raises a typed, transient error instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from loguru import logger

from fundarb_core.clock import wait_for
from fundarb_core.errors import AmbiguousOutcome, VenueError, VenueRejected
from fundarb_core.model import OrderType, RejectReason, Side, TimeInForce
from fundarb_core.venues import (
    BBO,
    Balance,
    BookLevel,
    Capabilities,
    FundingPayment,
    FundingRate,
    Instrument,
    LiquidationNotice,
    OrderBook,
    OrderState,
    PositionSnapshot,
    SymbolMap,
    VenueContext,
)
from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.rest import AsterRest
from fundarb_venue_aster.streams import Broadcast, UserStream
from fundarb_venue_aster.symbols import MarketUnits, canonical_for, format_decimal
from fundarb_venue_aster.wire import (
    SIDE,
    WIRE_SIDE,
    WIRE_TIME_IN_FORCE,
    dec,
    instrument_from,
    order_state_from,
    stream_order_state,
    time_from_ms,
    wire_client_id,
)

__all__ = ["AsterVenue"]

_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
_SENT_MEMORY = 100_000  # client ids remembered for the duplicate guard
_LIQUIDATION_PREFIXES = ("autoclose-", "adl_autoclose")  # Aster's ids for its own liquidation / ADL orders


@attrs.frozen
class _Market:
    instrument: Instrument
    units: MarketUnits


class AsterVenue:
    """A venue of kind `aster`: one Aster futures account, addressed by canonical symbols."""

    def __init__(self, name: str, config: AsterConfig, context: VenueContext) -> None:
        self.name = name
        self.config = config
        self.clock = context.clock
        self.capabilities = Capabilities(order_stream=True, bbo_stream=False, liquidation_stream=True)
        self.rest = AsterRest(name, config, context.clock)
        self._log = logger.bind(venue=name)
        self._markets: dict[str, _Market] = {}
        self._symbols = SymbolMap(name, {})
        self._loaded_at: float | None = None
        self._fees: dict[str, tuple[Decimal, Decimal]] = {}
        self._fees_at: float | None = None
        self._load_lock = asyncio.Lock()
        self._sent: OrderedDict[str, bool] = OrderedDict()  # client id -> True placed, False outcome unknown
        self._in_flight: set[str] = set()  # client ids whose placement has not returned yet
        self._intent: dict[str, OrderType] = {}
        self._live: dict[str, str] = {}  # client id -> symbol of orders not known to be final
        self._wire_ids: dict[str, str] = {}  # wire id -> the caller's client id (when they differ)
        self._final_fees: dict[str, tuple[Decimal, Decimal]] = {}
        self._stream_fills: dict[str, dict[Any, tuple[Decimal, Decimal]]] = {}
        self._liquidations_seen: set[Any] = set()
        self._orders: Broadcast[OrderState] = Broadcast(self._start_stream)
        self._liquidations: Broadcast[LiquidationNotice] = Broadcast(self._start_stream)
        self.stream = UserStream(name, config, self.rest, context.clock, self._on_event, self._reconcile)

    # -- instruments --------------------------------------------------------------------------------------------

    async def load_instruments(self) -> Mapping[str, Instrument]:
        """Return every perpetual quoted in `quote_asset` (or the configured `symbols`), cached `instruments_ttl`."""
        await self._ensure_markets()
        return {s: m.instrument for s, m in self._markets.items() if m.instrument.extra.get("status") == "TRADING"}

    async def _ensure_markets(self, *, force: bool = False) -> None:
        ttl = self.config.instruments_ttl.total_seconds()
        if not force and self._loaded_at is not None and self.clock.monotonic() - self._loaded_at < ttl:
            return
        async with self._load_lock:
            if not force and self._loaded_at is not None and self.clock.monotonic() - self._loaded_at < ttl:
                return
            await self._load_markets()

    async def _load_markets(self) -> None:
        info = await self.rest.call("GET", "exchangeInfo", weight=1)
        self.rest.limiter.configure(info.get("rateLimits", []))
        intervals: dict[str, Decimal] = {}
        for entry in await self.rest.call("GET", "fundingInfo", weight=1) or []:
            intervals[str(entry["symbol"])] = dec(entry.get("fundingIntervalHours"), "8")
        brackets = await self._max_leverages()
        wanted = set(self.config.symbols)
        candidates = [
            s
            for s in info.get("symbols", [])
            # Markets that stopped trading (settling, delisting) stay addressable, so a position in them can still be
            # read and closed; load_instruments() offers only the TRADING ones.
            if s.get("contractType", "PERPETUAL") == "PERPETUAL"
            and s.get("status") != "PENDING_TRADING"
            and s.get("quoteAsset") == self.config.quote_asset
        ]
        fees = await self._account_fees(candidates)
        markets: dict[str, _Market] = {}
        for entry in candidates:
            market = str(entry["symbol"])
            try:
                instrument, units = instrument_from(
                    entry,
                    # fundingInfo lists only symbols whose parameters were adjusted; the rest settle every 8 h.
                    funding_hours=intervals.get(market, Decimal(8)),
                    max_leverage=brackets.get(market, self.config.default_max_leverage),
                    fees=fees.get(market) or fees.get("*"),
                )
            except (ValueError, KeyError, ArithmeticError) as exc:
                self._log.warning("skipping market {}: {}", market, exc)
                continue
            if wanted and instrument.symbol not in wanted:
                continue
            held = markets.get(instrument.symbol)
            # PEPEUSDT and 1000PEPEUSDT would both be PEPE: keep the plain market.
            if held is not None and held.units.multiplier <= units.multiplier:
                continue
            markets[instrument.symbol] = _Market(instrument, units)
        self._markets = markets
        self._symbols = SymbolMap(self.name, {s: m.units.market for s, m in markets.items()})
        self._loaded_at = self.clock.monotonic()

    async def _max_leverages(self) -> dict[str, Decimal]:
        """Each market's highest leverage from its leverage brackets (signed; default when they cannot be read)."""
        try:
            reply = await self.rest.call("GET", "leverageBracket", signed=True, weight=1)
        except VenueError as exc:
            self._log.warning("leverage brackets unavailable ({}); using {}x", exc, self.config.default_max_leverage)
            return {}
        result: dict[str, Decimal] = {}
        for entry in reply if isinstance(reply, list) else [reply]:
            levels = [dec(b.get("initialLeverage"), "1") for b in entry.get("brackets", [])]
            if levels:
                result[str(entry["symbol"])] = max(levels)
        return result

    async def _account_fees(self, candidates: Sequence[Mapping[str, Any]]) -> dict[str, tuple[Decimal, Decimal]]:
        """Fee rates from `commissionRate` (weight 20 each): the configured symbols, or one market for all."""
        ttl = self.config.fees_ttl.total_seconds()
        if self._fees_at is not None and self.clock.monotonic() - self._fees_at < ttl:
            return self._fees
        by_symbol = {canonical_for(str(s.get("baseAsset")))[0]: str(s["symbol"]) for s in candidates}
        if self.config.symbols:
            markets = [m for symbol, m in by_symbol.items() if symbol in self.config.symbols]
        else:
            # An account's rates are per tier, not per market: one reading (BTC's, or the first) stands for all.
            markets = [by_symbol.get("BTC") or next(iter(by_symbol.values()), "")]
        fees: dict[str, tuple[Decimal, Decimal]] = {}
        for market in filter(None, markets):
            try:
                reply = await self.rest.call("GET", "commissionRate", {"symbol": market}, signed=True, weight=20)
            except VenueError as exc:
                self._log.warning("commission rate of {} unavailable ({}); fees unknown", market, exc)
                continue
            fees[market] = (dec(reply.get("makerCommissionRate")), dec(reply.get("takerCommissionRate")))
        if not self.config.symbols and fees:
            fees["*"] = next(iter(fees.values()))
        if fees:  # nothing read: ask again at the next load instead of caching "unknown" for fees_ttl
            self._fees, self._fees_at = fees, self.clock.monotonic()
        return fees

    async def _market(self, symbol: str) -> _Market:
        await self._ensure_markets()
        self._symbols.to_venue(symbol)  # raises VenueRejected(unknown_symbol)
        return self._markets[symbol]

    # -- market data --------------------------------------------------------------------------------------------

    async def fetch_funding_rates(self, symbols: Sequence[str] | None = None) -> Mapping[str, FundingRate]:
        """Return each symbol's current rate per its own interval (`premiumIndex`), with next time and mark."""
        await self._ensure_markets()
        if symbols is not None and len(symbols) == 1:
            market = await self._market(symbols[0])
            entries = [await self.rest.call("GET", "premiumIndex", {"symbol": market.units.market}, weight=1)]
        else:
            entries = await self.rest.call("GET", "premiumIndex", weight=10)
        wanted = set(symbols) if symbols is not None else None
        now = self.clock.now()
        rates: dict[str, FundingRate] = {}
        for entry in entries:
            symbol = self._symbols.to_canonical(str(entry.get("symbol")))
            if symbol is None or (wanted is not None and symbol not in wanted):
                continue
            market = self._markets[symbol]
            rates[symbol] = FundingRate(
                symbol=symbol,
                rate=dec(entry.get("lastFundingRate")),
                interval=market.instrument.funding_interval,
                next_funding_time=time_from_ms(entry.get("nextFundingTime"), now),
                mark_price=market.units.price_from_venue(dec(entry.get("markPrice"))),
                index_price=market.units.price_from_venue(dec(entry.get("indexPrice"))),
            )
        return rates

    async def fetch_bbo_prices(self, symbol: str) -> BBO:
        market = await self._market(symbol)
        data = await self.rest.call("GET", "ticker/bookTicker", {"symbol": market.units.market}, weight=2)
        units = market.units
        return BBO(
            symbol=symbol,
            bid=units.price_from_venue(dec(data["bidPrice"])),
            ask=units.price_from_venue(dec(data["askPrice"])),
            bid_qty=units.qty_from_venue(dec(data["bidQty"])),
            ask_qty=units.qty_from_venue(dec(data["askQty"])),
            at=time_from_ms(data.get("time"), self.clock.now()),
        )

    async def fetch_order_book(self, symbol: str, depth: int = 10) -> OrderBook:
        market = await self._market(symbol)
        limit = next((n for n in _DEPTH_LIMITS if n >= depth), _DEPTH_LIMITS[-1])
        weight = 2 if limit <= 50 else 5 if limit == 100 else 10 if limit == 500 else 20
        data = await self.rest.call("GET", "depth", {"symbol": market.units.market, "limit": str(limit)}, weight=weight)
        units = market.units

        def levels(rows: Sequence[Sequence[Any]]) -> tuple[BookLevel, ...]:
            return tuple(
                BookLevel(units.price_from_venue(dec(p)), units.qty_from_venue(dec(q))) for p, q in rows[:depth]
            )

        return OrderBook(
            symbol=symbol,
            bids=levels(data.get("bids", [])),
            asks=levels(data.get("asks", [])),
            at=time_from_ms(data.get("T", data.get("E")), self.clock.now()),
        )

    # -- orders -------------------------------------------------------------------------------------------------

    async def place_limit_order(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        *,
        client_order_id: str,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
    ) -> OrderState:
        """Place a LIMIT order (GTC, IOC, or GTX for post-only); return its state at acknowledgement."""
        return await self._place(symbol, side, quantity, price, time_in_force, reduce_only, client_order_id, None)

    async def place_market_order(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        *,
        worst_price: Decimal,
        client_order_id: str,
        reduce_only: bool = False,
    ) -> OrderState:
        """Place a LIMIT IOC at `worst_price`: it trades like a market order but never beyond that price."""
        return await self._place(
            symbol, side, quantity, worst_price, TimeInForce.IOC, reduce_only, client_order_id, OrderType.MARKET
        )

    async def _place(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        time_in_force: TimeInForce,
        reduce_only: bool,
        client_order_id: str,
        intent: OrderType | None,
    ) -> OrderState:
        market = await self._market(symbol)
        reason = market.instrument.check_order(quantity, price, reduce_only=reduce_only)
        if reason is not None:
            raise VenueRejected(
                f"{side} {quantity} {symbol} @ {price} does not fit the market's grids or minimums",
                venue=self.name,
                reason=reason,
            )
        await self._refuse_duplicate(symbol, client_order_id)
        await self._await_stream()
        wire_id = wire_client_id(client_order_id)
        if wire_id != client_order_id:
            self._wire_ids[wire_id] = client_order_id
        units = market.units
        params = {
            "symbol": units.market,
            "side": WIRE_SIDE[side],
            "type": "LIMIT",
            "timeInForce": WIRE_TIME_IN_FORCE[time_in_force],
            "quantity": format_decimal(units.qty_to_venue(quantity)),
            "price": format_decimal(units.price_to_venue(price)),
            "newClientOrderId": wire_id,
            "newOrderRespType": "RESULT",
        }
        if reduce_only:
            params["reduceOnly"] = "true"
        if intent is not None:
            self._intent[client_order_id] = intent
        what = f"{client_order_id}: {side} {quantity} {symbol} @ {price} {time_in_force} reduce_only={reduce_only}"
        self._in_flight.add(client_order_id)
        try:
            data = await self.rest.call(
                "POST",
                "order",
                params,
                signed=True,
                order=True,
                reduce_only=reduce_only,
                changes_orders=True,
                client_order_id=client_order_id,
            )
        except (AmbiguousOutcome, asyncio.CancelledError):
            # Cancelled while the request was out: as unknown as a lost reply.
            self._remember(client_order_id, placed=False)
            self._live[client_order_id] = symbol
            self._log.warning("order {} -> outcome unknown (reconcile by client id)", what)
            raise
        except VenueError as exc:
            self._log.info("order {} -> refused: {}", what, exc)
            raise
        finally:
            self._in_flight.discard(client_order_id)
        self._remember(client_order_id, placed=True)
        state = await self._state(data, client_order_id, symbol, market, after_change=True)
        self._log.info("order {} -> {} filled {} avg {}", what, state.status, state.filled_qty, state.avg_price)
        if not state.final:
            self._live[client_order_id] = symbol
        if state.reject_reason is RejectReason.POST_ONLY_WOULD_CROSS:
            raise VenueRejected(
                "post-only order would have crossed (expired)", venue=self.name, reason=state.reject_reason
            )
        return state

    def _remember(self, client_order_id: str, *, placed: bool) -> None:
        self._sent[client_order_id] = placed
        self._sent.move_to_end(client_order_id)
        while len(self._sent) > _SENT_MEMORY:
            self._sent.popitem(last=False)

    async def _refuse_duplicate(self, symbol: str, client_order_id: str) -> None:
        if client_order_id in self._in_flight:
            raise VenueRejected(
                f"client order id {client_order_id} is being sent already",
                venue=self.name,
                reason=RejectReason.DUPLICATE_CLIENT_ORDER_ID,
            )
        placed = self._sent.get(client_order_id)
        if placed is None:
            return
        if placed or await self.get_order(symbol, client_order_id) is not None:
            raise VenueRejected(
                f"client order id {client_order_id} was already used for an order",
                venue=self.name,
                reason=RejectReason.DUPLICATE_CLIENT_ORDER_ID,
            )
        del self._sent[client_order_id]  # the lost request never reached Aster: the id is free

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel by client id; an order that already finished is returned as it is."""
        market = await self._market(symbol)
        params = {"symbol": market.units.market, "origClientOrderId": wire_client_id(client_order_id)}
        try:
            data = await self.rest.call(
                "DELETE", "order", params, signed=True, changes_orders=True, client_order_id=client_order_id
            )
        except VenueRejected as exc:
            if exc.reason != RejectReason.UNKNOWN_ORDER:
                raise
            found = await self.get_order(symbol, client_order_id)
            if found is None:
                raise
            return found
        state = await self._state(data, client_order_id, symbol, market, after_change=True)
        self._log.info("cancel {} -> {} filled {}", client_order_id, state.status, state.filled_qty)
        return state

    async def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """Return the order with this client id, or None if Aster never received it."""
        market = await self._market(symbol)
        params = {"symbol": market.units.market, "origClientOrderId": wire_client_id(client_order_id)}
        try:
            data = await self.rest.call("GET", "order", params, signed=True, weight=1)
        except VenueRejected as exc:
            if exc.reason == RejectReason.UNKNOWN_ORDER:
                return None
            raise
        return await self._state(data, client_order_id, symbol, market)

    async def _state(
        self,
        data: Mapping[str, Any],
        client_order_id: str,
        symbol: str,
        market: _Market,
        *,
        after_change: bool = False,
    ) -> OrderState:
        """An order reply as an `OrderState`, with its fees from `userTrades` once anything filled.

        `after_change`: the reply acknowledges a placement or cancel that already happened, so a failure to read the
        fees must not surface as an error (the caller would believe nothing was done): the fees are then estimated
        at the taker rate and read for real by the next `get_order`.
        """
        fees, maker_qty = Decimal(0), Decimal(0)
        if dec(data.get("executedQty")) > 0:
            try:
                fees, maker_qty = await self._fills(client_order_id, market, data)
            except VenueError as exc:
                if not after_change:
                    raise
                notional = dec(data.get("cumQuote"))
                fees = notional * (market.instrument.taker_fee or Decimal(0))
                self._log.warning("fees of {} unread ({}); estimated {} at the taker rate", client_order_id, exc, fees)
        state = order_state_from(
            data,
            client_order_id=client_order_id,
            symbol=symbol,
            units=market.units,
            intent=self._intent.get(client_order_id),
            fees=fees,
            maker_qty=maker_qty,
            now=self.clock.now(),
        )
        if state.final:
            self._live.pop(client_order_id, None)
        return state

    async def _fills(self, client_order_id: str, market: _Market, data: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
        cached = self._final_fees.get(client_order_id)
        if cached is not None:
            return cached
        params = {"symbol": market.units.market, "orderId": str(data["orderId"])}
        trades = await self.rest.call("GET", "userTrades", params, signed=True, weight=5)
        fees = sum((dec(t.get("commission")) for t in trades), Decimal(0))
        maker = sum((dec(t.get("qty")) for t in trades if t.get("maker")), Decimal(0))
        result = (fees, market.units.qty_from_venue(maker))
        if str(data.get("status")) in ("FILLED", "CANCELED", "EXPIRED", "REJECTED"):
            self._final_fees[client_order_id] = result
        return result

    # -- account ------------------------------------------------------------------------------------------------

    async def get_position_snapshot(self, symbol: str) -> PositionSnapshot:
        """Return the net position (`positionRisk`, signed `positionAmt`); flat is quantity 0."""
        market = await self._market(symbol)
        units = market.units
        rows = await self.rest.call("GET", "positionRisk", {"symbol": units.market}, signed=True, weight=5)
        rows = [r for r in rows or [] if r.get("symbol") == units.market]
        now = self.clock.now()
        quantity = sum((dec(r.get("positionAmt")) for r in rows), Decimal(0))  # hedge-mode legs net out
        mark = dec(rows[0].get("markPrice")) if rows else Decimal(0)
        if mark <= 0:
            index = await self.rest.call("GET", "premiumIndex", {"symbol": units.market}, weight=1)
            mark = dec(index.get("markPrice"))
        main: Mapping[str, Any] = max(rows, key=lambda r: abs(dec(r.get("positionAmt"))), default={})
        leverage = dec(main.get("leverage"), "1")
        entry = dec(main.get("entryPrice"))
        liquidation = dec(main.get("liquidationPrice"))
        if str(main.get("marginType", "cross")).lower() == "isolated":
            margin = dec(main.get("isolatedMargin"))
        else:
            margin = abs(quantity) * mark / leverage if leverage > 0 else Decimal(0)
        return PositionSnapshot(
            symbol=symbol,
            quantity=units.qty_from_venue(quantity),
            entry_price=units.price_from_venue(entry) if quantity != 0 and entry > 0 else None,
            mark_price=units.price_from_venue(mark),
            unrealized_pnl=sum((dec(r.get("unRealizedProfit")) for r in rows), Decimal(0)),
            # positionRisk carries no funding total; fundarb's PnL reads funding from fetch_funding_payments.
            funding_accrued=Decimal(0),
            margin=margin,
            leverage=leverage,
            liquidation_price=units.price_from_venue(liquidation) if quantity != 0 and liquidation > 0 else None,
            at=time_from_ms(main.get("updateTime"), now) if quantity != 0 else now,
        )

    async def fetch_balance(self) -> Balance:
        rows = await self.rest.call("GET", "balance", signed=True, weight=5)
        row = next((r for r in rows if r.get("asset") == self.config.quote_asset), None)
        now = self.clock.now()
        if row is None:
            return Balance(self.config.quote_asset, Decimal(0), Decimal(0), Decimal(0), Decimal(0), now)
        wallet = dec(row.get("balance"))
        unrealized = dec(row.get("crossUnPnl"))
        available = dec(row.get("availableBalance"))
        return Balance(
            asset=self.config.quote_asset,
            wallet=wallet,
            available=available,
            margin_used=max(Decimal(0), wallet + unrealized - available),
            unrealized_pnl=unrealized,
            at=time_from_ms(row.get("updateTime"), now),
        )

    async def fetch_funding_payments(self, symbol: str | None, since: datetime) -> Sequence[FundingPayment]:
        """Return `FUNDING_FEE` income since `since`, oldest first, each with the rate it settled at.

        `income` has the amount only; the rate (and mark, where Aster reports it) comes from `fundingRate` history,
        and the position size is amount / (rate × mark) when both are known, else 0.
        """
        await self._ensure_markets()
        start = int(since.timestamp() * 1000)
        base = {"incomeType": "FUNDING_FEE", "limit": "1000"}
        if symbol is not None:
            base["symbol"] = (await self._market(symbol)).units.market
        rows: dict[str, Mapping[str, Any]] = {}
        while True:
            page = await self.rest.call("GET", "income", {**base, "startTime": str(start)}, signed=True, weight=30)
            for row in page:
                rows.setdefault(f"{row.get('tranId')}:{row.get('symbol')}", row)
            if len(page) < 1000:
                break
            # Same-millisecond rows come again and are deduplicated by tranId; a full page of one millisecond moves on.
            start = max(start + 1, max(int(r.get("time", 0)) for r in page))
        history: dict[str, list[Mapping[str, Any]]] = {}
        payments: list[FundingPayment] = []
        for key, row in sorted(rows.items(), key=lambda kv: int(kv[1].get("time", 0))):
            market_name = str(row.get("symbol"))
            canonical = self._symbols.to_canonical(market_name)
            if canonical is None:
                continue
            units = self._markets[canonical].units
            if market_name not in history:
                params = {"symbol": market_name, "startTime": str(int(since.timestamp() * 1000) - 3_600_000)}
                history[market_name] = await self.rest.call("GET", "fundingRate", {**params, "limit": "1000"})
            at_ms = int(row.get("time", 0))
            match = min(history[market_name], key=lambda h: abs(int(h.get("fundingTime", 0)) - at_ms), default=None)
            rate = mark = Decimal(0)
            if match is not None and abs(int(match.get("fundingTime", 0)) - at_ms) <= 60_000:
                rate, mark = dec(match.get("fundingRate")), dec(match.get("markPrice"))
            amount = dec(row.get("income"))
            qty = -amount / (rate * mark) if rate != 0 and mark != 0 else Decimal(0)
            payments.append(
                FundingPayment(
                    payment_id=key,
                    symbol=canonical,
                    amount=amount,
                    rate=rate,
                    position_qty=units.qty_from_venue(qty),
                    mark_price=units.price_from_venue(mark),
                    at=time_from_ms(at_ms, self.clock.now()),
                )
            )
        return payments

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        """Set the symbol's leverage, capped at the instrument's maximum; return what Aster applied."""
        market = await self._market(symbol)
        wanted = max(1, int(min(leverage, market.instrument.max_leverage)))
        reply = await self.rest.call(
            "POST", "leverage", {"symbol": market.units.market, "leverage": str(wanted)}, signed=True
        )
        return dec(reply.get("leverage"), str(wanted))

    # -- streams ------------------------------------------------------------------------------------------------

    def order_updates(self) -> AsyncIterator[OrderState]:
        """Order state changes from the user-data stream (subscribed at once; the stream starts if needed)."""
        subscription = self._orders.subscribe()
        with contextlib.suppress(RuntimeError):  # no running loop yet: starts at the first anext
            self._start_stream()
        return subscription

    def liquidations(self) -> AsyncIterator[LiquidationNotice]:
        """Positions Aster closed itself (its `autoclose-` / ADL orders, `forceOrder` events)."""
        subscription = self._liquidations.subscribe()
        with contextlib.suppress(RuntimeError):
            self._start_stream()
        return subscription

    def _start_stream(self) -> None:
        self.stream.start()

    async def _await_stream(self) -> None:
        """Hold an order until a starting stream is connected, so none of its updates are missed."""
        if self.stream.running and not self.stream.connected.is_set() and self._orders.subscribers:
            with contextlib.suppress(TimeoutError):
                await wait_for(self.clock, self.stream.connected.wait(), self.config.stream_ready_timeout)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("e")
        if kind == "ORDER_TRADE_UPDATE":
            self._on_order_event(event.get("o", {}))
        elif kind == "forceOrder":
            o = event.get("o", {})
            self._notify_liquidation(o, key=("force", o.get("s"), o.get("T")), qty=o.get("z") or o.get("q"))
        elif kind == "ACCOUNT_UPDATE" and event.get("a", {}).get("m") == "FUNDING_FEE":
            self._log.debug("funding settled: {}", event.get("a", {}).get("B"))

    def _on_order_event(self, o: Mapping[str, Any]) -> None:
        wire = str(o.get("c", ""))
        if wire.startswith(_LIQUIDATION_PREFIXES) or o.get("o") == "LIQUIDATION":
            if dec(o.get("l")) > 0:
                self._notify_liquidation(o, key=("order", o.get("i"), o.get("t")), qty=o.get("l"))
            return
        symbol = self._symbols.to_canonical(str(o.get("s")))
        if symbol is None:
            return
        units = self._markets[symbol].units
        client_order_id = self._wire_ids.get(wire, wire)
        fills = self._stream_fills.setdefault(client_order_id, {})
        if o.get("x") == "TRADE":
            fills[o.get("t")] = (dec(o.get("n")), dec(o.get("l")) if o.get("m") else Decimal(0))
        state = stream_order_state(
            o,
            client_order_id=client_order_id,
            symbol=symbol,
            units=units,
            intent=self._intent.get(client_order_id),
            fees=sum((f for f, _ in fills.values()), Decimal(0)),
            maker_qty=units.qty_from_venue(sum((m for _, m in fills.values()), Decimal(0))),
            now=self.clock.now(),
        )
        if state.final:
            self._live.pop(client_order_id, None)
            self._stream_fills.pop(client_order_id, None)
        self._orders.publish(state)

    def _notify_liquidation(self, o: Mapping[str, Any], *, key: tuple[Any, ...], qty: Any) -> None:
        symbol = self._symbols.to_canonical(str(o.get("s")))
        if symbol is None or key in self._liquidations_seen:
            return
        self._liquidations_seen.add(key)
        units = self._markets[symbol].units
        price = dec(o.get("L")) or dec(o.get("ap")) or dec(o.get("p"))
        notice = LiquidationNotice(
            symbol=symbol,
            quantity=units.qty_from_venue(dec(qty)),
            price=units.price_from_venue(price),
            at=time_from_ms(o.get("T"), self.clock.now()),
        )
        self._log.warning(
            "liquidation: {} {} {} @ {}", symbol, SIDE.get(str(o.get("S"))), notice.quantity, notice.price
        )
        self._liquidations.publish(notice)

    async def _reconcile(self) -> None:
        """After a (re)connect: ask REST for every order not known to be final; publish what changed."""
        live = dict(self._live)
        if not live:
            return
        try:
            open_now: set[str] = set()
            for symbol in sorted(set(live.values())):
                market = await self._market(symbol)
                rows = await self.rest.call("GET", "openOrders", {"symbol": market.units.market}, signed=True)
                for row in rows:
                    cid = self._wire_ids.get(str(row.get("clientOrderId")), str(row.get("clientOrderId")))
                    if cid in live:
                        open_now.add(cid)
                        self._orders.publish(await self._state(row, cid, symbol, market))
            for cid, symbol in live.items():
                if cid not in open_now:
                    state = await self.get_order(symbol, cid)
                    if state is not None:
                        self._orders.publish(state)
        except VenueError as exc:
            self._log.warning("reconcile after reconnect failed ({}); pollers cover the gap", exc)

    # -- life cycle ---------------------------------------------------------------------------------------------

    def resume_trading(self) -> None:
        """Allow orders again after an IP ban halted this venue (an operator's decision)."""
        self.rest.resume_trading()

    async def close(self) -> None:
        """Stop the stream, end every subscription, close the HTTP session."""
        await self.stream.stop()
        self._orders.close()
        self._liquidations.close()
        await self.rest.close()
