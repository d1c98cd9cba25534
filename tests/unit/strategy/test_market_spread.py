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
