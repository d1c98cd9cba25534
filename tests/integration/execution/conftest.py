from __future__ import annotations

import pytest

from tests.integration.execution.harness import Market


@pytest.fixture
def market() -> Market:
    return Market()
