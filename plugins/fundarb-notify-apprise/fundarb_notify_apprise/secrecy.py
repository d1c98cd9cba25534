"""Keep apprise URLs out of logs: register their secret parts for redaction and mask apprise's own log lines."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, unquote, urlsplit

from fundarb_core.secrets import Secret, redact

__all__ = ["guard_apprise_logging", "looks_like_a_token", "protect_url", "scheme_of"]

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def scheme_of(url: str) -> str:
    """Return the URL's scheme (`tgram`, `json`, ...), which carries no secret."""
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep and scheme.isalnum() else "url"


def looks_like_a_token(piece: str) -> bool:
    """Tell a credential (`123456:AAF...`, a webhook id) from a plain word (`hooks`, `fundarb`, `alerts`)."""
    return len(piece) >= 16 or (len(piece) >= 8 and any(c.isdigit() for c in piece))


def protect_url(url: str) -> None:
    """Remember the URL, its password and each part of it that looks like a token, so fundarb's logs mask them.

    Apprise URLs keep tokens in the user, host (Telegram's bot token), path and query, mixed with plain words:
    registering a plain word as a secret would mask it in every log line of the process, so only the whole URL,
    the password and the token-like parts are registered. A host that is a DNS name or an address stays readable.
    """
    Secret(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        Secret(parts.password)
        Secret(unquote(parts.password))
    pieces = [parts.username, *parts.path.split("/"), *(v for _, v in parse_qsl(parts.query))]
    host = parts.netloc.rpartition("@")[2]  # as written: Telegram's `BOT_ID:TOKEN` is no host and port
    if host and "." not in host and host.split(":")[0] not in _LOCAL_HOSTS:
        pieces += [host, *host.split(":")]
    for piece in pieces:
        if piece and looks_like_a_token(unquote(piece)):
            Secret(unquote(piece))
            Secret(piece)


class _Redact(logging.Filter):
    """Rewrite an apprise log record with every known fundarb secret masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def guard_apprise_logging() -> None:
    """Mask secrets in the log lines apprise writes through the standard `logging` module (idempotent)."""
    apprise_logger = logging.getLogger("apprise")
    if not any(isinstance(f, _Redact) for f in apprise_logger.filters):
        apprise_logger.addFilter(_Redact())
