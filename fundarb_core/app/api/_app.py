"""The ASGI application: the API under /api, the dashboard at /, middleware for limits and headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from fundarb_core._version import __version__
from fundarb_core.app.api import _control, _read, _stream
from fundarb_core.app.api._auth import Access, Role
from fundarb_core.app.api._context import ApiContext
from fundarb_core.app.api._middleware import BodyLimit, SecurityHeaders
from fundarb_core.config import Config, ServeConfig
from fundarb_core.errors import StoreError
from fundarb_core.store import Store

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).resolve().parent / "static"


def create_app(
    store: Store,
    config: Config,
    *,
    data_dir: Path,
    simulated: bool = False,
    poll_seconds: float = 0.25,
    metrics: Callable[[], tuple[bytes, str]] | None = None,
) -> FastAPI:
    """Build the API and dashboard over `store`, with the tokens and limits of `config.serve`.

    `metrics` (an observer's `metrics_text`, e.g. the Prometheus exporter's in `fundarb run --serve`) is served at
    `/metrics`, behind the read token like every other read.
    """
    serve: ServeConfig = config.serve
    app = FastAPI(
        title="fundarb",
        version=__version__,
        description="Watch and steer a fundarb bot. Every /api call needs a bearer token once one is configured.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN: the dashboard works offline instead
        redoc_url=None,
    )
    app.state.fundarb = ApiContext(
        store=store,
        access=Access.from_config(serve),
        data_dir=data_dir,
        simulated=simulated,
        actions_enabled=config.actions.enabled,
        poll_seconds=poll_seconds,
    )
    app.include_router(_read.router)
    app.include_router(_stream.router)
    app.include_router(_control.router)

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"store: {exc}"}, status_code=503)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    if metrics is not None:

        @app.get("/metrics", include_in_schema=False)
        async def scrape(request: Request) -> Response:
            app.state.fundarb.access.require(request, Role.READ)
            body, content_type = metrics()
            return Response(body, media_type=content_type)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if serve.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(serve.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=serve.max_body_bytes)
    return app
