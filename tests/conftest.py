"""Shared fixtures for the core's tests.

Two ways to put a plugin in front of fundarb:

- in-process: `plugins` is a `Plugins` with the built-ins only (installed entry points are never loaded by
  accident); register test plugins on it with `plugins.register(obj, name=..., distribution=...)`.
- as an installed distribution: `site` writes a real `<name>-<version>.dist-info/` (METADATA, entry_points.txt)
  and the plugin's modules into a directory; `fundarb` (a subprocess) finds it when that directory is on
  PYTHONPATH, exactly as it finds a plugin installed with pip.
"""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import settings

from fundarb_core import hookimpl
from fundarb_core.plugins import HOOK_FOR, Category, Plugins, Register, canonical_dist

settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def plugins() -> Plugins:
    """A plugin manager with the built-in plugins only."""
    return Plugins().load(entry_points=False)


@attrs.define
class Site:
    """A directory that holds installed-looking distributions (dist-info + modules), for PYTHONPATH."""

    root: Path
    modules: list[str] = attrs.field(factory=list)

    def add(
        self,
        name: str,
        *,
        modules: Mapping[str, str],
        entry_points: Mapping[str, str],
        version: str = "1.0",
        group: str = "fundarb",
        commands: Mapping[str, str] | None = None,
        summary: str | None = None,
    ) -> Path:
        """Install distribution `name` with `modules` (dotted name -> source) and entry points in `group`.

        `commands` are `fundarb.commands` entry points (`name -> "module:attribute"`); `summary` its one-line
        description (METADATA `Summary`).
        """
        for module, source in modules.items():
            parts = module.split(".")
            path = self.root.joinpath(*parts[:-1], f"{parts[-1]}.py")
            path.parent.mkdir(parents=True, exist_ok=True)
            for parent in path.parents:  # packages need an __init__.py up to the root
                if parent == self.root:
                    break
                (parent / "__init__.py").touch()
            path.write_text(textwrap.dedent(source), encoding="utf-8")
            self.modules.append(parts[0])
        return self.distribution(
            name, entry_points=entry_points, version=version, group=group, commands=commands, summary=summary
        )

    def distribution(
        self,
        name: str,
        *,
        entry_points: Mapping[str, str],
        version: str = "1.0",
        group: str = "fundarb",
        commands: Mapping[str, str] | None = None,
        summary: str | None = None,
    ) -> Path:
        """Write the dist-info of distribution `name` (what pip writes), for modules already under `root`."""
        dist_info = self.root / f"{canonical_dist(name).replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        summary_line = f"Summary: {summary}\n" if summary else ""
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{summary_line}")
        lines = [f"[{group}]", *(f"{ep} = {target}" for ep, target in entry_points.items())]
        if commands:
            lines += ["[fundarb.commands]", *(f"{ep} = {target}" for ep, target in commands.items())]
        (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        importlib.invalidate_caches()  # finders cache directory listings; this one just changed
        return dist_info


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A fresh site directory; modules imported from it in-process are forgotten afterwards."""
    root = tmp_path / "site"
    root.mkdir()
    result = Site(root)
    yield result
    for name in list(sys.modules):
        if name.split(".")[0] in result.modules:
            del sys.modules[name]


@pytest.fixture
def in_process_site(site: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    """`site`, also on this process's sys.path (importlib.metadata and imports see it)."""
    monkeypatch.syspath_prepend(str(site.root))
    return site


@attrs.frozen
class Run:
    returncode: int
    stdout: str
    stderr: str


def _fundarb_command() -> list[str]:
    script = Path(sys.executable).with_name("fundarb.exe" if os.name == "nt" else "fundarb")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "fundarb_core.cli"]


@pytest.fixture
def fundarb(tmp_path: Path) -> Callable[..., Run]:
    """Run the `fundarb` command in a subprocess: `fundarb("plugins", "--json", path=site.root, env={...})`.

    The environment is this one without any FUNDARB_* variable or PYTHONPATH, plus what the call gives.
    """

    def run(*args: str, path: Path | None = None, env: Mapping[str, str] | None = None) -> Run:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("FUNDARB_") and k != "PYTHONPATH"}
        if path is not None:
            environ["PYTHONPATH"] = str(path)
        environ.update(env or {})
        done = subprocess.run(
            [*_fundarb_command(), *args],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def log_output(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """Configure fundarb's logging into a StringIO; restore loguru's default afterwards.

    Human text by default; JSON lines when parametrized indirectly with True.
    """
    from loguru import logger

    from fundarb_core.log import configure_logging

    stream = io.StringIO()
    configure_logging(level="DEBUG", json=getattr(request, "param", False), stream=stream)
    yield stream
    logger.remove()
    logger.configure(patcher=lambda record: None)
    logger.add(sys.stderr)
    logger.disable("fundarb_core")


def _registering(category: Category, *names: str, config_cls: type[Any] | None = None) -> object:
    """A plugin object whose registration hook for `category` registers `names` (factory: `object`)."""

    def hook(self: object, register: Register) -> None:
        for name in names:
            register(name, config_cls, object)

    plugin_cls = type(f"Registers_{category}", (), {HOOK_FOR[category]: hookimpl(hook)})
    return plugin_cls()


@pytest.fixture
def registering() -> Callable[..., object]:
    """`registering("venues", "a", "b", config_cls=C)`: a plugin object registering venue kinds a and b."""
    return _registering
