"""The one error hierarchy of fundarb: every error the framework raises on purpose derives from `FundarbError`."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AmbiguousOutcome",
    "ConfigError",
    "ExecutionError",
    "FundarbError",
    "PluginError",
    "RateLimited",
    "StoreConflict",
    "StoreError",
    "VenueError",
    "VenueRejected",
    "VenueUnavailable",
]


class FundarbError(Exception):
    """Root of every error fundarb raises on purpose."""


class ConfigError(FundarbError, ValueError):
    """A configuration is invalid; `problems` holds one readable line per problem, each with its key path."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems) if self.problems else "invalid configuration")


class PluginError(FundarbError):
    """A plugin is broken or conflicts with another; `plugin` names the offender (its distribution where known)."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        self.plugin = plugin
        super().__init__(message)


class VenueError(FundarbError):
    """A venue refused, failed or could not be reached.

    Carries the venue's name, the HTTP status and the venue's own error code where there is one, so an operator
    can look the code up in the venue's documentation.
    """

    def __init__(
        self,
        message: str,
        *,
        venue: str,
        status: int | None = None,
        code: str | int | None = None,
    ) -> None:
        self.venue = venue
        self.status = status
        self.code = code
        self.message = message
        parts = [f"[{venue}]"]
        if status is not None:
            parts.append(f"HTTP {status}")
        if code is not None:
            parts.append(f"code {code}")
        super().__init__(f"{' '.join(parts)}: {message}")

    @property
    def transient(self) -> bool:
        """True when sending the same request again later may succeed."""
        return False


class VenueUnavailable(VenueError):
    """The venue did not answer usably (timeout before send, 5xx, maintenance); nothing was done. Retry later."""

    @property
    def transient(self) -> bool:
        return True


class RateLimited(VenueUnavailable):
    """The venue asked us to slow down; `retry_after` is how long it asked for, in seconds, when it said."""

    def __init__(
        self,
        message: str,
        *,
        venue: str,
        retry_after: float | None = None,
        status: int | None = 429,
        code: str | int | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, venue=venue, status=status, code=code)


class VenueRejected(VenueError):
    """The venue definitely refused the request; `reason` is one of `fundarb_core.model.RejectReason`.

    Sending the same request again will be refused again; the caller must change something first.
    """

    def __init__(
        self,
        message: str,
        *,
        venue: str,
        reason: str,
        status: int | None = None,
        code: str | int | None = None,
    ) -> None:
        self.reason = reason
        super().__init__(message, venue=venue, status=status, code=code)


class AmbiguousOutcome(VenueError):
    """The request was sent but its outcome is unknown (the reply was lost).

    Never assume failure: reconcile by client order id (`get_order`) before sending anything again.
    """

    def __init__(
        self,
        message: str,
        *,
        venue: str,
        client_order_id: str | None = None,
        status: int | None = None,
        code: str | int | None = None,
    ) -> None:
        self.client_order_id = client_order_id
        super().__init__(message, venue=venue, status=status, code=code)


class ExecutionError(FundarbError):
    """Execution could not reach its goal (an order could not be placed, a leg could not be flattened)."""


class StoreError(FundarbError):
    """The durable store failed or refused (schema too new, lease held by another bot, conflict)."""


class StoreConflict(StoreError):
    """A record stored before came again with other values (a venue's payment or fill it published twice,
    differently): refused, the first one kept. Unlike other store errors, asking again changes nothing."""
