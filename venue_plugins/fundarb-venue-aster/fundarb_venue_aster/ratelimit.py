"""A client-side request-weight budget, driven by `exchangeInfo.rateLimits` and Aster's usage headers.

Aster counts request weight per IP per minute (`X-MBX-USED-WEIGHT-1M` on every reply) and orders per account
(`X-MBX-ORDER-COUNT-1M`). The limiter refuses a request itself, with `RateLimited`, when it would spend more than
the headroom share of the budget (reduce-only orders may use the rest), and refuses everything until a 429's
`Retry-After` has passed: hammering on after a 429 is what earns a 418 ban.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

from fundarb_core.clock import Clock
from fundarb_core.errors import RateLimited
from fundarb_venue_aster.records import RateLimit

__all__ = ["WeightLimiter"]


class WeightLimiter:
    """Per-minute weight and order budgets of one venue."""

    def __init__(self, venue: str, clock: Clock, headroom: Decimal) -> None:
        self.venue = venue
        self.clock = clock
        self.headroom = float(headroom)
        self.weight_limit = 2400  # the documented default until exchangeInfo says otherwise
        self.order_limit = 1200
        self.used_weight = 0
        self.order_count = 0
        self._minute = -1
        self._blocked_until = 0.0  # clock.monotonic() before which nothing is sent

    def configure(self, rate_limits: Sequence[RateLimit]) -> None:
        """Take the per-minute limits from `exchangeInfo.rateLimits` (validated records)."""
        for limit in rate_limits:
            if limit.interval != "MINUTE" or limit.intervalNum != 1:
                continue
            if limit.rateLimitType == "REQUEST_WEIGHT":
                self.weight_limit = limit.limit
            elif limit.rateLimitType == "ORDERS":
                self.order_limit = limit.limit

    def _roll(self) -> float:
        now = self.clock.now().timestamp()
        minute = int(now // 60)
        if minute != self._minute:
            self._minute, self.used_weight, self.order_count = minute, 0, 0
        return 60 - (now % 60)

    def acquire(self, weight: int, *, order: bool = False, priority: bool = False) -> None:
        """Count `weight` for a request about to be sent, or raise `RateLimited` without sending it.

        `priority` requests (reduce-only orders) may spend the whole budget; others only the headroom share.
        """
        wait = self._blocked_until - self.clock.monotonic()
        if wait > 0:
            raise RateLimited(
                f"backing off for {wait:.1f}s after a rate limit", venue=self.venue, retry_after=wait, status=None
            )
        to_next_minute = self._roll()
        share = 1.0 if priority else self.headroom
        if self.used_weight + weight > math.floor(self.weight_limit * share):
            raise RateLimited(
                f"request weight {self.used_weight}+{weight} would pass {share:.0%} of {self.weight_limit}/min",
                venue=self.venue,
                retry_after=to_next_minute,
                status=None,
            )
        if order and self.order_count + 1 > math.floor(self.order_limit * share):
            raise RateLimited(
                f"order count {self.order_count} at {share:.0%} of {self.order_limit}/min",
                venue=self.venue,
                retry_after=to_next_minute,
                status=None,
            )
        self.used_weight += weight
        if order:
            self.order_count += 1

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take Aster's own count from a reply's headers (it also counts other clients on this IP)."""
        self._roll()
        for name, value in headers.items():
            upper = name.upper()
            try:
                if upper == "X-MBX-USED-WEIGHT-1M":
                    self.used_weight = int(value)
                elif upper == "X-MBX-ORDER-COUNT-1M":
                    self.order_count = int(value)
            except ValueError:
                continue

    def back_off(self, seconds: float) -> None:
        """Send nothing for `seconds` (after a 429 or a ban)."""
        self._blocked_until = max(self._blocked_until, self.clock.monotonic() + seconds)
