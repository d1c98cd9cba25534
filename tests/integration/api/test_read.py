"""The read endpoints over a store a paper run filled: what the CLI shows, the API shows, exactly."""

from __future__ import annotations

from decimal import Decimal

from fundarb_core.model import PositionStatus
from tests.integration.api.conftest import OPERATOR_TOKEN, READ_TOKEN, Api


async def test_positions_list_pages_sorts_and_matches_the_store(api: Api) -> None:
    auth = api.auth(READ_TOKEN)
    stored = await api.store.positions.list()
    assert stored, "the paper run opened positions"
    everything = (await api.client.get("/api/positions?limit=500&sort=created_at&order=asc", headers=auth)).json()
    assert everything["total"] == len(stored)
    assert [p["id"] for p in everything["items"]] == [p.id for p in stored]

    first = (await api.client.get("/api/positions?limit=2&offset=0&order=asc", headers=auth)).json()
    second = (await api.client.get("/api/positions?limit=2&offset=2&order=asc", headers=auth)).json()
    assert [p["id"] for p in first["items"] + second["items"]] == [p.id for p in stored[:4]]

    by_notional = (await api.client.get("/api/positions?sort=notional_usd&order=desc&limit=500", headers=auth)).json()
    values = [Decimal(p["notional_usd"]) for p in by_notional["items"]]
    assert values == sorted(values, reverse=True)

    open_ = (await api.client.get("/api/positions?status=open", headers=auth)).json()
    assert {p["id"] for p in open_["items"]} == {p.id for p in await api.store.positions.list_open()}
    assert all(p["status"] in {s.value for s in PositionStatus if s.value not in ("closed", "failed")}
               for p in open_["items"])  # fmt: skip


async def test_a_position_shows_pnl_parts_that_add_up_and_its_orders(api: Api) -> None:
    auth = api.auth(READ_TOKEN)
    closed = await api.store.positions.list(statuses=[PositionStatus.CLOSED])
    open_ = await api.store.positions.list_open()
    assert closed
    assert open_
    for record in (closed[0], open_[0]):
        shown = (await api.client.get(f"/api/positions/{record.id}", headers=auth)).json()
        pnl = {k: Decimal(v) for k, v in shown["pnl"].items() if k != "realised"}
        assert pnl["price"] + pnl["funding"] - pnl["fees"] == pnl["net"]
        assert {leg["venue"] for leg in shown["legs"]} == {record.long_venue, record.short_venue}
        orders = await api.store.orders.list(position_id=record.id)
        assert [o["client_order_id"] for o in shown["orders"]] == [o.client_order_id for o in orders]
        assert shown["events"], "a position's events come with it"
    closed_view = (await api.client.get(f"/api/positions/{closed[0].id}", headers=auth)).json()
    assert Decimal(closed_view["pnl"]["net"]) == closed[0].realized_pnl
    assert closed_view["pnl"]["realised"] is True
    open_view = (await api.client.get(f"/api/positions/{open_[0].id}", headers=auth)).json()
    assert open_view["liquidation_distance"] is not None
    orders = await api.store.orders.list(position_id=open_[0].id)
    assert Decimal(open_view["pnl"]["fees"]) == sum(o.fees for o in orders)


async def test_state_opportunities_actions_pnl_and_events(api: Api) -> None:
    auth = api.auth(READ_TOKEN)
    state = (await api.client.get("/api/state", headers=auth)).json()
    assert state["state"] == "stopped"  # the paper run ended and released nothing: no lease is held
    assert state["last_scan_at"] is not None

    scan = await api.store.scans.latest()
    assert scan is not None
    opportunities = (await api.client.get("/api/opportunities", headers=auth)).json()
    assert opportunities["at"] == scan.at.isoformat()
    assert [o["symbol"] for o in opportunities["items"]] == [o["symbol"] for o in scan.opportunities]
    for o in opportunities["items"]:
        assert Decimal(o["breakeven_hours"]) * Decimal(o["spread_per_hour"]) <= Decimal(o["cost"]) + Decimal("0.0001")

    actions = (await api.client.get("/api/actions", headers=auth)).json()["items"]
    waiting = [a for a in actions if a["status"] == "awaiting_approval"]
    assert len(waiting) == 1
    assert waiting[0]["can_approve"] is True
    assert waiting[0]["transfers"][0]["state"] == "awaiting_approval"

    pnl = (await api.client.get("/api/pnl", headers=auth)).json()
    closed = await api.store.positions.list(statuses=[PositionStatus.CLOSED])
    assert pnl["summary"]["closed"] == len(closed)
    assert Decimal(pnl["summary"]["realised_net"]) == sum((p.realized_pnl or Decimal(0) for p in closed), Decimal(0))
    assert len(pnl["points"]) == len(closed) + 1
    assert Decimal(pnl["points"][-2]["net"]) == Decimal(pnl["summary"]["realised_net"])

    newest = (await api.client.get("/api/events?limit=5", headers=auth)).json()["items"]
    ids = [e["id"] for e in newest]
    assert ids == sorted(ids, reverse=True)
    after = (await api.client.get(f"/api/events?after_id={ids[-1]}", headers=auth)).json()["items"]
    assert [e["id"] for e in after] == sorted(ids)[1:]


async def test_no_secret_from_the_config_appears_in_any_response(api: Api) -> None:
    auth = api.auth(OPERATOR_TOKEN)
    position = (await api.store.positions.list())[0]
    bodies = []
    for path in (
        "/api/state",
        "/api/positions?limit=500",
        f"/api/positions/{position.id}",
        "/api/opportunities",
        "/api/actions",
        "/api/transfers",
        "/api/pnl",
        "/api/events?limit=1000",
        "/api/openapi.json",
        "/",
    ):
        response = await api.client.get(path, headers=auth)
        assert response.status_code == 200, path
        bodies.append(response.text)
    text = "\n".join(bodies)
    assert READ_TOKEN not in text
    assert OPERATOR_TOKEN not in text  # fmt: skip


async def test_unknown_ids_are_404_and_bad_queries_422(api: Api) -> None:
    auth = api.auth(READ_TOKEN)
    assert (await api.client.get("/api/positions/nope", headers=auth)).status_code == 404
    assert (await api.client.get("/api/positions?sort=secret", headers=auth)).status_code == 422
    assert (await api.client.get("/api/positions?limit=0", headers=auth)).status_code == 422
    assert (await api.client.get("/api/backtests/..%2Fetc.json", headers=auth)).status_code == 404
