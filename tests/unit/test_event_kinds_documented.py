"""docs/plugins/hooks.md lists every event payload class with its kind and exactly its fields."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from fundarb_core import events

HOOKS_MD = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "hooks.md"


def documented() -> dict[str, tuple[str, list[str]]]:
    """Kind -> (class name, fields) from the "Event kinds" section."""
    text = HOOKS_MD.read_text(encoding="utf-8").split("## Event kinds", 1)[1]
    out = {}
    for kind, name, body in re.findall(r"^### `(\w+)` — `(\w+)`\n(.*?)(?=^### |\Z)", text, flags=re.M | re.S):
        fields = re.search(r"^fields: (.*)$", body, flags=re.M)
        out[kind] = (name, re.findall(r"`(\w+)`", fields.group(1)) if fields else [])
    return out


@pytest.mark.parametrize("cls", events.PAYLOADS, ids=lambda c: c.KIND)
def test_every_payload_is_documented_with_its_fields(cls: type[events.EventPayload]) -> None:
    doc = documented()
    assert cls.KIND in doc, f"event kind {cls.KIND!r} is not in docs/plugins/hooks.md"
    name, fields = doc[cls.KIND]
    assert name == cls.__name__
    assert fields == [f.name for f in attrs.fields(cls) if f.name != "position_id"]


def test_nothing_documented_that_does_not_exist() -> None:
    assert set(documented()) == {c.KIND for c in events.PAYLOADS}


def test_kinds_are_unique_and_data_is_json_ready() -> None:
    import json
    from decimal import Decimal

    assert len({c.KIND for c in events.PAYLOADS}) == len(events.PAYLOADS)
    payload = events.PositionClosed(
        position_id="p", symbol="BTC", long="a", short="b", reason="time_limit", price_pnl=Decimal("1.5"),
        funding=Decimal("0.25"), fees=Decimal("0.1"), net=Decimal("1.65"), emergency=True,
    )  # fmt: skip
    data = json.loads(json.dumps(payload.as_data()))
    assert data["net"] == "1.65"
    assert data["severity"] == "warning"
    assert data["position_id"] == "p"
    alert = events.Alert(alert="transfer_stuck", action_id="x", details={"why": "slow"})
    assert alert.as_data()["why"] == "slow"
    assert "details" not in alert.as_data()
