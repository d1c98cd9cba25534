"""The signal (time-weighted EMA of hourly rates, seeded from settled history) and the round-trip cost model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from fundarb_core.config import StrategyConfig
from fundarb_core.model.history import FundingHistoryEntry
from fundarb_core.strategy.costs import UNKNOWN_FEE, CostModel
from fundarb_core.strategy.signal import SpreadSignal
from fundarb_core.venues import BBO, FundingRate, Instrument

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
BP = Decimal("0.0001")


def rate(per_interval: str, interval: timedelta = HOUR, *, due: timedelta = HOUR, mark: str = "100") -> FundingRate:
    return FundingRate("BTC", Decimal(per_interval), interval, T0 + due, Decimal(mark))


def instrument(maker: str | None, taker: str | None) -> Instrument:
    def fee(v: str | None) -> Decimal | None:
        return Decimal(v) if v is not None else None

    return Instrument("BTC", "BTC", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal(5), Decimal(10),
                      HOUR, fee(maker), fee(taker))  # fmt: skip


# -- the signal --------------------------------------------------------------------------------------------------


def test_a_constant_rate_is_its_own_estimate_and_a_step_is_followed_at_the_window_pace() -> None:
    signal = SpreadSignal(timedelta(hours=10))
    signal.observe("a", {"BTC": rate("0.0001")}, T0)
    assert signal.rate("a", "BTC") == Decimal("0.0001")
    signal.observe("a", {"BTC": rate("0.0003")}, T0 + 10 * HOUR)  # one time constant later: 1 − e⁻¹ of the step
    value = signal.rate("a", "BTC")
    assert value is not None
    assert abs(value - Decimal("0.0001") - Decimal("0.0002") * Decimal("0.6321205588")) < Decimal("1e-12")


def test_a_single_noise_spike_moves_the_estimate_little() -> None:
    signal = SpreadSignal(timedelta(hours=24))
    for h in range(48):
        signal.observe("a", {"BTC": rate("0.00001")}, T0 + h * HOUR)
    signal.observe("a", {"BTC": rate("0.001")}, T0 + 48 * HOUR)  # a 100× quote for one hour
    value = signal.rate("a", "BTC")
    assert value is not None
    assert value < Decimal("0.00006")


def test_seeding_weighs_each_settlement_over_its_own_interval() -> None:
    eight = timedelta(hours=8)
    hist8 = [FundingHistoryEntry("BTC", T0 + i * eight, Decimal("0.0008"), eight) for i in range(1, 4)]
    hist1 = [FundingHistoryEntry("BTC", T0 + i * HOUR, Decimal("0.0001"), HOUR) for i in range(1, 25)]
    signal = SpreadSignal(timedelta(hours=24))
    assert signal.seed("slow", "BTC", hist8) == 3
    assert signal.seed("fast", "BTC", hist1) == 24
    # Both settled 0.0001 per hour for 24 hours: the same estimate, and both warm (half a window covered).
    assert signal.rate("slow", "BTC") == signal.rate("fast", "BTC") == Decimal("0.0001")
    assert signal.warm("slow", "BTC")
    assert signal.warm("fast", "BTC")
    assert signal.spread("BTC", "slow", "fast") == 0


def test_an_estimate_is_not_warm_before_half_a_window_and_bad_rates_are_not_observed() -> None:
    signal = SpreadSignal(timedelta(hours=24))
    for h in range(12):
        signal.observe("a", {"BTC": rate("0.0001")}, T0 + h * HOUR)
    assert not signal.warm("a", "BTC")
    signal.observe("a", {"BTC": rate("0.0001")}, T0 + 12 * HOUR)
    assert signal.warm("a", "BTC")
    for bad in ("NaN", "Infinity", "0.5"):  # not a number, or 50 % per hour
        signal.observe("a", {"BTC": rate(bad)}, T0 + 13 * HOUR)
    signal.observe("a", {"BTC": rate("0.0001", timedelta(0))}, T0 + 13 * HOUR)
    assert signal.rate("a", "BTC") == Decimal("0.0001")


# -- the cost model ----------------------------------------------------------------------------------------------


def model(**config: object) -> CostModel:
    return CostModel(StrategyConfig(**config), {"a": {"BTC": instrument("0.0002", "0.0005")},  # type: ignore[arg-type]
                                                "b": {"BTC": instrument("0", "0.0003")}})  # fmt: skip


def test_fees_follow_the_maker_share_of_opens_and_closes() -> None:
    cost = model(maker_share=Decimal(1), half_spread_bps=Decimal(0), slippage_bps=Decimal(0)).round_trip(
        "BTC", "a", "b"
    )
    assert cost.fees == 2 * Decimal("0.0002")  # all maker: two fills on a at 2 bp, two on b at 0
    assert cost.total == cost.fees
    half = model(maker_share=Decimal("0.5"), half_spread_bps=Decimal(0), slippage_bps=Decimal(0))
    assert half.round_trip("BTC", "a", "b").fees == 2 * (Decimal("0.00035") + Decimal("0.00015"))
    market_close = CostModel(half.config, half.instruments, close_market_only=True)
    assert market_close.round_trip("BTC", "a", "b").fees == Decimal("0.00035") + Decimal("0.00015") + Decimal("0.0008")


@pytest.mark.parametrize(("maker", "taker", "priced"), [(None, None, UNKNOWN_FEE), ("0.0001", None, UNKNOWN_FEE),
                                                         (None, "0.0007", Decimal("0.0007"))])  # fmt: skip
def test_unknown_fees_are_priced_at_the_taker_rate_never_zero(
    maker: str | None, taker: str | None, priced: Decimal
) -> None:
    costs = CostModel(StrategyConfig(), {"x": {"BTC": instrument(maker, taker)}, "y": {"BTC": instrument("0", "0")}})
    assert costs.fee_rates("x", "BTC") == (priced, priced)
    assert costs.fee_rates("nowhere", "BTC") == (UNKNOWN_FEE, UNKNOWN_FEE)


def test_books_basis_transfer_and_an_imminent_paid_settlement_are_costs() -> None:
    costs = model(maker_share=Decimal(0), slippage_bps=Decimal(0))
    books = {"a": BBO("BTC", Decimal("99.9"), Decimal("100.1"), Decimal(1), Decimal(1), T0),  # 10 bp half-spread
             "b": BBO("BTC", Decimal("99.99"), Decimal("100.01"), Decimal(1), Decimal(1), T0)}  # fmt: skip
    crossed = costs.round_trip("BTC", "a", "b", books=books).crossing
    assert crossed == 2 * (Decimal("0.001") + Decimal("0.0001"))  # taker on every fill: each book's half, twice
    assert costs.round_trip("BTC", "a", "b", long_price=Decimal(101), short_price=Decimal(100)).basis == Decimal("0.01")
    assert costs.round_trip("BTC", "a", "b", long_price=Decimal(99), short_price=Decimal(100)).basis == 0
    with_transfer = CostModel(StrategyConfig(transfer_cost_usd=Decimal(2)), costs.instruments, transfers=True)
    assert with_transfer.round_trip("BTC", "a", "b").transfer == Decimal("0.002")
    # The short leg pays 5 bp in 10 minutes (a negative rate), the long leg's settlement is hours away.
    rates = {"a": rate("0.0001", due=timedelta(hours=5)), "b": rate("-0.0005", due=timedelta(minutes=10))}
    assert costs.round_trip("BTC", "a", "b", rates=rates, now=T0).settlement == Decimal("0.0005")
    rates["b"] = rate("0.0005", due=timedelta(minutes=10))  # it pays us: no cost
    assert costs.round_trip("BTC", "a", "b", rates=rates, now=T0).settlement == 0


def test_learnt_maker_share_and_slippage_replace_the_assumptions() -> None:
    costs = model(maker_share=Decimal("0.5"))
    costs.learn([{"telemetry": {"maker_share": "1", "slippage_bps": "3"}}] * 5, [{"telemetry": {}}, "odd"])  # type: ignore[list-item]
    assert costs.open_maker_share == 1
    assert costs.close_maker_share == Decimal("0.5")  # too few closes measured
    assert costs.learnt_slippage_bps == 3
    costs.learn([{"telemetry": {"maker_share": "NaN", "slippage_bps": "x"}}] * 5, [])
    assert costs.learnt_slippage_bps == 3  # nothing usable: unchanged


async def test_learning_from_the_store_reads_only_new_events_and_keeps_the_latest(tmp_path: Path) -> None:
    from fundarb_core.clock import SimClock
    from fundarb_core.store import Store
    from fundarb_core.strategy import costs as costs_module

    store = await Store.open(tmp_path / "s.sqlite3", clock=SimClock(T0))
    try:
        incremental = model()
        for batch, share in enumerate(("0.1", "0.3", "0.9")):
            for i in range(costs_module._LEARN_FROM * 3 // 4):  # some batches straddle the window
                await store.events.append("position_opened", {"telemetry": {"maker_share": share}})
                if i % 3 == 0:
                    await store.events.append("position_closed", {"telemetry": {"maker_share": "0.2"}})
            await incremental.learn_from(store)
            fresh = model()
            await fresh.learn_from(store)
            assert incremental.learnt_open_maker == fresh.learnt_open_maker, batch
            assert incremental.learnt_close_maker == fresh.learnt_close_maker == Decimal("0.2")
        assert incremental.learnt_open_maker == (Decimal("0.3") * 50 + Decimal("0.9") * 150) / 200
        seen = []
        list_events = store.events.list

        async def spy(**kwargs: object) -> object:
            seen.append(kwargs)
            return await list_events(**kwargs)  # type: ignore[arg-type]

        store.events.list = spy  # type: ignore[method-assign]
        learnt = []
        learn = incremental.learn
        incremental.learn = lambda *args: learnt.append(args) or learn(*args)  # type: ignore[method-assign]
        await incremental.learn_from(store)  # nothing new: one query per kind, from the last id read
        kinds = ("position_opened", "position_closed")
        assert [k["after_id"] for k in seen] == [incremental._read[k][0] for k in kinds]
        assert learnt == []  # and the same events: nothing to learn again
        learn([{"telemetry": {"maker_share": "1"}}] * 5, [])  # learnt from elsewhere meanwhile
        await incremental.learn_from(store)  # the store's events again, although none is new
        assert len(learnt) == 1
        assert incremental.learnt_open_maker == (Decimal("0.3") * 50 + Decimal("0.9") * 150) / 200
        await store.events.append("position_closed", {"telemetry": {"maker_share": "0.6"}})
        await incremental.learn_from(store)  # a new close
        assert len(learnt) == 2
        assert incremental.learnt_close_maker == (Decimal("0.2") * 150 + Decimal("0.6")) / 151  # 150 closes before
    finally:
        await store.close()
