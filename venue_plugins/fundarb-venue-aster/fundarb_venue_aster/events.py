"""User-data stream events (already JSON-decoded by `decode.parse`) turned into order states and liquidation notices.

An event that fails validation raises (`Malformed`, ValueError); the stream logs it and carries on with the next one,
and the REST pollers and the reconcile after every reconnect cover what it would have said.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fundarb_core.errors import VenueError
from fundarb_core.venues import LiquidationNotice
from fundarb_venue_aster.decode import Malformed
from fundarb_venue_aster.records import OrderReply, read_rows
from fundarb_venue_aster.wire import SIDE, dec, order_state_from, stream_order, time_from_ms

# The venue is passed in (these are parts of `AsterVenue` kept in their own module); typed as Any so that this
# module does not import venue.py back (no import cycle, not even for type checking).
AsterVenue = Any

__all__ = ["on_event", "reconcile"]

_LIQUIDATION_PREFIXES = ("autoclose-", "adl_autoclose")  # Aster's ids for its own liquidation / ADL orders


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object, found {type(value).__name__}")
    return value


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def on_event(venue: AsterVenue, event: Mapping[str, Any]) -> None:
    """Handle one user-data event."""
    kind = event.get("e")
    if kind == "ORDER_TRADE_UPDATE":
        _on_order_event(venue, _mapping(event.get("o")))
    elif kind == "forceOrder":
        o = _mapping(event.get("o"))
        _notify_liquidation(venue, o, key=("force", o.get("s"), o.get("T")), qty=o.get("z") or o.get("q"))
    elif kind == "ACCOUNT_UPDATE":
        account = _mapping(event.get("a"))
        if account.get("m") == "FUNDING_FEE":
            venue._log.debug("funding settled: {}", account.get("B"))


def _on_order_event(venue: AsterVenue, o: Mapping[str, Any]) -> None:
    wire = o.get("c")
    if not isinstance(wire, str):
        raise ValueError("order update without a client order id")
    if wire.startswith(_LIQUIDATION_PREFIXES) or o.get("o") == "LIQUIDATION":
        if dec(o.get("l"), "0") > 0:
            _notify_liquidation(venue, o, key=("order", o.get("i"), o.get("t")), qty=o.get("l"))
        return
    reply = stream_order(o)
    venue.check_reply(venue._wire_ids.get(wire, wire), reply)
    symbol = venue._symbols.to_canonical(reply.symbol)
    if symbol is None:
        return
    market = venue._markets[symbol]
    units = market.units
    client_order_id = venue._wire_ids.get(wire, wire)
    fills = venue._stream_fills.setdefault(client_order_id, {})
    if o.get("x") == "TRADE":
        qty, price = dec(o.get("l")), dec(o.get("L"))
        if qty <= 0 or price <= 0:
            raise ValueError(f"trade of {qty} at {price}")
        maker = o.get("m") is True
        fee = venue._fee(dec(o.get("n"), "0"), str(o.get("N", "")), maker, qty, price, market)
        fills[o.get("t")] = (fee, qty if maker else Decimal(0))
    state = order_state_from(
        reply,
        client_order_id=client_order_id,
        symbol=symbol,
        units=units,
        intent=venue._intent.get(client_order_id),
        fees=sum((f for f, _ in fills.values()), Decimal(0)),
        maker_qty=units.qty_from_venue(sum((m for _, m in fills.values()), Decimal(0))),
        now=venue.clock.now(),
    )
    if state.final:
        venue._live.pop(client_order_id, None)
        venue._stream_fills.pop(client_order_id, None)
    venue._orders.publish(state)


def _notify_liquidation(venue: AsterVenue, o: Mapping[str, Any], *, key: tuple[Any, ...], qty: Any) -> None:
    symbol = venue._symbols.to_canonical(str(o.get("s")))
    if symbol is None or key in venue._liquidations_seen:
        return
    units = venue._markets[symbol].units
    price = next((p for p in (dec(o.get(k), "0") for k in ("L", "ap", "p")) if p > 0), None)
    quantity = dec(qty)
    if price is None or quantity <= 0:
        raise ValueError(f"liquidation of {quantity} at {price}")
    venue._liquidations_seen.add(key)
    notice = LiquidationNotice(
        symbol=symbol,
        quantity=units.qty_from_venue(quantity),
        price=units.price_from_venue(price),
        at=time_from_ms(_ms(o.get("T")), venue.clock.now()),
    )
    venue._log.warning("liquidation: {} {} {} @ {}", symbol, SIDE.get(str(o.get("S"))), notice.quantity, notice.price)
    venue._liquidations.publish(notice)


async def reconcile(venue: AsterVenue) -> None:
    """After a (re)connect: ask REST for every order not known to be final; publish what changed."""
    live = dict(venue._live)
    if not live:
        return
    try:
        open_now: set[str] = set()
        for symbol in sorted(set(live.values())):
            market = await venue._market(symbol)
            rows = await venue.rest.call(
                "GET",
                "openOrders",
                {"symbol": market.units.market},
                signed=True,
                into=lambda d: read_rows(d, OrderReply),
            )
            for row in rows:
                cid = venue._wire_ids.get(row.clientOrderId, row.clientOrderId)
                if cid in live and row.symbol == market.units.market:
                    try:
                        venue.check_reply(cid, row)
                    except Malformed as exc:
                        venue._log.warning("openOrders: {} does not match what was sent ({})", cid, exc)
                        continue
                    open_now.add(cid)
                    venue._orders.publish(await venue._state(row, cid, symbol, market))
        for cid, symbol in live.items():
            if cid not in open_now:
                state = await venue.get_order(symbol, cid)
                if state is not None:
                    venue._orders.publish(state)
    except VenueError as exc:
        venue._log.warning("reconcile after reconnect failed ({}); pollers cover the gap", exc)
