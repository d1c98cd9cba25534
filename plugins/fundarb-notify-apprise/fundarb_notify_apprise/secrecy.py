"""Keep apprise URLs out of logs: register their secret parts for redaction and mask apprise's own log lines."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, unquote, urlsplit

from fundarb_core.secrets import Secret, redact

__all__ = ["guard_apprise_logging", "protect_url", "scheme_of"]

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def scheme_of(url: str) -> str:
    """Return the URL's scheme (`tgram`, `json`, ...), which carries no secret."""
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep and scheme.isalnum() else "url"


def protect_url(url: str) -> None:
    """Remember the URL and each part of it that may be a token, so every fundarb log line masks them.

    Apprise URLs keep tokens in the user, password, host (Telegram's bot token), path and query, so each of those
    is registered as a secret; a host that looks like a DNS name or an address is left readable.
    """
    Secret(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    pieces = [parts.username, parts.password, *parts.path.split("/"), *(v for _, v in parse_qsl(parts.query))]
    host = parts.hostname or ""
    if host and "." not in host and host not in _LOCAL_HOSTS:
        pieces.append(host)
    for piece in pieces:
        if piece:
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
