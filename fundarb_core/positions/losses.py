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
    """The account over every position in the store; finished positions' order parts are computed once.

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
        for position in await self.store.positions.list():
            part = self._finished.get(position.id)
            if part is None:
                part = account_of(position, await self.store.orders.list(position_id=position.id), usd=usd)
                if position.status in FINISHED:
                    self._finished[position.id] = part
            total += part
        payments = [p for p in await self.store.funding.list() if p.position_id is not None]
        return total + LossAccount(funding=sum((p.amount * usd.get(p.venue, ONE) for p in payments), ZERO))
