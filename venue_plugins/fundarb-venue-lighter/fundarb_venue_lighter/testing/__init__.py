"""A protocol-faithful fake Lighter server for tests and paper runs: `FakeLighter`, `FakeExchange`, `MarketSpec`.

Run it alone with `python -m fundarb_venue_lighter.testing.fake_server --host 127.0.0.1 --port PORT`. Names load
on first use, so that running the server module with `-m` does not import it twice.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fundarb_venue_lighter.testing.exchange import DEFAULT_MARKETS, FakeExchange, MarketSpec, TxError
    from fundarb_venue_lighter.testing.fake_server import FakeLighter, Faults

__all__ = ["DEFAULT_MARKETS", "FakeExchange", "FakeLighter", "Faults", "MarketSpec", "TxError", "throwaway_key_pair"]

_LAZY = {
    "DEFAULT_MARKETS": "exchange",
    "FakeExchange": "exchange",
    "MarketSpec": "exchange",
    "TxError": "exchange",
    "FakeLighter": "fake_server",
    "Faults": "fake_server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def throwaway_key_pair() -> tuple[str, str]:
    """A throw-away API key pair (private, public) made by the SDK's native signer; one per process."""
    return _key_pair()


@functools.cache
def _key_pair() -> tuple[str, str]:
    from fundarb_venue_lighter.signer import import_lighter

    private, public, error = import_lighter().create_api_key()
    if error is not None:
        raise RuntimeError(f"the SDK's signer could not make a key: {error}")
    return str(private), str(public)
