"""The hot paths' `evolve` is `attrs.evolve`: the same copy for valid changes, the same error for invalid ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fundarb_core.model import ExitReason, PositionStatus, Side
from fundarb_core.model._evolve import checks_fields_alone, evolve
from fundarb_core.model.records import LegRecord, PositionRecord
from fundarb_core.model.state import PositionState

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LEGS = (LegRecord("l1", "p", "a", Side.BUY, Decimal(1)), LegRecord("l2", "p", "b", Side.SELL, Decimal(1)))
POSITION = PositionRecord(
    "p", "BTC", PositionStatus.OPEN, "a", "b", Decimal(100), legs=LEGS, created_at=NOW, updated_at=NOW
)

# Each field's candidates: valid values and values its converter or validator refuses (a float, NaN, a naive time).
moments = st.sampled_from(
    [NOW, NOW.astimezone(timezone(timedelta(hours=2))), NOW.replace(tzinfo=None), "2026-01-01", None]
)
money = st.sampled_from([Decimal("1.5"), Decimal("-0E-8"), Decimal("NaN"), 1.5, None, "1"])
CHANGES: dict[str, Any] = {
    "id": st.sampled_from(["q", 3]),
    "symbol": st.sampled_from(["ETH", None]),
    "long_venue": st.sampled_from(["c", ""]),
    "created_at": moments,
    "version": st.integers(0, 5),
    "status": st.sampled_from(list(PositionStatus)),
    "notional_usd": money,
    "entry_spread": money,
    "realized_pnl": money,
    "updated_at": moments,
    "opened_at": moments,
    "closed_at": moments,
    "exit_reason": st.sampled_from([None, *ExitReason]),
    "legs": st.sampled_from([LEGS, list(LEGS), ()]),
    "state": st.sampled_from([PositionState(), {"net_apr": "0.1"}, None, {"marks": 3}]),
}


def _outcome(make: Any) -> Any:
    try:
        return make()
    except Exception as exc:  # the same type and message is what must match
        return (type(exc), str(exc))


@given(st.dictionaries(st.sampled_from(sorted(CHANGES)), st.none(), min_size=1).flatmap(
    lambda keys: st.fixed_dictionaries({k: CHANGES[k] for k in keys})
))  # fmt: skip
def test_a_position_copy_equals_attrs_evolve_and_fails_alike(changes: dict[str, Any]) -> None:
    mine, theirs = _outcome(lambda: evolve(POSITION, **changes)), _outcome(lambda: attrs.evolve(POSITION, **changes))
    assert mine == theirs
    if isinstance(mine, PositionRecord):
        assert type(mine.legs) is tuple
        assert attrs.asdict(mine, recurse=False) == attrs.asdict(theirs, recurse=False)
        assert hash(mine) == hash(theirs)


@given(
    marks=st.dictionaries(st.sampled_from("ab"), st.sampled_from([Decimal(1), None])),
    spread=st.sampled_from([None, Decimal("0.0001")]),
)
def test_a_state_copy_equals_attrs_evolve(marks: dict[str, Decimal | None], spread: Decimal | None) -> None:
    state = PositionState(net_apr=Decimal("0.2")).update(note="kept")
    assert evolve(state, marks=marks, current_spread=spread) == attrs.evolve(state, marks=marks, current_spread=spread)


@given(st.sampled_from(sorted(CHANGES)))
def test_the_fields_a_copy_does_not_change_are_the_very_same_objects(changed: str) -> None:
    """`update_many` tells a marks-only write by identity: a copy keeps every other field's object, as attrs does."""
    value = {"version": 7, "status": PositionStatus.CLOSING}.get(changed, getattr(POSITION, changed))
    copy = evolve(POSITION, **{changed: value})
    for field in attrs.fields(PositionRecord):
        if field.name != changed:
            assert getattr(copy, field.name) is getattr(POSITION, field.name)


def test_with_validators_off_a_copy_is_not_checked_as_attrs_does_not_check_it() -> None:
    with attrs.validators.disabled():
        mine, theirs = evolve(POSITION, notional_usd=1.5), attrs.evolve(POSITION, notional_usd=1.5)
    assert mine == theirs
    assert mine.notional_usd == 1.5


def test_an_unknown_field_is_refused_as_attrs_refuses_it() -> None:
    with pytest.raises(TypeError):
        evolve(POSITION, colour="red")


def test_a_class_that_does_not_declare_its_checks_field_by_field_goes_through_attrs() -> None:
    """A validator that reads another field (`hi` ≥ `lo`) must see the copy's `lo`: only attrs.evolve runs it."""

    def _not_below_lo(instance: Any, _: Any, value: int) -> None:
        if value < instance.lo:
            raise ValueError("hi below lo")

    @attrs.frozen
    class Range:
        lo: int
        hi: int = attrs.field(validator=_not_below_lo)

    with pytest.raises(ValueError, match="hi below lo"):
        evolve(Range(0, 5), lo=10)
    assert evolve(Range(0, 5), lo=3) == Range(3, 5)


def test_a_declared_class_with_an_init_hook_still_goes_through_attrs() -> None:
    calls = []

    @checks_fields_alone
    @attrs.frozen
    class Hooked:
        x: int = 0

        def __attrs_post_init__(self) -> None:
            calls.append(self.x)

    assert evolve(Hooked(1), x=2) == Hooked(2)
    assert calls == [1, 2, 2]  # the hook ran for the copy too
