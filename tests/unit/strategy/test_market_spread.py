"""`Market.spread` works out each rate's hourly figure once per rate object, and again for a new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fundarb_core.strategy.market import Market
from fundarb_core.venues import FundingRate

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _rate(rate: str, hours: int = 8) -> FundingRate:
    return FundingRate(
        symbol="BTC", rate=Decimal(rate), interval=timedelta(hours=hours), next_funding_time=AT,
        mark_price=Decimal(60000),
    )  # fmt: skip


def test_spread_follows_new_rates_and_refuses_implausible_ones() -> None:
    market = Market(gateway=None)  # type: ignore[arg-type]  # spread reads the rates only
    market.rates = {"a": {"BTC": _rate("0.0008")}, "b": {"BTC": _rate("0.0001", hours=1)}}
    assert market.spread("BTC", "b", "a") == Decimal("0.0001") - Decimal("0.0001")
    assert market.spread("BTC", "a", "b") == 0
    market.rates = {"a": {"BTC": _rate("0.0016")}, "b": market.rates["b"]}  # a new tick's rate for "a"
    assert market.spread("BTC", "b", "a") == Decimal("0.0001")
    market.rates["a"] = {"BTC": _rate("5")}  # 62.5 % an hour: a unit mistake, not a market
    assert market.spread("BTC", "b", "a") is None
    market.rates["a"] = {"BTC": _rate("0.0016")}
    assert market.spread("BTC", "b", "a") == Decimal("0.0001")
    assert market.spread("BTC", "b", "c") is None


def test_absurd_prices_are_unusable_and_no_cost_part_overflows_on_them() -> None:
    """A price of 1E-999999 (found by the bad-data property test) made the basis 10 / 1E-999999 overflow the
    Decimal context: such a price is unusable, like a negative one, and the cost parts fall back as for one."""
    from fundarb_core.strategy.costs import CostModel
    from fundarb_core.strategy.market import rate_problem, usable_price

    for absurd in ("1E-999999", "1e-13", "1e13", "1E+999999"):
        assert usable_price(Decimal(absurd)) is None
    for plausible in ("1e-12", "0.00000812", "60000", "1e12"):
        assert usable_price(Decimal(plausible)) == Decimal(plausible)
    assert CostModel.basis(Decimal(10), Decimal("1E-999999")) == 0
    assert CostModel.basis(Decimal("1E+999999"), Decimal(10)) == 0
    tiny = FundingRate(
        symbol="BTC", rate=Decimal("0.0001"), interval=timedelta(hours=8), next_funding_time=AT,
        mark_price=Decimal("1E-999999"),
    )  # fmt: skip
    assert rate_problem(tiny) is not None
