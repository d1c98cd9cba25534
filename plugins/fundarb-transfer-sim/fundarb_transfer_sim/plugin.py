"""Registers `kind = "sim"` through `fundarb_register_transfer_handlers` (the route module loads when built)."""

from __future__ import annotations

from typing import Any

from fundarb_core import hookimpl
from fundarb_core.plugins import Register

__all__ = ["fundarb_register_transfer_handlers"]


def build_sim_route(config: Any, context: Any) -> Any:
    from fundarb_transfer_sim.route import SimTransferRoute

    return SimTransferRoute(config, context)


@hookimpl
def fundarb_register_transfer_handlers(register: Register) -> None:
    from fundarb_transfer_sim.config import SimTransferConfig

    register("sim", SimTransferConfig, build_sim_route)
