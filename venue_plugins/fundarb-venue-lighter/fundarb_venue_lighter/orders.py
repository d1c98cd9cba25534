"""Orders on Lighter: signed CreateOrder / CancelOrder / UpdateLeverage transactions, found again by client index.

`sendTx` returns no order id: every order is found again by its deterministic client order index (see
`client_ids`) among the account's active and inactive orders. An order is tracked from the moment it is sent:
once `sendTx` may have reached the venue, any failure to find it again is `AmbiguousOutcome`, never a refusal,
and `reconcile()` keeps looking it up by client order id until its state is known. Signing runs in a worker thread
(the SDK's calls are synchronous).

`OrderDesk` is the order half of `LighterVenue` (a mixin: it uses the venue's transport, signer, nonces, ids and
markets).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from fundarb_core.clock import Clock
from fundarb_core.errors import AmbiguousOutcome, VenueError, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, RejectReason, Side, TimeInForce
from fundarb_core.venues import Instrument, OrderState, Rounding
from fundarb_venue_lighter import signer as tx
from fundarb_venue_lighter.client_ids import ClientIndexMap
from fundarb_venue_lighter.config import LighterConfig
from fundarb_venue_lighter.errors import MalformedReply
from fundarb_venue_lighter.nonces import NonceManager
from fundarb_venue_lighter.records import Order, OrdersReply
from fundarb_venue_lighter.scaling import scale_base_amount, scale_price
from fundarb_venue_lighter.signer import Signer
from fundarb_venue_lighter.streams import AccountOrderStream
from fundarb_venue_lighter.transport import Json, Transport
from fundarb_venue_lighter.wire import MARGIN_FRACTION_SCALE, Market, order_from_wire

if TYPE_CHECKING:
    import loguru

__all__ = ["OrderDesk"]


@attrs.frozen
class _Sent:
    """An order as it was sent: what the venue must report back for this client order id."""

    symbol: str
    market_id: int
    is_ask: bool
    quantity: Decimal


class OrderDesk:
    """Placing, finding, cancelling and streaming orders; `set_leverage`."""

    name: str
    config: LighterConfig
    clock: Clock
    transport: Transport
    nonces: NonceManager
    ids: ClientIndexMap
    log: loguru.Logger
    _markets: dict[str, Market]
    _by_market_id: dict[int, str]
    _orders: dict[str, OrderState]  # last state seen per client order id
    _sent: dict[str, _Sent]  # every order sent, from the moment it is sent
    _subscribers: list[asyncio.Queue[OrderState]]
    _stream: AccountOrderStream | None

    async def _known(self, symbol: str) -> tuple[Instrument, Market]:
        raise NotImplementedError

    async def _signer_ready(self) -> Signer:
        raise NotImplementedError

    async def auth_token(self, *, force: bool = False) -> str:
        raise NotImplementedError

    async def _token(self, force: bool) -> str:
        return await self.auth_token(force=force)

    def _publish(self, state: OrderState) -> None:
        previous = self._orders.get(state.client_order_id)
        self._orders[state.client_order_id] = state
        if state.final:
            self._sent.pop(state.client_order_id, None)  # known for good: no longer needs reconciling
        if previous == state:
            return
        for queue in self._subscribers:
            queue.put_nowait(state)

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
        sent = _Sent(symbol, market.market_id, side is Side.SELL, quantity)
        tracked_before = client_order_id in self._sent  # an earlier send of this id (its outcome unknown)

        async def attempt(nonce: int) -> Json:
            signed = await asyncio.to_thread(
                signer.create_order,
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
            # Tracked from here on: `reconcile()` looks the order up until its state is known.
            self._sent.setdefault(client_order_id, sent)
            return await self.transport.send_tx(signed, client_order_id=client_order_id, reduce_only=reduce_only)

        try:
            await self.nonces.submit(signer.api_key_index, attempt)
        except AmbiguousOutcome:
            raise
        except (VenueRejected, VenueUnavailable):
            if not tracked_before and client_order_id not in self._orders:
                self._sent.pop(client_order_id, None)  # definitely not taken: nothing to track
            raise
        try:
            state = await self._await_visible(symbol, client_order_id)
        except AmbiguousOutcome:
            raise
        except Exception as error:  # the order was accepted: whatever failed next, its outcome is unknown
            detail = error.message if isinstance(error, VenueError) else type(error).__name__
            if not isinstance(error, VenueError):
                self.log.opt(exception=error).error("look-up of order {} failed unexpectedly", client_order_id)
            raise AmbiguousOutcome(
                f"order {client_order_id} was accepted (sendTx) but could not be looked up: {detail}",
                venue=self.name,
                client_order_id=client_order_id,
            ) from None
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

    def _state(self, order: Order, client_order_id: str, symbol: str, endpoint: str) -> OrderState:
        """The state of an order found by client index; refuse one that contradicts what was sent."""
        market = self._markets[symbol]
        sent = self._sent.get(client_order_id)
        if order.market_index != market.market_id or (
            sent is not None and (sent.is_ask != order.is_ask or sent.quantity != order.initial_base_amount)
        ):
            raise MalformedReply(
                f"{endpoint}: order {client_order_id} comes back with another market, side or size than sent",
                venue=self.name,
                endpoint=endpoint,
                field="reply.orders.is_ask",
            )
        return order_from_wire(order, client_order_id=client_order_id, symbol=symbol, market=market)

    async def get_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        _instrument, market = await self._known(symbol)
        known = self._orders.get(client_order_id)
        if known is not None and known.final:
            return known  # a finished order never changes
        index = self.ids.peek(client_order_id)
        found = await self._find_order(market, index)
        if found is None:
            return None
        order, endpoint = found
        state = self._state(order, client_order_id, symbol, endpoint)
        self._publish(state)
        return state

    async def _find_order(self, market: Market, index: int) -> tuple[Order, str] | None:
        auth = await self.auth_token()
        account = self.config.account_index
        params: dict[str, Any] = {"account_index": account, "market_id": market.market_id}
        active: OrdersReply = await self.transport.get("accountActiveOrders", OrdersReply, params, auth=auth)
        for order in active.orders:
            if order.client_order_index == index:
                return order, "accountActiveOrders"
        cursor: str | None = None
        for _ in range(self.config.inactive_order_pages):
            params = {"account_index": account, "market_id": market.market_id, "limit": 100, "cursor": cursor}
            page: OrdersReply = await self.transport.get("accountInactiveOrders", OrdersReply, params, auth=auth)
            for order in page.orders:
                if order.client_order_index == index:
                    return order, "accountInactiveOrders"
            cursor = page.next_cursor
            if not cursor or not page.orders:
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
                signed = await asyncio.to_thread(
                    signer.cancel_order, market_index=market.market_id, index=index, nonce=nonce
                )
                return await self.transport.send_tx(signed, client_order_id=client_order_id)

            try:
                await self.nonces.submit(signer.api_key_index, attempt)
                break
            except VenueRejected as error:
                if error.reason is not RejectReason.UNKNOWN_ORDER or not state.venue_order_id:
                    raise
        try:
            return await self._await_final(symbol, client_order_id)
        except AmbiguousOutcome:
            raise
        except VenueError as error:  # the cancel was accepted: the order's state is now unknown, not refused
            raise AmbiguousOutcome(
                f"cancel of {client_order_id} was accepted but could not be confirmed: {error.message}",
                venue=self.name,
                client_order_id=client_order_id,
            ) from None

    async def _await_final(self, symbol: str, client_order_id: str) -> OrderState:
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
            signed = await asyncio.to_thread(
                signer.update_leverage,
                market_index=market.market_id,
                initial_margin_fraction=fraction,
                margin_mode=mode,
                nonce=nonce,
            )
            return await self.transport.send_tx(signed)

        await self.nonces.submit(signer.api_key_index, attempt)
        return MARGIN_FRACTION_SCALE / Decimal(fraction)

    # -- order stream and reconciliation ---------------------------------------------------------------------

    async def order_updates(self) -> AsyncIterator[OrderState]:
        """Stream order changes: the account's order channel, plus every state this venue sees by REST.

        The queue is registered before anything is awaited, so an order placed right after the first `anext` is
        reported even if the websocket subscription is not live yet. After each (re)connection, the orders known
        to be live (or sent and not seen yet) are looked up by REST, so nothing that happened while disconnected
        is missed.
        """
        queue: asyncio.Queue[OrderState] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            if self._stream is None:
                self._stream = AccountOrderStream(
                    self.config.resolved_ws_url(),
                    self.clock,
                    venue=self.name,
                    account_index=self.config.account_index,
                    token=self._token,
                    on_orders=self.on_account_orders,
                    reconcile=self.reconcile,
                    refresh_every=self.config.auth_token_ttl.total_seconds() * 0.8,
                )
                self._stream.start()
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(queue)
            if not self._subscribers and self._stream is not None:
                stream, self._stream = self._stream, None
                await stream.stop()

    async def on_account_orders(self, orders: Sequence[Order]) -> None:
        """Take order updates from the account websocket channel (orders this venue knows by client index)."""
        for order in orders:
            cid = self.ids.client_id(order.client_order_index)
            symbol = self._by_market_id.get(order.market_index)
            if cid is None or symbol is None:
                continue
            try:
                self._publish(self._state(order, cid, symbol, "account_all_orders"))
            except MalformedReply as error:
                self.log.warning("account stream: {}", error)  # REST reconciliation decides instead

    async def reconcile(self) -> None:
        """Look up by REST every order last seen live, or sent and never seen (after a (re)connection).

        One order's failed look-up does not stop the others; it is tried again at the next reconciliation.
        """
        pending = {cid: state.symbol for cid, state in self._orders.items() if not state.final}
        pending.update({cid: sent.symbol for cid, sent in self._sent.items() if cid not in self._orders})
        for cid, symbol in pending.items():
            try:
                await self.get_order(symbol, cid)
            except VenueError as error:
                self.log.warning("reconciliation of order {} failed: {}", cid, error)
