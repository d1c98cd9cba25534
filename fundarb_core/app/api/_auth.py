"""Who may do what: bearer tokens from the config, two roles, compared in constant time.

- With no token configured, anyone who can reach the (loopback-only) server may read, and nobody may steer.
- With a token configured, every API call needs a valid one: the read token reads, the operator token reads and
  steers. A missing or wrong token is 401; a read token on a control endpoint is 403. Nothing changes either way.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress

import attrs
from fastapi import HTTPException, Request

from fundarb_core.config import ServeConfig
from fundarb_core.errors import ConfigError
from fundarb_core.secrets import Secret

__all__ = ["Access", "Role", "check_listen_address", "is_loopback"]


class Role(enum.IntEnum):
    """What a caller may do; a higher role may do everything a lower one may."""

    NONE = 0
    READ = 1
    OPERATOR = 2


def _same(presented: bytes, secret: Secret | None) -> bool:
    """Constant-time equality (the comparison runs even when no secret is set, on a dummy)."""
    expected = secret.reveal().encode() if secret else b"\x00" * 32
    return hmac.compare_digest(presented, expected) and secret is not None


@attrs.frozen
class Access:
    """The configured tokens; `role(request)` says what a request may do."""

    read_token: Secret | None = None
    operator_token: Secret | None = None

    @classmethod
    def from_config(cls, config: ServeConfig) -> Access:
        return cls(config.read_token, config.operator_token)

    @property
    def open_reads(self) -> bool:
        """No token configured at all: reads need none (the server then listens on loopback only)."""
        return self.read_token is None and self.operator_token is None

    def role_of(self, authorization: str | None) -> Role:
        """The role an `Authorization: Bearer …` header grants (NONE when absent or wrong)."""
        scheme, _, token = (authorization or "").partition(" ")
        presented = token.strip().encode() if scheme.lower() == "bearer" else b""
        # Both comparisons always run, so the time taken does not say which token (if any) was close.
        is_operator = _same(presented, self.operator_token)
        is_reader = _same(presented, self.read_token)
        if presented and is_operator:
            return Role.OPERATOR
        if presented and is_reader:
            return Role.READ
        return Role.READ if self.open_reads else Role.NONE

    def require(self, request: Request, needed: Role) -> Role:
        """Raise 401 (no valid token) or 403 (valid, not allowed) unless the request may act as `needed`."""
        role = self.role_of(request.headers.get("authorization"))
        if role is Role.NONE:
            raise HTTPException(401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
        if role < needed:
            if self.operator_token is None:
                raise HTTPException(403, "control is disabled: set serve.operator_token (env:NAME) to enable it")
            raise HTTPException(403, "this token may only read; control needs the operator token")
        return role


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listen_address(host: str, config: ServeConfig) -> None:
    """Refuse a non-loopback address unless an operator token is set (the API would be open to the network)."""
    if not is_loopback(host) and config.operator_token is None:
        raise ConfigError(
            [
                f"serve.host: refusing to listen on {host} (reachable from other machines) without "
                "serve.operator_token; set it (env:NAME), and put TLS in front (see docs/dashboard.md)"
            ]
        )
