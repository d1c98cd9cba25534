"""Registers `kind = "manual"` through `fundarb_register_transfer_handlers`."""

from __future__ import annotations

from typing import Any

from fundarb_core import hookimpl
from fundarb_core.plugins import Register

__all__ = ["fundarb_register_transfer_handlers"]


def build_manual_route(config: Any, context: Any) -> Any:
    from fundarb_transfer_manual.route import ManualTransferRoute

    return ManualTransferRoute(config, context)


@hookimpl
def fundarb_register_transfer_handlers(register: Register) -> None:
    from fundarb_transfer_manual.config import ManualTransferConfig

    register("manual", ManualTransferConfig, build_manual_route)
