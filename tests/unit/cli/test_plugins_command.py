"""`fundarb plugins`, run as a subprocess, finds plugins installed as real distributions (dist-info on a path)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

VENUE_PLUGIN = """
import attrs

from fundarb_core import hookimpl


@attrs.frozen
class MyVenueConfig:
    region: str = "eu"


def build(venue_id, config, context):
    raise NotImplementedError


@hookimpl
def fundarb_register_venues(register):
    register("myvenue", MyVenueConfig, build)


@hookimpl
def fundarb_register_close_policies(register):
    register("my_policy", None, lambda config: None)
"""

COMMAND_PLUGIN = """
import click

from fundarb_core import hookimpl


@click.command()
@click.argument("name")
def greet(name):
    '''Say hello from a plugin.'''
    click.echo(f"hello {name} from a plugin")


@hookimpl
def fundarb_register_commands(cli):
    cli.add_command(greet)
"""

MISSPELLED_PLUGIN = """
from fundarb_core import hookimpl


@hookimpl
def fundarb_register_venue(register):
    register("never", None, object)
"""


def plugin_named(payload: dict, distribution: str) -> dict:
    (found,) = [p for p in payload["plugins"] if p["distribution"] == distribution]
    return found


def test_installed_distribution_is_discovered(site, fundarb) -> None:
    site.add("fundarb-myplug", modules={"myplug_mod": VENUE_PLUGIN}, entry_points={"myplug": "myplug_mod"})

    run = fundarb("plugins", "--json", path=site.root)

    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    plugin = plugin_named(payload, "fundarb-myplug")
    assert plugin["name"] == "myplug"
    assert plugin["version"] == "1.0"
    assert plugin["hooks"] == ["fundarb_register_close_policies", "fundarb_register_venues"]
    assert plugin["registered"] == {"venues": ["myvenue"], "close_policies": ["my_policy"]}
    assert plugin["builtin"] is False
    assert payload["broken"] == []


def test_table_lists_the_plugin(site, fundarb) -> None:
    site.add("fundarb-myplug", modules={"myplug_mod": VENUE_PLUGIN}, entry_points={"myplug": "myplug_mod"})
    run = fundarb("plugins", path=site.root, env={"COLUMNS": "200"})
    assert run.returncode == 0, run.stderr
    assert "fundarb-myplug" in run.stdout
    assert "venues: myvenue" in run.stdout


def test_installed_venue_kind_validates_its_config_section(site, fundarb, tmp_path) -> None:
    site.add("fundarb-myplug", modules={"myplug_mod": VENUE_PLUGIN}, entry_points={"myplug": "myplug_mod"})
    good = tmp_path / "good.toml"
    good.write_text('[venues.x]\nkind = "myvenue"\nregion = "us"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[venues.x]\nkind = "myvenue"\nregion = 3\nfoo = 1\n')

    ok = fundarb("config", "check", str(good), path=site.root)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"{good}: OK (venues: x (myvenue))"

    failed = fundarb("config", "check", str(bad), path=site.root)
    assert failed.returncode == 2
    assert failed.stderr.splitlines() == [
        "venues.x.foo: unknown key",
        "venues.x.region: expected a string, found int 3",
    ]


def test_plugin_adds_a_command(site, fundarb) -> None:
    site.add("fundarb-greeter", modules={"greeter_mod": COMMAND_PLUGIN}, entry_points={"greeter": "greeter_mod"})

    run = fundarb("greet", "world", path=site.root)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hello world from a plugin\n"

    helped = fundarb("greet", "--help", path=site.root)
    assert helped.returncode == 0, helped.stderr
    assert "Say hello from a plugin." in helped.stdout
    # (`fundarb --help` imports no plugin: it lists only `fundarb.commands` entry points; see cli/test_main.py)

    listed = fundarb("plugins", "--json", path=site.root)
    plugin = plugin_named(json.loads(listed.stdout), "fundarb-greeter")
    assert plugin["hooks"] == ["fundarb_register_commands"]
    assert plugin["registered"] == {"commands": ["greet"]}


def test_unknown_command_without_plugins(fundarb) -> None:
    run = fundarb("greet", "world", env={"FUNDARB_LOAD_PLUGINS": ""})
    assert run.returncode == 2
    assert "No such command 'greet'" in run.stderr


@pytest.mark.parametrize("args", [("plugins", "--json"), ("nosuchcommand",), ("config", "check", "missing.toml")])
def test_misspelled_hook_fails_at_start_naming_the_distribution(site, fundarb, args: tuple[str, ...]) -> None:
    site.add("fundarb-typo", modules={"typo_mod": MISSPELLED_PLUGIN}, entry_points={"typo": "typo_mod"})

    run = fundarb(*args, path=site.root)

    assert run.returncode == 2
    assert "plugin fundarb-typo: hook implementation 'fundarb_register_venue'" in run.stderr
    assert "did you mean fundarb_register_venues?" in run.stderr
    assert "Traceback" not in run.stderr


def test_broken_plugin_is_listed_and_the_rest_load(site, fundarb) -> None:
    site.add("fundarb-myplug", modules={"myplug_mod": VENUE_PLUGIN}, entry_points={"myplug": "myplug_mod"})
    site.add(
        "fundarb-broken",
        modules={"broken_mod": "raise RuntimeError('boom at import')\n"},
        entry_points={"b": "broken_mod"},
    )
    run = fundarb("plugins", "--json", path=site.root)
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert plugin_named(payload, "fundarb-myplug")["registered"]["venues"] == ["myvenue"]
    assert payload["broken"] == [
        {"distribution": "fundarb-broken", "entry_point": "b", "error": "RuntimeError: boom at import"}
    ]
    assert "plugin fundarb-broken failed to load and was skipped" in run.stderr


def test_load_and_disable_variables_reach_the_command(site, fundarb) -> None:
    site.add("fundarb-myplug", modules={"myplug_mod": VENUE_PLUGIN}, entry_points={"myplug": "myplug_mod"})
    site.add("fundarb-greeter", modules={"greeter_mod": COMMAND_PLUGIN}, entry_points={"greeter": "greeter_mod"})

    def distributions(env: dict[str, str]) -> set[str]:
        run = fundarb("plugins", "--json", path=site.root, env=env)
        assert run.returncode == 0, run.stderr
        return {p["distribution"] for p in json.loads(run.stdout)["plugins"] if not p["builtin"]}

    assert distributions({"FUNDARB_LOAD_PLUGINS": ""}) == set()
    assert distributions({"FUNDARB_LOAD_PLUGINS": "fundarb-greeter"}) == {"fundarb-greeter"}
    both = "fundarb-greeter,fundarb-myplug"
    assert distributions({"FUNDARB_LOAD_PLUGINS": both, "FUNDARB_DISABLE_PLUGINS": "fundarb-myplug"}) == {
        "fundarb-greeter"
    }
