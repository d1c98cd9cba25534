"""The exporter: turns typed events into metric updates and serves `/metrics` from its own thread.

`on_event` only updates in-memory metrics (microseconds, no I/O); the HTTP server runs in prometheus-client's
daemon thread, so a slow scraper never touches the bot's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, make_wsgi_app, start_http_server

from fundarb_core.errors import ConfigError
from fundarb_core.events import (
    ActionDone,
    ActionPlanned,
    Alert,
    CloseFailed,
    Event,
    OpenFailed,
    OperatorCommand,
    OrderDone,
    PositionClosed,
    PositionOpened,
    PositionReduced,
)
from fundarb_metrics_prometheus.config import PrometheusConfig
from fundarb_metrics_prometheus.metrics import BoundedLabels, Metrics

__all__ = ["PrometheusExporter", "error_class"]

TRANSFER_ACTION = "transfer_funds"
_ERROR_CLASSES = (
    ("possibly still live", "unresolved"),
    ("ambiguous", "ambiguous"),
    ("rate limit", "rate_limited"),
    ("429", "rate_limited"),
    ("timeout", "timeout"),
    ("timed out", "timeout"),
    ("unavailable", "unavailable"),
    ("margin", "insufficient_margin"),
    ("post-only", "post_only_would_cross"),
    ("post only", "post_only_would_cross"),
    ("reduce-only", "reduce_only"),
    ("reduce only", "reduce_only"),
    ("reject", "rejected"),
)


def error_class(text: str) -> str:
    """Return a short, bounded class for an order error's text (`timeout`, `rejected`, ..., `other`)."""
    lowered = text.lower()
    return next((cls for needle, cls in _ERROR_CLASSES if needle in lowered), "other")


def _seconds(telemetry: Mapping[str, Any], key: str) -> float | None:
    value = telemetry.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class PrometheusExporter:
    """The `prometheus` observer. `start()` opens `/metrics`; `aclose()` stops the server."""

    def __init__(self, config: PrometheusConfig, *, name: str = "prometheus", store: Any = None) -> None:
        self.config = config
        self.name = name
        self.store = store
        self.metrics = Metrics()
        self.label = BoundedLabels(config.max_label_values)
        self.port: int | None = None
        self._server: Any = None
        self._thread: Any = None
        # open position -> (its venues, notional per leg, quantity per leg)
        self._legs: dict[str, tuple[tuple[str, ...], Decimal, Decimal]] = {}
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            OrderDone: self._order,
            PositionOpened: self._opened,
            OpenFailed: self._open_failed,
            PositionClosed: self._closed,
            CloseFailed: self._close_failed,
            PositionReduced: self._reduced,
            Alert: self._alert,
            ActionPlanned: self._planned,
            ActionDone: self._action_done,
            OperatorCommand: self._operator,
        }

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}/metrics"

    def wsgi_app(self) -> Any:
        """Return a WSGI app serving these metrics (for mounting under another server)."""
        return make_wsgi_app(self.metrics.registry)

    def metrics_text(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format and its content type: what `fundarb run --serve` serves at
        `/metrics` (behind the API's read token) beside this exporter's own port."""
        return generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Seed the open-position gauges from the store, then start serving `/metrics`."""
        if self.store is not None:
            for position in await self.store.positions.list_open():
                qty = max((leg.filled_quantity for leg in position.legs), default=Decimal(0))
                self._track(position.id, (position.long_venue, position.short_venue), position.notional_usd, qty)
        try:
            self._server, self._thread = start_http_server(
                self.config.port, addr=self.config.host, registry=self.metrics.registry
            )
        except OSError as exc:
            where = f"{self.config.host}:{self.config.port}"
            raise ConfigError(
                [f"observers.{self.name}.port: cannot listen on {where} ({exc.strerror or exc})"]
            ) from None
        self.port = int(self._server.server_port)
        logger.info("metrics {}: serving {}", self.name, self.url)

    async def aclose(self) -> None:
        if self._server is None:
            return
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        await asyncio.to_thread(thread.join, 5)

    # -- the observer ------------------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Count the event and update the metrics its typed payload speaks of (untyped events are only counted)."""
        self.metrics.events.labels(self.label("events", "kind", event.kind)).inc()
        payload = event.payload
        if payload is None:
            return
        for cls in type(payload).__mro__:
            handler = self._handlers.get(cls)
            if handler is not None:
                handler(payload)
                return

    def on_tick(self, at: datetime, seconds: float) -> None:
        self.metrics.tick.observe(seconds)

    # -- per payload -------------------------------------------------------------------------------------------

    def _venue(self, family: str, venue: str) -> str:
        return self.label(family, "venue", venue)

    def _symbol(self, family: str, symbol: str) -> str:
        return self.label(family, "symbol", symbol) if self.config.symbol_labels else "all"

    def _order(self, p: OrderDone) -> None:
        m = self.metrics
        if p.client_order_ids:
            m.orders.labels(
                self._venue("orders", p.venue), self._symbol("orders", p.symbol), p.side, str(p.reduce_only).lower()
            ).inc(len(p.client_order_ids))
        outcome = (
            "error" if p.error and not p.filled else
            "filled" if p.filled >= p.quantity else
            "partial" if p.filled > 0 else
            "unfilled"
        )  # fmt: skip
        m.order_intents.labels(self._venue("order_intents", p.venue), outcome).inc()
        if p.error:
            reason = error_class(p.error)
            m.orders_rejected.labels(self._venue("orders_rejected", p.venue), reason).inc()
            m.venue_errors.labels(self._venue("venue_errors", p.venue), reason).inc()
        if p.filled > 0:
            m.filled_qty.labels(self._venue("filled", p.venue), self._symbol("filled", p.symbol)).inc(float(p.filled))
            if p.avg_price is not None:
                m.filled_notional.labels(self._venue("filled", p.venue)).inc(float(p.filled * p.avg_price))
        if p.maker_qty > 0:
            m.maker_qty.labels(self._venue("filled", p.venue), self._symbol("filled", p.symbol)).inc(float(p.maker_qty))
        if p.fees:
            m.fees.labels(self._venue("fees", p.venue)).inc(float(abs(p.fees)))

    def _telemetry(self, action: str, telemetry: Mapping[str, Any]) -> None:
        m = self.metrics
        for histogram, key in ((m.submit_latency, "submit_latency"), (m.leg_skew, "leg_skew"),
                               (m.time_to_done, "time_to_done")):  # fmt: skip
            value = _seconds(telemetry, key)
            if value is not None and value >= 0:
                histogram.labels(action).observe(value)

    def _track(self, position_id: str, venues: tuple[str, ...], notional: Decimal, qty: Decimal) -> None:
        self._untrack(position_id)
        self._legs[position_id] = (venues, notional, qty)
        for venue in venues:
            label = self._venue("open", venue)
            self.metrics.open_positions.labels(label).inc()
            self.metrics.open_notional.labels(label).inc(float(notional))

    def _untrack(self, position_id: str | None) -> None:
        known = self._legs.pop(position_id or "", None)
        if known is None:
            return
        venues, notional, _ = known
        for venue in venues:
            label = self._venue("open", venue)
            self.metrics.open_positions.labels(label).dec()
            self.metrics.open_notional.labels(label).dec(float(notional))

    def _opened(self, p: PositionOpened) -> None:
        self.metrics.opened.labels(self._venue("opened", p.long), self._venue("opened", p.short)).inc()
        if p.position_id:
            self._track(p.position_id, (p.long, p.short), p.notional_usd, p.qty)
        self._telemetry("open", p.telemetry)

    def _open_failed(self, p: OpenFailed) -> None:
        self.metrics.open_failed.labels(self._venue("opened", p.long), self._venue("opened", p.short)).inc()
        self._telemetry("open", p.telemetry)

    def _closed(self, p: PositionClosed) -> None:
        m = self.metrics
        m.closed.labels(self.label("closed", "reason", p.reason), str(p.emergency).lower()).inc()
        m.realised.inc(float(p.net))
        m.realised_parts.labels("price").inc(float(p.price_pnl))
        m.realised_parts.labels("funding").inc(float(p.funding))
        m.realised_parts.labels("fees").dec(float(abs(p.fees)))
        if p.funding > 0:
            m.funding.labels("received").inc(float(p.funding))
        elif p.funding < 0:
            m.funding.labels("paid").inc(float(-p.funding))
        self._untrack(p.position_id)
        self._telemetry("close", p.telemetry)

    def _close_failed(self, p: CloseFailed) -> None:
        self.metrics.close_failed.labels(self._symbol("close_failed", p.symbol)).inc()

    def _reduced(self, p: PositionReduced) -> None:
        for venue in p.shed:
            self.metrics.reduced.labels(self._venue("reduced", venue)).inc()
        known = self._legs.get(p.position_id or "")
        if known is None or not p.position_id or not p.shed:
            return
        venues, notional, qty = known
        left = max(qty - max(p.shed.values()), Decimal(0))
        kept = notional * left / qty if qty > 0 else Decimal(0)
        for venue in venues:  # the notional shrinks with the quantity
            self.metrics.open_notional.labels(self._venue("open", venue)).dec(float(notional - kept))
        self._legs[p.position_id] = (venues, kept, left)

    def _alert(self, p: Alert) -> None:
        self.metrics.alerts.labels(self.label("alerts", "alert", p.alert), p.level.value).inc()
        if p.alert == "transfer_stuck":
            self.metrics.transfers.labels("stuck").inc()

    def _planned(self, p: ActionPlanned) -> None:
        self.metrics.plans.labels(self.label("plans", "reason", p.reason)).inc()

    def _action_done(self, p: ActionDone) -> None:
        self.metrics.actions.labels(self.label("actions", "action_type", p.action_type), p.status).inc()
        if p.action_type == TRANSFER_ACTION:
            self.metrics.transfers.labels(p.status).inc()

    def _operator(self, p: OperatorCommand) -> None:
        self.metrics.operator.labels(self.label("operator", "command", p.command)).inc()
