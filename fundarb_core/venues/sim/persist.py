"""Save and restore a simulated venue's state, so a paper run stopped and started again finds its positions.

The price world is not saved: it is re-derived from its seed and start. Written atomically (temp file + rename).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any, Protocol

from fundarb_core.convert import get_converter
from fundarb_core.venues._types import FundingPayment, LiquidationNotice
from fundarb_core.venues.sim.book import SimOrder
from fundarb_core.venues.sim.ledger import Ledger, SimPosition
from fundarb_core.venues.sim.world import SimWorld

__all__ = ["VERSION", "SimState", "load", "save", "world_start"]

VERSION = 1


class SimState(Protocol):
    """What is saved of a simulated venue: `SimVenue` has these attributes (this module does not import it)."""

    name: str
    world: SimWorld
    ledger: Ledger
    orders: dict[str, SimOrder]
    resting: list[str]
    payments: list[FundingPayment]
    liquidation_log: list[LiquidationNotice]
    last_step: int
    flow_rng: Random
    fault_rng: Random
    transfers: dict[str, dict[str, str]]
    _seq: int


def _rng_state(state: tuple[Any, ...]) -> list[Any]:
    return [state[0], list(state[1]), state[2]]


def _rng_restore(data: list[Any]) -> tuple[Any, ...]:
    return (data[0], tuple(data[1]), data[2])


def save(venue: SimState, path: Path) -> None:
    conv = get_converter()
    ledger = venue.ledger
    state = {
        "version": VERSION,
        "venue": venue.name,
        "world_seed": venue.world.seed,
        "world_start": venue.world.start.isoformat(),
        "last_step": venue.last_step,
        "seq": venue._seq,
        "cash": str(ledger.cash),
        "house_cash": str(ledger.house_cash),
        "positions": conv.unstructure(ledger.positions),
        "house_positions": conv.unstructure(ledger.house_positions),
        "leverage": {k: str(v) for k, v in ledger.leverage.items()},
        "orders": [conv.unstructure(o) for o in venue.orders.values()],
        "resting": list(venue.resting),
        "payments": [conv.unstructure(p) for p in venue.payments],
        "liquidations": [conv.unstructure(n) for n in venue.liquidation_log],
        "flow_rng": _rng_state(venue.flow_rng.getstate()),
        "fault_rng": _rng_state(venue.fault_rng.getstate()),
        "transfers": venue.transfers,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def world_start(path: Path) -> datetime | None:
    """The world start recorded in a saved state, so a restarted run re-derives the same prices."""
    if not path.exists():
        return None
    return datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["world_start"])


def load(venue: SimState, path: Path) -> None:
    conv = get_converter()
    state = json.loads(path.read_text(encoding="utf-8"))
    if state.get("version") != VERSION:
        raise ValueError(f"{path}: unsupported sim state version {state.get('version')}")
    ledger = venue.ledger
    ledger.cash = Decimal(state["cash"])
    ledger.house_cash = Decimal(state["house_cash"])
    ledger.positions = conv.structure(state["positions"], dict[str, SimPosition])
    ledger.house_positions = conv.structure(state["house_positions"], dict[str, SimPosition])
    ledger.leverage = {k: Decimal(v) for k, v in state["leverage"].items()}
    venue.orders = {o["client_order_id"]: conv.structure(o, SimOrder) for o in state["orders"]}
    venue.resting = list(state["resting"])
    venue.payments = [conv.structure(p, FundingPayment) for p in state["payments"]]
    venue.liquidation_log = [conv.structure(n, LiquidationNotice) for n in state["liquidations"]]
    # The saved step, not now: the steps since (funding, resting fills, liquidations) are replayed on the next call,
    # so a stopped-and-restarted venue ends where an uninterrupted one would.
    venue.last_step = int(state["last_step"])
    venue._seq = int(state["seq"])
    venue.flow_rng.setstate(_rng_restore(state["flow_rng"]))
    venue.fault_rng.setstate(_rng_restore(state["fault_rng"]))
    venue.transfers = {k: dict(v) for k, v in state.get("transfers", {}).items()}
