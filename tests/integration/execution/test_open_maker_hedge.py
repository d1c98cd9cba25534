"""The `maker_hedge` open: the costlier leg posts as maker, the other is hedged by market orders as it fills."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs

from fundarb_core.model import Side
from fundarb_core.venues.sim import FaultConfig, SimVenueConfig
from tests.integration.execution.harness import CheckedSimVenue, Market


class _Watched(CheckedSimVenue):
    """Notes, at each market order, what the other venue holds (the maker leg the order hedges)."""

    peer: CheckedSimVenue | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.peer_at_market: list[tuple[Decimal, Decimal]] = []  # (peer's position, this order's quantity)

    async def place_market_order(self, symbol, side, quantity, **kw):  # type: ignore[no-untyped-def,override]
        assert self.peer is not None
        self.peer.sync()
        self.peer_at_market.append((self.peer.ledger.position(symbol).qty, quantity))
        return await super().place_market_order(symbol, side, quantity, **kw)


def _market(seed: int = 3, **lighter: Any) -> Market:
    market = Market(
        seed=seed,
        configs={
            "aster": SimVenueConfig(profile="aster-like", seed=3, **lighter.pop("aster", {})),
            "lighter": SimVenueConfig(profile="lighter-like", seed=3, **lighter),
        },
        venue_cls={"lighter": _Watched},
    )
    watched = market.venues["lighter"]
    assert isinstance(watched, _Watched)
    watched.peer = market.venues["aster"]
    return market


def _hedge_never_leads(market: Market) -> None:
    """Every hedge order leaves the hedge leg no larger than what the maker leg held when it was sent."""
    watched = market.venues["lighter"]
    assert isinstance(watched, _Watched)
    hedged = Decimal(0)
    for peer_qty, qty in watched.peer_at_market:
        hedged += qty
        assert hedged <= abs(peer_qty), (watched.peer_at_market, hedged)


def test_the_costlier_leg_posts_as_maker_and_the_other_is_hedged_at_market() -> None:
    market = _market()
    qty = Decimal("0.05")
    result = market.run(market.atomic.open(market.pair_specs("BTC", qty), mode="maker_hedge"))
    assert result.ok, result.error
    aster, lighter = result.results  # aster-like (3.5 bp taker fee) is where taking costs most: it posts
    assert aster.filled_qty == qty
    assert aster.maker_qty == qty
    assert lighter.filled_qty == qty
    assert lighter.maker_qty == 0
    assert {s.kind for s in market.venues["aster"].sent} == {"limit"}
    assert {s.kind for s in market.venues["lighter"].sent} == {"market"}
    assert market.position("aster", "BTC") == qty
    assert market.position("lighter", "BTC") == -qty
    _hedge_never_leads(market)


def test_the_maker_leg_is_chosen_by_cost_not_by_side() -> None:
    market = _market()
    qty = Decimal("0.05")
    long_lighter, short_aster = reversed(market.pair_specs("BTC", qty))
    specs = [attrs.evolve(long_lighter, side=Side.BUY), attrs.evolve(short_aster, side=Side.SELL)]
    result = market.run(market.atomic.open(specs, mode="maker_hedge"))
    assert result.ok, result.error
    assert {s.kind for s in market.venues["aster"].sent} == {"limit"}
    assert {s.kind for s in market.venues["lighter"].sent} == {"market"}
    assert market.position("aster", "BTC") == -qty
    assert market.position("lighter", "BTC") == qty


def test_partial_maker_fills_are_hedged_as_they_come() -> None:
    # A thin book: the flow fills the maker leg a piece at a time (in this world it does not cross it at once).
    thin = {"liquidity": Decimal("0.05"), "starting_balance": Decimal(10**6)}
    market = _market(8, **thin, aster=thin)
    qty = Decimal(1)
    specs = market.pair_specs("BTC", qty, timeout=timedelta(minutes=5))
    result = market.run(market.atomic.open(specs, mode="maker_hedge"))
    assert result.ok, result.error
    watched = market.venues["lighter"]
    assert isinstance(watched, _Watched)
    assert len(watched.peer_at_market) >= 3, "the maker leg filled in pieces, each hedged"
    _hedge_never_leads(market)
    assert market.position("aster", "BTC") == -market.position("lighter", "BTC") == qty


def test_a_maker_leg_that_cannot_fill_leaves_both_legs_flat() -> None:
    market = _market(aster={"faults": FaultConfig(reject_probability=Decimal(1))})
    result = market.run(market.atomic.open(market.pair_specs("BTC", Decimal("0.05")), mode="maker_hedge"))
    assert not result.ok
    assert result.flat
    assert market.venues["lighter"].sent == []
    assert market.position("aster", "BTC") == market.position("lighter", "BTC") == 0


def test_a_partial_maker_fill_is_hedged_while_its_order_still_works() -> None:
    # The touch is never re-priced here: the maker order works until it is filled. Its partial fills must be hedged
    # as they are seen, not once the order ends (which would leave the filled part naked all that time).
    thin = {"liquidity": Decimal("0.05"), "starting_balance": Decimal(10**6)}
    market = _market(8, **thin, aster=thin)
    qty = Decimal(1)
    specs = market.pair_specs("BTC", qty, timeout=timedelta(minutes=5), reprice_interval=timedelta(hours=1))
    result = market.run(market.atomic.open(specs, mode="maker_hedge"))
    assert result.ok, result.error
    watched = market.venues["lighter"]
    assert isinstance(watched, _Watched)
    assert any(abs(peer) < qty for peer, _ in watched.peer_at_market), watched.peer_at_market
    _hedge_never_leads(market)
    assert market.position("aster", "BTC") == -market.position("lighter", "BTC") == qty
