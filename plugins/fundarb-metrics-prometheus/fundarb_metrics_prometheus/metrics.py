"""The metric families, in their own `CollectorRegistry`, with label values of bounded cardinality."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["LATENCY_BUCKETS", "BoundedLabels", "Metrics"]

# Seconds: a maker-first close legitimately takes minutes; a market leg milliseconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
OTHER = "other"


class BoundedLabels:
    """Let each label of each family take at most `limit` distinct values; later newcomers become `other`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[tuple[str, str], set[str]] = {}

    def __call__(self, family: str, label: str, value: object) -> str:
        text = str(value) if value is not None and str(value) else "none"
        seen = self._seen.setdefault((family, label), set())
        if text in seen:
            return text
        if len(seen) >= self.limit:
            return OTHER
        seen.add(text)
        return text


class Metrics:
    """Every fundarb metric family. Money is in USD, durations in seconds of the bot's clock."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter("fundarb_events", "Events the bot recorded, by kind.", ["kind"], registry=r)
        self.orders = Counter(
            "fundarb_orders", "Orders sent to venues.", ["venue", "symbol", "side", "reduce_only"], registry=r
        )
        self.order_intents = Counter(
            "fundarb_order_intents", "Order intents finished, by outcome.", ["venue", "outcome"], registry=r
        )
        self.orders_rejected = Counter(
            "fundarb_orders_rejected", "Order intents that ended in an error, by reason.", ["venue", "reason"],
            registry=r,
        )  # fmt: skip
        self.filled_qty = Counter(
            "fundarb_filled_quantity", "Quantity filled (base asset).", ["venue", "symbol"], registry=r
        )
        self.maker_qty = Counter(
            "fundarb_maker_quantity", "Quantity filled as maker (base asset).", ["venue", "symbol"], registry=r
        )
        self.filled_notional = Counter(
            "fundarb_filled_notional_usd", "Notional filled, quantity times price.", ["venue"], registry=r
        )
        self.fees = Counter("fundarb_fees_usd", "Trading fees paid.", ["venue"], registry=r)
        self.funding = Counter(
            "fundarb_funding_usd", "Funding realised at close, received or paid.", ["direction"], registry=r
        )
        self.opened = Counter(
            "fundarb_positions_opened", "Positions opened.", ["long_venue", "short_venue"], registry=r
        )
        self.open_failed = Counter(
            "fundarb_open_failures", "Opens that left nothing open.", ["long_venue", "short_venue"], registry=r
        )
        self.closed = Counter(
            "fundarb_positions_closed", "Positions closed (both legs flat).", ["reason", "emergency"], registry=r
        )
        self.close_failed = Counter(
            "fundarb_close_failures", "Close attempts that left a leg open.", ["symbol"], registry=r
        )
        self.reduced = Counter("fundarb_positions_reduced", "Partial reductions.", ["venue"], registry=r)
        self.open_positions = Gauge(
            "fundarb_open_positions", "Open positions with a leg on the venue.", ["venue"], registry=r
        )
        self.open_notional = Gauge(
            "fundarb_open_notional_usd", "Notional of open legs on the venue.", ["venue"], registry=r
        )
        self.realised = Gauge("fundarb_realised_pnl_usd", "Realised net PnL of closed positions.", registry=r)
        self.realised_parts = Gauge(
            "fundarb_realised_pnl_part_usd", "Realised PnL by part (fees negative).", ["part"], registry=r
        )
        self.submit_latency = Histogram(
            "fundarb_decision_to_submit_seconds", "Decision to first order submission.", ["action"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.leg_skew = Histogram(
            "fundarb_leg_skew_seconds", "Time between the legs' first submissions.", ["action"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.time_to_done = Histogram(
            "fundarb_time_to_done_seconds", "Decision to every leg final.", ["action"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.tick = Histogram(
            "fundarb_tick_duration_seconds", "Duration of one bot tick.", buckets=TICK_BUCKETS, registry=r
        )
        self.actions = Counter(
            "fundarb_actions", "Actions that reached a final status.", ["action_type", "status"], registry=r
        )
        self.plans = Counter("fundarb_plans", "Plans journalled.", ["reason"], registry=r)
        self.transfers = Counter("fundarb_transfers", "Transfers by the state they reached.", ["state"], registry=r)
        self.alerts = Counter("fundarb_alerts", "Alerts raised.", ["alert", "level"], registry=r)
        self.venue_errors = Counter(
            "fundarb_venue_errors", "Errors that ended an order intent, by class.", ["venue", "error_class"],
            registry=r,
        )  # fmt: skip
        self.operator = Counter("fundarb_operator_commands", "Operator commands received.", ["command"], registry=r)
