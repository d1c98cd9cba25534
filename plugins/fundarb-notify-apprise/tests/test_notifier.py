"""The notifier on its own, against a real webhook receiver on 127.0.0.1: messages, de-duplication, summary."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fundarb_notify_apprise import plugin
from fundarb_notify_apprise.notifier import AppriseNotifier

from fundarb_core.config import dump_config, parse_config
from fundarb_core.errors import ConfigError
from fundarb_core.events import Alert, CloseFailed, Event, OrderDone, PositionClosed, PositionOpened, Severity
from fundarb_core.plugins import Plugins

from .conftest import Receiver, basic_auth

T0 = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
SECRET_PASSWORD = "pw-7f3a9c2e11"
SECRET_PATH = "tok-91d0b7e4a5c3"


def plugins() -> Plugins:
    p = Plugins().load(entry_points=False)
    p.register(plugin, name="notify_apprise", distribution="fundarb-notify-apprise")
    return p


def notifier(monkeypatch: pytest.MonkeyPatch, receiver: Receiver, **settings: Any) -> AppriseNotifier:
    url = receiver.url(f"hooks/{SECRET_PATH}", auth=f"fundarb:{SECRET_PASSWORD}@")
    monkeypatch.setenv("FUNDARB_TEST_HOOK", url)
    target = {"url": "env:FUNDARB_TEST_HOOK", "min_severity": "info", **settings.pop("target", {})}
    config = parse_config({"observers": {"phone": {"kind": "apprise", "targets": [target], **settings}}}, plugins())
    return AppriseNotifier(config.observers["phone"].config, name="phone")


def closed(position_id: str = "p-1", *, emergency: bool = True) -> PositionClosed:
    return PositionClosed(
        position_id=position_id, symbol="BTC", long="aster_sim", short="lighter_sim", reason="leg_liquidated",
        emergency=emergency, price_pnl=Decimal("-41.237"), funding=Decimal("3.5"), fees=Decimal("1.204"),
        net=Decimal("-38.941"),
    )  # fmt: skip


async def deliver(n: AppriseNotifier, *events: Event) -> None:
    await n.start()
    for event in events:
        n.on_event(event)
    assert n.flush(10), "the sender thread handled every queued message"


async def test_an_emergency_close_is_one_readable_message_with_the_figures(
    monkeypatch: pytest.MonkeyPatch, receiver_factory: Callable[..., Receiver], captured_logs: list[str]
) -> None:
    receiver = receiver_factory()
    n = notifier(monkeypatch, receiver)
    event = Event.of(closed(), T0)
    await deliver(n, event, event)  # the same fact twice (a re-emission) is sent once
    await n.aclose()

    (got,) = receiver.received
    assert got.title == "fundarb · EMERGENCY close BTC"
    assert "position p-1, BTC: long on aster_sim, short on lighter_sim. Reason: leg liquidated." in got.message
    assert "Net PnL -38.94 USD (price -41.24 USD, funding +3.50 USD, fees -1.20 USD)." in got.message
    assert "Next: both legs are flat now" in got.message
    assert got.path == f"/hooks/{SECRET_PATH}"  # the receiver got the full URL and the credentials it needs ...
    assert got.authorization == basic_auth("fundarb", SECRET_PASSWORD)
    for secret in (SECRET_PASSWORD, SECRET_PATH):  # ... and nothing else saw them
        assert secret not in got.message
        assert secret not in got.title
        assert not any(secret in line for line in captured_logs)
    assert (n.stats.sent, n.stats.suppressed, n.stats.lost) == (1, 1, 0)


async def test_targets_filter_by_kind_and_severity(
    monkeypatch: pytest.MonkeyPatch, receiver_factory: Callable[..., Receiver]
) -> None:
    receiver = receiver_factory()
    n = notifier(monkeypatch, receiver, target={"min_severity": "warning", "kinds": ["position_closed", "alert"]})
    opened = PositionOpened(
        position_id="p-2", symbol="ETH", long="a", short="b", qty=Decimal(1), notional_usd=Decimal(2000)
    )
    failed = CloseFailed(position_id="p-3", symbol="SOL", reason="manual", why="venue down")
    await deliver(
        n,
        Event.of(opened, T0),  # info: below the target's minimum
        Event.of(closed("p-4", emergency=False), T0),  # a routine close is info
        Event.of(failed, T0),  # critical, but not a kind this target takes
        Event.of(closed("p-5"), T0),  # an emergency close: warning
        Event("position_closed", T0, {"symbol": "BTC"}),  # untyped: skipped
    )
    await n.aclose()
    assert [r.title for r in receiver.received] == ["fundarb · EMERGENCY close BTC"]
    assert n.stats.skipped == 1


async def test_one_transfer_stuck_per_transfer_per_window(
    monkeypatch: pytest.MonkeyPatch, receiver_factory: Callable[..., Receiver]
) -> None:
    receiver = receiver_factory()
    n = notifier(monkeypatch, receiver, dedupe_window="1h")

    def stuck(transfer: str, at: datetime) -> Event:
        alert = Alert(
            alert="transfer_stuck", message=f"Transfer {transfer} is stuck.", details={"transfer_id": transfer}
        )
        return Event.of(alert, at)

    await deliver(
        n,
        stuck("t-1", T0),
        stuck("t-1", T0 + timedelta(minutes=20)),  # the same transfer within the hour: suppressed
        stuck("t-2", T0 + timedelta(minutes=30)),  # another transfer: sent
        stuck("t-1", T0 + timedelta(minutes=61)),  # the hour passed: sent again
    )
    await n.aclose()
    assert [r.message.splitlines()[0] for r in receiver.received] == [
        "Transfer t-1 is stuck.",
        "Transfer t-2 is stuck.",
        "Transfer t-1 is stuck.",
    ]
    assert n.stats.suppressed == 1


async def test_daily_summary_tells_the_day_including_suppressed_messages(
    monkeypatch: pytest.MonkeyPatch, receiver_factory: Callable[..., Receiver]
) -> None:
    receiver = receiver_factory()
    n = notifier(monkeypatch, receiver, daily_summary=True, summary_hour=8, target={"min_severity": "critical"})
    await n.start()
    n.on_tick(T0, 0.1)  # 07:00: the first summary is due at 08:00
    n.on_event(Event.of(closed("p-1", emergency=False), T0 + timedelta(minutes=5)))
    n.on_event(Event.of(closed("p-2"), T0 + timedelta(minutes=10)))
    n.on_tick(T0 + timedelta(minutes=59), 0.1)  # not yet
    assert n.flush(10)
    assert receiver.received == []
    n.on_tick(T0 + timedelta(hours=1, minutes=5), 0.1)
    assert n.flush(10)
    await n.aclose()
    (summary,) = receiver.received
    assert summary.title == "fundarb · Daily summary to 2026-03-01 08:05 UTC"
    assert "Opened 0, closed 2 (1 emergency), close failures 0." in summary.message
    assert "Realised net PnL -77.88 USD." in summary.message


async def test_an_order_without_fills_is_rendered_plainly(
    monkeypatch: pytest.MonkeyPatch, receiver_factory: Callable[..., Receiver]
) -> None:
    receiver = receiver_factory()
    n = notifier(monkeypatch, receiver)
    order = OrderDone(
        venue="aster_sim", symbol="BTC", side="buy", intent_id="i-1", quantity=Decimal("0.5"), filled=Decimal(0),
        error="rejected: post-only would cross",
    )  # fmt: skip
    await deliver(n, Event.of(order, T0))
    await n.aclose()
    (got,) = receiver.received
    assert got.message == "Order buy 0.5 BTC on aster_sim: filled 0, fees 0; rejected: post-only would cross."
    assert order.severity is Severity.INFO


async def test_a_failing_service_is_counted_and_logged_without_its_url(
    monkeypatch: pytest.MonkeyPatch,
    receiver_factory: Callable[..., Receiver],
    captured_logs: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="apprise")
    receiver = receiver_factory("fail")
    n = notifier(monkeypatch, receiver)
    await deliver(n, Event.of(closed("p-1"), T0), Event.of(closed("p-2"), T0))
    await n.aclose()
    assert len(receiver.received) == 2
    assert (n.stats.sent, n.stats.failed, n.stats.lost) == (0, 2, 2)
    warnings = [line for line in captured_logs if "not delivered" in line]
    assert len(warnings) == 2
    assert all("json#1" in line for line in warnings)
    apprise_lines = [r.getMessage() for r in caplog.records if r.name.startswith("apprise")]
    assert apprise_lines, "apprise logged the failure (through the redacting filter)"
    for secret in (SECRET_PASSWORD, SECRET_PATH):
        assert not any(secret in line for line in captured_logs + apprise_lines)


def test_config_problems_are_reported_and_the_url_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    p = plugins()
    with pytest.raises(ConfigError) as err:
        parse_config(
            {"observers": {"phone": {"kind": "apprise", "targets": [
                {"url": "env:FUNDARB_TEST_UNSET_HOOK", "kinds": ["position_closd"], "min_severity": "loud"}
            ], "queue_size": 0}}},
            p,
        )  # fmt: skip
    problems = "\n".join(err.value.problems)
    assert "observers.phone.targets[0].url: environment variable FUNDARB_TEST_UNSET_HOOK is not set" in problems
    assert "observers.phone.targets[0].kinds: unknown event kind position_closd" in problems
    assert "observers.phone.targets[0].min_severity:" in problems
    assert "observers.phone.queue_size: must be at least 1, found 0" in problems

    monkeypatch.setenv("FUNDARB_TEST_HOOK", f"ntfy://{SECRET_PATH}@ntfy.example/alerts")
    config = parse_config(
        {"observers": {"phone": {"kind": "apprise", "targets": [{"url": "env:FUNDARB_TEST_HOOK"}]}}}, p
    )
    shown = dump_config(config)
    assert 'kind = "apprise"' in shown
    assert SECRET_PATH not in shown


def test_a_url_apprise_does_not_understand_is_a_config_error_without_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNDARB_TEST_HOOK", f"nosuchservice://{SECRET_PATH}")
    config = parse_config(
        {"observers": {"phone": {"kind": "apprise", "targets": [{"url": "env:FUNDARB_TEST_HOOK"}]}}}, plugins()
    )
    with pytest.raises(ConfigError) as err:
        AppriseNotifier(config.observers["phone"].config, name="phone")
    assert list(err.value.problems) == [
        "observers.phone.targets[0].url: not a URL apprise understands (nosuchservice#1)"
    ]


async def test_an_event_that_cannot_be_rendered_is_a_counted_loss_not_an_exception(
    monkeypatch: pytest.MonkeyPatch, receiver_factory: Callable[..., Receiver], captured_logs: list[str]
) -> None:
    import attrs

    from fundarb_core.events import EventPayload

    @attrs.frozen(kw_only=True)
    class Odd(EventPayload):
        KIND = "odd"

        @property
        def severity(self) -> Severity:
            raise RuntimeError("no severity")

    receiver = receiver_factory()
    n = notifier(monkeypatch, receiver)
    await deliver(n, Event.of(closed("p-1"), T0), Event("odd", T0, {}, Odd()), Event.of(closed("p-2"), T0))
    await n.aclose()
    assert len(receiver.received) == 2
    assert n.stats.dropped == 1
    assert any("could not notify odd event" in line for line in captured_logs)


def test_only_the_secret_parts_of_a_url_are_registered_for_redaction() -> None:
    from fundarb_notify_apprise.secrecy import protect_url

    from fundarb_core.secrets import known_secrets

    protect_url("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100987654321/?format=markdown")
    protect_url("json://operator:hunter22@127.0.0.1:8080/webhooks/fundarb?token=f00dfeedcafe")
    secrets = known_secrets()
    for token in ("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "-100987654321", "hunter22", "f00dfeedcafe"):
        assert token in secrets
    for word in ("webhooks", "fundarb", "operator", "markdown", "127.0.0.1"):
        assert word not in secrets  # a plain word masked in every log line would hide what operators need
