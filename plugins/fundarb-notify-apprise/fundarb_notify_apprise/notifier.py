"""The notifier: filters, de-duplicates and queues messages; a background thread hands them to apprise.

The bot's loop only ever runs `on_event`, which renders a message and puts it in a bounded queue without
waiting: a slow, hanging or failing notification service costs the loop nothing. What cannot be queued, or
cannot be delivered, is counted (`stats`) and logged by the target's label — never by its URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import attrs
from loguru import logger

from fundarb_core.errors import ConfigError
from fundarb_core.events import Event, EventPayload, PositionClosed, Severity
from fundarb_notify_apprise.config import AppriseConfig, Target
from fundarb_notify_apprise.messages import Message, dedupe_key, render, usd
from fundarb_notify_apprise.secrecy import guard_apprise_logging, protect_url, scheme_of

__all__ = ["AppriseNotifier", "Stats"]


@contextlib.contextmanager
def _quiet_imports() -> Iterator[None]:
    """Hide the deprecation warning apprise's e-mail plugin raises on Python 3.11-3.12 (it imports `imghdr`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*imghdr.*", category=DeprecationWarning)
        yield


with _quiet_imports():
    import apprise

_PRUNE_AT = 1000
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
_NOTIFY_TYPE = {
    Severity.INFO: apprise.NotifyType.INFO,
    Severity.WARNING: apprise.NotifyType.WARNING,
    Severity.CRITICAL: apprise.NotifyType.FAILURE,
}


@attrs.define
class Stats:
    """What became of the messages: `sent`, `failed` (the service refused or timed out), `dropped` (queue full or
    still queued at shutdown), `suppressed` (a duplicate within the window), `skipped` (events without a payload)."""

    queued: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    suppressed: int = 0
    skipped: int = 0

    @property
    def lost(self) -> int:
        return self.failed + self.dropped


@attrs.frozen
class _Route:
    target: Target
    label: str
    client: apprise.Apprise


@attrs.frozen
class _Job:
    route: _Route
    message: Message
    severity: Severity


class AppriseNotifier:
    """The `apprise` observer. `start()` launches the sender thread, `aclose()` flushes and stops it."""

    def __init__(self, config: AppriseConfig, *, name: str = "apprise") -> None:
        self.config = config
        self.name = name
        self.stats = Stats()
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=config.queue_size)
        self._idle = threading.Condition(self._lock)
        self._unfinished = 0
        self._last_sent: dict[tuple[str, ...], datetime] = {}
        self._day: Counter[str] = Counter()
        self._day_net = Decimal(0)
        self._next_summary: datetime | None = None
        self._thread: threading.Thread | None = None
        guard_apprise_logging()
        self.routes = tuple(self._route(i, t) for i, t in enumerate(config.targets, start=1))

    def _route(self, index: int, target: Target) -> _Route:
        url = target.url.reveal()
        protect_url(url)
        label = target.label or f"{scheme_of(url)}#{index}"
        # One request at a time, nothing written to disk, apprise's own masking of URLs in its logs kept on.
        asset = apprise.AppriseAsset(
            async_mode=False, storage_mode=apprise.PersistentStoreMode.MEMORY, secure_logging=True
        )
        client = apprise.Apprise(asset=asset)
        with _quiet_imports():  # apprise loads its service plugins on first use
            added = client.add(url)
        if not added:  # the message names the scheme only: the rest of the URL may be a token
            raise ConfigError(
                [f"observers.{self.name}.targets[{index - 1}].url: not a URL apprise understands ({label})"]
            )
        seconds = self.config.timeout.total_seconds()
        for service in client:  # bound every request: a hanging service must not hold the queue forever
            service.socket_connect_timeout = seconds
            service.socket_read_timeout = seconds
        return _Route(target, label, client)

    # -- the observer ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._drain, name=f"fundarb-notify-{self.name}", daemon=True)
        self._thread.start()

    def on_event(self, event: Event) -> None:
        """Queue a message for each target that wants this event; never wait, never raise."""
        try:
            self._on_event(event)
        except Exception as exc:  # a message that cannot be rendered is one lost message, never the bot's problem
            with self._lock:
                self.stats.dropped += 1
            logger.opt(exception=exc).warning("notifier {}: could not notify {} event", self.name, event.kind)

    def _on_event(self, event: Event) -> None:
        payload = event.payload
        if payload is None:  # an untyped event (built by hand): nothing reliable to tell a person
            self.stats.skipped += 1
            return
        self._count_for_summary(payload)
        self._maybe_summary(event.at)
        routes = [r for r in self.routes if self._wants(r.target, payload)]
        if not routes:
            return
        key = dedupe_key(payload)
        last = self._last_sent.get(key)
        window = self.config.dedupe_window
        if last is not None and window and event.at - last < window:
            self.stats.suppressed += 1
            self._day["suppressed"] += 1
            return
        self._last_sent[key] = event.at
        message = render(payload, self.config.title_prefix)
        for route in routes:
            self._enqueue(_Job(route, message, payload.severity))

    def on_tick(self, at: datetime, seconds: float) -> None:
        self._maybe_summary(at)
        if len(self._last_sent) > _PRUNE_AT:  # forget what is past its window, so memory stays bounded
            window = self.config.dedupe_window
            self._last_sent = {k: t for k, t in self._last_sent.items() if at - t < window}

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # -- queue and sender --------------------------------------------------------------------------------------

    def _wants(self, target: Target, payload: EventPayload) -> bool:
        if target.kinds and payload.KIND not in target.kinds:
            return False
        return _RANK[payload.severity] >= _RANK[target.min_severity]

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self.stats.dropped += 1
                self._day["lost"] += 1
                dropped = self.stats.dropped
            else:
                self.stats.queued += 1
                self._unfinished += 1
                return
        if dropped == 1 or dropped % 100 == 0:  # a flood of drops is one line per hundred, not one per message
            logger.warning(
                "notifier {}: queue full ({} waiting), message for {} dropped ({} dropped so far)",
                self.name, self.config.queue_size, job.route.label, dropped,
            )  # fmt: skip

    def _drain(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._deliver(job)
            finally:
                with self._lock:
                    self._unfinished -= 1
                    self._idle.notify_all()

    def _deliver(self, job: _Job) -> None:
        try:
            ok = bool(
                job.route.client.notify(
                    body=job.message.body, title=job.message.title, notify_type=_NOTIFY_TYPE[job.severity]
                )
            )
        except Exception as exc:  # apprise should not raise; if it does, it is one lost message, not a dead thread
            ok = False
            why = type(exc).__name__
        else:
            why = "the service refused it or did not answer in time"
        with self._lock:
            if ok:
                self.stats.sent += 1
                return
            self.stats.failed += 1
            self._day["lost"] += 1
        logger.warning("notifier {}: message to {} not delivered ({})", self.name, job.route.label, why)

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds (real time, off the loop) until every queued message was handled."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout=timeout)

    def close(self) -> None:
        """Send what is queued within `close_timeout`; count the rest as dropped and stop the sender."""
        if self._thread is None:
            return
        self.flush(self.config.close_timeout.total_seconds())
        left = 0
        with self._lock:
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    left += 1
                    self._unfinished -= 1
            self.stats.dropped += left
            self._queue.put_nowait(None)
        if left:
            logger.warning("notifier {}: {} message(s) not sent before shutdown", self.name, left)
        self._thread.join(timeout=self.config.close_timeout.total_seconds())
        self._thread = None

    # -- daily summary -----------------------------------------------------------------------------------------

    def _count_for_summary(self, payload: EventPayload) -> None:
        self._day[payload.KIND] += 1
        if isinstance(payload, PositionClosed):
            self._day_net += payload.net
            if payload.emergency:
                self._day["emergency"] += 1

    def _maybe_summary(self, now: datetime) -> None:
        if not self.config.daily_summary:
            return
        if self._next_summary is None:
            self._next_summary = _next_at(now, self.config.summary_hour)
            return
        if now < self._next_summary:
            return
        self._next_summary = _next_at(now, self.config.summary_hour)
        with self._lock:  # the sender thread counts losses into the day too
            day, net = self._day, self._day_net
            self._day, self._day_net = Counter(), Decimal(0)
        lines = [
            f"Opened {day['position_opened']}, closed {day['position_closed']} "
            f"({day['emergency']} emergency), close failures {day['close_failed']}.",
            f"Realised net PnL {usd(net)}. Alerts {day['alert']}, failed opens {day['open_failed']}.",
            f"Notifications suppressed as duplicates {day['suppressed']}, lost {day['lost']}.",
        ]
        prefix = f"{self.config.title_prefix} · " if self.config.title_prefix else ""
        message = Message(f"{prefix}Daily summary to {now:%Y-%m-%d %H:%M} UTC", "\n".join(lines))
        for route in self.routes:
            self._enqueue(_Job(route, message, Severity.INFO))


def _next_at(now: datetime, hour: int) -> datetime:
    """Return the first time after `now` whose clock shows `hour`:00 UTC."""
    candidate = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)
