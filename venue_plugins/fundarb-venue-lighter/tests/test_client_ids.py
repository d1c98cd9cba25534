"""Client order indexes: deterministic, below 2^48, mapped both ways, persisted, collisions refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fundarb_venue_lighter.client_ids import ClientIndexMap, client_order_index
from hypothesis import given
from hypothesis import strategies as st

from fundarb_core.errors import VenueRejected
from fundarb_core.model import RejectReason

core_ids = st.builds(
    lambda h, n: f"fa{h:016x}-{n}", st.integers(0, 2**64 - 1), st.integers(0, 10_000)
)  # the core's ids: fa<16 hex>-<attempt>


@given(cid=st.one_of(core_ids, st.text(min_size=1, max_size=80)))
def test_the_index_is_deterministic_and_in_range(cid: str) -> None:
    index = client_order_index(cid)
    assert 1 <= index < 2**48
    assert client_order_index(cid) == index
    assert ClientIndexMap().index(cid) == index  # a fresh map (a restarted bot) computes the same index


@given(cids=st.lists(core_ids, min_size=1, max_size=50, unique=True))
def test_the_map_names_every_index_by_its_client_id(cids: list[str]) -> None:
    ids = ClientIndexMap()
    indexes = [ids.index(c) for c in cids]
    assert len(set(indexes)) == len(cids)
    for cid, index in zip(cids, indexes, strict=True):
        assert ids.client_id(index) == cid
        assert cid in ids
    assert len(ids) == len(cids)


def test_attempts_of_one_intent_get_different_indexes() -> None:
    assert client_order_index("fa0123456789abcdef-1") != client_order_index("fa0123456789abcdef-2")


def test_the_map_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    ClientIndexMap(path).index("fa0123456789abcdef-1")
    again = ClientIndexMap(path)
    assert again.client_id(client_order_index("fa0123456789abcdef-1")) == "fa0123456789abcdef-1"


def test_a_collision_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from fundarb_venue_lighter import client_ids

    monkeypatch.setattr(client_ids, "client_order_index", lambda cid: 42)
    ids = ClientIndexMap()
    assert ids.index("a-1") == 42
    assert ids.index("a-1") == 42
    with pytest.raises(VenueRejected) as info:
        ids.index("b-1")
    assert info.value.reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID
