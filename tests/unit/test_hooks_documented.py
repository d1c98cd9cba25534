"""docs/plugins/hooks.md documents every hook with its exact signature (the idea is datasette's)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fundarb_core import hookspecs

HOOKS_MD = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "hooks.md"

HOOKS: dict[str, Callable[..., Any]] = {
    name: getattr(hookspecs, name)
    for name in dir(hookspecs)
    if name.startswith(f"{hookspecs.PROJECT}_") and hasattr(getattr(hookspecs, name), f"{hookspecs.PROJECT}_spec")
}


def signature_line(hook: Callable[..., Any]) -> str:
    """`def name(arg: Ann, ...) -> Ret`, annotations as written (hookspecs postpones their evaluation)."""
    sig = inspect.signature(hook)

    def text(annotation: object) -> str:
        return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)

    params = []
    for param in sig.parameters.values():
        part = param.name
        if param.annotation is not inspect.Parameter.empty:
            part += f": {text(param.annotation)}"
        if param.default is not inspect.Parameter.empty:
            part += f" = {param.default!r}"
        params.append(part)
    returns = "" if sig.return_annotation is inspect.Signature.empty else f" -> {text(sig.return_annotation)}"
    return f"def {hook.__name__}({', '.join(params)}){returns}"


def documented() -> dict[str, tuple[str, str]]:
    """Hook name -> (the signature in the first python block of its section, the section's text)."""
    sections = re.split(r"^## ", HOOKS_MD.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]
    out: dict[str, tuple[str, str]] = {}
    for section in sections:
        title, _, body = section.partition("\n")
        if not title.startswith(f"{hookspecs.PROJECT}_"):
            continue
        block = re.search(r"```python\n(.*?)```", body, flags=re.DOTALL)
        signature = " ".join(block.group(1).split()) if block else ""
        out[title.strip()] = (signature, " ".join(body.split()))
    return out


def test_every_hook_is_found() -> None:
    # Guards the test itself: a hookspecs refactor that hid the hooks from it would make the rest vacuous.
    assert "fundarb_register_venues" in HOOKS
    assert len(HOOKS) >= 7


def test_no_hook_is_undocumented() -> None:
    assert sorted(set(HOOKS) - set(documented())) == []


def test_no_documented_hook_is_unknown() -> None:
    assert sorted(set(documented()) - set(HOOKS)) == []


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_documented_signature_is_exact(name: str) -> None:
    signature, _ = documented().get(name, ("", ""))
    assert signature == signature_line(HOOKS[name])


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_documentation_carries_the_docstring_summary(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name])
    assert doc, f"hook {name} has no docstring"
    summary = doc.splitlines()[0]
    _, text = documented().get(name, ("", ""))
    assert summary in text


def test_signature_line_format() -> None:
    def example(register: int, depth: int = 10) -> None: ...

    assert signature_line(example) == "def example(register: int, depth: int = 10) -> None"
    assert signature_line(hookspecs.fundarb_register_venues) == (
        "def fundarb_register_venues(register: Register) -> None"
    )
