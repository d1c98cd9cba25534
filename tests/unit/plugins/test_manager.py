"""Plugins: loading, checking, registering, environment filters and events, in-process."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import attrs
import click
import pytest

from fundarb_core import hookimpl
from fundarb_core.errors import PluginError
from fundarb_core.plugins import Plugins, Register


@attrs.frozen
class Settings:
    size: int = 1


def test_duplicate_name_names_both_plugins(plugins: Plugins, registering: Callable[..., object]) -> None:
    plugins.register(registering("venues", "dup"), name="a", distribution="fundarb-first")
    plugins.register(registering("venues", "dup"), name="b", distribution="fundarb-second")
    with pytest.raises(PluginError) as info:
        plugins.check()
    message = str(info.value)
    assert "venue kind 'dup' is registered twice" in message
    assert "fundarb-first" in message
    assert "fundarb-second" in message
    assert info.value.plugin == "fundarb-second"


def test_same_name_in_two_categories_is_allowed(plugins: Plugins, registering: Callable[..., object]) -> None:
    plugins.register(registering("venues", "same"), name="a", distribution="fundarb-a")
    plugins.register(registering("close_policies", "same"), name="b", distribution="fundarb-b")
    plugins.check()
    assert plugins.registry.get("venues", "same").plugin == "fundarb-a"
    assert plugins.registry.get("close_policies", "same").plugin == "fundarb-b"


def test_unregister_removes_what_a_plugin_registered(plugins: Plugins, registering: Callable[..., object]) -> None:
    plugins.register(registering("venues", "temp"), name="temp", distribution="fundarb-temp")
    assert ("venues", "temp") in plugins.registry
    plugins.unregister("temp")
    assert ("venues", "temp") not in plugins.registry


class Misspelled:
    @hookimpl
    def fundarb_register_venue(self, register: Register) -> None:  # "venue", not "venues"
        register("never", None, object)


def test_misspelled_hook_fails_check_naming_the_plugin(plugins: Plugins) -> None:
    plugins.register(Misspelled(), name="typo", distribution="fundarb-typo")
    with pytest.raises(PluginError) as info:
        plugins.check()
    assert info.value.plugin == "fundarb-typo"
    assert "plugin fundarb-typo" in str(info.value)
    assert "'fundarb_register_venue'" in str(info.value)
    assert "did you mean fundarb_register_venues?" in str(info.value)


def test_misspelled_hook_fails_load() -> None:
    manager = Plugins()
    manager.register(Misspelled(), name="typo", distribution="fundarb-typo")
    with pytest.raises(PluginError, match="fundarb-typo"):
        manager.load(entry_points=False)


def test_hook_with_an_argument_the_spec_lacks_is_refused_at_register(plugins: Plugins) -> None:
    class WrongArgument:
        @hookimpl
        def fundarb_register_venues(self, registrar: Register) -> None: ...

    with pytest.raises(PluginError, match="fundarb-wrong") as info:
        plugins.register(WrongArgument(), name="wrong", distribution="fundarb-wrong")
    assert info.value.plugin == "fundarb-wrong"


def test_registration_hook_that_raises_names_the_plugin(plugins: Plugins) -> None:
    class Raises:
        @hookimpl
        def fundarb_register_risk_managers(self, register: Register) -> None:
            raise RuntimeError("no luck")

    plugins.register(Raises(), name="raises", distribution="fundarb-raises")
    with pytest.raises(PluginError, match=r"plugin fundarb-raises failed in fundarb_register_risk_managers.*no luck"):
        plugins.check()


def test_config_class_must_be_attrs(plugins: Plugins, registering: Callable[..., object]) -> None:
    class NotAttrs:
        pass

    plugins.register(registering("venues", "v", config_cls=NotAttrs), name="p", distribution="fundarb-p")
    with pytest.raises(PluginError, match="must be an attrs class"):
        plugins.check()


def test_info_describes_plugins(plugins: Plugins) -> None:
    class Both:
        @hookimpl
        def fundarb_register_venues(self, register: Register) -> None:
            register("alpha", Settings, object)
            register("beta", None, object)

        @hookimpl
        def fundarb_register_commands(self, cli: click.Group) -> None:
            cli.add_command(click.Command("hello"))

    plugins.register(Both(), name="both", distribution="fundarb-both", version="2.3")
    (info,) = [i for i in plugins.info() if i.name == "both"]
    assert info.distribution == "fundarb-both"
    assert info.version == "2.3"
    assert info.hooks == ("fundarb_register_commands", "fundarb_register_venues")
    assert dict(info.registered) == {"venues": ("alpha", "beta"), "commands": ("hello",)}
    assert not info.builtin


def test_plugin_command_may_not_shadow_another(plugins: Plugins) -> None:
    def adding(name: str) -> object:
        class Adds:
            @hookimpl
            def fundarb_register_commands(self, cli: click.Group) -> None:
                cli.add_command(click.Command(name))

        return Adds()

    plugins.register(adding("config"), name="shadow", distribution="fundarb-shadow")
    with pytest.raises(PluginError, match="command 'config' is added twice: by plugin fundarb-core and by plugin"):
        plugins.add_commands(click.Group(), reserved=["config"])

    plugins.unregister("shadow")
    plugins.register(adding("hi"), name="one", distribution="fundarb-one")
    plugins.register(adding("hi"), name="two", distribution="fundarb-two")
    with pytest.raises(PluginError) as info:
        plugins.add_commands(click.Group())
    assert "fundarb-one" in str(info.value)
    assert "fundarb-two" in str(info.value)


# -- events ----------------------------------------------------------------------------------------------------


@attrs.frozen
class Event:
    kind: str
    data: dict[str, Any] = attrs.field(factory=dict)


def test_emit_calls_every_observer_and_swallows_their_errors(plugins: Plugins, log_output: io.StringIO) -> None:
    seen: list[tuple[str, str]] = []

    class Good:
        def __init__(self, label: str) -> None:
            self.label = label

        @hookimpl
        def fundarb_on_event(self, event: Event) -> None:
            seen.append((self.label, event.kind))

    class Bad:
        @hookimpl
        def fundarb_on_event(self, event: Event) -> None:
            raise RuntimeError("observer broke")

    plugins.register(Good("first"), name="first", distribution="fundarb-first")
    plugins.register(Bad(), name="bad", distribution="fundarb-bad")
    plugins.register(Good("last"), name="last", distribution="fundarb-last")

    plugins.emit(Event("position_opened"))

    assert sorted(seen) == [("first", "position_opened"), ("last", "position_opened")]
    logged = log_output.getvalue()
    assert "event observer fundarb-bad failed" in logged
    assert "RuntimeError: observer broke" in logged


def test_emit_without_observers_does_nothing(plugins: Plugins) -> None:
    plugins.emit(Event("alert"))  # must not raise


def test_observer_may_leave_out_the_event_argument(plugins: Plugins) -> None:
    calls: list[bool] = []

    class Counter:
        @hookimpl
        def fundarb_on_event(self) -> None:
            calls.append(True)

    plugins.register(Counter(), name="counter")
    plugins.emit(Event("alert"))
    assert calls == [True]


def test_info_lists_each_builtin_module_with_only_what_it_registered() -> None:
    manager = Plugins().load(entry_points=False)
    builtins = {i.name: i for i in manager.info() if i.builtin}
    assert set(builtins) == {
        "fundarb_core.venues.sim.plugin",
        "fundarb_core.venues.replay.plugin",
        "fundarb_core.actions.plugin",
    }
    assert {i.distribution for i in builtins.values()} == {"fundarb-core"}
    assert dict(builtins["fundarb_core.venues.sim.plugin"].registered) == {"venues": ("sim",)}
    actions = dict(builtins["fundarb_core.actions.plugin"].registered)
    assert set(actions) == {"action_types"}
    assert "close_position" in actions["action_types"]
    assert "sim" not in actions["action_types"]


def test_info_keeps_two_plugins_of_one_distribution_apart(plugins: Plugins, registering: Callable[..., object]) -> None:
    plugins.register(registering("venues", "one"), name="first", distribution="fundarb-shared")
    plugins.register(registering("close_policies", "two"), name="second", distribution="fundarb-shared")
    infos = {i.name: dict(i.registered) for i in plugins.info() if i.distribution == "fundarb-shared"}
    assert infos == {"first": {"venues": ("one",)}, "second": {"close_policies": ("two",)}}
