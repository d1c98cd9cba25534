"""A crash at any step boundary of a plan, then a restart, completes the plan exactly once.

Two plans, hypothesis picks: `rebalance` closes a position → two transfers at once (A→B and B→A, on the sim route,
10 minutes in flight) → reopens; `reduce` sheds half of both legs of an open position.
A "process" is a bot over its own connection to the same SQLite store and its own view of the venues. The venues
(the exchanges) outlive the processes. Every step boundary — each journal move, each checkpoint a handler marks,
just after each order, cancel, leverage change, withdrawal or deposit reached a venue — counts; the crash comes at
the boundary hypothesis picks. From that instant the process is dead: its store connection and venue views refuse
everything, so nothing it had not committed survives, and nothing more reaches a venue. A second crash may hit the
recovering process too. A clean process then restarts, reconciles and resumes.

After the restart every action succeeded, no transfer moved twice, no order went out without its intent journalled,
at most one position was reopened, money is conserved across the venues to the last unit, and no venue holds
exposure the store does not know about.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import shutil
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import fundarb_close_market_only.plugin as market_only
import fundarb_transfer_sim.plugin as transfer_sim
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fundarb_core.actions import ActionPlan, RebalanceAction
from fundarb_core.app.bot import Bot, build_venues
from fundarb_core.clock import EPOCH, SimClock
from fundarb_core.config import Config, parse_config
from fundarb_core.model import PositionStatus
from fundarb_core.model.records import ActionStatus, TransferState
from fundarb_core.plugins import Plugins
from fundarb_core.store import Store
from fundarb_core.venues import VenueContext

MUTATING = frozenset({"place_limit_order", "place_market_order", "cancel_order", "set_leverage"})


class Crash(BaseException):
    """The process died here."""


class Life:
    """Counts step boundaries; at `crash_at` the process dies, and stays dead."""

    def __init__(self, crash_at: int | None) -> None:
        self.crash_at = crash_at
        self.count = 0
        self.dead = False
        self.labels: list[str] = []

    def alive(self) -> None:
        if self.dead:
            raise Crash("dead")

    def boundary(self, label: str) -> None:
        self.alive()
        self.count += 1
        self.labels.append(label)
        if self.crash_at is not None and self.count >= self.crash_at:
            self.dead = True
            raise Crash(label)

    async def checkpoint(self, label: str) -> None:
        self.boundary(label)


class VenueView:
    """One process's view of a venue: refuses everything once the process is dead; marks a boundary after each
    request that changes something at the venue."""

    def __init__(self, venue: Any, life: Life) -> None:
        self._venue = venue
        self._life = life

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._venue, name)
        life = self._life
        if name in ("withdraw", "deposit"):

            def sync(*args: Any, **kwargs: Any) -> Any:
                life.alive()
                result = attr(*args, **kwargs)
                life.boundary(f"{self._venue.name}.{name}")
                return result

            return sync
        if inspect.iscoroutinefunction(attr):

            async def call(*args: Any, **kwargs: Any) -> Any:
                life.alive()
                result = await attr(*args, **kwargs)
                if name in MUTATING:
                    life.boundary(f"{self._venue.name}.{name}")
                return result

            return call
        return attr


def _crash_only(exc: BaseException) -> bool:
    """True for a Crash, or a task group's error holding nothing but Crashes (concurrent legs die together)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_crash_only(e) for e in exc.exceptions)
    return isinstance(exc, Crash)


def _plugins() -> Plugins:
    plugins = Plugins().load(entry_points=False)
    plugins.register(market_only, name="close_market_only", distribution="fundarb-close-market-only")
    plugins.register(transfer_sim, name="transfer_sim", distribution="fundarb-transfer-sim")
    return plugins


PLUGINS = _plugins()


def _config() -> Config:
    venue = {"kind": "sim", "seed": 11, "symbols": ["BTC"], "persist": False}
    return parse_config(
        {
            "bot": {"log_level": "WARNING"},
            "venues": {
                "alpha": {**venue, "profile": "aster-like", "funding_bias_bps_per_hour": "0.6"},
                "beta": {**venue, "profile": "lighter-like"},
            },
            "strategy": {
                "symbols": ["BTC"],
                "max_positions": 1,
                "min_net_apr": "0",
                "signal_window": "0s",
                "entry_hold": "168h",
                "maker_share": "1",
                "slippage_bps": "0",
                "half_spread_bps": "0",
            },
            "close_policy": {"kind": "market_only"},
            "transfers": {"sim": {"kind": "sim", "delay": "10m"}},
            "actions": {"batch_window": "0s", "retry_backoff": "1m"},
        },
        PLUGINS,
    )


CONFIG = _config()


class Scenario:
    """The exchanges, the store file, the plan: what outlives every process."""

    def __init__(self, directory: Path, template: Path, variant: str = "rebalance") -> None:
        self.variant = variant
        self.clock = SimClock(EPOCH)
        self.url = directory / "fundarb.db"
        shutil.copy(template, self.url)
        self.venues = build_venues(CONFIG, PLUGINS, VenueContext(self.clock))
        self.instruments: dict[str, Any] = {}
        self.plan_id: str | None = None
        self.position_id: str | None = None

    def value(self) -> Decimal:
        return sum((v.total_value() for v in self.venues.values()), Decimal(0))

    async def process(self, life: Life, body: Callable[[Bot], Any]) -> bool:
        """Run one process until `body` ends (True) or it crashes (False)."""
        store = await Store.open(self.url, clock=self.clock)
        db = store._db
        write, read = db.write, db.read

        def guarded(inner: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                life.alive()
                return inner(*args, **kwargs)

            return call

        db.write, db.read = guarded(write), guarded(read)  # type: ignore[method-assign]
        views = {name: VenueView(v, life) for name, v in self.venues.items()}
        if not self.instruments:
            self.instruments = {n: dict(await v.load_instruments()) for n, v in self.venues.items()}
        bot = Bot(CONFIG, PLUGINS, self.clock, store, views, self.instruments, checkpoint=life.checkpoint)
        try:
            await body(bot)
            return True
        except BaseException as exc:
            if not _crash_only(exc):
                raise
            return False
        finally:
            with contextlib.suppress(Crash, Exception):
                await bot.orders.aclose()
            db.write, db.read = write, read  # type: ignore[method-assign]
            await store.close()

    async def setup(self, bot: Bot) -> None:
        await bot.tick(scan=True)
        (position,) = await bot.store.positions.list_open()
        self.position_id = position.id
        a, b = position.long_venue, position.short_venue
        assert bot.runner is not None
        if self.variant == "reduce":
            reduce = RebalanceAction("reduce_size", position.id, "profit_erosion", {"fraction": "0.5", "level": "l1"})
            self.plan_id = (await bot.runner.submit([reduce]))[0].plan_id
            return
        plan = ActionPlan.of(
            RebalanceAction("close_position", position.id, "rebalance"),
            [
                RebalanceAction("transfer_funds", position.id, "rebalance",
                                {"from_venue": a, "to_venue": b, "amount": "300"}),
                RebalanceAction("transfer_funds", position.id, "rebalance",
                                {"from_venue": b, "to_venue": a, "amount": "100"}),
            ],
            RebalanceAction("open_position", position.id, "rebalance", {}),
        )  # fmt: skip
        records = await bot.runner.submit(plan)
        self.plan_id = records[0].plan_id

    async def resume(self, bot: Bot) -> None:
        """A restart: reconcile, resume, and run the journal until nothing is unfinished."""
        await bot.reconciler.startup()
        assert bot.runner is not None
        await bot.runner.resume()
        for _ in range(100):
            await bot.run_actions()
            if not await bot.store.actions.list_unfinished():
                return
            due = await bot.store.actions.next_due()
            wait = (due - self.clock.now()).total_seconds() if due is not None else 60.0
            await self.clock.sleep(max(1.0, wait))
        raise AssertionError("the plan did not finish in 100 rounds")

    async def check(self) -> None:
        store = await Store.open(self.url, clock=self.clock)
        try:
            await self._check(store)
        finally:
            await store.close()

    async def _check_orders(self, store: Store) -> None:
        """Every order a venue saw was journalled first (so a restart could find it by its id)."""
        for name, venue in self.venues.items():
            journalled = {o.client_order_id for o in await store.orders.list() if o.venue == name}
            assert set(venue.orders) <= journalled, f"{name}: orders sent without an intent"

    async def _check_reduce(self, store: Store) -> None:
        assert self.plan_id is not None
        (action,) = await store.actions.list_plan(self.plan_id)
        assert action.status is ActionStatus.SUCCEEDED, action.error
        await self._check_orders(store)
        position = await store.positions.get(self.position_id or "")
        assert position is not None
        assert position.status is PositionStatus.OPEN
        assert [r["action_id"] for r in position.details["reductions"]] == [action.id]  # recorded once
        done = [e for e in await store.events.list(kind="action_done") if e.data.get("action_id") == action.id]
        assert [e.data["status"] for e in done] == ["succeeded"]
        venue_qty = {
            leg.venue: abs(self.venues[leg.venue].ledger.position(position.symbol).qty) for leg in position.legs
        }
        assert {leg.venue: leg.filled_quantity for leg in position.legs} == venue_qty  # the store knows what is open
        assert len(set(venue_qty.values())) == 1  # still delta-neutral
        assert all(Decimal(q) > 0 for q in action.result["reduced"].values())

    async def _check(self, store: Store) -> None:
        if self.variant == "reduce":
            await self._check_reduce(store)
            return
        assert self.plan_id is not None
        actions = await store.actions.list_plan(self.plan_id)
        assert [a.status for a in actions] == [ActionStatus.SUCCEEDED] * 4, [(a.action_type, a.error) for a in actions]
        events = await store.events.list(kind="action_done")
        for action in actions:
            done = [e for e in events if e.data.get("action_id") == action.id and e.data.get("status") == "succeeded"]
            assert len(done) == 1, f"{action.id} reported succeeded {len(done)} times"  # logged with the outcome
        # Transfers: one per action, each withdrawn once and deposited once, for its amount.
        transfers = [t for a in actions[1:3] if (t := await store.transfers.get(a.result["transfer_id"]))]
        assert len({t.id for t in transfers}) == 2
        for t in transfers:
            assert t.state is TransferState.CONFIRMED
            amount = format(t.amount, "f")
            assert self.venues[t.from_venue].transfers[t.id] == {"withdrawn": amount}
            assert self.venues[t.to_venue].transfers[t.id] == {"deposited": amount}
        all_transfers = [tid for v in self.venues.values() for tid in v.transfers]
        assert set(all_transfers) == {t.id for t in transfers}
        await self._check_orders(store)
        # The old position is closed; at most one position was opened for the plan.
        positions = await store.positions.list()
        old = next(p for p in positions if p.id == self.position_id)
        assert old.status is PositionStatus.CLOSED
        new = [p for p in positions if p.id != self.position_id]
        assert len(new) <= 1
        # Nothing at a venue the store does not know about (no naked or duplicated leg).
        tracked = {(v, p.symbol) for p in positions if p.is_open for v in (p.long_venue, p.short_venue)}
        for name, venue in self.venues.items():
            for symbol, pos in venue.ledger.positions.items():
                assert pos.qty == 0 or (name, symbol) in tracked, f"untracked {pos.qty} {symbol} on {name}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "fundarb.db"

    async def migrate() -> None:
        store = await Store.open(path)
        await store.close()

    asyncio.run(migrate())
    return path


def _run(template: Path, crashes: list[int | None], variant: str = "rebalance") -> tuple[Scenario, list[Life]]:
    with tempfile.TemporaryDirectory(prefix="fundarb-crash-") as directory:
        scenario = Scenario(Path(directory), template, variant)
        lives: list[Life] = []

        async def main() -> None:
            assert await scenario.process(Life(None), scenario.setup)
            before = scenario.value()
            for crash_at in [*crashes, None]:
                life = Life(crash_at)
                lives.append(life)
                finished = await scenario.process(life, scenario.resume)
                if finished:
                    break
            else:
                raise AssertionError("the clean process did not finish")
            await scenario.check()
            assert scenario.value() == before, "money appeared or vanished across the venues"

        asyncio.run(scenario.clock.run(main()))
    return scenario, lives


VARIANTS = ("rebalance", "reduce")


@pytest.fixture(scope="module")
def boundaries(template: Path) -> dict[str, int]:
    """How many step boundaries an uninterrupted run of each plan crosses (where a crash can hit)."""
    counts = {}
    for variant in VARIANTS:
        _, lives = _run(template, [], variant)
        counts[variant] = lives[0].count
    assert counts["rebalance"] > 20
    assert counts["reduce"] > 5
    return counts


def test_an_uninterrupted_plan_completes(template: Path) -> None:
    _, lives = _run(template, [])
    labels = lives[0].labels
    for expected in ("started:", "alpha.place_market_order", "transfer:withdrawn", "transfer:in_flight",
                     "transfer:confirmed", "succeeded:", "alpha.withdraw", "beta.deposit"):  # fmt: skip
        assert any(label.startswith(expected) or expected in label for label in labels), expected


def test_an_uninterrupted_reduction_sheds_half(template: Path) -> None:
    _, lives = _run(template, [], "reduce")
    assert any(label.startswith("reduce_size:reduce_planned") for label in lives[0].labels), lives[0].labels


# Each example replays a whole plan with up to two crashes (~1.4 s on this 2-core machine), so this test takes at
# most 100 examples even under the `ci` profile: the plans cross 39 (rebalance) and 6 (reduce) boundaries, so that
# is still more examples than first-crash points, and the whole suite stays inside its 10-minute budget.
@settings(
    max_examples=min(settings.default.max_examples, 100),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_crash_at_any_boundary_then_a_restart_completes_the_plan_once(
    template: Path, boundaries: dict[str, int], data: st.DataObject
) -> None:
    variant = data.draw(st.sampled_from(VARIANTS), label="plan")
    first = data.draw(st.integers(1, boundaries[variant]), label="crash at")
    second = data.draw(st.none() | st.integers(1, boundaries[variant]), label="crash again while recovering at")
    _run(template, [first, second], variant)
