"""Signing through the official SDK's native signer: local `sign_*` calls with an explicit nonce and key index.

No cryptography is written here. The SDK's `SignerClient` loads Lighter's signer library (a Go build shipped in
the wheel) and its `sign_*` methods are synchronous and local when `nonce` and `api_key_index` are explicit: they
return `(tx_type, tx_info JSON, tx_hash, error)` and make no network call. fundarb sends `tx_info` itself.

`SignerClient` must be built inside a running event loop (its constructor creates the SDK's aiohttp-based REST
client, unused here), so `Signer.open()` is async and the venue builds it on first use.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

import attrs

from fundarb_core.errors import VenueRejected, VenueUnavailable
from fundarb_core.model import RejectReason
from fundarb_core.secrets import Secret

if TYPE_CHECKING:
    from lighter.signer_client import SignerClient

__all__ = [
    "GTT",
    "IOC",
    "LIMIT",
    "MARKET",
    "POST_ONLY",
    "TX_CANCEL_ORDER",
    "TX_CREATE_ORDER",
    "TX_UPDATE_LEVERAGE",
    "SignedTx",
    "Signer",
    "import_lighter",
]

TX_CREATE_ORDER = 14
TX_CANCEL_ORDER = 15
TX_UPDATE_LEVERAGE = 20
LIMIT, MARKET = 0, 1
IOC, GTT, POST_ONLY = 0, 1, 2
MAX_NONCE = 2**48 - 1


def import_lighter() -> Any:
    """Import the SDK, silencing the two deprecation warnings its import raises (lighter-sdk 1.1.8, websockets 14+).

    `lighter/ws_client.py` imports `websockets.client.connect`, which pulls in the deprecated `websockets.legacy`;
    fundarb uses its own websocket client, so neither warning concerns fundarb's code paths. Only these two
    messages are silenced, only during this import.
    """
    with warnings.catch_warnings():
        for message in (r"websockets\.client\.connect is deprecated", r"websockets\.legacy is deprecated"):
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        import lighter

    return lighter


@attrs.frozen
class SignedTx:
    """A signed transaction ready for `sendTx`; `info` is the signer's JSON (it carries the signature)."""

    tx_type: int
    info: str
    tx_hash: str
    nonce: int

    def fields(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.info)
        return parsed

    def __repr__(self) -> str:  # the signature is not a secret, but it is noise in logs
        return f"SignedTx(type={self.tx_type}, nonce={self.nonce}, hash={self.tx_hash[:16]}…)"


class Signer:
    """One account's API key, signing through the SDK; build with `await Signer.open(...)`."""

    def __init__(self, client: SignerClient, *, account_index: int, api_key_index: int, venue: str) -> None:
        self._client = client
        self.account_index = account_index
        self.api_key_index = api_key_index
        self.venue = venue

    @classmethod
    async def open(
        cls, url: str, account_index: int, api_key_index: int, private_key: Secret, chain_id: int, *, venue: str
    ) -> Signer:
        """Build the SDK's signer client (inside the running loop, as it requires)."""
        lighter = import_lighter()
        # Built in two steps so that the REST client the constructor makes is closed if the key is refused.
        client = lighter.SignerClient.__new__(lighter.SignerClient)
        try:
            client.__init__(url, account_index, {api_key_index: private_key.reveal()}, chain_id=chain_id)
        except Exception as error:  # the SDK raises bare Exception with the Go error text
            api_client = getattr(client, "api_client", None)
            if api_client is not None:
                await api_client.close()
            # The Go error text may quote the key; never let it reach a message (nor a chained exception).
            raise VenueRejected(
                f"the signer refused the API key {api_key_index} of account {account_index} ({type(error).__name__})",
                venue=venue,
                reason=RejectReason.AUTHENTICATION,
            ) from None
        return cls(client, account_index=account_index, api_key_index=api_key_index, venue=venue)

    async def close(self) -> None:
        await self._client.close()  # type: ignore[no-untyped-call]  # the SDK's method has no annotations

    def _nonce(self, nonce: int) -> int:
        # The SDK reads a nonce of -1 as "fetch it yourself" and does so with a blocking HTTP call: only a real
        # nonce ever reaches it.
        if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce <= MAX_NONCE:
            raise VenueUnavailable(f"refusing to sign with nonce {nonce!r}: not in [0, 2^48)", venue=self.venue)
        return nonce

    def check(self) -> str | None:
        """Ask the signer whether this key is the one registered on Lighter (blocking HTTP: run in a thread).

        Return None when it is, else the signer's error text.
        """
        error = self._client.check_client()
        return None if error is None else str(error)

    def _done(self, result: tuple[Any, Any, Any, Any], nonce: int) -> SignedTx:
        tx_type, info, tx_hash, error = result
        if error is not None:
            raise VenueRejected(
                f"the signer refused the transaction: {error}", venue=self.venue, reason=RejectReason.OTHER
            )
        return SignedTx(int(tx_type), str(info), str(tx_hash), nonce)

    def create_order(
        self,
        *,
        market_index: int,
        client_order_index: int,
        base_amount: int,
        price: int,
        is_ask: bool,
        order_type: int,
        time_in_force: int,
        reduce_only: bool,
        order_expiry: int,
        nonce: int,
    ) -> SignedTx:
        """Sign a CreateOrder (type 14). Integers only: scaling and range checks happen before (see `scaling`)."""
        nonce = self._nonce(nonce)
        result = self._client.sign_create_order(
            market_index,
            client_order_index,
            base_amount,
            price,
            int(is_ask),
            order_type,
            time_in_force,
            int(reduce_only),
            0,  # trigger price: none
            order_expiry,
            nonce=nonce,
            api_key_index=self.api_key_index,
        )
        return self._done(result, nonce)

    def cancel_order(self, *, market_index: int, index: int, nonce: int) -> SignedTx:
        """Sign a CancelOrder (type 15) for the order named by `index`."""
        nonce = self._nonce(nonce)
        result = self._client.sign_cancel_order(market_index, index, nonce=nonce, api_key_index=self.api_key_index)
        return self._done(result, nonce)

    def update_leverage(
        self, *, market_index: int, initial_margin_fraction: int, margin_mode: int, nonce: int
    ) -> SignedTx:
        """Sign an UpdateLeverage (type 20): `initial_margin_fraction = 10000 / leverage`."""
        nonce = self._nonce(nonce)
        result = self._client.sign_update_leverage(
            market_index, initial_margin_fraction, margin_mode, nonce=nonce, api_key_index=self.api_key_index
        )
        return self._done(result, nonce)

    def auth_token(self, now_unix: int, ttl_seconds: int) -> str:
        """Return an auth token valid for `ttl_seconds` from `now_unix`, for private REST and websocket channels.

        The token reads `"{expiry}:{account}:{key}:{hex}"`; the SDK's call computes the expiry as now + ttl.
        """
        token, error = self._client.create_auth_token_with_expiry(
            ttl_seconds, timestamp=now_unix, api_key_index=self.api_key_index
        )
        if error or not token:
            raise VenueRejected(
                f"the signer could not make an auth token: {error}",
                venue=self.venue,
                reason=RejectReason.AUTHENTICATION,
            )
        return str(token)
