"""Signing is proven against independent computations, not against itself.

- V1: the HMAC test vector from Aster's docs.
- V3: the EIP-712 digest is computed here by hand from the EIP-712 spec (keccak of the encoded domain and message,
  no eth-account typed-data code), and the plugin's signature must recover to the API wallet over that digest.
- V3: ccxt's own ECDSA implementation (not eth-account) signs the same message to the same bytes (signatures are
  deterministic, RFC 6979).
"""

from __future__ import annotations

import pytest
from eth_keys import keys
from eth_utils import keccak, to_checksum_address
from fundarb_venue_aster.signing import HmacSigner, NonceSource, V3Signer, encode_params, hmac_signature

from fundarb_core.secrets import Secret

from .conftest import SIGNER, SIGNER_KEY, USER

DOCS_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
DOCS_QUERY = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943"
)
DOCS_SIGNATURE = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"


def test_v1_hmac_matches_the_docs_vector() -> None:
    assert hmac_signature(Secret(DOCS_SECRET), DOCS_QUERY) == DOCS_SIGNATURE


def test_v1_signer_appends_recv_window_timestamp_and_signature_last() -> None:
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "1",
        "price": "9000",
        "timeInForce": "GTC",
    }
    signed = HmacSigner(Secret("k-123456"), Secret(DOCS_SECRET), 5000).sign(params, 1591702613943)
    assert signed == f"{DOCS_QUERY}&signature={DOCS_SIGNATURE}"


def _manual_digest(msg: str, chain_id: int) -> bytes:
    """EIP-712 hashStruct by hand: domain separator and Message(string msg), then keccak(0x1901 ‖ both)."""
    domain_type = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    domain = keccak(
        domain_type
        + keccak(b"AsterSignTransaction")
        + keccak(b"1")
        + chain_id.to_bytes(32, "big")
        + bytes(32)  # verifyingContract = the zero address, left-padded to 32 bytes
    )
    message = keccak(keccak(b"Message(string msg)") + keccak(msg.encode()))
    return keccak(b"\x19\x01" + domain + message)


def _recover(digest: bytes, signature_hex: str) -> str:
    raw = bytes.fromhex(signature_hex.removeprefix("0x"))
    v = raw[64] - 27 if raw[64] >= 27 else raw[64]
    public = keys.Signature(raw[:64] + bytes([v])).recover_public_key_from_msg_hash(digest)
    return to_checksum_address(public.to_canonical_address())


def test_v3_signature_recovers_to_the_api_wallet_over_a_hand_computed_digest() -> None:
    signer = V3Signer(USER, SIGNER, Secret(SIGNER_KEY), chain_id=1666)
    msg = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001&price=60000&nonce=1748310859508867"
    signature = signer.signature(msg)
    assert signature.startswith("0x")
    assert len(signature) == 2 + 130
    assert _recover(_manual_digest(msg, 1666), signature) == SIGNER
    # The chain id is part of the domain: a testnet digest does not verify a mainnet signature.
    assert _recover(_manual_digest(msg, 714), signature) != SIGNER


def test_v3_signature_equals_an_independent_ecdsa_implementation() -> None:
    import ccxt  # ccxt signs with its own secp256k1 code, not eth-account's

    exchange = ccxt.aster({"privateKey": SIGNER_KEY})
    msg = "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTX&quantity=0.5&price=3000.1"
    domain = {"name": "AsterSignTransaction", "version": "1", "chainId": 1666, "verifyingContract": "0x" + "00" * 20}
    encoded = exchange.eth_encode_structured_data(
        domain, {"Message": [{"name": "msg", "type": "string"}]}, {"msg": msg}
    )
    theirs = exchange.sign_message(encoded, SIGNER_KEY)
    ours = V3Signer(USER, SIGNER, Secret(SIGNER_KEY), chain_id=1666).signature(msg)
    assert ours.lower() == theirs.lower()


def test_v3_request_carries_identity_then_signature_last_in_insertion_order() -> None:
    signer = V3Signer(USER, SIGNER, Secret(SIGNER_KEY), chain_id=1666)
    text = signer.sign({"symbol": "BTCUSDT", "side": "BUY"}, nonce=1748310859508867)
    unsigned, _, signature = text.rpartition("&signature=")
    assert unsigned == f"symbol=BTCUSDT&side=BUY&nonce=1748310859508867&user={USER}&signer={SIGNER}"
    assert _recover(_manual_digest(unsigned, 1666), signature) == SIGNER


def test_v3_signer_refuses_a_key_that_is_not_the_signers() -> None:
    other = "0x" + "22" * 32
    with pytest.raises(ValueError, match="not to the configured signer") as info:
        V3Signer(USER, SIGNER, Secret(other), chain_id=1666)
    assert other[2:] not in str(info.value)


def test_nonces_strictly_increase_even_within_one_microsecond() -> None:
    source = NonceSource()
    first = source.next(1_000_000)
    assert [source.next(1_000_000) for _ in range(3)] == [first + 1, first + 2, first + 3]
    assert source.next(999_000) == first + 4  # a clock step backwards never repeats a nonce
    assert source.next(5_000_000) == 5_000_000


def test_parameters_are_encoded_in_insertion_order_with_reserved_characters_escaped() -> None:
    assert encode_params({"b": "1", "a": "x y", "c": "a:b/c"}) == "b=1&a=x%20y&c=a%3Ab%2Fc"
