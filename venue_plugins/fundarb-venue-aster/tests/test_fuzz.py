"""The fuzz suite: hostile replies of the fake Aster, drawn by hypothesis, through the public Venue methods.

Each example arms one mutation of one reply (a JSON tree mutation: type swap, null, NaN/Infinity literal, huge int,
deletion, deep nesting, ...; a whole-body replacement: HTML, empty, truncated, binary, deep; a status code with or
without an Aster body; a transport fault: disconnect, truncated body, short body) and calls one Venue method. The
rule: no untyped exception, no absurd value accepted, no order Aster holds reported as failed.

Size: 200 examples in CI (about 10 s); more with `ASTER_FUZZ_EXAMPLES=N` or the hypothesis profile `aster-fuzz`
(`pytest --hypothesis-profile=aster-fuzz`, 12,000 examples). Counts per method are printed at the end (`-s`) and
written as JSON to `$ASTER_FUZZ_REPORT` when set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from fundarb_venue_aster.testing.mutate import BODIES, STATUSES, TRANSPORT, TREE_OPS, Mutation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .fuzz_harness import METHODS, Harness

settings.register_profile("aster-fuzz", max_examples=12_000, deadline=None)
_CI_EXAMPLES = 200


def _examples() -> int:
    explicit = os.environ.get("ASTER_FUZZ_EXAMPLES")
    if explicit:
        return int(explicit)
    current = settings.default.max_examples
    return current if current > 1000 else _CI_EXAMPLES  # a large profile was loaded: honour it


_nth = st.sampled_from([0, 0, 0, 0, 0, 1, 2])  # mostly the call's first request; later ones too
MUTATIONS = st.one_of(
    st.builds(Mutation, st.just("tree"), st.sampled_from(TREE_OPS), nth=_nth, node=st.integers(0, 300)),
    st.builds(Mutation, st.just("body"), st.sampled_from(sorted(BODIES)), nth=_nth),
    st.builds(Mutation, st.just("status"), st.sampled_from(sorted(STATUSES)), nth=_nth),
    st.builds(Mutation, st.just("transport"), st.sampled_from(TRANSPORT), nth=_nth),
)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    fuzz = Harness(report=os.environ.get("ASTER_FUZZ_REPORT"))
    yield fuzz
    fuzz.close()
    print("\naster fuzz outcomes:", json.dumps(fuzz.totals(), indent=1))
    if fuzz.report is not None:
        fuzz.write_report(fuzz.report)


@settings(
    max_examples=_examples(),
    deadline=None,
    derandomize=os.environ.get("ASTER_FUZZ_EXAMPLES") is None,  # CI: the same examples every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(method=st.sampled_from(METHODS), mutation=MUTATIONS)
def test_hostile_replies_give_typed_errors_or_sane_values(harness: Harness, method: str, mutation: Mutation) -> None:
    outcome = harness.run(method, mutation)
    assert not outcome.startswith("untyped"), f"{method} {mutation}: {outcome}"
    assert not outcome.startswith("absurd"), f"{method} {mutation}: {outcome}"
