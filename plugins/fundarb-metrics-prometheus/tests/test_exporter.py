"""The exporter on its own: typed events in, a real `/metrics` scrape out, parsed by prometheus-client."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fundarb_metrics_prometheus import plugin
from fundarb_metrics_prometheus.exporter import PrometheusExporter, error_class

from fundarb_core.config import parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.events import (
    ActionDone,
    Alert,
    Event,
    OrderDone,
    PositionClosed,
    PositionOpened,
    PositionReduced,
    Severity,
)
from fundarb_core.plugins import Plugins

from .conftest import by_label, scrape, total

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def plugins() -> Plugins:
    p = Plugins().load(entry_points=False)
    p.register(plugin, name="metrics_prometheus", distribution="fundarb-metrics-prometheus")
    return p


def exporter(**settings: object) -> PrometheusExporter:
    config = parse_config({"observers": {"m": {"kind": "prometheus", "port": 0, **settings}}}, plugins())
    return PrometheusExporter(config.observers["m"].config, name="m")


def order(venue: str, symbol: str, filled: str, *, ids: int = 1, error: str | None = None) -> Event:
    payload = OrderDone(
        venue=venue, symbol=symbol, side="buy", intent_id=f"i-{venue}-{symbol}", quantity=Decimal(1),
        client_order_ids=tuple(f"c{i}" for i in range(ids)), filled=Decimal(filled), avg_price=Decimal(100),
        fees=Decimal("0.05"), maker_qty=Decimal(filled), error=error,
    )  # fmt: skip
    return Event.of(payload, T0)


async def test_typed_events_become_the_documented_metrics() -> None:
    e = exporter()
    await e.start()
    try:
        e.on_event(order("a", "BTC", "1", ids=2))
        e.on_event(order("a", "BTC", "0.4", error="rejected: post-only would cross"))
        e.on_event(order("b", "ETH", "0", error="timed out waiting for the venue"))
        opened = PositionOpened(
            position_id="p1", symbol="BTC", long="a", short="b", qty=Decimal(2), notional_usd=Decimal(200),
            telemetry={"submit_latency": 0.2, "leg_skew": 0.05, "time_to_done": 1.5},
        )  # fmt: skip
        e.on_event(Event.of(opened, T0))
        e.on_event(
            Event.of(PositionReduced(position_id="p1", symbol="BTC", shed={"a": Decimal(1), "b": Decimal(1)}), T0)
        )
        first = scrape(e.url)
        assert by_label(first, "fundarb_open_positions", "venue") == {"a": 1, "b": 1}
        assert by_label(first, "fundarb_open_notional_usd", "venue") == {"a": 100, "b": 100}  # halved by the reduce
        closed = PositionClosed(
            position_id="p1", symbol="BTC", long="a", short="b", reason="leg_liquidated", emergency=True,
            price_pnl=Decimal("-3"), funding=Decimal("1.5"), fees=Decimal("0.5"), net=Decimal("-2"),
            telemetry={"submit_latency": 0.01, "leg_skew": None, "time_to_done": 0.3},
        )  # fmt: skip
        e.on_event(Event.of(closed, T0))
        e.on_event(Event.of(ActionDone(action_id="x", action_type="transfer_funds", status="succeeded"), T0))
        e.on_event(Event.of(Alert(alert="transfer_stuck", level=Severity.CRITICAL), T0))
        e.on_event(Event("position_closed", T0, {"symbol": "BTC"}))  # untyped: only counted by kind
        e.on_tick(T0, 0.75)
        s = scrape(e.url)
    finally:
        await e.aclose()

    assert total(s, "fundarb_orders_total") == 4
    assert total(s, "fundarb_orders_total", venue="a", symbol="BTC", side="buy", reduce_only="false") == 3
    assert by_label(s, "fundarb_order_intents_total", "outcome") == {"filled": 1, "partial": 1, "error": 1}
    assert by_label(s, "fundarb_orders_rejected_total", "reason") == {"post_only_would_cross": 1, "timeout": 1}
    assert by_label(s, "fundarb_venue_errors_total", "error_class") == {"post_only_would_cross": 1, "timeout": 1}
    assert total(s, "fundarb_filled_quantity_total", venue="a", symbol="BTC") == pytest.approx(1.4)
    assert total(s, "fundarb_filled_notional_usd_total", venue="a") == pytest.approx(140)
    assert total(s, "fundarb_fees_usd_total") == pytest.approx(0.15)
    assert total(s, "fundarb_positions_opened_total", long_venue="a", short_venue="b") == 1
    assert total(s, "fundarb_positions_closed_total", reason="leg_liquidated", emergency="true") == 1
    assert by_label(s, "fundarb_open_positions", "venue") == {"a": 0, "b": 0}
    assert by_label(s, "fundarb_open_notional_usd", "venue") == {"a": 0, "b": 0}
    assert total(s, "fundarb_realised_pnl_usd") == -2
    assert by_label(s, "fundarb_realised_pnl_part_usd", "part") == {"price": -3, "funding": 1.5, "fees": -0.5}
    assert total(s, "fundarb_funding_usd_total", direction="received") == 1.5
    assert total(s, "fundarb_decision_to_submit_seconds_count", action="open") == 1
    assert total(s, "fundarb_decision_to_submit_seconds_sum", action="close") == pytest.approx(0.01)
    assert total(s, "fundarb_leg_skew_seconds_count") == 1  # a close with one leg has no skew
    assert total(s, "fundarb_time_to_done_seconds_bucket", action="open", le="2.5") == 1
    assert total(s, "fundarb_tick_duration_seconds_count") == 1
    assert total(s, "fundarb_tick_duration_seconds_sum") == 0.75
    assert total(s, "fundarb_actions_total", action_type="transfer_funds", status="succeeded") == 1
    assert by_label(s, "fundarb_transfers_total", "state") == {"succeeded": 1, "stuck": 1}
    assert total(s, "fundarb_alerts_total", alert="transfer_stuck", level="critical") == 1
    assert total(s, "fundarb_events_total", kind="position_closed") == 2


async def test_label_values_are_bounded() -> None:
    e = exporter(max_label_values=2)
    for symbol in ("BTC", "ETH", "SOL", "XRP"):
        e.on_event(order("a", symbol, "1"))
    await e.start()
    try:
        s = scrape(e.url)
    finally:
        await e.aclose()
    assert by_label(s, "fundarb_filled_quantity_total", "symbol") == {"BTC": 1, "ETH": 1, "other": 2}


async def test_symbol_labels_can_be_turned_off() -> None:
    e = exporter(symbol_labels=False)
    e.on_event(order("a", "BTC", "1"))
    e.on_event(order("a", "ETH", "1"))
    await e.start()
    try:
        s = scrape(e.url)
    finally:
        await e.aclose()
    assert by_label(s, "fundarb_filled_quantity_total", "symbol") == {"all": 2}


def test_error_classes_are_a_small_fixed_set() -> None:
    assert error_class("orders possibly still live: c1") == "unresolved"
    assert error_class("HTTP 429 rate limit") == "rate_limited"
    assert error_class("insufficient margin") == "insufficient_margin"
    assert error_class("something new") == "other"


def test_config_problems_are_reported() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            {"observers": {"m": {"kind": "prometheus", "port": 70000, "max_label_values": 0, "hots": ""}}}, plugins()
        )
    problems = list(err.value.problems)
    assert "observers.m.port: must be a TCP port (0-65535; 0 picks a free one), found 70000" in problems
    assert "observers.m.max_label_values: must be at least 1, found 0" in problems
    assert "observers.m.hots: unknown key (did you mean 'host'?)" in problems


def test_the_grafana_dashboard_uses_only_metrics_the_exporter_serves() -> None:
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parents[1] / "grafana-dashboard.json").read_text("utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {name for expr in exprs for name in re.findall(r"\bfundarb_[a-z_]+", expr)}
    served: set[str] = set()
    for family in exporter().metrics.registry.collect():
        suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}[family.type]
        served.update(family.name + s for s in suffixes)
    assert used, "the dashboard queries fundarb metrics"
    assert used <= served, f"the dashboard queries metrics nobody serves: {sorted(used - served)}"
    families = {f.name for f in exporter().metrics.registry.collect()}
    shown = {n.removesuffix("_total").removesuffix("_bucket") for n in used}
    assert families - shown <= {"fundarb_events", "fundarb_plans", "fundarb_positions_reduced",
                                "fundarb_open_failures", "fundarb_operator_commands"}  # fmt: skip


async def test_a_port_in_use_is_a_config_error_naming_the_key() -> None:
    first = exporter()
    await first.start()
    try:
        second = exporter(port=first.port)
        with pytest.raises(ConfigError) as err:
            await second.start()
    finally:
        await first.aclose()
    (problem,) = err.value.problems
    assert problem.startswith(f"observers.m.port: cannot listen on 127.0.0.1:{first.port} (")


async def test_served_under_fundarb_serve_behind_the_read_token(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from fundarb_core.app.api import create_app
    from fundarb_core.store import Store

    monkeypatch.setenv("FUNDARB_TEST_READ", "read-token-123")
    config = parse_config(
        {"serve": {"read_token": "env:FUNDARB_TEST_READ"}, "observers": {"m": {"kind": "prometheus", "port": 0}}},
        plugins(),
    )
    e = PrometheusExporter(config.observers["m"].config, name="m")
    e.on_event(order("a", "BTC", "1", ids=2))
    store = await Store.open(tmp_path / "store.sqlite3")
    try:
        app = create_app(store, config, data_dir=tmp_path, metrics=e.metrics_text)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            assert (await client.get("/metrics")).status_code == 401
            answer = await client.get("/metrics", headers={"Authorization": "Bearer read-token-123"})
    finally:
        await store.close()
    assert answer.status_code == 200
    names = {f.name for f in text_string_to_metric_families(answer.text)}
    assert "fundarb_orders" in names
