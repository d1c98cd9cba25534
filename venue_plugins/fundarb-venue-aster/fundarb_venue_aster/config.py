"""The settings of a `[venues.<id>] kind = "aster"` section, validated by fundarb with their key paths."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Literal

import attrs

from fundarb_core.config.validators import at_least, fraction, non_empty, positive, positive_duration
from fundarb_core.secrets import Secret

__all__ = ["CHAIN_IDS", "HOSTS", "AsterConfig"]

Network = Literal["mainnet", "testnet"]
Auth = Literal["v3", "v1"]
MarginType = Literal["any", "cross", "isolated"]

# (REST, websocket) per network: reference/aster.md "Hosts".
HOSTS: dict[str, tuple[str, str]] = {
    "mainnet": ("https://fapi.asterdex.com", "wss://fstream.asterdex.com"),
    "testnet": ("https://fapi.asterdex-testnet.com", "wss://fstream.asterdex-testnet.com"),
}
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# The EIP-712 domain's chainId of V3 signatures.
CHAIN_IDS: dict[str, int] = {"mainnet": 1666, "testnet": 714}


def _address(_: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is None:
        return
    body = value[2:] if value[:2].lower() == "0x" else ""
    if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ValueError(f"expected a 0x-prefixed 20-byte hex address, found {value!r}")


def _private_key(_: object, __: attrs.Attribute[Secret | None], value: Secret | None) -> None:
    """An API wallet key: 32 bytes of hex (0x-prefixed or not), in secp256k1's range. The key is never shown."""
    if value is None:
        return
    text = value.reveal().strip()
    body = text[2:] if text[:2].lower() == "0x" else text
    if len(body) != 64 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ValueError("must be the API wallet's private key: 64 hex digits, optionally 0x-prefixed")
    if not 0 < int(body, 16) < _SECP256K1_N:
        raise ValueError("is not a valid secp256k1 private key")


def _printable(_: object, attribute: attrs.Attribute[Secret | None], value: Secret | None) -> None:
    """A V1 API key or secret: non-empty printable ASCII without spaces (it travels in a header / an HMAC)."""
    if value is None:
        return
    text = value.reveal()
    if not text or not all(33 <= ord(c) <= 126 for c in text):
        raise ValueError(f"{attribute.name} must be non-empty printable ASCII without spaces or line breaks")


def _recv_window(_: object, __: attrs.Attribute[timedelta], value: timedelta) -> None:
    if not timedelta(0) < value <= timedelta(seconds=60):
        raise ValueError(f"must be above 0 and at most 60s (Aster's maximum), found {value}")


def _lifetime(_: object, __: attrs.Attribute[timedelta], value: timedelta) -> None:
    if not timedelta(0) < value < timedelta(hours=24):
        raise ValueError(f"must be above 0 and below 24h (Aster closes a connection at 24 h), found {value}")


@attrs.frozen
class AsterConfig:
    """Credentials and connection settings of one Aster account.

    `auth = "v3"` (the default) signs every private request with EIP-712 by the API wallet: `user` is the main
    wallet's address, `signer` the API wallet's address, `private_key` the API wallet's key. `auth = "v1"` signs
    with HMAC-SHA256: `api_key` and `api_secret` (Aster issues no new V1 keys since 2026-03-25; old ones work).

    Keys are `Secret`s: write them as `"env:NAME"` so they come from the environment; fundarb masks them in logs and
    in `fundarb config show`. `base_url` / `ws_url` override the network's hosts (a fake server, a proxy).
    """

    auth: Auth = "v3"
    network: Network = "mainnet"
    user: str | None = attrs.field(default=None, validator=_address)
    signer: str | None = attrs.field(default=None, validator=_address)
    private_key: Secret | None = attrs.field(default=None, validator=_private_key)
    api_key: Secret | None = attrs.field(default=None, validator=_printable)
    api_secret: Secret | None = attrs.field(default=None, validator=_printable)
    base_url: str | None = None
    ws_url: str | None = None
    quote_asset: str = attrs.field(default="USDT", validator=non_empty)
    # Canonical symbols to trade (and read fees for); empty: every perpetual quoted in `quote_asset`.
    symbols: list[str] = attrs.field(factory=list)
    timeout: timedelta = attrs.field(default=timedelta(seconds=10), validator=positive_duration)
    connect_timeout: timedelta = attrs.field(default=timedelta(seconds=5), validator=positive_duration)
    recv_window: timedelta = attrs.field(default=timedelta(seconds=5), validator=_recv_window)
    instruments_ttl: timedelta = attrs.field(default=timedelta(minutes=5), validator=positive_duration)
    fees_ttl: timedelta = attrs.field(default=timedelta(hours=1), validator=positive_duration)
    # Used when the leverage brackets cannot be read (Aster caps leverage per symbol; 1..125).
    default_max_leverage: Decimal = attrs.field(default=Decimal(20), validator=at_least(1))
    # Share of the per-minute request weight the client spends before refusing requests itself; the rest is kept
    # for reduce-only orders (closes must not starve behind queries).
    weight_headroom: Decimal = attrs.field(default=Decimal("0.85"), validator=fraction)
    listen_key_keepalive: timedelta = attrs.field(default=timedelta(minutes=30), validator=positive_duration)
    reconnect_initial: timedelta = attrs.field(default=timedelta(milliseconds=500), validator=positive_duration)
    reconnect_max: timedelta = attrs.field(default=timedelta(seconds=30), validator=positive_duration)
    # How long an order waits for a starting user stream, so that its updates are not missed.
    stream_ready_timeout: timedelta = attrs.field(default=timedelta(seconds=5), validator=positive_duration)
    # Market streams (`<s>@bookTicker`, `<s>@markPrice@1s`): BBO and funding rates come from them while current,
    # from REST otherwise. A mark older than `market_stream_max_age` (they arrive every second), or anything from a
    # connection silent that long, is stale. Aster ends a connection at 24 h: the stream reconnects before that.
    market_streams: bool = True
    market_stream_max_age: timedelta = attrs.field(default=timedelta(seconds=3), validator=positive_duration)
    market_stream_lifetime: timedelta = attrs.field(default=timedelta(hours=23, minutes=30), validator=_lifetime)
    # How long a 418 ban lasts when Aster does not say (its bans run from 2 minutes to 3 days).
    ban_default: timedelta = attrs.field(default=timedelta(minutes=2), validator=positive_duration)
    max_retries_on_clock: int = attrs.field(default=1, validator=at_least(0))
    depth_levels: int = attrs.field(default=10, validator=positive)
    # The margin mode `check_account` requires of every traded market ("any": not checked).
    margin_type: MarginType = "any"

    def __attrs_post_init__(self) -> None:
        if self.auth == "v3":
            missing = [n for n in ("user", "signer", "private_key") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"auth = 'v3' needs {', '.join(missing)} (main wallet, API wallet, API wallet key)")
        else:
            missing = [n for n in ("api_key", "api_secret") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"auth = 'v1' needs {', '.join(missing)}")

    @property
    def rest_url(self) -> str:
        return (self.base_url or HOSTS[self.network][0]).rstrip("/")

    @property
    def stream_url(self) -> str:
        return (self.ws_url or HOSTS[self.network][1]).rstrip("/")

    @property
    def chain_id(self) -> int:
        return CHAIN_IDS[self.network]
