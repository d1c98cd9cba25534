"""Installed plugins (entry points in group `fundarb`), loaded in-process from a site directory on sys.path.

Every `load` here passes an explicit `environ` naming the distributions to load, so plugins installed in the
test environment never take part.
"""

from __future__ import annotations

import pytest

from fundarb_core.errors import PluginError
from fundarb_core.plugins import Plugins

GOOD = """
from fundarb_core import hookimpl

@hookimpl
def fundarb_register_venues(register):
    register("good_venue", None, object)
"""

OTHER = """
from fundarb_core import hookimpl

@hookimpl
def fundarb_register_close_policies(register):
    register("other_policy", None, object)
"""

BROKEN = """
raise ImportError("needs libfoo, which is not installed")
"""


@pytest.fixture
def installed(in_process_site):
    in_process_site.add("fundarb-good", modules={"ep_good": GOOD}, entry_points={"good": "ep_good"}, version="1.2")
    in_process_site.add("fundarb-other", modules={"ep_other": OTHER}, entry_points={"other": "ep_other"})
    in_process_site.add("fundarb-broken", modules={"ep_broken": BROKEN}, entry_points={"broken": "ep_broken"})
    return in_process_site


ALL = "fundarb-good,fundarb-other,fundarb-broken"


def loaded(manager: Plugins) -> set[str]:
    """The distributions of the installed (not built-in) plugins that loaded."""
    return {info.distribution for info in manager.info() if not info.builtin}


@pytest.mark.usefixtures("installed")
def test_broken_plugin_is_recorded_and_the_rest_load() -> None:
    manager = Plugins().load(environ={"FUNDARB_LOAD_PLUGINS": ALL})
    assert loaded(manager) == {"fundarb-good", "fundarb-other"}
    (broken,) = manager.broken
    assert broken.distribution == "fundarb-broken"
    assert broken.entry_point == "broken"
    assert broken.error == "ImportError: needs libfoo, which is not installed"
    assert ("venues", "good_venue") in manager.registry
    assert ("close_policies", "other_policy") in manager.registry
    (good,) = [i for i in manager.info() if i.distribution == "fundarb-good"]
    assert (good.name, good.version, good.hooks) == ("good", "1.2", ("fundarb_register_venues",))
    assert "plugin fundarb-broken failed to load (ImportError: needs libfoo" in manager.broken_hint()


@pytest.mark.usefixtures("installed")
def test_empty_load_list_loads_nothing() -> None:
    manager = Plugins().load(environ={"FUNDARB_LOAD_PLUGINS": ""})
    assert loaded(manager) == set()
    assert manager.broken == []


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize(
    ("load", "expected"),
    [
        ("fundarb-good", {"fundarb-good"}),
        (" Fundarb_Good , fundarb.other ", {"fundarb-good", "fundarb-other"}),  # names compared canonically
        ("fundarb-good,,", {"fundarb-good"}),
    ],
)
def test_load_list_chooses_distributions(load: str, expected: set[str]) -> None:
    manager = Plugins().load(environ={"FUNDARB_LOAD_PLUGINS": load})
    assert loaded(manager) == expected
    assert manager.broken == []


@pytest.mark.usefixtures("installed")
def test_disable_list_leaves_distributions_out() -> None:
    manager = Plugins().load(
        environ={"FUNDARB_LOAD_PLUGINS": ALL, "FUNDARB_DISABLE_PLUGINS": "fundarb-broken, FUNDARB_OTHER"}
    )
    assert loaded(manager) == {"fundarb-good"}
    assert manager.broken == []


@pytest.mark.usefixtures("installed")
def test_load_is_idempotent() -> None:
    manager = Plugins()
    manager.load(environ={"FUNDARB_LOAD_PLUGINS": "fundarb-good"})
    manager.load(environ={"FUNDARB_LOAD_PLUGINS": "fundarb-good"})
    assert [i.distribution for i in manager.info() if not i.builtin] == ["fundarb-good"]


def test_entry_point_names_may_repeat_across_distributions(in_process_site) -> None:
    in_process_site.add("fundarb-one", modules={"ep_one": GOOD}, entry_points={"plugin": "ep_one"})
    in_process_site.add("fundarb-two", modules={"ep_two": OTHER}, entry_points={"plugin": "ep_two"})
    manager = Plugins().load(environ={"FUNDARB_LOAD_PLUGINS": "fundarb-one,fundarb-two"})
    assert {(i.name, i.distribution) for i in manager.info() if not i.builtin} == {
        ("plugin", "fundarb-one"),
        ("fundarb-two:plugin", "fundarb-two"),
    }


def test_installed_plugin_with_misspelled_hook_stops_load(in_process_site) -> None:
    source = "from fundarb_core import hookimpl\n\n@hookimpl\ndef fundarb_on_events(event):\n    pass\n"
    in_process_site.add("fundarb-typo", modules={"ep_typo": source}, entry_points={"typo": "ep_typo"})
    with pytest.raises(PluginError, match="plugin fundarb-typo: hook implementation 'fundarb_on_events'"):
        Plugins().load(environ={"FUNDARB_LOAD_PLUGINS": "fundarb-typo"})


def test_entry_points_off_ignores_installed_plugins(installed) -> None:
    manager = Plugins().load(entry_points=False, environ={"FUNDARB_LOAD_PLUGINS": ALL})
    assert loaded(manager) == set()
