"""Load a package's public names on first use, declared once, in the package's own `if TYPE_CHECKING:` block.

A package that must stay cheap to import (the core's `__init__`, a plugin's package, which `fundarb` imports even
for `--help`) writes its public names as explicit re-exports, the form type checkers read:

    from typing import TYPE_CHECKING

    from fundarb_core import lazy

    if TYPE_CHECKING:
        from fundarb_core.config._model import Config as Config
        from fundarb_core.testing import strategies as strategies  # a submodule

    __getattr__, __dir__, __all__ = lazy.attach(__name__)

`attach` reads that block (and any top-level `from x import y as y`, which loads at once) from the package's
source, so the names, where they load from and `__all__` are one list: nothing to keep in step by hand.
`__all__` comes out sorted as ruff sorts a written one (`sort_key`). A name loads on its first use and is then
cached in the package.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["attach", "exports", "sort_key"]

Getattr = Callable[[str], Any]
Dir = Callable[[], list[str]]


def sort_key(name: str) -> tuple[int, str]:
    """Order `__all__` as ruff's RUF022 does: CONSTANTS, then Classes, then everything else, each alphabetically."""
    if name.isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _re_exports(node: ast.stmt, package: str) -> dict[str, str]:
    """`{name: module}` for each `from module import name as name` in `node`."""
    if not isinstance(node, ast.ImportFrom):
        return {}
    module = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
    assert module is not None  # `from import x` is not Python
    return {alias.name: module for alias in node.names if alias.asname == alias.name}


def exports(package: str, source: str) -> dict[str, str]:
    """Read a package's public names from its source: `{name: module it comes from}`.

    The public names are the explicit re-exports (`from m import n as n`), at top level or inside
    `if TYPE_CHECKING:`. Anything else in that block is an error: it would be a name the package cannot load.
    """
    found: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for inner in node.body:
                names = _re_exports(inner, package)
                if not names:
                    raise ValueError(
                        f"{package}: line {inner.lineno}: the TYPE_CHECKING block may hold only "
                        "`from module import name as name` re-exports (see fundarb_core.lazy)"
                    )
                found.update(names)
        else:
            found.update(_re_exports(node, package))
    return found


def _source(module: ModuleType) -> str:
    # The file first: a loader may not offer `get_source` (pytest's assertion-rewriting loader does not).
    path = Path(module.__file__) if module.__file__ else None
    if path is not None and path.suffix == ".py" and path.is_file():
        return path.read_text(encoding="utf-8")
    get_source = getattr(getattr(module.__spec__, "loader", None), "get_source", None)
    source = get_source(module.__name__) if get_source is not None else None
    if not isinstance(source, str):
        raise ImportError(f"{module.__name__}: fundarb_core.lazy needs the package's source to read its public names")
    return source


def attach(package: str, extra: Iterable[str] = ()) -> tuple[Getattr, Dir, list[str]]:
    """Return `__getattr__`, `__dir__` and the sorted `__all__` for `package`, read from its own source.

    Call it from the package's `__init__` with `__name__`. `extra` adds names the package defines itself
    (functions, constants) to `__all__`.
    """
    module = sys.modules[package]
    table = exports(package, _source(module))
    public = sorted({*table, *extra}, key=sort_key)
    namespace = vars(module)

    def __getattr__(name: str) -> Any:
        origin = table.get(name)
        if origin is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if origin == package:  # `from package import submodule as submodule`
            value: Any = importlib.import_module(f"{package}.{name}")
        else:
            value = getattr(importlib.import_module(origin), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*public, *namespace})

    return __getattr__, __dir__, public
