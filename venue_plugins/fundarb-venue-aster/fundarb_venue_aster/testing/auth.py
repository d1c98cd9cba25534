"""The fake Aster's request authentication: V1 HMAC-SHA256 and V3 EIP-712 (signer recovered with eth-account).

Both verify the parameter string exactly as received, minus the `signature` parameter (wherever it is), so any
client that signs what it sends passes, whatever its parameter order.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from eth_account import Account
from eth_account.messages import encode_typed_data

from fundarb_venue_aster.signing import typed_data
from fundarb_venue_aster.testing.exchange import ApiError

__all__ = ["NonceBook", "Signed", "recover_v3_signer", "split_signature", "verify_v1"]

BAD_SIGNATURE = ApiError(400, -1022, "Signature for this request is not valid.")


@dataclass
class Signed:
    """A request's parameters and what its signature covers."""

    params: dict[str, str]
    message: str
    signature: str


def _strip(raw: str) -> tuple[str, str | None]:
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def split_signature(query: str, body: str, *, joiner: str) -> Signed:
    """Separate `signature` from the raw query and body; `joiner` glues query and body (V1: "", V3: "&")."""
    q, q_sig = _strip(query)
    b, b_sig = _strip(body)
    signature = q_sig or b_sig
    if not signature:
        raise ApiError(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    message = joiner.join(x for x in (q, b) if x)
    params = dict(parse_qsl(q, keep_blank_values=True))
    params.update(parse_qsl(b, keep_blank_values=True))
    return Signed(params, message, signature)


def verify_v1(signed: Signed, secret: str) -> None:
    expected = hmac.new(secret.encode(), signed.message.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signed.signature.lower()):
        raise BAD_SIGNATURE


def recover_v3_signer(message: str, signature: str, chain_id: int) -> str:
    """The address whose key signed `message` as Aster V3 typed data (0x prefix optional: [?] in the reference)."""
    try:
        signable = encode_typed_data(full_message=typed_data(message, chain_id))
        sig = signature if signature.startswith("0x") else "0x" + signature
        recovered: str = Account.recover_message(signable, signature=sig)
    except Exception:
        raise BAD_SIGNATURE from None
    return recovered


@dataclass
class NonceBook:
    """V3 nonce rules per API wallet: within ±`window_us` of server time, no repeats, the last 100 kept."""

    window_us: int
    recent: dict[str, deque[int]] = field(default_factory=dict)

    def check(self, signer: str, nonce: int, now_us: int) -> None:
        if abs(nonce - now_us) > self.window_us:
            # Aster's docs give no code for a nonce outside the window ([?]); Binance's timestamp code is used.
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        seen = self.recent.setdefault(signer.lower(), deque(maxlen=100))
        if nonce in seen or (len(seen) == seen.maxlen and nonce < min(seen)):
            raise ApiError(400, -4225, "Nonce Expired")
        seen.append(nonce)
