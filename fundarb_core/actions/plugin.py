"""Registers the built-in action types through the same hook as any plugin (loaded with the core's defaults)."""

from __future__ import annotations

from fundarb_core.hookspecs import hookimpl
from fundarb_core.plugins import Register


@hookimpl
def fundarb_register_action_types(register: Register) -> None:
    from fundarb_core.actions.builtin import register_builtin

    register_builtin(register)
