"""The kill switch's account: everything the bot's positions made or lost, from the store.

`[bot] max_loss_usd` compares the limit with the `net` of a `LossAccount`, which counts, over every position the
store holds (open, closed, failed):

- price PnL of every fill, average-cost accounting per position and venue: `realized` for what was bought and sold
  back — closed positions, failed opens that were rolled back, partial reductions of open positions — and
  `unrealized` for what is still held, at the position's last marks (the monitor writes them each tick; without a
  mark for a leg, the position's last venue-reported unrealised PnL);
- `fees` of every order: opens (failed and rolled-back ones too), closes, hedges, reductions;
- `funding`: every payment stored against a position, including one read after its position closed.

`net = realized + unrealized + funding − fees`, in USD: each venue's amounts (in its settlement asset: USDT on Aster,
USDC on Lighter) are converted at the `[bot] collateral_usd` peg of that asset (learnt from the venue's balance once);
a venue whose asset has no peg stops the check with an error rather than being added one for one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs
from loguru import logger

from fundarb_core.errors import VenueError, VenueUnavailable
from fundarb_core.execution import VenueGateway
from fundarb_core.model import PositionStatus, Side
from fundarb_core.model.records import FundingPaymentRecord, OrderRecord, PositionRecord
from fundarb_core.store import Store

__all__ = ["LossAccount", "LossLedger", "account_of", "tripped"]

ZERO = Decimal(0)
ONE = Decimal(1)
FINISHED = (PositionStatus.CLOSED, PositionStatus.FAILED)  # their orders are final


@attrs.frozen
class LossAccount:
    """PnL parts over all positions; `net` is what the kill switch compares with its limit."""

    realized: Decimal = ZERO
    unrealized: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.realized + self.unrealized + self.funding - self.fees

    def __add__(self, other: LossAccount) -> LossAccount:
        return LossAccount(
            self.realized + other.realized,
            self.unrealized + other.unrealized,
            self.fees + other.fees,
            self.funding + other.funding,
        )

    def as_dict(self) -> dict[str, str]:
        return {
            "realized": str(self.realized),
            "unrealized": str(self.unrealized),
            "fees": str(self.fees),
            "funding": str(self.funding),
            "net": str(self.net),
        }


def tripped(account: LossAccount, limit: Decimal | None) -> bool:
    """Whether the loss reached the limit: `net <= -limit` (never without a limit)."""
    return limit is not None and account.net <= -limit


@attrs.define
class _Leg:
    """One position's holding on one venue, at average cost."""

    qty: Decimal = ZERO  # signed: + long
    avg: Decimal = ZERO
    cash: Decimal = ZERO  # sells in, buys out
    realized: Decimal = ZERO

    def fill(self, side: Side, qty: Decimal, price: Decimal) -> None:
        signed = qty if side is Side.BUY else -qty
        self.cash -= signed * price
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            total = abs(self.qty) + qty
            self.avg = (abs(self.qty) * self.avg + qty * price) / total
            self.qty += signed
            return
        closing = min(qty, abs(self.qty))
        self.realized += closing * (price - self.avg) * (1 if self.qty > 0 else -1)
        rest = qty - closing
        self.qty += closing if signed > 0 else -closing
        if rest:
            self.qty, self.avg = (rest if signed > 0 else -rest), price
        elif self.qty == 0:  # flat: everything is realised, exactly the cash (no rounding of average prices left)
            self.avg, self.realized = ZERO, self.cash


def account_of(
    position: PositionRecord,
    orders: Iterable[OrderRecord],
    funding: Iterable[FundingPaymentRecord] = (),
    usd: Mapping[str, Decimal] | None = None,
) -> LossAccount:
    """One position's parts from its orders (oldest first), its funding payments and its last marks; `usd` is the
    USD value of one unit of each venue's settlement asset (1 for a venue not in it)."""
    rate = usd or {}
    legs: dict[str, _Leg] = {}
    fees = ZERO
    for order in orders:
        f = rate.get(order.venue, ONE)
        fees += order.fees * f
        if order.filled_quantity and order.avg_price is not None:
            legs.setdefault(order.venue, _Leg()).fill(order.side, order.filled_quantity, order.avg_price * f)
    realized = sum((leg.realized for leg in legs.values()), ZERO)
    held = {venue: leg for venue, leg in legs.items() if leg.qty != 0}
    unrealized = ZERO
    if held and position.is_open:
        marks: Mapping[str, Decimal | None] = position.state.marks
        if all(marks.get(venue) for venue in held):
            # Exact: the price PnL of every fill at these marks is cash + held × mark; realised is part of it.
            price = sum(
                (leg.cash + leg.qty * (marks[venue] or ZERO) * rate.get(venue, ONE) for venue, leg in legs.items()),
                ZERO,
            )
            unrealized = price - realized
        else:
            unrealized = position.state.unrealized_pnl or ZERO
    paid = sum((p.amount * rate.get(p.venue, ONE) for p in funding), ZERO)
    return LossAccount(realized, unrealized, fees, paid)


class LossLedger:
    """The account over every position in the store, worked out each tick at a cost that does not grow with the
    store's history: a finished position's order parts are computed once (its orders are final), and the funding
    stored against positions is a running sum per venue of the payments stored since the last look (by storage id;
    when the store holds a payment the sum missed, one committed out of id order, it is summed again whole).

    With `pegs` (`[bot] collateral_usd`), each venue's settlement asset is read from its balance once (through
    `gateway`) and its amounts are converted at that asset's peg.
    """

    def __init__(
        self, store: Store, gateway: VenueGateway | None = None, pegs: Mapping[str, Decimal] | None = None
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.pegs = pegs
        self.assets: dict[str, str] = {}  # venue → its settlement asset, once read
        self._finished: dict[str, LossAccount] = {}  # position id → its parts without funding (orders are final)
        self._finished_total = LossAccount()  # their sum
        self._paid: dict[str, Decimal] = {}  # venue → the payments stored against positions, summed (unconverted)
        self._paid_count = 0  # how many payments `_paid` holds
        self._paid_after: int | None = None  # the highest storage id among them

    async def usd(self) -> dict[str, Decimal]:
        """USD per unit of each configured venue's settlement asset."""
        if self.gateway is None or self.pegs is None:
            return {}
        out: dict[str, Decimal] = {}
        for name in self.gateway.venues:
            if name not in self.assets:
                try:
                    self.assets[name] = (await self.gateway.balance(name)).asset
                except VenueError as exc:
                    # Unreadable (down, in maintenance): the limit must not fail open for every venue meanwhile.
                    # Counted at par until its asset is known (asked again at the next check).
                    logger.bind(venue=name).warning("kill switch: {}'s asset unknown ({}); counted at 1 USD", name, exc)
                    out[name] = Decimal(1)
                    continue
            peg = self.pegs.get(self.assets[name])
            if peg is None:
                raise VenueUnavailable(
                    f"{name} settles in {self.assets[name]}, which has no [bot] collateral_usd peg: the kill switch "
                    "will not add it to other assets one for one",
                    venue=name,
                )
            out[name] = peg
        return out

    async def account(self) -> LossAccount:
        usd = await self.usd()
        total = LossAccount()
        unfinished = await self.store.positions.list_open()
        for position in unfinished:
            total += account_of(position, await self.store.orders.list(position_id=position.id), usd=usd)
        if await self.store.positions.count(FINISHED) != len(self._finished):
            seen = {p.id for p in unfinished}  # finished since they were listed: counted as listed, this time
            for position_id in await self.store.positions.ids(FINISHED):
                if position_id in self._finished or position_id in seen:
                    continue
                done = await self.store.positions.get(position_id)
                if done is None or done.status not in FINISHED:
                    continue
                part = account_of(done, await self.store.orders.list(position_id=position_id), usd=usd)
                self._finished[position_id] = part
                self._finished_total += part
        total += self._finished_total
        await self._sum_funding()
        return total + LossAccount(funding=sum((paid * usd.get(v, ONE) for v, paid in self._paid.items()), ZERO))

    async def _sum_funding(self) -> None:
        """Bring the running sums of the funding stored against positions up to what the store holds now."""
        stored = await self.store.funding.count_attributed()
        if stored == self._paid_count:
            return
        new = await self.store.funding.attributed_after(self._paid_after)
        if self._paid_count + len(new) != stored:  # one committed below an id already read (or removed): all again
            self._paid, self._paid_count, self._paid_after = {}, 0, None
            new = await self.store.funding.attributed_after(None)
        for payment in new:
            self._paid[payment.venue] = self._paid.get(payment.venue, ZERO) + payment.amount
        if new:
            self._paid_count += len(new)
            self._paid_after = new[-1].id
