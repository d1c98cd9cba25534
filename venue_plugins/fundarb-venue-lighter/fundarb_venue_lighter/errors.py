"""Lighter's error answers and order statuses, mapped onto fundarb's typed venue errors and reasons.

Failure answers are HTTP 400 with `{"code": int, "message": str}` (success bodies carry `"code": 200`), HTTP 429
on rate limits and 503 during maintenance. Codes come from the reference (`shared/reference/lighter.md`).
"""

from __future__ import annotations

from fundarb_core.errors import RateLimited, VenueError, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, RejectReason
from fundarb_venue_lighter.nonces import InvalidNonce

__all__ = ["CODE_REASONS", "RATE_LIMIT_CODES", "MalformedReply", "error_from_answer", "order_status"]


class MalformedReply(VenueUnavailable):
    """A reply that is not what Lighter sends: not JSON, too deep, a missing or absurd field.

    A `VenueUnavailable` (the request changed nothing; a later one may be answered properly), with the endpoint
    and the field (a path such as `reply.orders[2].price`) it was found in.
    """

    def __init__(self, message: str, *, venue: str, endpoint: str, field: str = "", status: int | None = None) -> None:
        self.endpoint = endpoint
        self.field = field
        super().__init__(message, venue=venue, status=status)


# Codes that definitely refused the request, with the reason fundarb acts on.
CODE_REASONS: dict[int, RejectReason] = {
    21500: RejectReason.OTHER,  # transaction not found
    21501: RejectReason.OTHER,  # invalid transaction info
    21507: RejectReason.INSUFFICIENT_MARGIN,  # margin requirements
    21508: RejectReason.INSUFFICIENT_MARGIN,  # margin requirements
    21601: RejectReason.OTHER,  # order book full
    21602: RejectReason.UNKNOWN_SYMBOL,  # invalid market
    21614: RejectReason.OTHER,  # no position (for a reduce-only order: see error_from_answer)
    21700: RejectReason.UNKNOWN_ORDER,  # invalid order index
    21701: RejectReason.BELOW_MIN_QUANTITY,  # invalid base amount (exact scaling leaves only the minimum)
    21702: RejectReason.PRICE_OUT_OF_BOUNDS,  # invalid price
    21711: RejectReason.OTHER,  # invalid expiry
    21727: RejectReason.OTHER,  # invalid client order index
    21728: RejectReason.DUPLICATE_CLIENT_ORDER_ID,  # client order index already exists
    21732: RejectReason.REDUCE_ONLY_WOULD_INCREASE,  # reduce-only would increase the position
    21733: RejectReason.PRICE_OUT_OF_BOUNDS,  # fat-finger price band
    21734: RejectReason.PRICE_OUT_OF_BOUNDS,  # too far from the mark
    21739: RejectReason.INSUFFICIENT_MARGIN,  # not enough margin
}
RATE_LIMIT_CODES = frozenset({21506, 23000})  # too many pending transactions; too many requests


def error_from_answer(
    status: int,
    code: object,
    message: object,
    *,
    venue: str,
    retry_after: float | None = None,
    reduce_only: bool = False,
) -> VenueError | InvalidNonce:
    """Return the error for a failed answer (HTTP `status`, Lighter `code` and `message`).

    [?] Lighter's code for "invalid nonce" is not in the reference: it is recognised by its text, whatever the code.
    """
    if isinstance(code, bool) or not isinstance(code, int):
        code = None  # a code of the wrong type is no code (and must not reach a set look-up)
    message = message[:300] if isinstance(message, str) else ""
    lowered = message.lower()
    if "invalid nonce" in message.lower():
        return InvalidNonce(message)
    if status == 429 or code in RATE_LIMIT_CODES:
        return RateLimited(message, venue=venue, retry_after=retry_after, status=status, code=code)
    if status >= 500 or status == 408:
        reason = "maintenance" if status == 503 else "server error"
        return VenueUnavailable(f"{reason}: {message}", venue=venue, status=status, code=code)
    if status in (401, 403) or "auth" in lowered or "api key not found" in lowered:
        return VenueRejected(message, venue=venue, reason=RejectReason.AUTHENTICATION, status=status, code=code)
    reason = CODE_REASONS.get(code, RejectReason.OTHER) if code is not None else RejectReason.OTHER
    if reduce_only and code == 21614:
        reason = RejectReason.REDUCE_ONLY_WOULD_INCREASE
    if reason is RejectReason.OTHER and "quote" in message.lower() and "min" in message.lower():
        reason = RejectReason.BELOW_MIN_NOTIONAL
    return VenueRejected(message, venue=venue, reason=reason, status=status, code=code)


# Cancelled statuses that mean "refused by a rule": REJECTED when nothing filled.
_RULE_CANCELS: dict[str, RejectReason] = {
    "canceled-post-only": RejectReason.POST_ONLY_WOULD_CROSS,
    "canceled-reduce-only": RejectReason.REDUCE_ONLY_WOULD_INCREASE,
    "canceled-margin-not-allowed": RejectReason.INSUFFICIENT_MARGIN,
}
# Cancelled statuses of an order's unfillable rest (IOC, expiry): EXPIRED.
_EXPIRIES: dict[str, RejectReason | None] = {
    "canceled-too-much-slippage": RejectReason.SLIPPAGE,
    "canceled-not-enough-liquidity": None,
    "canceled-expired": None,
}
_OPEN = frozenset({"open", "pending", "in-progress"})


def order_status(status: str, filled: bool) -> tuple[OrderStatus, RejectReason | None]:
    """Map a Lighter order status string (and whether anything filled) to fundarb's status and reason.

    An unknown status that is not a cancellation is taken as still open: polling on is safe, calling a live
    order final is not.
    """
    if status in _OPEN:
        return (OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.OPEN), None
    if status == "filled":
        return OrderStatus.FILLED, None
    if status in _RULE_CANCELS:
        return (OrderStatus.CANCELLED if filled else OrderStatus.REJECTED), _RULE_CANCELS[status]
    if status in _EXPIRIES:
        return OrderStatus.EXPIRED, _EXPIRIES[status]
    if status.startswith("canceled"):
        return OrderStatus.CANCELLED, None
    return (OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.OPEN), None
