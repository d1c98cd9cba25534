"""Request signing: V3 (EIP-712 "AsterSignTransaction" by the API wallet) and V1 (HMAC-SHA256).

Both sign the URL-encoded parameter string exactly as it is sent, in insertion order, and append `signature` as the
last parameter. Secrets are revealed here and nowhere else; nothing in this module logs.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from typing import Any
from urllib.parse import quote

from eth_account import Account
from eth_account.messages import encode_typed_data

from fundarb_core.secrets import Secret

__all__ = [
    "HmacSigner",
    "NonceSource",
    "V3Signer",
    "encode_params",
    "hmac_signature",
    "typed_data",
]

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def encode_params(params: dict[str, str]) -> str:
    """URL-encode `params` in insertion order, the way the signature covers them (RFC 3986, like ccxt's)."""
    return "&".join(f"{key}={quote(value, safe='-_.~')}" for key, value in params.items())


def typed_data(msg: str, chain_id: int) -> dict[str, Any]:
    """The EIP-712 typed data Aster V3 signs for the parameter string `msg`."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Message": [{"name": "msg", "type": "string"}],
        },
        "primaryType": "Message",
        "domain": {
            "name": "AsterSignTransaction",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": ZERO_ADDRESS,
        },
        "message": {"msg": msg},
    }


def hmac_signature(secret: Secret, payload: str) -> str:
    """Hex HMAC-SHA256 of `payload` (the query string followed directly by the body) under the V1 secret."""
    return hmac.new(secret.reveal().encode(), payload.encode(), hashlib.sha256).hexdigest()


class NonceSource:
    """V3 nonces: microseconds since the epoch, strictly increasing within the process.

    Aster keeps the last 100 nonces per API wallet and refuses a repeat or one older than all of them, so two
    requests in the same microsecond (or two venues sharing a wallet) must still get distinct, rising nonces. One
    source per process, shared by every venue.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self, now_us: int) -> int:
        with self._lock:
            self._last = max(now_us, self._last + 1)
            return self._last

    def rewind(self, now_us: int) -> None:
        """Let nonces fall back to `now_us` after the clock was corrected backwards (the refused ones were not kept)."""
        with self._lock:
            self._last = min(self._last, now_us - 1)


NONCES = NonceSource()


class V3Signer:
    """Signs V3 requests with the API wallet's key: appends `nonce`, `user`, `signer`, then `signature`."""

    def __init__(self, user: str, signer: str, private_key: Secret, chain_id: int) -> None:
        self.user = user
        self.signer = signer
        self.chain_id = chain_id
        self._key = private_key
        derived = Account.from_key(private_key.reveal()).address
        if derived.lower() != signer.lower():
            # The address is public; the key never appears in the message.
            raise ValueError(f"private_key belongs to {derived}, not to the configured signer {signer}")

    def sign(self, params: dict[str, str], nonce: int) -> str:
        """Return the full parameter string to send: `params`, the identity fields, and `signature` last."""
        full = {**params, "nonce": str(nonce), "user": self.user, "signer": self.signer}
        msg = encode_params(full)
        return f"{msg}&signature={self.signature(msg)}"

    def signature(self, msg: str) -> str:
        signable = encode_typed_data(full_message=typed_data(msg, self.chain_id))
        signed = Account.sign_message(signable, private_key=self._key.reveal())
        # ccxt sends 0x-prefixed signatures; whether Aster needs the prefix is unconfirmed ([?] in the reference),
        # so send what the independent client sends.
        hex_sig: str = signed.signature.hex()
        return hex_sig if hex_sig.startswith("0x") else "0x" + hex_sig


class HmacSigner:
    """Signs V1 requests: appends `recvWindow`, `timestamp`, then `signature` (the key travels in a header)."""

    def __init__(self, api_key: Secret, api_secret: Secret, recv_window_ms: int) -> None:
        self.api_key = api_key
        self._secret = api_secret
        self.recv_window_ms = recv_window_ms

    def sign(self, params: dict[str, str], timestamp_ms: int) -> str:
        full = {**params, "recvWindow": str(self.recv_window_ms), "timestamp": str(timestamp_ms)}
        query = encode_params(full)
        return f"{query}&signature={hmac_signature(self._secret, query)}"
