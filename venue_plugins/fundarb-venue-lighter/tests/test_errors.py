"""Every error code of the reference maps to the typed hierarchy; order statuses map to status and reason."""

from __future__ import annotations

import pytest
from fundarb_venue_lighter.errors import error_from_answer, order_status
from fundarb_venue_lighter.nonces import InvalidNonce

from fundarb_core.errors import RateLimited, VenueRejected, VenueUnavailable
from fundarb_core.model import OrderStatus, RejectReason

R = RejectReason


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (21500, R.OTHER),
        (21501, R.OTHER),
        (21507, R.INSUFFICIENT_MARGIN),
        (21508, R.INSUFFICIENT_MARGIN),
        (21601, R.OTHER),
        (21602, R.UNKNOWN_SYMBOL),
        (21614, R.OTHER),
        (21700, R.UNKNOWN_ORDER),
        (21701, R.BELOW_MIN_QUANTITY),
        (21702, R.PRICE_OUT_OF_BOUNDS),
        (21711, R.OTHER),
        (21727, R.OTHER),
        (21728, R.DUPLICATE_CLIENT_ORDER_ID),
        (21732, R.REDUCE_ONLY_WOULD_INCREASE),
        (21733, R.PRICE_OUT_OF_BOUNDS),
        (21734, R.PRICE_OUT_OF_BOUNDS),
        (21739, R.INSUFFICIENT_MARGIN),
    ],
)
def test_refusal_codes_are_typed_rejections(code: int, reason: RejectReason) -> None:
    error = error_from_answer(400, code, "msg", venue="lighter")
    assert isinstance(error, VenueRejected)
    assert (error.reason, error.code, error.status) == (reason, code, 400)
    assert f"code {code}" in str(error)


@pytest.mark.parametrize(("status", "code"), [(429, None), (429, 23000), (400, 23000), (400, 21506)])
def test_rate_limits(status: int, code: int | None) -> None:
    error = error_from_answer(status, code, "too many", venue="lighter", retry_after=2.0)
    assert isinstance(error, RateLimited)
    assert error.transient
    assert error.retry_after == 2.0


def test_maintenance_and_server_errors_are_transient() -> None:
    for status in (500, 502, 503):
        error = error_from_answer(status, None, "down", venue="lighter")
        assert isinstance(error, VenueUnavailable)
        assert not isinstance(error, RateLimited)
        assert error.transient


def test_invalid_nonce_is_recognised_by_its_text_whatever_the_code() -> None:
    for code in (None, 21104, 21120):
        assert isinstance(error_from_answer(400, code, "Invalid nonce: expected 5", venue="l"), InvalidNonce)


def test_no_position_for_a_reduce_only_order_is_a_reduce_only_rejection() -> None:
    error = error_from_answer(400, 21614, "no position", venue="l", reduce_only=True)
    assert isinstance(error, VenueRejected)
    assert error.reason == R.REDUCE_ONLY_WOULD_INCREASE


def test_below_min_quote_by_message() -> None:
    error = error_from_answer(400, 29999, "order quote amount below the min quote amount", venue="l")
    assert isinstance(error, VenueRejected)
    assert error.reason == R.BELOW_MIN_NOTIONAL


@pytest.mark.parametrize(
    ("wire", "filled", "status", "reason"),
    [
        ("open", False, OrderStatus.OPEN, None),
        ("open", True, OrderStatus.PARTIALLY_FILLED, None),
        ("filled", True, OrderStatus.FILLED, None),
        ("canceled", False, OrderStatus.CANCELLED, None),
        ("canceled-post-only", False, OrderStatus.REJECTED, R.POST_ONLY_WOULD_CROSS),
        ("canceled-reduce-only", False, OrderStatus.REJECTED, R.REDUCE_ONLY_WOULD_INCREASE),
        ("canceled-reduce-only", True, OrderStatus.CANCELLED, R.REDUCE_ONLY_WOULD_INCREASE),
        ("canceled-margin-not-allowed", False, OrderStatus.REJECTED, R.INSUFFICIENT_MARGIN),
        ("canceled-too-much-slippage", True, OrderStatus.EXPIRED, R.SLIPPAGE),
        ("canceled-not-enough-liquidity", False, OrderStatus.EXPIRED, None),
        ("canceled-expired", False, OrderStatus.EXPIRED, None),
        ("canceled-liquidation", True, OrderStatus.CANCELLED, None),
        ("some-new-status", False, OrderStatus.OPEN, None),  # unknown: keep polling, never call it final
    ],
)
def test_order_statuses(wire: str, filled: bool, status: OrderStatus, reason: RejectReason | None) -> None:
    assert order_status(wire, filled) == (status, reason)
