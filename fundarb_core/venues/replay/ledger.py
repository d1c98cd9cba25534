"""The sim ledger with running totals of what moved money, for a backtest's PnL breakdown."""

from __future__ import annotations

from decimal import Decimal

import attrs

from fundarb_core.venues.sim.ledger import Ledger, TradeResult

__all__ = ["AccountingLedger"]

ZERO = Decimal(0)


@attrs.define
class AccountingLedger(Ledger):
    """A `Ledger` that also sums realised price PnL, fees, funding, liquidation charges and traded notional.

    With these, for the account: equity change = realised + unrealised price PnL + funding − fees − liquidation
    charges, exactly (the ledger rounds every fee and payment to the unit, and sums stay exact).
    """

    realized: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    liquidation_charges: Decimal = ZERO
    traded_notional: Decimal = ZERO
    fills: int = 0
    liquidations: int = 0

    def trade(
        self, symbol: str, dq: Decimal, price: Decimal, fee_rate: Decimal, default_leverage: Decimal
    ) -> TradeResult:
        result = super().trade(symbol, dq, price, fee_rate, default_leverage)
        self.realized += result.realized
        self.fees += result.fee
        self.traded_notional += abs(dq) * price
        self.fills += 1
        return result

    def settle_funding(self, symbol: str, mark: Decimal, rate: Decimal) -> Decimal | None:
        amount = super().settle_funding(symbol, mark, rate)
        if amount is not None:
            self.funding += amount
        return amount

    def liquidate(self, symbol: str, mark: Decimal) -> tuple[Decimal, Decimal]:
        qty, charge = super().liquidate(symbol, mark)
        self.liquidation_charges += charge
        self.liquidations += 1
        return qty, charge
