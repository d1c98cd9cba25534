"""The kill switch's account (`positions.losses`): over any sequence of fills, failed opens, reductions, closes, fees,
funding payments and mark moves, its loss is the sum of the parts, and it trips exactly when that crosses the limit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fundarb_core.errors import VenueUnavailable
from fundarb_core.model import OrderStatus, OrderType, PositionStatus, Side
from fundarb_core.model.records import FundingPaymentRecord, OrderRecord, PositionRecord
from fundarb_core.positions.losses import LossAccount, LossLedger, account_of, tripped

AT = datetime(2026, 1, 1, tzinfo=UTC)
VENUES = ("a", "b")
ZERO = Decimal(0)

qty = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(5), places=3)
price = st.decimals(min_value=Decimal(1), max_value=Decimal(100_000), places=2)
fee = st.decimals(min_value=ZERO, max_value=Decimal(5), places=4)
position = st.integers(min_value=0, max_value=2)
venue = st.sampled_from(VENUES)
event = st.one_of(
    st.tuples(st.just("fill"), position, venue, st.sampled_from(Side), qty, price, fee),
    st.tuples(st.just("unfilled"), position, venue, fee),  # an order that paid a fee and filled nothing
    st.tuples(st.just("mark"), position, venue, price),
    st.tuples(st.just("funding"), position, st.decimals(min_value=-50, max_value=50, places=4)),
    # Close (or fail) the position: every leg traded back to flat at `price`, paying `fee` per order.
    st.tuples(st.just("finish"), position, st.sampled_from([PositionStatus.CLOSED, PositionStatus.FAILED]), price,
              fee),
)  # fmt: skip


def _order(n: int, pid: str, venue: str, side: Side, q: Decimal, p: Decimal | None, f: Decimal) -> OrderRecord:
    return OrderRecord(
        id=str(n), client_order_id=f"c{n}", venue=venue, symbol="BTC", side=side, order_type=OrderType.LIMIT, price=p,
        quantity=q if q else Decimal(1), status=OrderStatus.FILLED if q else OrderStatus.CANCELLED, filled_quantity=q,
        avg_price=p, fees=f, position_id=pid, created_at=AT, updated_at=AT,
    )  # fmt: skip


class Model:
    """The same events, counted the plain way: cash of every fill, holdings at their marks, fees, funding."""

    def __init__(self) -> None:
        self.positions = {
            i: PositionRecord(
                id=f"p{i}", symbol="BTC", status=PositionStatus.OPEN, long_venue="a", short_venue="b",
                notional_usd=Decimal(1000), created_at=AT, updated_at=AT,
            )
            for i in range(3)
        }  # fmt: skip
        self.orders: dict[int, list[OrderRecord]] = {i: [] for i in range(3)}
        self.payments: dict[int, list[FundingPaymentRecord]] = {i: [] for i in range(3)}
        self.held: dict[int, dict[str, Decimal]] = {i: dict.fromkeys(VENUES, ZERO) for i in range(3)}
        self.cash = self.fees = self.funding = ZERO
        self.n = 0

    def _mark(self, i: int, venue: str, p: Decimal) -> None:
        record = self.positions[i]
        marks = {**record.state.marks, venue: p}
        self.positions[i] = attrs.evolve(record, state=record.state.update(marks=marks))

    def _fill(self, i: int, venue: str, side: Side, q: Decimal, p: Decimal | None, f: Decimal) -> None:
        self.n += 1
        self.orders[i].append(_order(self.n, f"p{i}", venue, side, q, p, f))
        self.fees += f
        if q and p is not None:
            signed = q if side is Side.BUY else -q
            self.cash -= signed * p
            self.held[i][venue] += signed
            if not self.positions[i].state.marks.get(venue):
                self._mark(i, venue, p)  # the monitor marks a leg once it holds something

    def apply(self, e: tuple[Any, ...]) -> None:
        kind, i = e[0], e[1]
        is_open = self.positions[i].is_open
        if kind == "fill" and is_open:
            self._fill(i, e[2], e[3], e[4], e[5], e[6])
        elif kind == "unfilled" and is_open:
            self._fill(i, e[2], Side.BUY, ZERO, None, e[3])
        elif kind == "mark" and is_open:
            self._mark(i, e[2], e[3])
        elif kind == "funding":  # also after the close: a payment read late
            self.n += 1
            self.payments[i].append(FundingPaymentRecord(self.n, "a", f"f{self.n}", "BTC", e[2], AT, None, f"p{i}"))
            self.funding += e[2]
        elif kind == "finish" and is_open:
            for venue, held in self.held[i].items():
                if held:
                    self._fill(i, venue, Side.SELL if held > 0 else Side.BUY, abs(held), e[3], e[4])
            self.positions[i] = attrs.evolve(self.positions[i], status=e[2])

    def net(self) -> Decimal:
        value = sum(
            (q * (self.positions[i].state.marks[v] or ZERO) for i, legs in self.held.items() for v, q in legs.items()
             if q and self.positions[i].is_open),
            ZERO,
        )  # fmt: skip
        return self.cash + value + self.funding - self.fees

    def account(self) -> LossAccount:
        total = LossAccount()
        for i, record in self.positions.items():
            total += account_of(record, self.orders[i], self.payments[i])
        return total


@given(events=st.lists(event, max_size=25), limit=st.decimals(min_value=Decimal("0.01"), max_value=500, places=2))
def test_the_loss_is_the_sum_of_the_parts_and_trips_exactly_at_the_limit(events: list[Any], limit: Decimal) -> None:
    model = Model()
    crossed_at = trip_at = None
    for step, e in enumerate(events):
        model.apply(e)
        account = model.account()
        assert account.fees == model.fees
        assert account.funding == model.funding
        assert account.net == account.realized + account.unrealized + account.funding - account.fees
        assert account.net == model.net()
        if crossed_at is None and model.net() <= -limit:
            crossed_at = step
        if trip_at is None and tripped(account, limit):
            trip_at = step
        assert tripped(account, limit) == (model.net() <= -limit)
    assert trip_at == crossed_at


def test_a_reduction_realises_its_part_and_the_rest_stays_unrealised() -> None:
    model = Model()
    model.apply(("fill", 0, "a", Side.BUY, Decimal(2), Decimal(100), Decimal("0.5")))
    model.apply(("fill", 0, "a", Side.SELL, Decimal(1), Decimal(110), Decimal("0.25")))  # the reduction
    model.apply(("mark", 0, "a", Decimal(120)))
    account = model.account()
    assert (account.realized, account.unrealized, account.fees) == (Decimal(10), Decimal(20), Decimal("0.75"))


def test_a_rolled_back_open_counts_its_fees_and_its_price_loss() -> None:
    model = Model()
    model.apply(("fill", 1, "a", Side.BUY, Decimal(1), Decimal(100), Decimal("0.3")))
    model.apply(("unfilled", 1, "b", Decimal(0)))  # the other leg never filled
    model.apply(("finish", 1, PositionStatus.FAILED, Decimal(99), Decimal("0.3")))  # the rollback
    account = model.account()
    assert (account.realized, account.unrealized, account.fees) == (Decimal(-1), ZERO, Decimal("0.6"))
    assert account.net == Decimal("-1.6")
    assert tripped(account, Decimal("1.6"))
    assert not tripped(account, Decimal("1.61"))
    assert not tripped(account, None)


def test_without_marks_an_open_position_uses_the_venues_unrealised_pnl() -> None:
    record = PositionRecord(
        id="p", symbol="BTC", status=PositionStatus.OPEN, long_venue="a", short_venue="b", created_at=AT,
        updated_at=AT, notional_usd=Decimal(100),
    )  # fmt: skip
    record = attrs.evolve(record, state=record.state.update(unrealized_pnl=Decimal(-5)))
    orders = [_order(1, "p", "a", Side.BUY, Decimal(1), Decimal(100), Decimal("0.1"))]
    account = account_of(record, orders)
    assert (account.unrealized, account.net) == (Decimal(-5), Decimal("-5.1"))


def test_each_venue_counts_at_its_settlement_assets_peg() -> None:
    model = Model()
    model.apply(("fill", 0, "a", Side.BUY, Decimal(1), Decimal(100), Decimal(1)))
    model.apply(("fill", 0, "b", Side.SELL, Decimal(1), Decimal(102), Decimal(1)))
    model.apply(("funding", 0, Decimal(4)))  # paid on venue "a"
    model.apply(("finish", 0, PositionStatus.CLOSED, Decimal(101), ZERO))
    one_for_one = account_of(model.positions[0], model.orders[0], model.payments[0])
    pegged = account_of(model.positions[0], model.orders[0], model.payments[0], usd={"a": Decimal("0.5")})
    assert (one_for_one.realized, one_for_one.fees, one_for_one.funding) == (Decimal(2), Decimal(2), Decimal(4))
    # Venue "a" bought at 100 and sold at 101 (+1), worth half as much: +0.5; venue "b" sold at 102, bought at 101: +1.
    assert (pegged.realized, pegged.fees, pegged.funding) == (Decimal("1.5"), Decimal("1.5"), Decimal(2))


async def test_a_venue_whose_asset_has_no_peg_is_refused_not_added_one_for_one() -> None:
    class Gateway:
        venues = ("aster", "lighter")

        async def balance(self, name: str) -> Any:
            return attrs.make_class("B", ["asset"])("USDT" if name == "aster" else "DAI")

    ledger = LossLedger(None, Gateway(), {"USDT": Decimal("0.999")})  # type: ignore[arg-type]
    with pytest.raises(VenueUnavailable, match="lighter settles in DAI, which has no"):
        await ledger.usd()
    assert ledger.assets == {"aster": "USDT", "lighter": "DAI"}
    ledger.pegs = {"USDT": Decimal("0.999"), "DAI": Decimal(1)}
    assert await ledger.usd() == {"aster": Decimal("0.999"), "lighter": Decimal(1)}


async def test_a_venue_that_cannot_say_its_asset_counts_at_par_until_it_can() -> None:
    class Gateway:
        venues = ("aster", "lighter")
        down = True

        async def balance(self, name: str) -> Any:
            if name == "lighter" and self.down:
                raise VenueUnavailable("maintenance (test)", venue=name)
            return attrs.make_class("B", ["asset"])("USDT" if name == "aster" else "USDC")

    gateway = Gateway()
    ledger = LossLedger(None, gateway, {"USDT": Decimal("0.999"), "USDC": Decimal("1.001")})  # type: ignore[arg-type]
    assert await ledger.usd() == {"aster": Decimal("0.999"), "lighter": Decimal(1)}  # the limit keeps working
    gateway.down = False
    assert await ledger.usd() == {"aster": Decimal("0.999"), "lighter": Decimal("1.001")}
