"""The kill switch's account, asked every tick, costs what the open positions and what changed cost, not the store's
whole history (found measuring: with the starter's `max_loss_usd`, each tick read every position and every funding
payment ever stored, and a 120-day backtest ran 35 times slower). It must still be the account over everything."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fundarb_core.execution import Urgency
from fundarb_core.model import ExitReason
from fundarb_core.positions.losses import LossAccount, account_of
from tests.integration.bot.conftest import Harness

ZERO = Decimal(0)


async def _everything(h: Harness) -> LossAccount:
    """The account read the plain way: every position's orders and every payment stored against a position."""
    store = h.runtime.store
    total = LossAccount()
    for position in await store.positions.list():
        total += account_of(position, await store.orders.list(position_id=position.id))
    payments = [p for p in await store.funding.list() if p.position_id is not None]
    return total + LossAccount(funding=sum((p.amount for p in payments), ZERO))


def test_the_account_follows_opens_closes_and_funding_without_reading_the_whole_history(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h: Harness = harness_factory(bot={"max_loss_usd": "1000000"}, strategy={"max_positions": 2})
    store = h.runtime.store
    whole_reads: list[str] = []
    for repo, name in ((store.positions, "list"), (store.funding, "list")):
        plain = getattr(repo, name)

        def spy(*args: Any, _plain: Any = plain, _what: str = f"{type(repo).__name__}.{name}", **kw: Any) -> Any:
            if not args and not kw:
                whole_reads.append(_what)
            return _plain(*args, **kw)

        setattr(repo, name, spy)
    seen: list[LossAccount] = []

    def check() -> None:
        whole_reads.clear()
        account = h.call(h.bot.losses.account)
        assert whole_reads == []  # neither every position nor every payment was read
        assert account == h.call(lambda: _everything(h))
        seen.append(account)

    for hour in range(30):
        h.call(lambda: h.bot.tick(scan=True))
        check()
        if hour in (8, 20):  # a close: its orders become final, and its part is kept from now on
            (first, *_) = h.call(lambda: store.positions.list_open())
            h.call(lambda first=first: h.bot.close_position(first, ExitReason.MANUAL, Urgency.NORMAL))
            check()
        h.run(h.clock.sleep(3600))
    closed = [p for p in h.call(lambda: store.positions.list()) if not p.is_open]
    assert len(closed) >= 2
    assert h.call(lambda: store.funding.count_attributed()) > 0
    assert len({a.funding for a in seen}) > 2  # funding moved as it was paid, and was followed

    # A payment the running sum missed (stored out of id order, as concurrent writers may commit): summed again.
    ledger = h.bot.losses
    ledger._paid_count -= 1
    assert h.call(ledger.account) == h.call(lambda: _everything(h))
    assert ledger._paid_count == h.call(lambda: store.funding.count_attributed())
