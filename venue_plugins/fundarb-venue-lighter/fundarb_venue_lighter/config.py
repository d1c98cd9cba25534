"""The settings of a `[venues.<id>] kind = "lighter"` section, validated by fundarb with their key paths."""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Literal

import attrs

from fundarb_core.config.validators import at_least, non_empty, positive_duration
from fundarb_core.secrets import MASK, Secret

__all__ = ["MAINNET_URL", "TESTNET_URL", "LighterConfig", "api_key_problem"]

MAINNET_URL = "https://mainnet.zklighter.elliot.ai"
TESTNET_URL = "https://testnet.zklighter.elliot.ai"
# Lighter's chain ids (the signer binds every transaction to one).
CHAIN_IDS = {MAINNET_URL: 304, TESTNET_URL: 300}


def _user_key_index(_: object, __: attrs.Attribute[int], value: int) -> None:
    # 0-2 are reserved for Lighter's own front ends; 255 means "all keys" and cannot sign.
    if not 3 <= value <= 254:
        raise ValueError(f"must be an API key index between 3 and 254, found {value}")


API_KEY_HEX_DIGITS = 80  # an API private key is 40 bytes (the SDK's `create_api_key` writes 0x + 80 hex digits)


def api_key_problem(key: Secret) -> str | None:
    """Say what is wrong with an API private key's form (never quoting it), or return None if it looks right."""
    text = key.reveal().strip().removeprefix("0x")
    if len(text) != API_KEY_HEX_DIGITS or any(c not in string.hexdigits for c in text):
        shape = f"{len(text)} characters" + (", not all hex digits" if text.strip(string.hexdigits) else "")
        # The mask stands for the value: the key itself is never quoted.
        expected = f"{API_KEY_HEX_DIGITS} hex digits (optionally after 0x)"
        return f"must be the API key's private key, {expected}; {MASK} has {shape}"
    return None


def _api_private_key(_: object, __: attrs.Attribute[Secret], value: Secret) -> None:
    if not isinstance(value, Secret):
        raise TypeError("must be a secret (write it as env:NAME)")
    problem = api_key_problem(value)
    if problem is not None:
        raise ValueError(problem)


def _max_auth_ttl(_: object, __: attrs.Attribute[timedelta], value: timedelta) -> None:
    if not timedelta(minutes=1) <= value <= timedelta(hours=8):
        raise ValueError(f"must be between 1 minute and 8 hours (Lighter's limit), found {value}")


@attrs.frozen
class LighterConfig:
    """A Lighter account and the API key that signs for it.

    `api_private_key` is a `Secret`: write it as `"env:LIGHTER_API_PRIVATE_KEY"` in the file so it comes from the
    environment; fundarb masks it in logs and in `fundarb config show`. Durations are written as text (`"10s"`).
    """

    account_index: int = attrs.field(validator=at_least(0))
    api_key_index: int = attrs.field(validator=_user_key_index)
    api_private_key: Secret = attrs.field(validator=_api_private_key)
    base_url: str = attrs.field(default=MAINNET_URL, validator=non_empty)
    # Default: the REST host with ws(s):// and the /stream path.
    ws_url: str | None = None
    # Default: Lighter's chain id for the mainnet and testnet hosts, else the SDK's rule (mainnet's id).
    chain_id: int | None = None
    timeout: timedelta = attrs.field(default=timedelta(seconds=10), validator=positive_duration)
    # How long to wait for a sent order to show in the account's orders before calling the outcome ambiguous.
    ack_timeout: timedelta = attrs.field(default=timedelta(seconds=3), validator=positive_duration)
    # Standard accounts may make 60 REST requests per minute; premium accounts far more.
    requests_per_minute: int = attrs.field(default=60, validator=at_least(1))
    margin_mode: Literal["cross", "isolated"] = "cross"
    # Resting (GTT / post-only) orders expire after this long; Lighter's maximum is 28 days.
    order_ttl: timedelta = attrs.field(default=timedelta(days=27), validator=positive_duration)
    auth_token_ttl: timedelta = attrs.field(default=timedelta(hours=1), validator=_max_auth_ttl)
    # Marks (snapshots, funding rates) from the `market_stats/all` stream while they are at most
    # `market_stats_max_age` old, from `orderBookDetails` otherwise; false: REST only.
    market_streams: bool = True
    market_stats_max_age: timedelta = attrs.field(default=timedelta(seconds=10), validator=positive_duration)
    # Pages of 100 finished orders searched for a client order index before an order is declared unknown.
    inactive_order_pages: int = attrs.field(default=5, validator=at_least(1))
    # Start-up: how many times to retry a venue in maintenance (503) before reporting it unavailable.
    startup_retries: int = attrs.field(default=5, validator=at_least(0))
    # Only these canonical symbols (None: every active perpetual market).
    symbols: list[str] | None = None

    def resolved_ws_url(self) -> str:
        if self.ws_url:
            return self.ws_url
        base = self.base_url.rstrip("/")
        scheme, _, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/stream"

    def resolved_chain_id(self) -> int:
        if self.chain_id is not None:
            return self.chain_id
        return CHAIN_IDS.get(self.base_url.rstrip("/"), 304)
