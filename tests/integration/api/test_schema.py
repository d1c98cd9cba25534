"""Schemathesis against the OpenAPI schema, over real HTTP on 127.0.0.1: no generated request gets a 5xx, and
every answer matches the schema. The live stream is left out (it never ends by design)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.integration.api.conftest import OPERATOR_TOKEN, ServerThread, make_config


@pytest.fixture
def served(sqlite_template: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    shutil.copytree(sqlite_template, data_dir)
    server = ServerThread(make_config(data_dir), data_dir).start()
    yield server
    server.stop()


def test_no_generated_request_gets_a_server_error(served: ServerThread) -> None:
    schema = schemathesis.openapi.from_url(served.url + "api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {"/api/positions", "/api/control/{command}", "/api/actions/{action_id}/approve"} <= paths
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    checked = 0
    for operation in operations:
        if operation.path == "/api/events/stream":
            continue

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=served.url.rstrip("/"), headers=headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
            case.validate_response(response)

        check()
        checked += 1
    assert checked >= 14
