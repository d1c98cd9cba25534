"""Turn typed event payloads into short messages a person reads on a phone: what, where, how much, what next."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from fundarb_core.events import (
    ActionDone,
    ActionPlanned,
    Alert,
    CloseFailed,
    EventPayload,
    OpenFailed,
    OperatorCommand,
    OrderDone,
    PositionClosed,
    PositionOpened,
    PositionReduced,
)

__all__ = ["Message", "dedupe_key", "render"]

CENT = Decimal("0.01")


@attrs.frozen
class Message:
    """One notification: a title and a body of a few lines."""

    title: str
    body: str


def usd(value: Decimal) -> str:
    """Return an amount in USD with a sign and cents: `+12.30 USD`."""
    return f"{value.quantize(CENT):+,} USD"


def words(code: str) -> str:
    return code.replace("_", " ")


def _legs(symbol: str, long: str, short: str) -> str:
    return f"{symbol}: long on {long}, short on {short}"


def _pid(payload: EventPayload) -> str:
    return f"position {payload.position_id}" if payload.position_id else "a position"


def _opened(p: PositionOpened) -> tuple[str, list[str]]:
    apr = f", expected net APR {p.net_apr:.1%}" if p.net_apr is not None else ""
    return f"Opened {p.symbol}", [
        f"Opened {_pid(p)}, {_legs(p.symbol, p.long, p.short)}.",
        f"Size {p.qty} {p.symbol} per leg, {p.notional_usd.quantize(CENT):,} USD notional{apr}.",
        "Next: the bot watches it and collects funding; nothing to do.",
    ]


def _open_failed(p: OpenFailed) -> tuple[str, list[str]]:
    why = f": {p.error}" if p.error else ""
    return f"Open failed {p.symbol}", [
        f"Could not open {p.symbol} (long on {p.long}, short on {p.short}, {p.qty} per leg){why}.",
        "Nothing was left open (any filled part was hedged or rolled back).",
        "Next: the bot waits out its entry cool-down before it tries this symbol again.",
    ]


def _closed(p: PositionClosed) -> tuple[str, list[str]]:
    what = "EMERGENCY close" if p.emergency else "Closed"
    figures = f"Net PnL {usd(p.net)} (price {usd(p.price_pnl)}, funding {usd(p.funding)}, fees {usd(-abs(p.fees))})."
    lines = [f"{what} of {_pid(p)}, {_legs(p.symbol, p.long, p.short)}. Reason: {words(p.reason)}.", figures]
    if p.emergency:
        lines.append("Next: both legs are flat now; check the venue for what took the other leg.")
    else:
        lines.append("Next: both legs are flat; nothing to do.")
    return f"{what} {p.symbol}", lines


def _close_failed(p: CloseFailed) -> tuple[str, list[str]]:
    still = ", ".join(f"{leg} {qty}" for leg, qty in sorted(p.open_exposure.items())) or "unknown"
    return f"CLOSE FAILED {p.symbol}", [
        f"Closing {_pid(p)} ({p.symbol}, reason: {words(p.reason)}) failed: {p.why}.",
        f"Still open: {still}.",
        "Next: the bot retries on its next tick; if this repeats, close the legs by hand on the venues.",
    ]


def _reduced(p: PositionReduced) -> tuple[str, list[str]]:
    shed = ", ".join(f"{venue} {qty}" for venue, qty in sorted(p.shed.items()))
    level = f" (level {p.level})" if p.level else ""
    return f"Reduced {p.symbol}", [
        f"Reduced {_pid(p)} ({p.symbol}){level}: shed {shed}.",
        "Next: the rest stays open and is watched as before.",
    ]


def _details(details: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(details.items()) if not isinstance(v, Mapping | list | tuple))


def _alert(p: Alert) -> tuple[str, list[str]]:
    lines = [p.message or f"{words(p.alert).capitalize()}."]
    detail = _details(p.details)
    if detail:
        lines.append(detail + ".")
    if p.position_id:
        lines.append(f"About {_pid(p)}.")
    return f"{p.level.value.upper()}: {words(p.alert)}", lines


def _action_done(p: ActionDone) -> tuple[str, list[str]]:
    lines = [f"Action {p.action_id} ({words(p.action_type)}) {p.status}" + (f": {p.error}." if p.error else ".")]
    if p.status != "succeeded":
        lines.append("Next: the rest of its plan follows its dependency rules; see `fundarb actions`.")
    return f"Action {p.status}: {words(p.action_type)}", lines


def _planned(p: ActionPlanned) -> tuple[str, list[str]]:
    steps = " → ".join(words(t) for t in p.action_types)
    return f"Plan for {_pid(p)}", [f"Plan {p.plan_id} ({words(p.reason)}): {steps}.", "Next: the bot runs it."]


def _operator(p: OperatorCommand) -> tuple[str, list[str]]:
    why = f" ({p.reason})" if p.reason else ""
    target = f" for action {p.action_id}" if p.action_id else ""
    return f"Operator: {p.command}", [f"Command {p.command}{target} reached the bot{why}."]


def _order(p: OrderDone) -> tuple[str, list[str]]:
    price = f" at {p.avg_price}" if p.avg_price is not None else ""
    error = f"; {p.error}" if p.error else ""
    return f"Order {p.side} {p.symbol} on {p.venue}", [
        f"Order {p.side} {p.quantity} {p.symbol} on {p.venue}: filled {p.filled}{price}, fees {p.fees}{error}."
    ]


_RENDER: dict[type[EventPayload], Any] = {
    PositionOpened: _opened,
    OpenFailed: _open_failed,
    PositionClosed: _closed,
    CloseFailed: _close_failed,
    PositionReduced: _reduced,
    Alert: _alert,
    ActionDone: _action_done,
    ActionPlanned: _planned,
    OperatorCommand: _operator,
    OrderDone: _order,
}


def render(payload: EventPayload, prefix: str) -> Message:
    """Return the message for `payload` (a payload class this module does not know gets a plain line)."""
    for cls in type(payload).__mro__:
        fn = _RENDER.get(cls)
        if fn is not None:
            title, lines = fn(payload)
            break
    else:
        title, lines = words(payload.KIND), [_details(payload.as_data())]
    return Message(f"{prefix} · {title}" if prefix else title, "\n".join(lines))


def dedupe_key(payload: EventPayload) -> tuple[str, ...]:
    """Return what makes two events "the same news": the kind, the alert code, the subject they are about."""
    if isinstance(payload, Alert):
        subject = next(
            (str(payload.details[k]) for k in ("transfer_id", "action_id", "order_id") if k in payload.details),
            payload.position_id or "",
        )
        return (payload.KIND, payload.alert, subject)
    if isinstance(payload, ActionDone | ActionPlanned | OperatorCommand):
        subject = getattr(payload, "action_id", None) or getattr(payload, "plan_id", None) or ""
        return (payload.KIND, str(subject), str(getattr(payload, "command", "")))
    if isinstance(payload, PositionReduced):
        return (payload.KIND, payload.position_id or "", payload.action_id or payload.level or "")
    if isinstance(payload, OrderDone):
        return (payload.KIND, payload.intent_id)
    return (payload.KIND, payload.position_id or "")
