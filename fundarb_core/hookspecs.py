"""The hooks a fundarb plugin may implement.

Hooks are synchronous and used for wiring; the objects they register (venues, handlers) do their work async.
Every registration hook receives a `register` callable bound to the calling plugin, so a duplicate name can be
reported with both plugins' names. Mark implementations with `fundarb_core.hookimpl`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from datetime import datetime

    import click

    from fundarb_core.events import Event
    from fundarb_core.plugins._registry import Register

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "fundarb"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def fundarb_register_venues(register: Register) -> None:
    """Register venue kinds.

    Called once while plugins load. Call `register(name, config_cls, factory)` for each venue kind: `name` is what
    a config's `[venues.<id>] kind = "..."` names, `config_cls` an attrs class validating the rest of that section,
    `factory(venue_id, config, context)` returns an object implementing `fundarb_core.venues.Venue`. Return nothing.
    """


@hookspec
def fundarb_register_close_policies(register: Register) -> None:
    """Register close policies.

    Called once while plugins load. Call `register(name, config_cls, factory)`; `factory(config, open_offset_bps)`
    returns a `fundarb_core.execution.ClosePolicy` that turns a `CloseRequest` (position, live snapshots, reason,
    urgency) into `CloseLegSpec`s. Return nothing.
    """


@hookspec
def fundarb_register_risk_managers(register: Register) -> None:
    """Register risk managers.

    Called once while plugins load. Call `register(name, config_cls, factory)`; `factory(config)` returns a
    `fundarb_core.strategy.RiskManager`: `should_exit(view) -> ExitDecision` and
    `generate_actions(view, reason, context)` (an empty plan means "close now"). Return nothing.
    """


@hookspec
def fundarb_register_action_types(register: Register) -> None:
    """Register action handlers.

    Called once while plugins load. Call `register(action_type, details_cls, factory)`; `details_cls` validates an
    action's `details`, `factory(context)` returns the async handler the ActionRunner calls for that
    `action_type`. Return nothing.
    """


@hookspec
def fundarb_register_transfer_handlers(register: Register) -> None:
    """Register ways to move funds between venues.

    Called once while plugins load. Call `register(name, config_cls, factory)`; `factory(config, context)` returns
    a resumable transfer handler (a state machine with idempotent ids). Return nothing.
    """


@hookspec
def fundarb_register_observers(register: Register) -> None:
    """Register observer kinds: event consumers with settings (notifiers, metrics exporters).

    Called once while plugins load. Call `register(name, config_cls, factory)`; each `[observers.<id>]` section
    whose `kind` is `name` is validated by `config_cls`, and `factory(config, context)` (a
    `fundarb_core.app.observers.ObserverContext`) returns an object with `on_event(event)`, and optionally
    `on_tick(at, seconds)`, `async start()` and `async aclose()`. It lives as long as the running bot. Return
    nothing.
    """


@hookspec
def fundarb_register_commands(cli: click.Group) -> None:
    """Add commands to the `fundarb` command line.

    Called when the CLI is asked for a command it finds neither built in nor declared in the `fundarb.commands`
    entry-point group (`fundarb --help` loads no plugin, so it lists only those). `cli` is the root
    `click.Group`: call `cli.add_command(...)`. Return nothing.
    """


@hookspec
def fundarb_on_event(event: Event) -> None:
    """Observe what the bot does.

    Called once for every fact the bot records (an order done, a position opened, closed or reduced, an open or
    close failed, an alert, a plan journalled, an action done, an operator command), after it is in the store.
    `event` is a `fundarb_core.events.Event`: `kind`, `at`, `data` (JSON-ready) and `payload` (the typed
    `EventPayload`; the kinds and fields are listed in docs/plugins/hooks.md). Must return quickly and not raise:
    an observer's error is logged and does not stop the bot. Return nothing.
    """


@hookspec
def fundarb_on_tick(at: datetime, seconds: float) -> None:
    """Observe the bot's loop.

    Called after each tick of the running bot: `at` is the clock time the tick started, `seconds` how long it
    took on the bot's clock (simulated seconds on a simulated clock). Must return quickly and not raise, like
    `fundarb_on_event`. Return nothing.
    """
