"""fundarb_core.lazy: a package's public names, declared once in its TYPE_CHECKING block, load on first use."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fundarb_core.lazy import exports, sort_key

PACKAGE = """
from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core import lazy
from lazypkg._eager import EAGER as EAGER
from lazypkg._eager import helper

if TYPE_CHECKING:
    from lazypkg import sub as sub
    from lazypkg._things import Thing as Thing
    from ._things import make as make

__getattr__, __dir__, __all__ = lazy.attach(__name__, extra=["defined"])


def defined() -> int:
    return 1
"""


@pytest.fixture
def lazypkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "lazypkg"
    root.mkdir()
    (root / "__init__.py").write_text(PACKAGE)
    (root / "_eager.py").write_text("EAGER = 1\ndef helper(): ...\n")
    (root / "_things.py").write_text("class Thing: ...\ndef make(): ...\n")
    (root / "sub.py").write_text("VALUE = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in [n for n in sys.modules if n == "lazypkg" or n.startswith("lazypkg.")]:
        del sys.modules[name]


def test_all_is_the_re_exports_and_the_extras_sorted(lazypkg: Path) -> None:
    import lazypkg  # type: ignore[import-not-found]

    assert lazypkg.__all__ == ["EAGER", "Thing", "defined", "make", "sub"]
    assert "helper" not in lazypkg.__all__  # imported without `as helper`: not public


def test_a_name_loads_on_first_use_and_is_cached(lazypkg: Path) -> None:
    import lazypkg

    assert "lazypkg._things" not in sys.modules
    thing = lazypkg.Thing
    assert "lazypkg._things" in sys.modules
    assert vars(lazypkg)["Thing"] is thing
    assert lazypkg.make is sys.modules["lazypkg._things"].make  # a relative re-export
    assert lazypkg.sub.VALUE == 2  # a submodule
    assert set(lazypkg.__all__) <= set(dir(lazypkg))


def test_an_unknown_name_is_an_attribute_error(lazypkg: Path) -> None:
    import lazypkg

    with pytest.raises(AttributeError, match="module 'lazypkg' has no attribute 'Nope'"):
        lazypkg.Nope  # noqa: B018 - the access is the test


def test_anything_but_a_re_export_in_the_block_is_refused() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import b\n"
    with pytest.raises(ValueError, match=r"pkg: line 3: the TYPE_CHECKING block may hold only"):
        exports("pkg", source)


def test_sort_key_orders_as_ruff_does() -> None:
    names = ["load", "Config", "STEP", "__version__", "BBO", "Balance", "as_plan"]
    assert sorted(names, key=sort_key) == ["BBO", "STEP", "Balance", "Config", "__version__", "as_plan", "load"]
