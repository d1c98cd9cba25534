"""Transfers: one per idempotency key, moved through their states in order only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fundarb_core.errors import StoreError
from fundarb_core.model.records import TransferState

TERMS = dict(route="manual", from_venue="aster", to_venue="lighter", asset="USDC", amount=Decimal("250.000001"))


async def test_the_same_key_gives_the_same_transfer(store) -> None:
    first, new1 = await store.transfers.request(idempotency_key="plan-1/move", **TERMS)
    again, new2 = await store.transfers.request(idempotency_key="plan-1/move", **TERMS)
    assert (new1, new2) == (True, False)
    assert again == first
    assert first.state is TransferState.REQUESTED
    assert first.amount == Decimal("250.000001")
    assert await store.transfers.get_by_key("plan-1/move") == first
    with pytest.raises(StoreError, match="already names a different transfer"):
        await store.transfers.request(idempotency_key="plan-1/move", **{**TERMS, "amount": Decimal(1)})


async def test_states_move_forward_only(store) -> None:
    transfer, _ = await store.transfers.request(idempotency_key="k", **TERMS)
    await store.transfers.set_state(transfer.id, TransferState.AWAITING_APPROVAL)
    submitted = await store.transfers.set_state(transfer.id, TransferState.SUBMITTED, reference="0xabc")
    assert submitted.reference == "0xabc"
    assert [t.id for t in await store.transfers.list_unfinished()] == [transfer.id]
    with pytest.raises(StoreError, match="is submitted; it cannot become cancelled"):
        await store.transfers.set_state(transfer.id, TransferState.CANCELLED)
    confirmed = await store.transfers.set_state(transfer.id, TransferState.CONFIRMED)
    assert confirmed.state.final
    assert confirmed.reference == "0xabc"
    assert await store.transfers.set_state(transfer.id, TransferState.CONFIRMED) == confirmed  # repeat: no-op
    with pytest.raises(StoreError, match=r"allowed: nothing \(final\)"):
        await store.transfers.set_state(transfer.id, TransferState.FAILED)
    assert await store.transfers.list_unfinished() == []


async def test_bad_requests(store) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        await store.transfers.request(idempotency_key="k", **{**TERMS, "amount": Decimal(0)})
    with pytest.raises(StoreError, match="no transfer"):
        await store.transfers.set_state("nope", TransferState.FAILED)
