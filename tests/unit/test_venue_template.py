"""venue_plugins/_template stays a faithful, working skeleton of the Venue protocol.

The template's directory starts with `_`, so neither dev.py nor pytest picks it up; this test imports it from its
path, checks it against `fundarb_core.venues.Venue`, and runs the template's own tests.
"""

from __future__ import annotations

import asyncio
import fnmatch
import importlib
import importlib.util
import inspect
import re
import sys
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest

from fundarb_core.venues import REQUIRED_METHODS, Capabilities, Venue

TEMPLATE = Path(__file__).resolve().parents[2] / "venue_plugins" / "_template"
PACKAGE = "fundarb_venue_template"

PROTOCOL_METHODS = sorted(name for name, value in vars(Venue).items() if callable(value) and not name.startswith("_"))
OPTIONAL_METHODS = sorted(set(PROTOCOL_METHODS) - set(REQUIRED_METHODS))


@pytest.fixture
def template(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(TEMPLATE))
    yield importlib.import_module(f"{PACKAGE}.venue")
    for name in list(sys.modules):
        if name == PACKAGE or name.startswith((f"{PACKAGE}.", "template_tests")):
            del sys.modules[name]


def test_protocol_is_what_the_template_expects() -> None:
    assert set(REQUIRED_METHODS) <= set(PROTOCOL_METHODS)
    assert "load_instruments" in REQUIRED_METHODS
    assert "close_position" not in PROTOCOL_METHODS


@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_every_protocol_method_is_there_with_its_signature(template: ModuleType, name: str) -> None:
    ours = getattr(template.TemplateVenue, name, None)
    assert ours is not None, f"the template lacks {name}"
    theirs = getattr(Venue, name)
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
    assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(theirs)
    assert inspect.getdoc(ours), f"{name} has no docstring"


def _venue(template: ModuleType) -> Any:
    from fundarb_core.clock import SimClock
    from fundarb_core.secrets import Secret
    from fundarb_core.venues import VenueContext

    config = importlib.import_module(f"{PACKAGE}.config").TemplateVenueConfig(Secret("k-123"), Secret("s-456"))
    return template.TemplateVenue("main", config, VenueContext(clock=SimClock()))


def test_venue_satisfies_the_protocol_and_every_method_is_unimplemented(template: ModuleType) -> None:
    venue = _venue(template)
    assert isinstance(venue, Venue)
    assert venue.name == "main"
    for name in PROTOCOL_METHODS:
        method = getattr(venue, name)
        params = [p for p in inspect.signature(method).parameters.values() if p.default is inspect.Parameter.empty]
        args = {p.name: Decimal(1) if p.name in ("quantity", "price", "leverage") else "x" for p in params}
        positional = [args[p.name] for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        keywords = {p.name: args[p.name] for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
        with pytest.raises(NotImplementedError):
            _call(method, positional, keywords)


def _call(method: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
    result = method(*args, **kwargs)
    if inspect.iscoroutine(result):
        asyncio.run(result)


def test_streams_are_announced_off(template: ModuleType) -> None:
    capabilities = _venue(template).capabilities
    assert (capabilities.order_stream, capabilities.bbo_stream, capabilities.liquidation_stream) == (
        False,
        False,
        False,
    )


# Optional methods that are not on the protocol class (a venue without the flag need not have them): announced by a
# `Capabilities` flag, described in the comments of fundarb_core/venues/_protocol.py.
ANNOUNCED = {
    "get_position_snapshots": "bulk_snapshots",
    "fetch_funding_history": "funding_history",
    "fetch_price_candles": "price_history",
}
# Flags with no method: market streams behind `fetch_bbo_prices` / `fetch_funding_rates`, and "runs on the run's
# clock". The README must still name each.
FLAGS_WITHOUT_METHOD = {"bbo_stream", "mark_stream", "simulated"}


def test_readme_table_lists_required_and_optional_methods() -> None:
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)\(.*?\)` \| (required|optional)", readme, flags=re.MULTILINE)
    table = {name: kind for name, kind in rows}
    assert sorted(n for n, k in table.items() if k == "required") == sorted(REQUIRED_METHODS)
    assert sorted(n for n, k in table.items() if k == "optional") == sorted({*OPTIONAL_METHODS, *ANNOUNCED})


def test_readme_table_names_the_capability_flag_of_every_optional_method() -> None:
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    flags = dict(re.findall(r"^\| `(\w+)\(.*?\)` \| optional, `capabilities\.(\w+)`", readme, flags=re.MULTILINE))
    assert {name: flags.get(name) for name in ANNOUNCED} == ANNOUNCED
    assert set(flags) == {*OPTIONAL_METHODS, *ANNOUNCED}
    assert {*flags.values(), *FLAGS_WITHOUT_METHOD} == {f.name for f in attrs.fields(Capabilities)}, (
        "a Capabilities flag is missing from the template's table"
    )
    assert all(f"`{flag}`" in readme for flag in FLAGS_WITHOUT_METHOD), "the README does not name every flag"
    protocol = (Path(__file__).resolve().parents[2] / "fundarb_core" / "venues" / "_protocol.py").read_text()
    for name, flag in ANNOUNCED.items():
        assert f"def {name}(" in protocol, f"{name} is not described in _protocol.py"
        assert f"`{flag}`" in protocol, f"{flag} is not described in _protocol.py"


def test_pyproject_declares_the_entry_point() -> None:
    project = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())["project"]
    assert project["name"] == "fundarb-venue-template"
    assert project["entry-points"]["fundarb"] == {"template": f"{PACKAGE}.plugin"}
    assert "fundarb-core[testing]" in project["optional-dependencies"]["test"]


def test_the_core_testing_extra_holds_what_the_contract_suite_imports() -> None:
    core = tomllib.loads((TEMPLATE.parents[1] / "pyproject.toml").read_text())["project"]
    testing = {re.split(r"[<>=\[ ]", requirement)[0] for requirement in core["optional-dependencies"]["testing"]}
    assert testing == {"pytest", "pytest-asyncio", "hypothesis"}
    assert (TEMPLATE / PACKAGE / "py.typed").is_file()


def test_plugin_module_does_not_import_the_venue(template: ModuleType) -> None:
    del sys.modules[f"{PACKAGE}.venue"]
    importlib.import_module(f"{PACKAGE}.plugin")
    assert f"{PACKAGE}.venue" not in sys.modules  # `fundarb --help` must not pay for the venue's imports


def test_template_tests_pass(template: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted((TEMPLATE / "tests").glob("test_*.py"))
    assert files
    ran = 0
    for path in files:
        spec = importlib.util.spec_from_file_location(f"template_tests.{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        for name in sorted(dir(module)):
            if name.startswith("test_"):
                test = getattr(module, name)
                wanted = inspect.signature(test).parameters
                test(**({"monkeypatch": monkeypatch} if "monkeypatch" in wanted else {}))
                ran += 1
    assert ran >= 3


def test_pytest_does_not_collect_the_template(pytestconfig: pytest.Config) -> None:
    patterns = pytestconfig.getini("norecursedirs")
    assert any(fnmatch.fnmatch(TEMPLATE.name, pattern) for pattern in patterns)
