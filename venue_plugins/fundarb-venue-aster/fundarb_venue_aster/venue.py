"""The Aster venue: fundarb's venue contract over Aster's REST API and user-data stream.

Rules the methods follow (the venue contract suite checks them against the fake server):

- Canonical symbols in and out; `BTCUSDT`, `1000PEPEUSDT` and contract units stay inside this package.
- Orders are checked against the instrument's grids and minimums before anything is sent (invariant 3).
- A market order is a LIMIT IOC at the caller's worst price: Aster's MARKET orders have no price cap.
- One client order id is one order. Aster (like Binance) only refuses a duplicate id while the first order is open,
  so the venue also refuses an id it already placed in this process; after a lost reply it asks Aster first.
- Every reply is read through one decoding boundary (`decode`, `records`): what cannot be trusted is a typed error
  naming the endpoint and field. After an order request may have reached Aster, any unknown is `AmbiguousOutcome`,
  and the order is tracked as live (for the stream's reconciliation) from the moment it is sent.
- Nothing here constructs a connection: building a venue during an Aster outage (503s) cannot fail; the first call
  that needs Aster raises a typed, transient error instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from loguru import logger

from fundarb_core.clock import wait_for
from fundarb_core.errors import AmbiguousOutcome, VenueError, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderType, RejectReason, Side, TimeInForce
from fundarb_core.venues import (
    BBO,
    Balance,
    Capabilities,
    FundingHistoryEntry,
    FundingPayment,
    FundingRate,
    Instrument,
    LiquidationNotice,
    OrderBook,
    OrderState,
    PositionSnapshot,
    PriceCandle,
    SymbolMap,
    VenueContext,
)
from fundarb_venue_aster import account, events, history, markets, quotes
from fundarb_venue_aster import fees as fees_module
from fundarb_venue_aster.config import AsterConfig
from fundarb_venue_aster.decode import Malformed
from fundarb_venue_aster.market_stream import ALL_MARKS, MarketStream, book_stream, mark_stream
from fundarb_venue_aster.markets import Market
from fundarb_venue_aster.records import LeverageReply, OrderReply, TradeRow, read, read_rows
from fundarb_venue_aster.rest import AsterRest
from fundarb_venue_aster.streams import Broadcast, UserStream
from fundarb_venue_aster.symbols import format_decimal
from fundarb_venue_aster.wire import WIRE_SIDE, WIRE_TIME_IN_FORCE, order_state_from, wire_client_id

__all__ = ["AsterVenue"]

_SENT_MEMORY = 100_000  # client ids remembered for the duplicate guard


class AsterVenue:
    """A venue of kind `aster`: one Aster futures account, addressed by canonical symbols."""

    def __init__(self, name: str, config: AsterConfig, context: VenueContext) -> None:
        self.name = name
        self.config = config
        self.clock = context.clock
        self.capabilities = Capabilities(
            order_stream=True,
            bbo_stream=config.market_streams,
            mark_stream=config.market_streams,
            liquidation_stream=True,
            bulk_snapshots=True,
            funding_history=True,
            price_history=True,
        )
        self.rest = AsterRest(name, config, context.clock)
        self._log = logger.bind(venue=name)
        self._markets: dict[str, Market] = {}
        self._symbols = SymbolMap(name, {})
        self._loaded_at: float | None = None
        self._fees: dict[str, tuple[Decimal, Decimal]] = {}
        self._fees_at: float | None = None
        self._load_lock = asyncio.Lock()
        self._sent: OrderedDict[str, bool] = OrderedDict()  # client id -> True placed, False outcome unknown
        self._params: dict[str, dict[str, str]] = {}  # client id -> what was sent (replies must describe it)
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
        self.market_stream = MarketStream(name, config, lambda: self.rest.session, context.clock)

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
            await markets.load(self)

    async def _market(self, symbol: str) -> Market:
        await self._ensure_markets()
        self._symbols.to_venue(symbol)  # raises VenueRejected(unknown_symbol)
        return self._markets[symbol]

    # -- market data --------------------------------------------------------------------------------------------

    async def fetch_funding_rates(self, symbols: Sequence[str] | None = None) -> Mapping[str, FundingRate]:
        """Return each symbol's current rate per its own interval, with next time and mark.

        From the `markPrice@1s` streams while every asked symbol is current there, else from `premiumIndex` (which
        subscribes the streams for the next call).
        """
        if self.config.market_streams:
            await self._ensure_markets()
            streamed = quotes.streamed_rates(self, symbols)
            if streamed is not None:
                return streamed
            if symbols is None:
                self.market_stream.want(ALL_MARKS)
            else:
                known = [self._markets[s].units.market for s in symbols if s in self._markets]
                self.market_stream.want(*(mark_stream(m) for m in known))
        return await quotes.funding_rates(self, symbols)

    async def fetch_bbo_prices(self, symbol: str) -> BBO:
        """Return the best bid and ask: from `<s>@bookTicker` while current, else `ticker/bookTicker` (which
        subscribes the stream for the next call)."""
        if self.config.market_streams:
            market = await self._market(symbol)
            streamed = quotes.streamed_bbo(self, symbol, market)
            if streamed is not None:
                return streamed
            self.market_stream.want(book_stream(market.units.market), mark_stream(market.units.market))
        return await quotes.bbo(self, symbol)

    async def fetch_order_book(self, symbol: str, depth: int = 10) -> OrderBook:
        """Return the top `depth` levels (`depth`, at the smallest of Aster's limits that covers them)."""
        return await quotes.order_book(self, symbol, depth)

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
        self._params[client_order_id] = params
        # Tracked as live from the moment it may reach Aster: whatever happens next, reconciliation covers it.
        self._live[client_order_id] = symbol
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
                into=lambda d: read(d, OrderReply),
            )
        except (AmbiguousOutcome, asyncio.CancelledError):
            # Cancelled while the request was out: as unknown as a lost reply.
            self._remember(client_order_id, placed=False)
            self._log.warning("order {} -> outcome unknown (reconcile by client id)", what)
            raise
        except VenueError as exc:
            self._live.pop(client_order_id, None)  # refused, or never sent
            self._log.info("order {} -> refused: {}", what, exc)
            raise
        finally:
            self._in_flight.discard(client_order_id)
        self._remember(client_order_id, placed=True)
        try:
            _matches(data, params)
            state = await self._state(data, client_order_id, symbol, market, after_change=True)
        except Exception as exc:  # Aster accepted something: an unreadable answer leaves the outcome unknown
            self._remember(client_order_id, placed=False)
            self._log.warning("order {} -> accepted but its reply is unusable ({}); reconcile", what, exc)
            raise AmbiguousOutcome(
                f"order {client_order_id} accepted but the reply is unusable ({exc}); reconcile by client order id",
                venue=self.name,
                client_order_id=client_order_id,
            ) from None
        self._log.info("order {} -> {} filled {} avg {}", what, state.status, state.filled_qty, state.avg_price)
        if state.final:
            self._live.pop(client_order_id, None)
        if state.reject_reason is RejectReason.POST_ONLY_WOULD_CROSS:
            raise VenueRejected(
                "post-only order would have crossed (expired)", venue=self.name, reason=state.reject_reason
            )
        return state

    def _remember(self, client_order_id: str, *, placed: bool) -> None:
        self._sent[client_order_id] = placed
        self._sent.move_to_end(client_order_id)
        while len(self._sent) > _SENT_MEMORY:
            forgotten, _ = self._sent.popitem(last=False)
            self._params.pop(forgotten, None)

    def check_reply(self, client_order_id: str, data: OrderReply) -> None:
        """Refuse (`Malformed`) a reply about an order this process sent that does not describe what was sent."""
        params = self._params.get(client_order_id)
        if params is not None:
            _matches(data, params)

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
                "DELETE",
                "order",
                params,
                signed=True,
                changes_orders=True,
                client_order_id=client_order_id,
                into=lambda d: read(d, OrderReply),
            )
        except VenueRejected as exc:
            if exc.reason != RejectReason.UNKNOWN_ORDER:
                raise
            found = await self.get_order(symbol, client_order_id)
            if found is None:
                raise
            return found
        try:
            if data.clientOrderId != params["origClientOrderId"] or data.symbol != market.units.market:
                raise Malformed("$.clientOrderId", f"reply describes {data.clientOrderId} on {data.symbol}")
            self.check_reply(client_order_id, data)
            state = await self._state(data, client_order_id, symbol, market, after_change=True)
        except Exception as exc:  # the cancel was accepted: an unreadable answer leaves the order's state unknown
            raise AmbiguousOutcome(
                f"cancel of {client_order_id} accepted but the reply is unusable ({exc}); reconcile by client order id",
                venue=self.name,
                client_order_id=client_order_id,
            ) from None
        self._log.info("cancel {} -> {} filled {}", client_order_id, state.status, state.filled_qty)
        return state

    async def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """Return the order with this client id, or None if Aster never received it."""
        market = await self._market(symbol)
        params = {"symbol": market.units.market, "origClientOrderId": wire_client_id(client_order_id)}
        try:
            data = await self.rest.call(
                "GET", "order", params, signed=True, weight=1, into=lambda d: read(d, OrderReply)
            )
        except VenueRejected as exc:
            if exc.reason == RejectReason.UNKNOWN_ORDER:
                return None
            raise
        if data.clientOrderId != params["origClientOrderId"] or data.symbol != market.units.market:
            raise VenueUnavailable(
                f"GET order: reply describes {data.clientOrderId!r} on {data.symbol!r}, not {client_order_id}",
                venue=self.name,
            )
        try:
            self.check_reply(client_order_id, data)
        except Malformed as exc:
            raise VenueUnavailable(f"GET order: malformed reply at {exc.where}: {exc.why}", venue=self.name) from None
        return await self._state(data, client_order_id, symbol, market)

    async def _state(
        self,
        data: OrderReply,
        client_order_id: str,
        symbol: str,
        market: Market,
        *,
        after_change: bool = False,
    ) -> OrderState:
        """An order reply as an `OrderState`, with its fees from `userTrades` once anything filled.

        `after_change`: the reply acknowledges a placement or cancel that already happened, so a failure to read the
        fees must not surface as an error (the caller would believe nothing was done): the fees are then estimated
        at the taker rate and read for real by the next `get_order`.
        """
        fees, maker_qty = Decimal(0), Decimal(0)
        if data.executedQty > 0:
            try:
                fees, maker_qty = await self._fills(client_order_id, market, data)
            except VenueError as exc:
                if not after_change:
                    raise
                notional = data.cumQuote or data.executedQty * data.avgPrice
                fees = notional * (market.instrument.taker_fee or fees_module.FALLBACK_TAKER)
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

    async def _fills(self, client_order_id: str, market: Market, data: OrderReply) -> tuple[Decimal, Decimal]:
        cached = self._final_fees.get(client_order_id)
        if cached is not None:
            return cached
        params = {"symbol": market.units.market, "orderId": data.orderId}
        trades = await self.rest.call(
            "GET", "userTrades", params, signed=True, weight=5, into=lambda d: read_rows(d, TradeRow)
        )
        mine = [t for t in trades if t.orderId == data.orderId and t.symbol == market.units.market]
        if len({t.id for t in mine}) != len(mine):
            raise VenueUnavailable(f"userTrades: duplicate trade ids for order {data.orderId}", venue=self.name)
        if sum((t.qty for t in mine), Decimal(0)) > data.origQty:
            raise VenueUnavailable(f"userTrades: trades of order {data.orderId} exceed its quantity", venue=self.name)
        fees = sum(
            (self._fee(t.commission, t.commissionAsset, t.maker, t.qty, t.price, market) for t in mine), Decimal(0)
        )
        maker = sum((t.qty for t in mine if t.maker), Decimal(0))
        result = (fees, market.units.qty_from_venue(maker))
        if data.status in ("FILLED", "CANCELED", "EXPIRED", "REJECTED"):
            self._final_fees[client_order_id] = result
        return result

    def _fee(self, amount: Decimal, asset: str, maker: bool, qty: Decimal, price: Decimal, market: Market) -> Decimal:
        """One fill's fee in the quote asset (see `fees.fee_in_quote`)."""
        return fees_module.fee_in_quote(
            amount,
            asset,
            quote_asset=self.config.quote_asset,
            base_asset=market.base_asset,
            rate=market.instrument.maker_fee if maker else market.instrument.taker_fee,
            qty=qty,
            price=price,
            log=self._log,
        )

    # -- account ------------------------------------------------------------------------------------------------

    async def get_position_snapshot(self, symbol: str) -> PositionSnapshot:
        """Return the net position (`positionRisk`, signed `positionAmt`); flat is quantity 0."""
        return await account.position_snapshot(self, symbol)

    async def get_position_snapshots(self, symbols: Sequence[str]) -> Mapping[str, PositionSnapshot]:
        """Return every asked position from one `positionRisk` request without a symbol (flat ones too)."""
        return await account.position_snapshots(self, symbols)

    async def fetch_balance(self) -> Balance:
        """The futures wallet in the quote asset (USDT; other assets are not counted as USDT)."""
        return await account.balance(self)

    async def fetch_funding_payments(self, symbol: str | None, since: datetime) -> Sequence[FundingPayment]:
        """Return `FUNDING_FEE` income since `since`, oldest first, each with the rate it settled at."""
        return await history.funding_payments(self, symbol, since)

    async def fetch_funding_history(self, symbol: str, start: datetime, end: datetime) -> Sequence[FundingHistoryEntry]:
        """Return the rates settled at `start <= at < end` (`fundingRate`, paged by 1000), oldest first."""
        return await history.funding_history(self, symbol, start, end)

    async def fetch_price_candles(
        self, symbol: str, resolution: timedelta, start: datetime, end: datetime
    ) -> Sequence[PriceCandle]:
        """Return mark-price candles opening at `start <= at < end` (`markPriceKlines`, paged by 1500)."""
        return await history.price_candles(self, symbol, resolution, start, end)

    async def check_account(self) -> None:
        """Verify the credentials and the account's modes before trading (see `history.check_account`)."""
        await history.check_account(self)

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        """Set the symbol's leverage, capped at the instrument's maximum; return what Aster applied."""
        market = await self._market(symbol)
        if not leverage.is_finite() or leverage < 1:
            raise VenueRejected(f"leverage {leverage} is not at least 1", venue=self.name, reason=RejectReason.LEVERAGE)
        wanted = max(1, int(min(leverage, market.instrument.max_leverage)))
        reply = await self.rest.call(
            "POST",
            "leverage",
            {"symbol": market.units.market, "leverage": str(wanted)},
            signed=True,
            into=lambda d: read(d, LeverageReply),
        )
        quotes.same_symbol(self, "leverage", reply.symbol, market)
        if not 1 <= reply.leverage <= max(market.instrument.max_leverage, wanted):
            raise VenueUnavailable(
                f"leverage: Aster reports {reply.leverage}x, outside 1..{market.instrument.max_leverage}x",
                venue=self.name,
            )
        return Decimal(reply.leverage)

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
        events.on_event(self, event)

    async def _reconcile(self) -> None:
        """After a (re)connect: ask REST for every order not known to be final; publish what changed."""
        await events.reconcile(self)

    # -- life cycle ---------------------------------------------------------------------------------------------

    def resume_trading(self) -> None:
        """Allow orders again after an IP ban halted this venue (an operator's decision)."""
        self.rest.resume_trading()

    async def close(self) -> None:
        """Stop the stream, end every subscription, close the HTTP session."""
        await self.stream.stop()
        await self.market_stream.stop()
        self._orders.close()
        self._liquidations.close()
        await self.rest.close()


def _matches(data: OrderReply, params: Mapping[str, str]) -> None:
    """Refuse an order reply that does not describe the order just sent."""
    expected = {
        "clientOrderId": params["newClientOrderId"],
        "symbol": params["symbol"],
        "side": params["side"],
        "origQty": Decimal(params["quantity"]),
        "price": Decimal(params["price"]),
    }
    for field, value in expected.items():
        got = getattr(data, field)
        if got != value:
            raise Malformed(f"$.{field}", f"reply says {got}, the order sent {value}")
