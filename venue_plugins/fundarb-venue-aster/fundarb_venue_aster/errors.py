"""Aster's error codes mapped onto fundarb's typed venue errors.

Aster answers a refused request with HTTP 4xx and `{"code": <negative int>, "msg": ...}`. Each code below is
either a definite refusal (`VenueRejected` with a `RejectReason`), transient with nothing done (`VenueUnavailable`
/ `RateLimited`), a clock or nonce problem the client fixes and retries once (`Retry`), or "execution status
unknown" (`AmbiguousOutcome` when the request could have placed or cancelled an order).
"""

from __future__ import annotations

import enum
from typing import Final

from fundarb_core.errors import AmbiguousOutcome, RateLimited, VenueError, VenueRejected, VenueUnavailable
from fundarb_core.model import RejectReason

__all__ = ["CODES", "Kind", "VenueHalted", "error_for"]


class Kind(enum.Enum):
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"
    RATE_LIMITED = "rate_limited"
    UNKNOWN_OUTCOME = "unknown_outcome"  # ambiguous if the request could change orders, else unavailable
    RETRY = "retry"  # timestamp/nonce refused before processing: resynchronise the clock and send again


class VenueHalted(VenueError):
    """Aster banned this IP (HTTP 418) or the venue was halted after one: no trading until an operator acts.

    Not transient: retrying makes the ban longer. Reduce-only orders are let through again once the ban Aster
    announced has run out, so that a leg can still be closed; nothing that opens exposure is.
    """


R = RejectReason
# reference/aster.md "Errors", completed from Aster's V3 error list (asterdex/api-docs). -4116 and -5022 are
# Binance's codes for a duplicate client id and a crossing post-only order: Aster is a Binance clone and may answer
# with them ([?] not in Aster's own list), so they are mapped too.
CODES: Final[dict[int, tuple[Kind, RejectReason | None]]] = {
    -1000: (Kind.UNKNOWN_OUTCOME, None),  # "unknown error occurred while processing the request"
    -1001: (Kind.UNAVAILABLE, None),  # internal error; unable to process
    -1002: (Kind.REJECTED, R.AUTHENTICATION),
    -1003: (Kind.RATE_LIMITED, None),
    -1006: (Kind.UNKNOWN_OUTCOME, None),  # "execution status unknown"
    -1007: (Kind.UNKNOWN_OUTCOME, None),  # "timeout waiting for backend; execution status unknown"
    -1015: (Kind.RATE_LIMITED, None),  # too many new orders
    -1016: (Kind.UNAVAILABLE, None),  # service shutting down
    -1021: (Kind.RETRY, None),  # timestamp outside recvWindow
    -1022: (Kind.REJECTED, R.AUTHENTICATION),  # bad signature
    -1100: (Kind.REJECTED, R.OTHER),
    -1101: (Kind.REJECTED, R.OTHER),
    -1102: (Kind.REJECTED, R.OTHER),  # mandatory parameter missing or malformed
    -1103: (Kind.REJECTED, R.OTHER),
    -1106: (Kind.REJECTED, R.OTHER),
    -1111: (Kind.REJECTED, R.OFF_STEP),  # precision over the maximum (the client checks grids first)
    -1115: (Kind.REJECTED, R.OTHER),
    -1116: (Kind.REJECTED, R.OTHER),
    -1117: (Kind.REJECTED, R.OTHER),
    -1121: (Kind.REJECTED, R.UNKNOWN_SYMBOL),
    -1125: (Kind.REJECTED, R.OTHER),  # listenKey does not exist (the stream re-creates it)
    -1130: (Kind.REJECTED, R.OTHER),
    -2010: (Kind.REJECTED, R.OTHER),  # new order rejected (message refines it, see `_refine`)
    -2011: (Kind.REJECTED, R.UNKNOWN_ORDER),  # cancel rejected: unknown or already finished
    -2013: (Kind.REJECTED, R.UNKNOWN_ORDER),
    -2014: (Kind.REJECTED, R.AUTHENTICATION),
    -2015: (Kind.REJECTED, R.AUTHENTICATION),
    -2018: (Kind.REJECTED, R.INSUFFICIENT_MARGIN),
    -2019: (Kind.REJECTED, R.INSUFFICIENT_MARGIN),
    -2020: (Kind.REJECTED, R.OTHER),  # unable to fill
    -2021: (Kind.REJECTED, R.OTHER),  # would immediately trigger (stop orders; fundarb sends none)
    -2022: (Kind.REJECTED, R.REDUCE_ONLY_WOULD_INCREASE),
    -2023: (Kind.REJECTED, R.INSUFFICIENT_MARGIN),  # user in liquidation
    -2024: (Kind.REJECTED, R.REDUCE_ONLY_WOULD_INCREASE),  # position not sufficient
    -2025: (Kind.REJECTED, R.OTHER),  # max open orders
    -2027: (Kind.REJECTED, R.LEVERAGE),  # position above what the leverage allows
    -2028: (Kind.REJECTED, R.INSUFFICIENT_MARGIN),
    -4001: (Kind.REJECTED, R.PRICE_OUT_OF_BOUNDS),
    -4002: (Kind.REJECTED, R.PRICE_OUT_OF_BOUNDS),
    -4003: (Kind.REJECTED, R.BELOW_MIN_QUANTITY),
    -4004: (Kind.REJECTED, R.BELOW_MIN_QUANTITY),
    -4005: (Kind.REJECTED, R.OTHER),  # above max quantity
    -4013: (Kind.REJECTED, R.PRICE_OUT_OF_BOUNDS),
    -4014: (Kind.REJECTED, R.OFF_TICK),
    -4015: (Kind.REJECTED, R.OTHER),  # client order id invalid (the client maps ids into the regex first)
    -4016: (Kind.REJECTED, R.PRICE_OUT_OF_BOUNDS),
    -4023: (Kind.REJECTED, R.OFF_STEP),
    -4024: (Kind.REJECTED, R.PRICE_OUT_OF_BOUNDS),
    -4028: (Kind.REJECTED, R.LEVERAGE),
    -4061: (Kind.REJECTED, R.OTHER),  # position side does not match (account in hedge mode)
    -4062: (Kind.REJECTED, R.OTHER),  # improper reduceOnly (hedge mode)
    -4087: (Kind.REJECTED, R.REDUCE_ONLY_WOULD_INCREASE),  # account may only reduce
    -4088: (Kind.REJECTED, R.OTHER),  # account may not place orders
    -4116: (Kind.REJECTED, R.DUPLICATE_CLIENT_ORDER_ID),  # Binance's code [?]
    -4118: (Kind.REJECTED, R.REDUCE_ONLY_WOULD_INCREASE),  # reduce-only margin check failed
    -4131: (Kind.REJECTED, R.SLIPPAGE),  # market order: best price outside PERCENT_PRICE
    -4140: (Kind.REJECTED, R.MAINTENANCE),  # symbol status does not allow opening
    -4141: (Kind.REJECTED, R.MAINTENANCE),  # symbol closed
    -4164: (Kind.REJECTED, R.BELOW_MIN_NOTIONAL),
    -4225: (Kind.RETRY, None),  # nonce expired (older than the last 100, or repeated)
    -5022: (Kind.REJECTED, R.POST_ONLY_WOULD_CROSS),  # Binance's code for a crossing GTX order [?]
}


def _refine(code: int, message: str, reason: RejectReason | None) -> RejectReason | None:
    """-2010 carries its real cause in the message only."""
    if code == -2010:
        text = message.lower()
        if "margin" in text or "balance" in text:
            return R.INSUFFICIENT_MARGIN
        if "reduceonly" in text or "reduce only" in text:
            return R.REDUCE_ONLY_WOULD_INCREASE
        if "post only" in text or "maker" in text:
            return R.POST_ONLY_WOULD_CROSS
    return reason


def error_for(
    venue: str,
    status: int,
    code: int | None,
    message: str,
    *,
    changes_orders: bool,
    client_order_id: str | None = None,
    retry_after: float | None = None,
) -> VenueError:
    """Return the typed error for an HTTP `status` and Aster `code` (None when the body had none).

    `changes_orders`: the request could have placed or cancelled an order, so "status unknown" is ambiguous rather
    than a plain failure. `Kind.RETRY` codes come back as `VenueUnavailable` (the caller retries before that).
    """
    if status == 418:
        return VenueHalted(f"IP banned by Aster: {message}", venue=venue, status=status, code=code)
    if status == 429:
        return RateLimited(message or "rate limited", venue=venue, retry_after=retry_after, status=status, code=code)
    kind: Kind | None
    reason: RejectReason | None
    if status == 401:
        kind, reason = Kind.REJECTED, R.AUTHENTICATION
    elif changes_orders and (status >= 500 or (code is None and status != 403)):
        # The request may have reached the matching engine: whatever the body says (if anything), a 5xx, or an
        # error reply without a code, leaves the order's fate unknown. Reconcile, never assume failure.
        kind, reason = Kind.UNKNOWN_OUTCOME, None
    else:
        # The body's code decides where there is one (a 500 with -1001 is transient; a 504 with -2013 is "no such
        # order"); without a code the status does.
        kind, reason = CODES.get(code, (None, None)) if code is not None else (None, None)
        if kind is None:
            if status >= 500:
                kind = Kind.UNKNOWN_OUTCOME  # 503: "execution status unknown"; for a query: unavailable
            elif status == 403:
                kind = Kind.UNAVAILABLE  # WAF: the request never reached the engine
            elif 400 <= status < 500:
                kind, reason = Kind.REJECTED, R.OTHER  # a code Aster added since: still a refusal
            else:
                kind = Kind.UNAVAILABLE
    if kind is Kind.REJECTED:
        final = _refine(code or 0, message, reason) or R.OTHER
        if final == R.AUTHENTICATION:
            message = f"authentication refused by Aster (check this venue's credentials): {message}"
        return VenueRejected(message, venue=venue, reason=final, status=status, code=code)
    if kind is Kind.RATE_LIMITED:
        return RateLimited(message, venue=venue, retry_after=retry_after, status=status, code=code)
    if kind is Kind.UNKNOWN_OUTCOME and changes_orders:
        return AmbiguousOutcome(
            f"outcome unknown, reconcile by client order id: {message}",
            venue=venue,
            client_order_id=client_order_id,
            status=status,
            code=code,
        )
    return VenueUnavailable(message or f"HTTP {status}", venue=venue, status=status, code=code)
