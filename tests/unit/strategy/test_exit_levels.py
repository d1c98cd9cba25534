"""The exits' absolute floor on the smoothed spread, its gap below the entry level, and the settlement wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fundarb_core.config import StrategyConfig
from fundarb_core.model import ExitReason, PositionStatus
from fundarb_core.model.records import PositionRecord
from fundarb_core.strategy import PositionView
from fundarb_core.strategy.costs import CostModel
from fundarb_core.strategy.exits import ExitRules, Waterfall
from fundarb_core.strategy.scanner import HOURS_PER_YEAR
from fundarb_core.venues import FundingRate, Instrument

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def view(current: Any, signal: Any = None, *, age: timedelta = 2 * DAY, rates: Any = None) -> PositionView:
    opened = NOW - age
    position = PositionRecord("p", "BTC", PositionStatus.OPEN, "long", "short", Decimal(1000), created_at=opened,
                              updated_at=opened, opened_at=opened)  # fmt: skip
    return PositionView(position, NOW, Decimal("0.0001"), current, rates or {}, {}, signal_spread=signal)


def apr(value: str) -> Decimal:
    return Decimal(value) / HOURS_PER_YEAR


def test_the_smoothed_spread_decides_not_the_latest_quote() -> None:
    rules = Waterfall.of(ExitRules())
    assert not rules.should_exit(view(apr("-0.5"), apr("0.2"))).exit  # a negative quote, a paying estimate: stay
    flipped = rules.should_exit(view(apr("0.5"), apr("-0.01")))
    assert flipped.reason is ExitReason.DIVERGENCE_FLIPPED
    low = rules.should_exit(view(apr("0.5"), apr("0.04")))
    assert low.reason is ExitReason.PROFIT_EROSION  # below the 5 % floor
    assert rules.should_exit(view(apr("0.01"), None)).exit  # no estimate: the quote (1 % APR) decides


def test_no_ratio_to_the_entry_peak_by_default() -> None:
    # Entered at 1 bp/h (88 % APR); now a fifth of it (17.5 % APR): the earlier bot exited (severe erosion), the
    # default stays, for the spread still pays well above the floor.
    assert not Waterfall.of(ExitRules()).should_exit(view(Decimal("0.00002"), Decimal("0.00002"))).exit
    legacy = ExitRules(exit_apr=None, erosion_threshold=Decimal("0.5"), severe_erosion_threshold=Decimal("0.2"))
    assert Waterfall.of(legacy).should_exit(view(Decimal("0.000019"))).reason is ExitReason.SEVERE_EROSION


def test_the_entry_level_sits_above_the_exit_floor_for_any_positive_cost() -> None:
    config = StrategyConfig()
    instruments = {v: {"BTC": Instrument("BTC", "BTC", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"),
                                         Decimal(5), Decimal(10), timedelta(hours=8), Decimal(0), Decimal(0))}
                   for v in ("long", "short")}  # fmt: skip
    cost = CostModel(config, instruments).round_trip("BTC", "long", "short").total
    assert cost > 0
    hold_hours = Decimal(int(config.hold.total_seconds())) / 3600
    entry_level = config.min_net_apr + cost / hold_hours * HOURS_PER_YEAR  # the lowest gross APR that enters
    exit_floor = ExitRules().exit_apr
    assert exit_floor is not None
    assert entry_level - exit_floor >= Decimal("0.05")  # hysteresis: at least 5 % APR between the two


def test_min_hold_is_not_zero_and_blocks_a_young_position() -> None:
    assert ExitRules().min_hold >= timedelta(hours=8)  # at least one 8-hourly settlement
    assert not Waterfall.of(ExitRules()).should_exit(view(apr("-1"), apr("-1"), age=timedelta(hours=2))).exit


def rate(per_interval: str, due: timedelta) -> FundingRate:
    return FundingRate("BTC", Decimal(per_interval), timedelta(hours=8), NOW + due, Decimal(100))


def test_an_exit_waits_for_a_settlement_that_pays_the_position() -> None:
    rules = Waterfall.of(ExitRules())
    low = apr("0.01")  # below the floor: an exit
    soon_paid = {"long": rate("-0.0001", timedelta(minutes=10)), "short": rate("0.0001", timedelta(hours=3))}
    waiting = rules.should_exit(view(low, low, rates=soon_paid))
    assert not waiting.exit
    assert "waits for the settlement in 10m" in waiting.detail
    later = {"long": rate("-0.0001", timedelta(hours=2)), "short": rate("0.0001", timedelta(hours=3))}
    assert rules.should_exit(view(low, low, rates=later)).exit  # nothing due soon: exit now
    soon_paying = {"long": rate("0.0001", timedelta(minutes=10)), "short": rate("0.0001", timedelta(hours=3))}
    assert rules.should_exit(view(low, low, rates=soon_paying)).exit  # the next settlement costs: exit before it
    assert Waterfall.of(ExitRules(settlement_wait=timedelta(0))).should_exit(view(low, low, rates=soon_paid)).exit
