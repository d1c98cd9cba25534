"""Where the store lives: turn a config value (nothing, a path, a URL) into an async SQLAlchemy URL."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Final

import attrs
import platformdirs
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from fundarb_core.errors import StoreError
from fundarb_core.secrets import MASK, Secret

__all__ = ["DEFAULT_FILENAME", "Backend", "StoreLocation", "default_data_dir", "mask_url", "resolve_location"]

DEFAULT_FILENAME: Final = "fundarb.sqlite3"
_SECRET_QUERY_KEYS: Final = frozenset({"password", "sslpassword", "passfile", "sslkey"})


class Backend(enum.StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@attrs.frozen
class StoreLocation:
    """A resolved store: the URL to connect with (never printed: see `display`), its backend, its file."""

    url: URL = attrs.field(repr=False)
    backend: Backend
    path: Path | None = None  # the SQLite file

    @property
    def display(self) -> str:
        """The URL with every secret masked; safe for logs and messages."""
        return mask_url(self.url)


def default_data_dir() -> Path:
    """The user's data directory for fundarb (platformdirs), e.g. ~/.local/share/fundarb on Linux."""
    return Path(platformdirs.user_data_dir("fundarb", appauthor=False))


def mask_url(url: str | URL) -> str:
    """Return `url` as text with its password and any secret query parameters masked."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return MASK if "@" in str(url) else str(url)
    placeholder = "fundarbmaskedvalue"  # survives URL quoting, unlike "***"
    query = {k: (placeholder if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in parsed.query.items()}
    text: str = parsed.set(query=query).render_as_string(hide_password=True)
    return text.replace(placeholder, MASK)


def resolve_location(url: str | Path | None = None, *, data_dir: Path | None = None) -> StoreLocation:
    """Resolve a configured store to a location.

    - nothing: `fundarb.sqlite3` in `data_dir`, or in the user's data directory (platformdirs);
    - a path (no `://`), or `sqlite:///path`: that SQLite file (relative paths are taken from the working
      directory; `~` is expanded);
    - `postgresql://…` (or `postgres://`, `postgresql+asyncpg://`): PostgreSQL through asyncpg.

    In-memory SQLite is refused: the store exists so that nothing is lost when the process dies.
    """
    if url is None or (isinstance(url, str) and not url.strip()):
        return _sqlite((data_dir or default_data_dir()).expanduser() / DEFAULT_FILENAME)
    if isinstance(url, Path) or "://" not in url:
        return _sqlite(Path(url).expanduser())
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"store URL {mask_url(url)!r} is not a valid URL") from None
    _remember_secrets(parsed)
    dialect, _, driver = parsed.drivername.partition("+")
    if dialect in ("postgresql", "postgres"):
        if driver not in ("", "asyncpg"):
            raise StoreError(f"store URL {mask_url(parsed)!r}: driver {driver!r} is not supported (use asyncpg)")
        return StoreLocation(parsed.set(drivername="postgresql+asyncpg"), Backend.POSTGRESQL)
    if dialect == "sqlite":
        if driver not in ("", "aiosqlite"):
            raise StoreError(f"store URL {mask_url(parsed)!r}: driver {driver!r} is not supported (use aiosqlite)")
        if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file::memory:"):
            raise StoreError("an in-memory SQLite store would lose everything when the process stops; give a file path")
        return _sqlite(Path(parsed.database).expanduser())
    raise StoreError(
        f"store URL {mask_url(parsed)!r}: unsupported database {dialect!r} "
        "(expected a SQLite path or sqlite:///path, or postgresql://user@host/db)"
    )


def _sqlite(path: Path) -> StoreLocation:
    path = path.absolute()
    return StoreLocation(URL.create("sqlite+aiosqlite", database=str(path)), Backend.SQLITE, path)


def _remember_secrets(url: URL) -> None:
    """Register the URL's password as a secret so that the log filter masks it wherever it appears."""
    if url.password:
        Secret(str(url.password))
    for key, value in url.query.items():
        if key.lower() in _SECRET_QUERY_KEYS:
            for item in (value,) if isinstance(value, str) else value:
                Secret(item)
