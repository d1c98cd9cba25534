"""Config sections for tests of the bot's mechanics (the core's own tests and plugins' tests alike).

`mechanics_strategy()` is a `[strategy]` section under which the first tick on simulated venues opens: the latest
quotes (no smoothing: the sim has no history before its start) and the cheap costs of the earlier bot (maker fills,
amortised over a week). Tests about what the strategy decides use the real defaults instead.
"""

from __future__ import annotations

__all__ = ["mechanics_strategy"]


def mechanics_strategy() -> dict[str, str]:
    """A fresh `[strategy]` section for mechanics tests (a new dict each call: callers may add to it)."""
    return {
        "scan_interval": "5m",
        "monitor_interval": "5m",
        "min_net_apr": "0.05",
        "signal_window": "0s",
        "entry_hold": "168h",
        "maker_share": "1",
        "slippage_bps": "0",
        "half_spread_bps": "0",
    }
