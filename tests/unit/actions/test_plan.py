"""Plans: steps, parallel groups, explicit dependencies, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fundarb_core.actions import ActionPlan, RebalanceAction, as_plan


def a(name: str, **kwargs: object) -> RebalanceAction:
    return RebalanceAction(name, "pos", "why", **kwargs)  # type: ignore[arg-type]


def test_steps_wait_for_the_whole_previous_step() -> None:
    plan = ActionPlan.of(a("close"), [a("t1"), a("t2")], a("reopen"))
    planned = plan.planned("p")
    assert [p.id for p in planned] == ["p.0", "p.1", "p.2", "p.3"]
    assert [p.depends_on for p in planned] == [(), ("p.0",), ("p.0",), ("p.1", "p.2")]
    assert {p.reason for p in planned} == {"why"}


def test_after_names_dependencies_by_key() -> None:
    plan = ActionPlan.of(a("close", key="c"), a("t", key="t"), a("reopen", after=("c",)), a("free", after=()))
    assert [p.depends_on for p in plan.planned("p")] == [(), ("p.0",), ("p.0",), ()]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((a("x", key="k"), a("y", key="k")), "key 'k' is used twice"),
        ((a("x", after=("nope",)),), "unknown key"),
        ((a("x", key="self", after=("self",)),), "waits for itself"),
        ((a("x", after=("later",)), a("y", key="later")), "later in the plan"),
    ],
)
def test_bad_dependencies_are_refused(steps: tuple[RebalanceAction, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ActionPlan.of(*steps).planned("p")


def test_what_generate_actions_may_return() -> None:
    assert not as_plan(None)
    assert not as_plan([])
    assert len(as_plan([a("x"), a("y")])) == 2
    assert as_plan([a("x"), a("y")]).planned("p")[1].depends_on == ("p.0",)  # a list runs in order
    with pytest.raises(TypeError):
        as_plan({"action_type": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        RebalanceAction("")
    with pytest.raises(ValueError, match="at least one action"):
        ActionPlan.of([])


@given(st.lists(st.integers(1, 4), min_size=1, max_size=6))
def test_every_dependency_points_backwards_and_the_previous_step_is_covered(sizes: list[int]) -> None:
    steps = [[a(f"s{i}a{j}") for j in range(n)] for i, n in enumerate(sizes)]
    planned = ActionPlan.of(*steps).planned("p")
    seq = {p.id: int(p.id.split(".")[1]) for p in planned}
    index = 0
    previous: list[str] = []
    for n in sizes:
        current = [planned[index + j].id for j in range(n)]
        for pid in current:
            action = next(p for p in planned if p.id == pid)
            assert set(action.depends_on) == set(previous)
            assert all(seq[d] < seq[pid] for d in action.depends_on)
        previous, index = current, index + n
