"""Per-position PnL from what actually happened: order fills, venue funding payments, fees."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import attrs

from fundarb_core.model import Side
from fundarb_core.model.records import FundingPaymentRecord, OrderRecord

__all__ = ["PnL", "pnl_from", "pnl_of"]

ZERO = Decimal(0)


@attrs.frozen
class PnL:
    """`price` is the cash flow of all fills (exact once the position is flat); `net` = price + funding − fees."""

    price: Decimal
    funding: Decimal
    fees: Decimal

    @property
    def net(self) -> Decimal:
        return self.price + self.funding - self.fees

    def as_dict(self) -> dict[str, str]:
        return {
            "price_pnl": str(self.price),
            "funding": str(self.funding),
            "fees": str(self.fees),
            "net": str(self.net),
        }


def pnl_from(orders: Iterable[OrderRecord], funding: Iterable[FundingPaymentRecord]) -> PnL:
    """Sum fills (sells bring cash in, buys take it out), funding received or paid, and fees."""
    return pnl_of(orders, sum((p.amount for p in funding), ZERO))


def pnl_of(orders: Iterable[OrderRecord], funding: Decimal) -> PnL:
    """`pnl_from` with the funding already summed."""
    price = fees = ZERO
    for order in orders:
        if order.filled_quantity and order.avg_price is not None:
            flow = order.filled_quantity * order.avg_price
            price += flow if order.side is Side.SELL else -flow
        fees += order.fees
    return PnL(price, funding, fees)
