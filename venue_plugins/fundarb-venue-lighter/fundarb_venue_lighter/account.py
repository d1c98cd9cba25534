"""The account's records (`account`, `positionFunding`) → fundarb's snapshots, balance and funding payments.

Pure functions over validated records, plus the sanity rules that need the market (leverage within the
instrument's limit, funding payment ids unique).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from fundarb_core.venues import Balance, FundingPayment, Instrument, PositionSnapshot
from fundarb_venue_lighter.errors import MalformedReply
from fundarb_venue_lighter.funding import hourly_from_fundings
from fundarb_venue_lighter.records import Account, Position, PositionFunding

__all__ = ["COLLATERAL", "balance", "flat", "payments", "snapshot"]

COLLATERAL = "USDC"  # Lighter's only collateral (Aster settles in USDT: a different asset)
ZERO = Decimal(0)


def flat(symbol: str, mark: Decimal, at: datetime) -> PositionSnapshot:
    return PositionSnapshot(symbol, ZERO, None, mark, ZERO, ZERO, ZERO, ZERO, None, at)


def snapshot(
    position: Position | None,
    instrument: Instrument,
    mark: Decimal,
    at: datetime,
    *,
    default_imf: Decimal,
    venue: str,
) -> PositionSnapshot:
    """The snapshot of one market from its `positions` entry (None or size 0: flat).

    `default_imf` (a fraction) is the market's default initial margin fraction, used where the position
    reports none (0).
    """
    if position is None or position.position == 0:
        return flat(instrument.symbol, mark, at)
    quantity = position.position * position.sign  # `position` is the absolute size; `sign` 1 long, -1 short
    # [?] `initial_margin_fraction` on positions reads as percent ("5.00" = 5 %, 20x).
    imf = position.initial_margin_fraction / 100 or default_imf
    leverage = (1 / imf).normalize()
    if leverage > instrument.max_leverage:
        raise MalformedReply(
            f"account: position {instrument.symbol}: leverage {leverage} is above the market's "
            f"{instrument.max_leverage}",
            venue=venue,
            endpoint="account",
            field="reply.accounts[0].positions.initial_margin_fraction",
        )
    isolated = position.margin_mode == 1
    margin = position.allocated_margin if isolated else abs(quantity) * mark * imf
    paid = position.total_funding_paid_out
    return PositionSnapshot(
        symbol=instrument.symbol,
        quantity=quantity,
        entry_price=position.avg_entry_price,
        mark_price=mark,
        unrealized_pnl=position.unrealized_pnl,
        # [?] "paid out" read as paid by the account: accrued (received) is its negation.
        funding_accrued=-paid if paid is not None else ZERO,
        margin=margin,
        leverage=leverage,
        liquidation_price=position.liquidation_price if position.liquidation_price > 0 else None,
        at=at,
    )


def balance(account: Account, at: datetime, *, venue: str) -> Balance:
    """The account's USDC balance; refuse an available balance above what the account is worth."""
    total, available = account.total_asset_value, account.available_balance
    if available > max(total, account.collateral, ZERO):
        raise MalformedReply(
            f"account: available_balance {available} is above total_asset_value {total}",
            venue=venue,
            endpoint="account",
            field="reply.accounts[0].available_balance",
        )
    return Balance(
        asset=COLLATERAL,
        wallet=account.collateral,
        available=available,
        margin_used=max(ZERO, total - available),
        unrealized_pnl=total - account.collateral,
        at=at,
    )


def payments(
    entries: Iterable[PositionFunding], symbols: Mapping[int, str], since: datetime, *, venue: str
) -> list[FundingPayment]:
    """Funding payments at or after `since`, oldest first, for the markets in `symbols`; ids must be unique.

    The same settlement twice (pages that overlap) is kept once; two different settlements under one id are
    refused (a payment could otherwise be counted twice or lost).
    """
    found: dict[str, FundingPayment] = {}
    for entry in entries:
        symbol = symbols.get(entry.market_id)
        if symbol is None or entry.timestamp < since:
            continue
        payment = _payment(entry, symbol)
        known = found.get(payment.payment_id)
        if known is not None and known != payment:
            raise MalformedReply(
                f"positionFunding: two different settlements share the id {payment.payment_id}",
                venue=venue,
                endpoint="positionFunding",
                field="reply.position_fundings.funding_id",
            )
        found[payment.payment_id] = payment
    return sorted(found.values(), key=lambda p: (p.at, p.payment_id))


def _payment(entry: PositionFunding, symbol: str) -> FundingPayment:
    size = entry.position_size
    signed = size if entry.position_side == "long" else -size
    rate = hourly_from_fundings(entry.rate)  # [?] percent per hour, like `fundings`
    change = entry.change
    mark = abs(change / (size * rate)) if size and rate else ZERO
    return FundingPayment(
        payment_id=f"{entry.market_id}:{entry.funding_id}",
        symbol=symbol,
        amount=change,
        rate=rate,
        position_qty=signed,
        mark_price=mark,
        at=entry.timestamp,
    )
