"""The public API a plugin may use is written down (docs/plugins/api.md), exported as written, and the only one used.

- every module the page lists exports exactly the names it lists, in one sorted `__all__`, and each name resolves;
- every in-repo plugin (`plugins/*`, `venue_plugins/*`: package and tests) imports only listed modules and names;
- the import-linter contract that forbids plugins the core's private modules names every private module.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

import fundarb_core
from fundarb_core.lazy import sort_key

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "plugins" / "api.md"


def documented() -> dict[str, list[str]]:
    """`{module: [names]}` from docs/plugins/api.md: a `### \\`module\\`` heading, then a `Names:` line."""
    modules: dict[str, list[str]] = {}
    current: str | None = None
    for line in API.read_text(encoding="utf-8").splitlines():
        if heading := re.fullmatch(r"### `(fundarb_core[\w.]*)`", line):
            current = heading[1]
            modules[current] = []
        elif current is not None and line.startswith("Names:"):
            modules[current] = re.findall(r"`([^`]+)`", line)
    return modules


DOCUMENTED = documented()


def test_the_page_lists_modules() -> None:
    assert "fundarb_core" in DOCUMENTED
    assert all(DOCUMENTED.values()), [m for m, names in DOCUMENTED.items() if not names]


@pytest.mark.parametrize("module", sorted(DOCUMENTED))
def test_a_documented_module_exports_exactly_its_documented_names_sorted(module: str) -> None:
    exported = list(importlib.import_module(module).__all__)
    assert exported == sorted(exported, key=sort_key), f"{module}.__all__ is not sorted"
    missing = sorted(set(exported) - set(DOCUMENTED[module]))
    extra = sorted(set(DOCUMENTED[module]) - set(exported))
    assert (missing, extra) == ([], []), f"docs/plugins/api.md, {module}: add {missing}, remove {extra} (see __all__)"
    assert DOCUMENTED[module] == exported, f"docs/plugins/api.md, {module}: list the names in __all__'s order"


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in sorted(DOCUMENTED.items()) for n in names])
def test_every_documented_name_resolves(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is not None


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fundarb_core.nope  # noqa: B018 - the access is the test


def test_a_lazy_name_is_cached_after_first_use() -> None:
    code = (
        "import fundarb_core; assert 'Secret' not in vars(fundarb_core); s = fundarb_core.Secret; "
        "assert vars(fundarb_core)['Secret'] is s; print(sorted(dir(fundarb_core)) == sorted(set(dir(fundarb_core))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "True"


def test_importing_the_package_stays_light() -> None:
    code = "import sys, fundarb_core; print(sorted(m for m in sys.modules if m.startswith('fundarb_core')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    expected = ["fundarb_core", "fundarb_core._version", "fundarb_core.hookspecs", "fundarb_core.lazy"]
    assert done.stdout.strip() == str(expected)


# -- what plugins import ---------------------------------------------------------------------------------------


def plugin_files() -> Iterator[Path]:
    for parent in ("plugins", "venue_plugins"):
        for path in sorted((ROOT / parent).glob("*/**/*.py")):
            if not any(part.startswith(".") or part in ("build", "dist") for part in path.relative_to(ROOT).parts):
                yield path


def core_imports(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """Every `(line, module, name)` a file imports from fundarb_core; `name` None for `import module`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "fundarb_core":
                    yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "fundarb_core":
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def offence(module: str, name: str | None) -> str | None:
    if module not in DOCUMENTED:
        private = any(part.startswith("_") for part in module.split("."))
        return f"{'a private' if private else 'an undocumented'} module"
    if name is None or name in DOCUMENTED[module] or f"{module}.{name}" in DOCUMENTED:
        return None
    if name == "*":
        return "a star import"
    return f"a name not in {module}.__all__"


def test_plugins_import_only_the_public_api() -> None:
    files = list(plugin_files())
    assert len(files) > 20, "found too few plugin files: the walk is broken"
    found = [
        f"{path.relative_to(ROOT)}:{line}: {module}{'' if name is None else f' import {name}'}: {why}"
        for path in files
        for line, module, name in core_imports(path)
        if (why := offence(module, name)) is not None
    ]
    assert not found, "plugins import outside docs/plugins/api.md:\n" + "\n".join(found)


def test_the_check_catches_a_private_module_and_an_unlisted_name() -> None:
    assert offence("fundarb_core.store._types", "as_stored") == "a private module"
    assert offence("fundarb_core.cli", "main") == "an undocumented module"
    assert offence("fundarb_core.venues", "VenueContext") is None
    assert offence("fundarb_core.venues", "Ledger") == "a name not in fundarb_core.venues.__all__"
    assert offence("fundarb_core.testing", "strategies") is None


def test_the_import_contract_names_every_private_module_of_the_core() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = [c for c in contracts["contracts"] if c["id"] == "plugins-import-no-private-core"]
    private = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "fundarb_core").rglob("_*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )
    assert sorted(contract["forbidden_modules"]) == private
