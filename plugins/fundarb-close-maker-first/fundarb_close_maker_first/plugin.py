"""Registers `maker_first` through `fundarb_register_close_policies`."""

from __future__ import annotations

from fundarb_core import hookimpl
from fundarb_core.plugins import Register


@hookimpl
def fundarb_register_close_policies(register: Register) -> None:
    from fundarb_close_maker_first.policy import MakerFirstConfig, MakerFirstPolicy

    register("maker_first", MakerFirstConfig, MakerFirstPolicy)
