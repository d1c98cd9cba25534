"""The Lighter venue: fundarb's `Venue` protocol on Lighter's REST API, signed transactions and websocket.

Orders are CreateOrder transactions signed by the SDK's native signer with a nonce fundarb chooses (see
`nonces`), sent by fundarb's own transport. `sendTx` returns no order id: every order is found again by its
deterministic client order index (see `client_ids`) among the account's active and inactive orders.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from loguru import logger

from fundarb_core.errors import AmbiguousOutcome, RateLimited, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, RejectReason, Side, TimeInForce
from fundarb_core.secrets import Secret
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
    Rounding,
    SymbolMap,
    VenueContext,
)
from fundarb_venue_lighter import signer as tx
from fundarb_venue_lighter.client_ids import ClientIndexMap
from fundarb_venue_lighter.config import LighterConfig
from fundarb_venue_lighter.funding import hourly_from_funding_rates, next_funding_time
from fundarb_venue_lighter.nonces import NonceManager
from fundarb_venue_lighter.scaling import scale_base_amount, scale_price
from fundarb_venue_lighter.signer import Signer
from fundarb_venue_lighter.streams import AccountOrderStream, OrderBookStream
from fundarb_venue_lighter.transport import Json, Transport
from fundarb_venue_lighter.wire import (
    MARGIN_FRACTION_SCALE,
    Market,
    dec,
    instrument_from_detail,
    order_from_wire,
    parse_time,
)

__all__ = ["LighterVenue"]

ZERO = Decimal(0)
INSTRUMENT_TTL = 300.0  # seconds an instrument listing is reused
BOOK_ORDERS = 250  # orderBookOrders' maximum


class LighterVenue:
    """A Lighter account as a fundarb venue."""

    kind = "lighter"

    def __init__(self, name: str, config: LighterConfig, context: VenueContext) -> None:
        self.name = name
        self.config = config
        self.clock = context.clock
        self.capabilities = Capabilities(order_stream=True, bbo_stream=False, liquidation_stream=False)
        self.transport = Transport(
            config.base_url,
            venue=name,
            clock=self.clock,
            timeout=config.timeout.total_seconds(),
            requests_per_minute=config.requests_per_minute,
        )
        self.nonces = NonceManager(self._fetch_nonce, venue=name)
        path = context.data_dir / "lighter" / f"{name}-client-ids.json" if context.data_dir is not None else None
        self.ids = ClientIndexMap(path, venue=name)
        self.log = logger.bind(venue=name)
        self._signer: Signer | None = None
        self._signer_lock = asyncio.Lock()
        self._instruments: dict[str, Instrument] = {}
        self._markets: dict[str, Market] = {}
        self._by_market_id: dict[int, str] = {}
        self._symbols = SymbolMap(name, {})
        self._loaded_at: float | None = None
        self._auth: tuple[Secret, float] | None = None
        self._orders: dict[str, OrderState] = {}  # last state seen per client order id
        self._subscribers: list[asyncio.Queue[OrderState]] = []
        self._stream: AccountOrderStream | None = None

    def __repr__(self) -> str:
        return f"LighterVenue({self.name!r}, account={self.config.account_index}, key={self.config.api_key_index})"

    # -- plumbing ----------------------------------------------------------------------------------------------

    async def _signer_ready(self) -> Signer:
        async with self._signer_lock:
            if self._signer is None:
                self._signer = await Signer.open(
                    self.config.base_url,
                    self.config.account_index,
                    self.config.api_key_index,
                    self.config.api_private_key,
                    self.config.resolved_chain_id(),
                    venue=self.name,
                )
            return self._signer

    async def _fetch_nonce(self, key: int) -> int:
        body = await self.transport.get("nextNonce", {"account_index": self.config.account_index, "api_key_index": key})
        return int(body["nonce"])

    async def auth_token(self, *, force: bool = False) -> str:
        """A current auth token, made anew when less than a fifth of its lifetime is left (or when forced)."""
        ttl = self.config.auth_token_ttl.total_seconds()
        now = self.clock.monotonic()
        if force or self._auth is None or self._auth[1] - now < ttl / 5:
            signer = await self._signer_ready()
            token = signer.auth_token(int(self.clock.now().timestamp()), int(ttl))
            self._auth = (Secret(token), now + ttl)  # a Secret: log sinks mask it wherever it appears
        return self._auth[0].reveal()

    def _market(self, symbol: str) -> tuple[Instrument, Market]:
        self._symbols.to_venue(symbol)  # VenueRejected(UNKNOWN_SYMBOL)
        return self._instruments[symbol], self._markets[symbol]

    async def _known(self, symbol: str) -> tuple[Instrument, Market]:
        if self._loaded_at is None:
            await self.load_instruments()
        return self._market(symbol)

    def _publish(self, state: OrderState) -> None:
        previous = self._orders.get(state.client_order_id)
        self._orders[state.client_order_id] = state
        if previous == state:
            return
        for queue in self._subscribers:
            queue.put_nowait(state)

    # -- instruments and market data ---------------------------------------------------------------------------

    async def load_instruments(self) -> Mapping[str, Instrument]:
        now = self.clock.monotonic()
        if self._loaded_at is not None and now - self._loaded_at < INSTRUMENT_TTL:
            return dict(self._instruments)
        books, details = await self._startup(lambda: self._get_listing())
        fees = {int(b["market_id"]): b for b in books}
        instruments: dict[str, Instrument] = {}
        markets: dict[str, Market] = {}
        for detail in details:
            listing = fees.get(int(detail["market_id"]))
            if listing is None or listing.get("status") != "active" or listing.get("market_type", "perp") != "perp":
                continue
            if self.config.symbols is not None and detail["symbol"] not in self.config.symbols:
                continue
            instrument, market = instrument_from_detail(detail, listing)
            instruments[instrument.symbol], markets[instrument.symbol] = instrument, market
        self._instruments, self._markets = instruments, markets
        self._by_market_id = {m.market_id: s for s, m in markets.items()}
        self._symbols = SymbolMap(self.name, {s: i.venue_symbol for s, i in instruments.items()})
        self._loaded_at = now
        return dict(instruments)

    async def _get_listing(self) -> tuple[list[Json], list[Json]]:
        books = await self.transport.get("orderBooks")
        details = await self.transport.get("orderBookDetails")
        return list(books["order_books"]), list(details["order_book_details"])

    async def _startup(self, call: Any) -> Any:
        """Run `call` and retry with backoff while the venue is unavailable (maintenance, 503) at start-up."""
        delay = 1.0
        for attempt in range(self.config.startup_retries + 1):
            try:
                return await call()
            except VenueUnavailable as error:
                if attempt == self.config.startup_retries:
                    self.log.error("Lighter still unavailable after {} retries: {}", attempt, error)
                    raise
                self.log.warning("Lighter unavailable at start-up ({}); retrying in {:.0f} s", error, delay)
                retry_after = error.retry_after if isinstance(error, RateLimited) else None
                await self.clock.sleep(retry_after or delay)
                delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    async def _details(self, market_id: int | None = None) -> list[Json]:
        body = await self.transport.get("orderBookDetails", {"market_id": market_id})
        return list(body["order_book_details"])

    async def fetch_funding_rates(self, symbols: Sequence[str] | None = None) -> Mapping[str, FundingRate]:
        await self._known_all()
        wanted = list(symbols) if symbols is not None else sorted(self._instruments)
        for symbol in wanted:
            self._market(symbol)
        rates = await self.transport.get("funding-rates")
        details = {int(d["market_id"]): d for d in await self._details()}
        now = self.clock.now()
        out: dict[str, FundingRate] = {}
        for entry in rates["funding_rates"]:
            if entry.get("exchange") != "lighter":
                continue
            found = self._by_market_id.get(int(entry["market_id"]))
            if found is None or found not in wanted or int(entry["market_id"]) not in details:
                continue
            symbol = found
            detail = details[int(entry["market_id"])]
            out[symbol] = FundingRate(
                symbol=symbol,
                rate=hourly_from_funding_rates(dec(entry["rate"])),
                interval=self._instruments[symbol].funding_interval,
                next_funding_time=next_funding_time(now),
                mark_price=dec(detail["mark_price"]),
                index_price=dec(detail["index_price"]),
            )
        return out

    async def _known_all(self) -> None:
        if self._loaded_at is None:
            await self.load_instruments()

    async def fetch_order_book(self, symbol: str, depth: int = 10) -> OrderBook:
        _instrument, market = await self._known(symbol)
        body = await self.transport.get("orderBookOrders", {"market_id": market.market_id, "limit": BOOK_ORDERS})
        bids = _levels(body["bids"], descending=True)[:depth]
        asks = _levels(body["asks"], descending=False)[:depth]
        return OrderBook(symbol=symbol, bids=tuple(bids), asks=tuple(asks), at=self.clock.now())

    async def fetch_bbo_prices(self, symbol: str) -> BBO:
        book = await self.fetch_order_book(symbol, depth=1)
        if not book.bids or not book.asks:
            raise VenueUnavailable(f"{symbol}: the book has an empty side", venue=self.name)
        bid, ask = book.bids[0], book.asks[0]
        return BBO(symbol, bid.price, ask.price, bid.quantity, ask.quantity, book.at)

    # -- orders ------------------------------------------------------------------------------------------------

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
        instrument, market = await self._known(symbol)
        reason = instrument.check_order(quantity, price, reduce_only=reduce_only)
        if reason is not None:
            raise VenueRejected(f"{symbol} {quantity} @ {price}: {reason}", venue=self.name, reason=reason)
        if time_in_force is TimeInForce.IOC:
            tif, expiry = tx.IOC, 0  # IOC requires expiry 0
        else:
            # GTT and post-only require a non-zero expiry (ms): the configured time to live.
            tif = tx.POST_ONLY if time_in_force is TimeInForce.POST_ONLY else tx.GTT
            expiry = int((self.clock.now() + self.config.order_ttl).timestamp() * 1000)
        return await self._submit_order(
            symbol, market, side, quantity, price, client_order_id, tx.LIMIT, tif, expiry, reduce_only
        )

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
        instrument, market = await self._known(symbol)
        # The order's price is the worst acceptable one: round it towards the better side, never beyond the cap.
        cap = instrument.round_price(worst_price, Rounding.DOWN if side is Side.BUY else Rounding.UP)
        reason = instrument.check_order(quantity, None)
        if reason is not None:
            raise VenueRejected(f"{symbol} {quantity}: {reason}", venue=self.name, reason=reason)
        return await self._submit_order(
            symbol, market, side, quantity, cap, client_order_id, tx.MARKET, tx.IOC, 0, reduce_only
        )

    async def _submit_order(
        self,
        symbol: str,
        market: Market,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        client_order_id: str,
        order_type: int,
        tif: int,
        expiry: int,
        reduce_only: bool,
    ) -> OrderState:
        known = self._orders.get(client_order_id)
        if known is not None and known.final:
            # [?] Lighter refuses a known client order index (21728); whether it still does once the order is
            # finished is not documented. A finished order's id is refused here, so it can never trade twice.
            raise VenueRejected(
                f"client order id {client_order_id} was already used ({known.status})",
                venue=self.name,
                reason=RejectReason.DUPLICATE_CLIENT_ORDER_ID,
            )
        base_amount = scale_base_amount(quantity, market.size_decimals, venue=self.name)
        price_units = scale_price(price, market.price_decimals, venue=self.name)
        index = self.ids.index(client_order_id)
        signer = await self._signer_ready()

        async def attempt(nonce: int) -> Json:
            signed = signer.create_order(
                market_index=market.market_id,
                client_order_index=index,
                base_amount=base_amount,
                price=price_units,
                is_ask=side is Side.SELL,
                order_type=order_type,
                time_in_force=tif,
                reduce_only=reduce_only,
                order_expiry=expiry,
                nonce=nonce,
            )
            return await self.transport.send_tx(signed, client_order_id=client_order_id, reduce_only=reduce_only)

        await self.nonces.submit(signer.api_key_index, attempt)
        state = await self._await_visible(symbol, client_order_id)
        if state.status is OrderStatus.REJECTED and state.reject_reason is not None:
            raise VenueRejected(
                f"order {client_order_id} was cancelled by the venue: {state.reject_reason}",
                venue=self.name,
                reason=state.reject_reason,
            )
        return state

    async def _await_visible(self, symbol: str, client_order_id: str) -> OrderState:
        """Poll until an accepted order shows among the account's orders (Lighter matches with a delay)."""
        deadline = self.clock.monotonic() + self.config.ack_timeout.total_seconds()
        delay = 0.05
        while True:
            state = await self.get_order(symbol, client_order_id)
            if state is not None:
                return state
            if self.clock.monotonic() >= deadline:
                raise AmbiguousOutcome(
                    f"order {client_order_id} was accepted but is not visible yet",
                    venue=self.name,
                    client_order_id=client_order_id,
                )
            await self.clock.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        _instrument, market = await self._known(symbol)
        known = self._orders.get(client_order_id)
        if known is not None and known.final:
            return known  # a finished order never changes
        index = self.ids.peek(client_order_id)
        found = await self._find_order(market, index)
        if found is None:
            return None
        state = order_from_wire(found, client_order_id=client_order_id, symbol=symbol, market=market)
        self._publish(state)
        return state

    async def _find_order(self, market: Market, index: int) -> Json | None:
        auth = await self.auth_token()
        account = self.config.account_index
        active = await self.transport.get(
            "accountActiveOrders", {"account_index": account, "market_id": market.market_id}, auth=auth
        )
        for order in active["orders"]:
            if int(order["client_order_index"]) == index:
                return dict(order)
        cursor: str | None = None
        for _ in range(self.config.inactive_order_pages):
            page = await self.transport.get(
                "accountInactiveOrders",
                {"account_index": account, "market_id": market.market_id, "limit": 100, "cursor": cursor},
                auth=auth,
            )
            for order in page["orders"]:
                if int(order["client_order_index"]) == index:
                    return dict(order)
            cursor = page.get("next_cursor")
            if not cursor or not page["orders"]:
                break
        return None

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        _instrument, market = await self._known(symbol)
        state = await self.get_order(symbol, client_order_id)
        if state is None:
            raise VenueRejected(
                f"no order with client id {client_order_id}", venue=self.name, reason=RejectReason.UNKNOWN_ORDER
            )
        if state.final:
            return state
        signer = await self._signer_ready()
        # [?] The cancel's `Index` is the client order index per the docs; order indexes are issued from 2^48 up,
        # so a client index can never name another order. If the venue reads it as an order index it answers
        # "invalid order index" (21700) and the cancel is sent again with the order index.
        for index in (self.ids.peek(client_order_id), int(state.venue_order_id or 0)):

            async def attempt(nonce: int, index: int = index) -> Json:
                signed = signer.cancel_order(market_index=market.market_id, index=index, nonce=nonce)
                return await self.transport.send_tx(signed, client_order_id=client_order_id)

            try:
                await self.nonces.submit(signer.api_key_index, attempt)
                break
            except VenueRejected as error:
                if error.reason is not RejectReason.UNKNOWN_ORDER or not state.venue_order_id:
                    raise
        deadline = self.clock.monotonic() + self.config.ack_timeout.total_seconds()
        while True:
            after = await self.get_order(symbol, client_order_id)
            if after is not None and after.final:
                return after
            if self.clock.monotonic() >= deadline:
                raise AmbiguousOutcome(
                    f"cancel of {client_order_id} was accepted but the order is still live",
                    venue=self.name,
                    client_order_id=client_order_id,
                )
            await self.clock.sleep(0.05)

    # -- account -----------------------------------------------------------------------------------------------

    async def _account(self) -> Json:
        body = await self.transport.get("account", {"by": "index", "value": self.config.account_index})
        accounts = body["accounts"]
        if not accounts:
            raise VenueRejected(
                f"account {self.config.account_index} not found", venue=self.name, reason=RejectReason.AUTHENTICATION
            )
        return dict(accounts[0])

    async def get_position_snapshot(self, symbol: str) -> PositionSnapshot:
        _instrument, market = await self._known(symbol)
        account = await self._account()
        detail = (await self._details(market.market_id))[0]
        mark = dec(detail["mark_price"])
        now = self.clock.now()
        for position in account["positions"]:
            if int(position["market_id"]) != market.market_id:
                continue
            size = dec(position["position"])
            if size == 0:
                break
            quantity = size * int(position["sign"])  # `position` is the absolute size; `sign` 1 long, -1 short
            # [?] `initial_margin_fraction` on positions reads as percent ("5.00" = 5 %, 20x).
            imf = dec(position["initial_margin_fraction"]) / 100
            isolated = int(position.get("margin_mode", 0)) == 1
            margin = dec(position["allocated_margin"]) if isolated else abs(quantity) * mark * imf
            liquidation = dec(position["liquidation_price"])
            paid = position.get("total_funding_paid_out")
            return PositionSnapshot(
                symbol=symbol,
                quantity=quantity,
                entry_price=dec(position["avg_entry_price"]),
                mark_price=mark,
                unrealized_pnl=dec(position["unrealized_pnl"]),
                # [?] "paid out" read as paid by the account: accrued (received) is its negation.
                funding_accrued=-dec(paid) if paid not in (None, "") else ZERO,
                margin=margin,
                leverage=(1 / imf).normalize() if imf > 0 else ZERO,
                liquidation_price=liquidation if liquidation > 0 else None,
                at=now,
            )
        return PositionSnapshot(symbol, ZERO, None, mark, ZERO, ZERO, ZERO, ZERO, None, now)

    async def fetch_balance(self) -> Balance:
        account = await self._account()
        collateral = dec(account["collateral"])
        total = dec(account["total_asset_value"])
        available = dec(account["available_balance"])
        return Balance(
            asset="USDC",
            wallet=collateral,
            available=available,
            margin_used=max(ZERO, total - available),
            unrealized_pnl=total - collateral,
            at=self.clock.now(),
        )

    async def fetch_funding_payments(self, symbol: str | None, since: datetime) -> Sequence[FundingPayment]:
        await self._known_all()
        markets = [self._market(symbol)[1]] if symbol is not None else list(self._markets.values())
        auth = await self.auth_token()
        params: dict[str, Any] = {
            "account_index": self.config.account_index,
            "limit": 100,
            "start_timestamp": int(since.timestamp()),
            "market_ids": ",".join(str(m.market_id) for m in markets),
        }
        payments: list[FundingPayment] = []
        for _ in range(20):  # at most 2000 settlements per call
            page = await self.transport.get("positionFunding", params, auth=auth)
            for entry in page["position_fundings"]:
                at = parse_time(entry["timestamp"])
                sym = self._by_market_id.get(int(entry["market_id"]))
                if sym is None or at < since:
                    continue
                payments.append(_payment(entry, sym, at))
            cursor = page.get("next_cursor")
            if not cursor or not page["position_fundings"]:
                break
            params["cursor"] = cursor
        payments.sort(key=lambda p: (p.at, p.payment_id))
        return payments

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        instrument, market = await self._known(symbol)
        if leverage < 1:
            raise VenueRejected(f"leverage {leverage} is below 1", venue=self.name, reason=RejectReason.LEVERAGE)
        applied = min(leverage, instrument.max_leverage)
        # InitialMarginFraction = 10000 / leverage, rounded up (never more leverage than asked).
        fraction = max(market.min_initial_margin_fraction, math.ceil(MARGIN_FRACTION_SCALE / applied))
        mode = 1 if self.config.margin_mode == "isolated" else 0
        signer = await self._signer_ready()

        async def attempt(nonce: int) -> Json:
            signed = signer.update_leverage(
                market_index=market.market_id, initial_margin_fraction=fraction, margin_mode=mode, nonce=nonce
            )
            return await self.transport.send_tx(signed)

        await self.nonces.submit(signer.api_key_index, attempt)
        return MARGIN_FRACTION_SCALE / Decimal(fraction)

    # -- streams -----------------------------------------------------------------------------------------------

    async def order_updates(self) -> AsyncIterator[OrderState]:
        """Stream order changes: the account's order channel, plus every state this venue sees by REST.

        The queue is registered before anything is awaited, so an order placed right after the first `anext` is
        reported even if the websocket subscription is not live yet. After each (re)connection, the orders known
        to be live are looked up by REST, so nothing that happened while disconnected is missed.
        """
        queue: asyncio.Queue[OrderState] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            if self._stream is None:
                self._stream = AccountOrderStream(self)
                self._stream.start()
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(queue)
            if not self._subscribers and self._stream is not None:
                stream, self._stream = self._stream, None
                await stream.stop()

    async def watch_order_book(self, symbol: str, depth: int = 10) -> AsyncIterator[OrderBook]:
        """Stream the book of `symbol` from `order_book/{market}`: a snapshot, then one book per delta.

        Deltas are applied only in nonce order; a gap resubscribes for a fresh snapshot (nothing inconsistent is
        ever yielded).
        """
        _instrument, market = await self._known(symbol)
        stream = OrderBookStream(self, symbol, market.market_id, depth)
        stream.socket.start()
        try:
            while True:
                yield await stream.queue.get()
        finally:
            await stream.socket.stop()

    def liquidations(self) -> AsyncIterator[LiquidationNotice]:
        raise NotImplementedError("Lighter liquidation notices are not streamed yet (capabilities say so)")

    async def on_account_orders(self, orders: Sequence[Json]) -> None:
        """Take order updates from the account websocket channel (orders this venue knows by client index)."""
        for order in orders:
            cid = self.ids.client_id(int(order["client_order_index"]))
            symbol = self._by_market_id.get(int(order["market_index"]))
            if cid is None or symbol is None:
                continue
            self._publish(order_from_wire(order, client_order_id=cid, symbol=symbol, market=self._markets[symbol]))

    async def reconcile(self) -> None:
        """Look up by REST every order last seen live (after a websocket (re)connection)."""
        for cid, state in list(self._orders.items()):
            if not state.final:
                await self.get_order(state.symbol, cid)

    async def close(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
        await self.transport.close()
        if self._signer is not None:
            signer, self._signer = self._signer, None
            await signer.close()


def _levels(orders: Sequence[Json], *, descending: bool) -> list[BookLevel]:
    totals: dict[Decimal, Decimal] = {}
    for order in orders:
        price = dec(order["price"])
        totals[price] = totals.get(price, ZERO) + dec(order["remaining_base_amount"])
    prices = sorted((p for p, q in totals.items() if q > 0), reverse=descending)
    return [BookLevel(p, totals[p]) for p in prices]


def _payment(entry: Json, symbol: str, at: datetime) -> FundingPayment:
    size = dec(entry["position_size"])
    signed = size if str(entry["position_side"]).lower() == "long" else -size
    # [?] `rate` read like `fundings`' rate: percent per hour.
    rate = dec(entry["rate"]) / 100
    change = dec(entry["change"])
    mark = abs(change / (size * rate)) if size and rate else ZERO
    return FundingPayment(
        payment_id=f"{entry['market_id']}:{entry.get('funding_id', int(at.timestamp()))}",
        symbol=symbol,
        amount=change,
        rate=rate,
        position_qty=signed,
        mark_price=mark,
        at=at,
    )
