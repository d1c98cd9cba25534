"""The REST API and the dashboard (`fundarb serve`, `fundarb run --serve`), over the bot's store.

FastAPI (on Starlette) serves both: the OpenAPI schema comes from the typed routes, and the dashboard's static
files ship in this package (`static/`), so nothing loads from a CDN.
"""

from __future__ import annotations

from fundarb_core.app.api._app import STATIC, create_app
from fundarb_core.app.api._auth import Access, Role, check_listen_address, is_loopback
from fundarb_core.app.api._server import bind, serve_forever, server_for

__all__ = [
    "STATIC",
    "Access",
    "Role",
    "bind",
    "check_listen_address",
    "create_app",
    "is_loopback",
    "serve_forever",
    "server_for",
]
