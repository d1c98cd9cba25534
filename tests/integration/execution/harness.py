"""A two-venue sim market with every order checked against invariants 2 and 3 as it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import attrs
from fundarb_close_maker_first import MakerFirstConfig, MakerFirstPolicy

from fundarb_core.clock import SimClock
from fundarb_core.events import Event, EventPayload
from fundarb_core.execution import AtomicExecutor, CloseExecutor, LegRef, OrderExecutor, OrderSpec
from fundarb_core.model import Side
from fundarb_core.venues import OrderState, VenueContext
from fundarb_core.venues.sim import SimVenue, SimVenueConfig, SimWorld

T = TypeVar("T")


@attrs.define
class Sent:
    venue: str
    kind: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal | None
    reduce_only: bool
    position_before: Decimal
    position_after: Decimal | None = None


class CheckedSimVenue(SimVenue):
    """A sim venue that records every order request and the position around it; `hook` may inject trouble."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[Sent] = []
        self.close_position_called = False

    def __getattr__(self, name: str) -> Any:
        if name == "close_position":
            self.close_position_called = True
        raise AttributeError(name)

    async def _record(self, kind: str, symbol: str, side: Side, qty: Decimal, price: Decimal | None, ro: bool, call):  # type: ignore[no-untyped-def]
        entry = Sent(self.name, kind, symbol, side, qty, price, ro, self.ledger.position(symbol).qty)
        self.sent.append(entry)
        try:
            return await call()
        finally:
            entry.position_after = self.ledger.position(symbol).qty

    async def place_limit_order(self, symbol, side, quantity, price, **kw):  # type: ignore[no-untyped-def,override]
        return await self._record(
            "limit", symbol, side, quantity, price, kw.get("reduce_only", False),
            lambda: super(CheckedSimVenue, self).place_limit_order(symbol, side, quantity, price, **kw),
        )  # fmt: skip

    async def place_market_order(self, symbol, side, quantity, **kw):  # type: ignore[no-untyped-def,override]
        return await self._record(
            "market", symbol, side, quantity, kw["worst_price"], kw.get("reduce_only", False),
            lambda: super(CheckedSimVenue, self).place_market_order(symbol, side, quantity, **kw),
        )  # fmt: skip

    def orders_by_cid(self) -> dict[str, OrderState]:
        return {cid: o.state() for cid, o in self.orders.items()}


class MemoryJournal:
    """An order journal in memory with the store's rules: a final status and the filled quantity never go back."""

    def __init__(self) -> None:
        self.intents: list[str] = []
        self.states: dict[str, OrderState] = {}

    async def record_intent(self, spec: OrderSpec, client_order_id: str, **_: Any) -> None:
        self.intents.append(client_order_id)

    async def record_state(self, state: OrderState) -> None:
        current = self.states.get(state.client_order_id)
        if current is not None and (
            (current.final and state.status is not current.status) or state.filled_qty < current.filled_qty
        ):
            return  # the store refuses a stale report
        self.states[state.client_order_id] = state

    def differences(self, venues: Any) -> dict[str, tuple[object, object]]:
        """Orders whose journalled (status, filled, fees) differ from their venue's final word."""
        out: dict[str, tuple[object, object]] = {}
        for venue in venues.values():
            for cid, order in venue.orders_by_cid().items():
                mine = self.states.get(cid)
                theirs = (order.status, order.filled_qty, order.fees)
                if mine is None or (mine.status, mine.filled_qty, mine.fees) != theirs:
                    out[cid] = (None if mine is None else (mine.status, mine.filled_qty, mine.fees), theirs)
        return out


class Market:
    """Two sim venues (aster-like, lighter-like by default) on one world, with executors wired up."""

    def __init__(
        self,
        *,
        seed: int = 1,
        configs: dict[str, SimVenueConfig] | None = None,
        venue_cls: dict[str, type[CheckedSimVenue]] | None = None,
        policy: Any = None,
    ) -> None:
        self.clock = SimClock()
        configs = configs or {
            "aster": SimVenueConfig(profile="aster-like", seed=seed),
            "lighter": SimVenueConfig(profile="lighter-like", seed=seed),
        }
        world = SimWorld(seed, self.clock.now())
        self.context = VenueContext(self.clock)
        classes = venue_cls or {}
        self.venues: dict[str, CheckedSimVenue] = {
            name: classes.get(name, CheckedSimVenue)(name, cfg, self.clock, world) for name, cfg in configs.items()
        }
        self.instruments = {name: dict(v.instruments) for name, v in self.venues.items()}
        self.events: list[Event] = []
        self.journal = MemoryJournal()
        self.orders = OrderExecutor(
            self.venues,  # type: ignore[arg-type]
            self.instruments,
            self.clock,
            record=self.record,
            journal=self.journal,  # type: ignore[arg-type]
        )
        self.atomic = AtomicExecutor(self.orders, record=self.record)
        self.closer = CloseExecutor(self.orders, policy or MakerFirstPolicy(MakerFirstConfig()))

    async def record(self, payload: EventPayload) -> None:
        """What the executors record (order outcomes, alerts), as the bot's recorder would hand it on."""
        self.events.append(Event.of(payload, self.clock.now()))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        async def main() -> T:
            try:
                return await self.clock.run(coro, limit=timedelta(days=30))
            finally:
                await self.orders.aclose()

        return asyncio.run(main())

    def pair_specs(self, symbol: str, qty: Decimal, intent: str = "p1", **kw: Any) -> list[OrderSpec]:
        names = list(self.venues)
        return [
            OrderSpec(
                venue=names[0], symbol=symbol, side=Side.BUY, quantity=qty, intent_id=f"{intent}:open:{names[0]}", **kw
            ),
            OrderSpec(
                venue=names[1], symbol=symbol, side=Side.SELL, quantity=qty, intent_id=f"{intent}:open:{names[1]}", **kw
            ),
        ]

    def legs(self, symbol: str) -> list[LegRef]:
        return [LegRef(name, symbol) for name in self.venues]

    def position(self, venue: str, symbol: str) -> Decimal:
        return self.venues[venue].ledger.position(symbol).qty

    def check_sent(self) -> None:
        """Invariants 2 and 3 over every order sent so far."""
        for s in self.sent():
            inst = self.instruments[s.venue][s.symbol]
            assert inst.on_step(s.quantity), f"off step: {s}"
            assert s.quantity >= inst.min_qty, f"below minimum: {s}"
            if s.kind == "limit":
                assert s.price is not None
                assert inst.on_tick(s.price), f"off tick: {s}"
                if not s.reduce_only:
                    assert s.quantity * s.price >= inst.min_notional, f"below min notional: {s}"
            if s.reduce_only:
                assert s.position_after is not None
                assert abs(s.position_after) <= abs(s.position_before), f"reduce-only increased: {s}"
                assert s.position_before * s.position_after >= 0, f"reduce-only flipped: {s}"

    def sent(self) -> list[Sent]:
        return [s for v in self.venues.values() for s in v.sent]
