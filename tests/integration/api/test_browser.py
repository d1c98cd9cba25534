"""The dashboard in a real browser (Debian's chromium driven by Playwright) while a bot runs on simulated venues.

The bot ticks in the test (its own event loop, simulated clock); `fundarb serve` runs in a thread over the same
SQLite store, as it would in another process. Waiting is Playwright's own (`expect`), never a sleep.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fundarb_core.actions import RebalanceAction
from fundarb_core.model.records import ActionStatus
from tests.integration.api.conftest import OPERATOR_TOKEN, ServerThread, harness
from tests.integration.bot.conftest import Harness

CHROMIUM = os.environ.get("FUNDARB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
T = TypeVar("T")
SCREENSHOT_COPY = "FUNDARB_DASHBOARD_SCREENSHOT"  # also save the overview there (for a person to look at)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no chromium browser at {CHROMIUM} (apt-get install chromium); the browser tests need one")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


class Live:
    """A bot (ticked by the test) and the dashboard server over its store.

    The bot's event loop lives in a thread of its own: Playwright's sync API keeps a loop running in this one.
    """

    def __init__(self, data_dir: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bot")
        self.h: Harness = self._pool.submit(harness, data_dir).result()
        self.store = self.h.runtime.store
        self.server: ServerThread | None = None

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return self._pool.submit(self.h.call, fn).result()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self._pool.submit(self.h.close).result()
        self._pool.shutdown()

    def ticks(self, n: int, *, scan: bool = True) -> list[Any]:
        async def run() -> list[Any]:
            done = []
            for _ in range(n):
                done.append(await self.h.bot.tick(scan=scan))
                await self.h.clock.sleep(timedelta(minutes=5))
            return done

        return self.call(run)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    data_dir = tmp_path / "data"
    bot = Live(data_dir)
    try:
        bot.call(lambda: bot.store.acquire_lease("fundarb-run:test", ttl=timedelta(hours=1)))
        bot.server = ServerThread(bot.h.config, data_dir).start()
        yield bot
    finally:
        bot.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(f"localStorage.setItem('fundarb.token', '{OPERATOR_TOKEN}')")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def test_the_overview_shows_the_open_positions_of_a_paper_run(live: Live, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    live.ticks(96)  # eight simulated hours: positions open and close
    open_ = live.call(lambda: live.store.positions.list_open())
    closed = [p for p in live.call(lambda: live.store.positions.list()) if p.status.value == "closed"]
    assert open_
    assert closed
    page.goto(live.url)
    rows = page.locator("table.positions tbody tr")
    expect(rows).to_have_count(len(open_))
    for p in open_:
        row = page.locator(f'tr[data-position="{p.id}"]')
        expect(row).to_contain_text(p.symbol)
        expect(row).to_contain_text(f"{p.long_venue} / {p.short_venue}")
    expect(page.locator("#bot-state")).to_have_text("running")
    expect(page.locator(".chart svg path")).to_have_count(4)  # net, funding, price, fees
    expect(page.locator("#live")).to_have_text("live")
    shot = tmp_path / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get(SCREENSHOT_COPY):
        shutil.copyfile(shot, os.environ[SCREENSHOT_COPY])

    page.locator(f'tr[data-position="{open_[0].id}"]').click()  # the detail page: legs and orders
    expect(page.locator("h1")).to_contain_text(open_[0].symbol)
    orders = live.call(lambda: live.store.orders.list(position_id=open_[0].id))
    expect(page.locator("section", has_text="Orders").locator("tbody tr")).to_have_count(len(orders))


def test_pause_stops_opening_but_the_bot_keeps_managing(live: Live, page: Any) -> None:
    from playwright.sync_api import expect

    (first,) = live.ticks(1)
    assert len(first.opened) == 1  # one new position per tick (strategy.max_new_per_tick)
    page.goto(live.url)
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#notice")).to_contain_text("pause: sent")
    (held,) = live.call(lambda: live.store.positions.list_open())

    (paused,) = live.ticks(1)
    assert live.h.bot.paused
    assert paused.opportunities, "there was something to open"
    assert paused.opened == []
    (managed,) = live.call(lambda: live.store.positions.list_open())
    assert managed.id == held.id
    assert managed.version > held.version  # marks, funding and liquidation distance updated this tick
    expect(page.locator("#bot-state")).to_have_text("paused")

    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#notice")).to_contain_text("resume: sent")
    (resumed,) = live.ticks(1)
    assert len(resumed.opened) == 1
    expect(page.locator("#bot-state")).to_have_text("running")


def test_approving_a_manual_transfer_step_moves_the_plan_on(live: Live, page: Any) -> None:
    from playwright.sync_api import expect

    bot = live.h.bot
    assert bot.runner is not None
    (action,) = live.call(lambda: bot.runner.submit([RebalanceAction(
        "transfer_funds", None, "rebalance", {"from_venue": "aster_sim", "to_venue": "lighter_sim", "amount": "200"}
    )]))  # fmt: skip
    live.call(lambda: bot.run_actions())
    source = bot.venues["aster_sim"]
    cash = source.ledger.cash
    assert live.call(lambda: live.store.actions.get(action.id)).status is ActionStatus.AWAITING_APPROVAL

    page.goto(live.url + "#/actions")
    page.locator(f'button[data-approve="{action.id}"]').click()
    expect(page.locator("#notice")).to_contain_text("approved")
    live.call(lambda: bot.run_actions())
    assert source.ledger.cash == cash - Decimal(200)  # the plan moved on: the funds left the source
    after = live.call(lambda: live.store.actions.get(action.id))
    assert after.status is ActionStatus.AWAITING_APPROVAL
    assert "credited" in (after.error or "")  # the next step waits for the operator again
    expect(page.locator(f'tr[data-action="{action.id}"]')).to_contain_text("awaiting_approval")
    expect(page.locator(f'button[data-cancel="{action.id}"]')).to_have_count(0)  # too late to cancel


def test_an_event_appears_on_the_page_within_a_second(live: Live, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live.url + "#/events")
    expect(page.locator("#live")).to_have_text("live")
    live.call(lambda: live.store.events.append("alert", {"alert": "dashboard-check"}))
    expect(page.locator("#events li", has_text="dashboard-check")).to_be_visible(timeout=1000)
