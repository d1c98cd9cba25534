"""What a handler returns or raises: success (a mapping), `Wait`, `AwaitApproval`, `RetryLater`, `ActionFailed`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from fundarb_core.errors import FundarbError

__all__ = ["ActionFailed", "AwaitApproval", "Outcome", "RetryLater", "Wait"]


class ActionFailed(FundarbError):
    """The action cannot succeed; its message is recorded as the reason."""


class RetryLater(FundarbError):
    """A transient problem: run the action again after `after` (default: the runner's backoff)."""

    def __init__(self, message: str, *, after: timedelta | None = None) -> None:
        super().__init__(message)
        self.after = after


@attrs.frozen
class Wait:
    """Not finished: run again (same attempt) at `until`; `note` says what it waits for."""

    until: datetime
    note: str = ""


@attrs.frozen
class AwaitApproval:
    """Stop until an operator approves (`fundarb actions approve ID`); `note` tells them what they approve."""

    note: str


Outcome = Mapping[str, Any] | Wait | AwaitApproval | None
