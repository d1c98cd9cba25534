"""docs/plugins/writing-a-plugin.md works as written.

The tutorial's files are its code blocks with a `title="path"`. They are written to a directory and installed the
way `pip install -e` installs them (the package on the path, a dist-info with the pyproject's entry points); then
`fundarb` is run against them and the tutorial's own test is run.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "writing-a-plugin.md"
BLOCK = re.compile(r'^```(\w+)(?: title="([^"]+)")?\n(.*?)^```$', flags=re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str | None, str]]:
    """(language, title, text) of every fenced block, in order."""
    return [(m.group(1), m.group(2), m.group(3)) for m in BLOCK.finditer(TUTORIAL.read_text(encoding="utf-8"))]


@pytest.fixture
def project(site):
    """The tutorial's project, installed as `pip install -e` would: its files on the path, plus a dist-info."""
    files = [(title, text) for _, title, text in blocks() if title]
    assert files, "the tutorial has no titled code blocks"
    (top,) = {title.split("/", 1)[0] for title, _ in files}
    for title, text in files:
        path = site.root / title.split("/", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    meta = tomllib.loads((site.root / "pyproject.toml").read_text())["project"]
    site.modules += ["fundarb_event_log", "tutorial_test_plugin"]
    site.distribution(meta["name"], entry_points=meta["entry-points"]["fundarb"], version=meta["version"])
    assert top == meta["name"]
    return site.root


def test_layout_lists_the_files_the_tutorial_writes() -> None:
    (tree,) = [text for lang, _, text in blocks() if lang == "text"]
    for _, title, _ in blocks():
        if title:
            assert Path(title).name in tree


@pytest.mark.slow
def test_fundarb_lists_the_tutorial_plugin_as_documented(project: Path, fundarb) -> None:
    env = {"FUNDARB_LOAD_PLUGINS": "fundarb-event-log"}
    run = fundarb("plugins", "--json", path=project, env=env)
    assert run.returncode == 0, run.stderr
    (found,) = [p for p in json.loads(run.stdout)["plugins"] if p["distribution"] == "fundarb-event-log"]
    (shown,) = [json.loads(text) for lang, _, text in blocks() if lang == "json"]
    assert found == shown

    # The command the plugin adds, with the output the tutorial shows.
    (console,) = [text for lang, _, text in blocks() if lang == "console" and "fundarb events" in text]
    command, expected = console.split("\n", 1)
    run = fundarb(*command.removeprefix("$ fundarb ").split(), path=project, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout == expected


def test_tutorial_test_passes(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(project))
    spec = importlib.util.spec_from_file_location("tutorial_test_plugin", project / "tests" / "test_plugin.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert tests
    for test in tests:
        workdir = tmp_path / test.__name__
        workdir.mkdir()
        test(workdir, monkeypatch)
