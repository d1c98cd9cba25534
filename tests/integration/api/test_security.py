"""Tokens and roles: every control endpoint refuses no token, a wrong token and the read token, and then nothing
in the store has changed; limits, headers, CORS, the listen address, and tokens kept out of logs."""

from __future__ import annotations

import io
from typing import Any

import pytest

from fundarb_core.app.api import Access, Role, check_listen_address, create_app, is_loopback
from fundarb_core.config import ServeConfig
from fundarb_core.errors import ConfigError
from fundarb_core.model.records import ActionStatus
from fundarb_core.secrets import Secret
from fundarb_core.store import Store
from tests.integration.api.conftest import OPERATOR_TOKEN, READ_TOKEN, Api

CONTROL = ("pause", "resume", "halt", "close", "approve", "cancel")


async def _snapshot(store: Store) -> Any:
    """Everything a control request could change."""
    return (
        await store.control.list(),
        [(a.id, a.status, a.attempts) for a in await store.actions.list()],
        [(p.id, p.status, p.version) for p in await store.positions.list()],
        [(t.id, t.state) for t in await store.transfers.recent(1000)],
        len(await store.events.list()),
    )


async def _control_path(api: Api, which: str) -> str:
    if which in ("pause", "resume", "halt"):
        return f"/api/control/{which}"
    if which == "close":
        return f"/api/positions/{(await api.store.positions.list_open())[0].id}/close"
    (waiting,) = await api.store.actions.list(statuses=[ActionStatus.AWAITING_APPROVAL])
    return f"/api/actions/{waiting.id}/{which}"


REFUSED = [(None, 401), ("wrong-token-0000", 401), (f"{OPERATOR_TOKEN}x", 401), (READ_TOKEN, 403)]


async def test_control_without_the_operator_token_is_refused_and_changes_nothing(api: Api) -> None:
    """Every control endpoint × no token, a wrong one, a near miss and the read token (one test per backend)."""
    for which in CONTROL:
        path = await _control_path(api, which)
        for token, status in REFUSED:
            before = await _snapshot(api.store)
            response = await api.client.post(path, headers=api.auth(token), json={})
            assert response.status_code == status, f"{which} with {token!r}: {response.status_code} {response.text}"
            if status == 401:
                assert response.headers["www-authenticate"] == "Bearer"
            assert await _snapshot(api.store) == before, f"{which} with {token!r} changed the store"


@pytest.mark.parametrize("which", CONTROL)
async def test_the_operator_token_does_steer(api: Api, which: str) -> None:
    path = await _control_path(api, which)
    before = await _snapshot(api.store)
    response = await api.client.post(path, headers=api.auth(OPERATOR_TOKEN), json={})
    assert response.status_code == 200, response.text
    assert await _snapshot(api.store) != before
    if which in ("pause", "resume", "halt"):
        (command,) = [c for c in await api.store.control.list() if not c.consumed]
        assert (command.command.value, command.issued_by) == (which, "api")


async def test_reads_need_a_token_once_tokens_are_configured(api: Api) -> None:
    assert (await api.client.get("/api/positions")).status_code == 401
    assert (await api.client.get("/api/state", headers=api.auth("nope-nope"))).status_code == 401
    assert (await api.client.get("/api/state", headers={"Authorization": READ_TOKEN})).status_code == 401  # no scheme
    for token in (READ_TOKEN, OPERATOR_TOKEN):
        assert (await api.client.get("/api/state", headers=api.auth(token))).status_code == 200
    assert (await api.client.get("/api/health")).json() == {"status": "ok"}  # liveness only, for probes


async def test_without_tokens_reads_are_open_and_control_is_off(filled: Any) -> None:
    import httpx

    config = filled.config(tokens=False)
    store = await Store.open(config.store.url, data_dir=filled.data_dir)
    try:
        app = create_app(store, config, data_dir=filled.data_dir)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            assert (await client.get("/api/state")).status_code == 200
            before = await store.control.list()
            refused = await client.post("/api/control/halt")
            assert refused.status_code == 403
            assert "operator_token" in refused.json()["detail"]
            assert await store.control.list() == before
    finally:
        await store.close()


async def test_a_large_body_is_refused_before_anything_changes(api: Api) -> None:
    before = await _snapshot(api.store)
    big = {"reason": "x" * 100_000}
    response = await api.client.post("/api/control/pause", headers=api.auth(OPERATOR_TOKEN), json=big)
    assert response.status_code == 413
    assert await _snapshot(api.store) == before
    too_long = await api.client.post("/api/control/pause", headers=api.auth(OPERATOR_TOKEN), json={"reason": "y" * 600})
    assert too_long.status_code == 422
    assert await _snapshot(api.store) == before


async def test_no_cors_by_default_and_security_headers(api: Api) -> None:
    response = await api.client.get("/api/state", headers={**api.auth(READ_TOKEN), "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = await api.client.options(
        "/api/control/halt",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    page = await api.client.get("/")
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


async def test_tokens_never_reach_the_log(api: Api, log_output: io.StringIO) -> None:
    for token in (READ_TOKEN, OPERATOR_TOKEN, "wrong-token-1234"):
        await api.client.get("/api/state", headers=api.auth(token))
        await api.client.post("/api/control/pause", headers=api.auth(token))
    logged = log_output.getvalue()
    assert READ_TOKEN not in logged
    assert OPERATOR_TOKEN not in logged


def test_roles_compare_tokens_exactly() -> None:
    access = Access(Secret("reader-secret-1"), Secret("operator-secret-1"))
    assert access.role_of("Bearer operator-secret-1") is Role.OPERATOR
    assert access.role_of("bearer reader-secret-1") is Role.READ
    assert access.role_of("Bearer reader-secret-") is Role.NONE
    assert access.role_of("Bearer ") is Role.NONE
    assert access.role_of(None) is Role.NONE
    assert access.role_of("Basic operator-secret-1") is Role.NONE
    assert Access().role_of(None) is Role.READ  # nothing configured: loopback reads are open


def test_a_public_address_needs_an_operator_token() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.5")
    check_listen_address("127.0.0.1", ServeConfig())
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0"):
        check_listen_address("0.0.0.0", ServeConfig(read_token=Secret("only-a-reader")))
    check_listen_address("0.0.0.0", ServeConfig(operator_token=Secret("an-operator-token")))
