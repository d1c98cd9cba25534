"""Exact accounting for a simulated venue: the trader's account and the house on the other side of everything.

Every movement of money is paired: what the account gains the house loses, to the last unit, so the sum of both
(cash + margin + unrealised PnL) never changes. Whatever the ledger divides (locked margin, the pro-rata cost
and margin of a partial close) or multiplies by a rate (fee, funding) is rounded to whole `MONEY` units, so every sum
stays exact. Positions use isolated margin, which makes a liquidation affect
exactly one leg, as on the real venues' isolated mode.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

__all__ = ["MONEY", "Ledger", "SimPosition", "TradeResult"]

MONEY = Decimal("1e-8")  # the quote asset's smallest unit
ZERO = Decimal(0)
LIQUIDATION_FEE = Decimal("0.005")


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


@attrs.define
class SimPosition:
    """A position: signed quantity, signed cost (Σ quantity × price of what is open), isolated margin."""

    qty: Decimal = ZERO
    cost: Decimal = ZERO
    margin: Decimal = ZERO
    funding: Decimal = ZERO  # accrued since the position was opened

    @property
    def entry(self) -> Decimal | None:
        return self.cost / self.qty if self.qty else None

    def upnl(self, mark: Decimal) -> Decimal:
        return self.qty * mark - self.cost


@attrs.frozen
class TradeResult:
    realized: Decimal
    fee: Decimal
    closed: Decimal  # quantity that reduced the position
    opened: Decimal  # quantity that increased it


def _apply(qty: Decimal, cost: Decimal, dq: Decimal, price: Decimal) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Return (new qty, new cost, realised PnL, closed quantity) after trading `dq` (signed) at `price`."""
    if qty == 0 or (dq > 0 if qty > 0 else dq < 0):  # the same sign: nothing to close
        return qty + dq, cost + dq * price, ZERO, ZERO
    closing = min(abs(dq), abs(qty))
    # Pro rata, to the unit: an unrounded quotient (cost / 3) would lose digits in later sums and break conservation.
    cost_removed = cost if closing == abs(qty) else (cost * closing / abs(qty)).quantize(MONEY)
    realized = _sign(qty) * closing * price - cost_removed
    new_qty = qty + _sign(dq) * closing
    new_cost = cost - cost_removed if new_qty else ZERO
    leftover = abs(dq) - closing
    if leftover:
        new_qty += _sign(dq) * leftover
        new_cost += _sign(dq) * leftover * price
    return new_qty, new_cost, realized, closing


@attrs.define
class Ledger:
    """The trader's account (`cash`, `positions`, `leverage`) and the house (`house_cash`, `house_positions`)."""

    cash: Decimal
    house_cash: Decimal = Decimal(10) ** 12
    positions: dict[str, SimPosition] = attrs.field(factory=dict)
    house_positions: dict[str, SimPosition] = attrs.field(factory=dict)
    leverage: dict[str, Decimal] = attrs.field(factory=dict)

    def position(self, symbol: str) -> SimPosition:
        pos = self.positions.get(symbol)
        return pos if pos is not None else SimPosition()

    def qty(self, symbol: str) -> Decimal:
        """The signed quantity held in `symbol` (0 when flat)."""
        pos = self.positions.get(symbol)
        return pos.qty if pos is not None else ZERO

    def trade(
        self, symbol: str, dq: Decimal, price: Decimal, fee_rate: Decimal, default_leverage: Decimal
    ) -> TradeResult:
        """Book a fill of signed quantity `dq` at `price` against the house, with its fee."""
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = SimPosition()
        lev = self.leverage.get(symbol, default_leverage)
        old_qty = pos.qty
        new_qty, new_cost, realized, closed = _apply(pos.qty, pos.cost, dq, price)
        # Margin: release in proportion to what closed, lock for what opened.
        if closed:
            release = pos.margin if closed == abs(old_qty) else (pos.margin * closed / abs(old_qty)).quantize(MONEY)
            pos.margin -= release
            self.cash += release
        opened = abs(dq) - closed
        if opened:
            lock = (opened * price / lev).quantize(MONEY)
            pos.margin += lock
            self.cash -= lock
        if new_qty == 0:
            self.cash += pos.margin
            pos.margin = ZERO
            pos.funding = ZERO
        elif old_qty != 0 and (new_qty > 0) != (old_qty > 0):  # flipped sides: a new position
            pos.funding = ZERO
        pos.qty, pos.cost = new_qty, new_cost
        fee = (abs(dq) * price * fee_rate).quantize(MONEY)
        self.cash += realized - fee
        self.house_cash += fee
        house = self.house_positions.get(symbol)
        if house is None:
            house = self.house_positions[symbol] = SimPosition()
        h_qty, h_cost, h_realized, _ = _apply(house.qty, house.cost, -dq, price)
        house.qty, house.cost = h_qty, h_cost
        self.house_cash += h_realized
        if new_qty == 0:
            del self.positions[symbol]
        if h_qty == 0:
            del self.house_positions[symbol]
        return TradeResult(realized, fee, closed, opened)

    def margin_needed(
        self, symbol: str, dq: Decimal, price: Decimal, fee_rate: Decimal, default_leverage: Decimal
    ) -> Decimal:
        """Cash an order of signed `dq` at `price` would lock (opening part's margin) plus its fee."""
        qty = self.qty(symbol)
        closing = ZERO if qty == 0 or (dq > 0 if qty > 0 else dq < 0) else min(abs(dq), abs(qty))
        lev = self.leverage.get(symbol, default_leverage)
        return ((abs(dq) - closing) * price / lev).quantize(MONEY) + (abs(dq) * price * fee_rate).quantize(MONEY)

    def settle_funding(self, symbol: str, mark: Decimal, rate: Decimal) -> Decimal | None:
        """Pay or receive funding: amount = −quantity × mark × rate (rounded to the unit), house on the other side."""
        pos = self.positions.get(symbol)
        if pos is None or pos.qty == 0:
            return None
        amount = (-pos.qty * mark * rate).quantize(MONEY)
        self.cash += amount
        self.house_cash -= amount
        pos.funding += amount
        return amount

    def maintenance(self, symbol: str, mark: Decimal, mmr: Decimal) -> bool:
        """True when the isolated position's equity is below its maintenance margin (it must be liquidated)."""
        pos = self.positions.get(symbol)
        if pos is None:
            return False
        return pos.margin + pos.upnl(mark) < abs(pos.qty) * mark * mmr

    def liquidation_price(self, symbol: str, mmr: Decimal) -> Decimal | None:
        """The mark at which the isolated position's equity meets its maintenance margin."""
        pos = self.positions.get(symbol)
        if pos is None or pos.qty == 0:
            return None
        denominator = pos.qty - abs(pos.qty) * mmr
        if denominator == 0:
            return None
        price = (pos.cost - pos.margin) / denominator
        return price if price > 0 else None

    def liquidate(self, symbol: str, mark: Decimal) -> tuple[Decimal, Decimal]:
        """Close the position at `mark`; losses beyond its margin are covered by the house (insurance).

        Returns (quantity closed, signed), and what the account paid as liquidation fee (negative if insured).
        """
        pos = self.positions[symbol]
        qty = pos.qty
        equity = pos.margin + pos.upnl(mark)
        self.trade(symbol, -qty, mark, ZERO, Decimal(1))
        # Below zero, the house tops the account up so that its loss stops at the margin.
        adjustment = equity if equity < 0 else min(equity, (abs(qty) * mark * LIQUIDATION_FEE).quantize(MONEY))
        self.cash -= adjustment
        self.house_cash += adjustment
        return qty, adjustment

    def total_value(self, marks: dict[str, Decimal]) -> Decimal:
        """Account + house, cash + margin + unrealised PnL: constant under every operation."""
        total = self.cash + self.house_cash
        for book in (self.positions, self.house_positions):
            for symbol, pos in book.items():
                total += pos.margin + pos.upnl(marks[symbol])
        return total

    def wallet(self) -> Decimal:
        """The account's wallet balance (free cash plus margin locked in positions)."""
        return self.cash + sum((p.margin for p in self.positions.values()), ZERO)
