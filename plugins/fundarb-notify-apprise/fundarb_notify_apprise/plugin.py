"""Registers the observer kind `apprise` through `fundarb_register_observers` (the notifier loads when built)."""

from __future__ import annotations

from typing import Any

from fundarb_core import hookimpl
from fundarb_core.plugins import Register

__all__ = ["fundarb_register_observers"]


def build_notifier(config: Any, context: Any) -> Any:
    from fundarb_notify_apprise.notifier import AppriseNotifier

    return AppriseNotifier(config, name=context.name)


@hookimpl
def fundarb_register_observers(register: Register) -> None:
    from fundarb_notify_apprise.config import AppriseConfig

    register("apprise", AppriseConfig, build_notifier)
