"""Fees of fills in the quote asset, whatever sign and asset Aster reports them in.

What the public docs say (Aster V3 futures API, "Account Trade List"): each `userTrades` row has `commission` and
`commissionAsset`; the docs' example shows `"commission": "-0.07819010"` (the example is Binance's), while
Binance-style engines return the fee paid as a positive number. The `ORDER_TRADE_UPDATE` event carries the same as
`n` / `N`. So the sign of `commission` is not trusted: its magnitude is the fee, and the sign comes from the
account's rate for that side (a negative maker rate is a rebate, a cost otherwise). Fees in the quote asset (USDT)
count as they are; fees in the market's base asset are converted at the fill price; fees in any other asset (an
exchange token) are not added as if they were USDT: they are counted at the account's rate on the fill's notional,
with a warning.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["BASE_TIER_TAKER", "FALLBACK_TAKER", "fee_in_quote"]

# The taker rate of Aster's base (non-VIP) perpetual tier, 3.5 bp: what the instruments report for both maker and
# taker when `commissionRate` cannot be read (with `extra["fees_known"] = False` and a warning), so a fee is never
# silently 0. Source: Aster's VIP/MM fee announcement (2025-05-14, as reported by ChainCatcher: VIP6 taker 2.5 bp is
# "over 28 % below the base rate", i.e. base 3.5 bp) and /work/shared/reference/aster.md (maker 1 bp, taker 3.5 bp).
BASE_TIER_TAKER = Decimal("0.00035")
# Used when the account's commission rate could not be read: a conservative taker rate, never 0.
FALLBACK_TAKER = Decimal("0.0005")


def fee_in_quote(
    amount: Decimal,
    asset: str,
    *,
    quote_asset: str,
    base_asset: str,
    rate: Decimal | None,
    qty: Decimal,
    price: Decimal,
    log: Any,
) -> Decimal:
    """Return a fill's fee in `quote_asset`: positive paid, negative received (a rebate)."""
    sign = -1 if rate is not None and rate < 0 else 1
    magnitude = abs(amount)
    if asset == quote_asset:
        return sign * magnitude
    if asset and asset == base_asset:
        return sign * magnitude * price
    estimate = qty * price * (rate if rate is not None else FALLBACK_TAKER)
    log.warning(
        "fee of {} {} is not in {}; counted at the account's rate as {} {}",
        magnitude,
        asset,
        quote_asset,
        estimate,
        quote_asset,
    )
    return estimate
