"""Secrets: values that must never reach a log line, an exception message or the store.

A `Secret` hides its value from `repr`/`str`; every secret created in the process is remembered so that the log
sink and `redact()` can mask it wherever it might still appear (inside a URL, a signed payload echoed back, a JSON
log line, the `repr` of a dict, ...).
"""

from __future__ import annotations

import json
import threading
from typing import Final

__all__ = ["MASK", "Secret", "known_secrets", "redact"]

MASK: Final = "***"
# Very short values would mask ordinary text ("a", "1"); a real key is never this short.
_MIN_LEN: Final = 4

_lock = threading.Lock()
_known: set[str] = set()
# Every spelling of every known secret, longest first; rebuilt when a secret is added (rare), read on every log line.
_patterns: tuple[str, ...] = ()


class Secret:
    """A secret string. `reveal()` is the only way to read it; `repr` and `str` show a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= _MIN_LEN:
            _remember(value)

    def reveal(self) -> str:
        """Return the secret itself; hand it only to the code that signs or authenticates."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def known_secrets() -> frozenset[str]:
    """Return every secret value seen by this process."""
    with _lock:
        return frozenset(_known)


def _remember(value: str) -> None:
    global _patterns
    with _lock:
        if value in _known:
            return
        _known.add(value)
        _patterns = tuple(sorted({s for v in _known for s in _spellings(v)}, key=len, reverse=True))


def _spellings(value: str) -> set[str]:
    """Return the ways `value` may be written out: as is or escaped by `repr`, either of them escaped in JSON."""
    plain = {value, repr(value)[1:-1]}
    escaped = {json.dumps(p, ensure_ascii=ensure)[1:-1] for p in plain for ensure in (True, False)}
    return plain | escaped


def redact(text: str) -> str:
    """Return `text` with every known secret replaced by the mask (longest first, so overlaps mask whole).

    A secret is also found in its escaped spellings (a JSON log line, the `repr` of a container holding it).
    """
    for value in _patterns:
        if value in text:
            text = text.replace(value, MASK)
    return text
