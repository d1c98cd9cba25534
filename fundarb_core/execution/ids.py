"""The one place that names order intents and stamps client order ids.

Every order fundarb sends belongs to an *intent* — "open the long leg of position P", "close leg V of P, attempt 2"
— whose id is derived from ids already in the store (a position id and its close attempt, an action id). The client
order id of each try is derived from the intent id, a tag and the try's number. After a crash the same intent gives
the same ids, so the executor asks the venue "did this order reach you?" instead of sending it twice.

Close policies and action handlers never build these ids: they describe *what* to send (`CloseLegSpec` without an
`intent_id`), and the executors stamp the intent here.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "client_order_id",
    "close_intent",
    "emergency_round_intent",
    "hedge_intent",
    "open_intent",
    "reduce_fix_intent",
    "reduce_intent",
    "rollback_intent",
]


def client_order_id(intent_id: str, tag: str, attempt: int) -> str:
    """A deterministic client order id for one try of one intent.

    The same (intent, tag, attempt) always gives the same id. 22 characters of [a-z0-9-]: within every venue's id
    rules.
    """
    digest = hashlib.blake2b(f"{intent_id}|{tag}|{attempt}".encode(), digest_size=8).hexdigest()
    return f"fa{digest}-{attempt}"[:36]


def open_intent(position_id: str, venue: str) -> str:
    """One leg of a position's open."""
    return f"{position_id}:open:{venue}"


def hedge_intent(intent_id: str, round_: int) -> str:
    """A hedge round topping up a leg that is behind after an open."""
    return f"{intent_id}:hedge{round_}"


def trim_intent(intent_id: str) -> str:
    """Trimming a leg that got ahead after an open down to the others (when the others could not be topped up)."""
    return f"{intent_id}:trim"


def rollback_intent(intent_id: str, round_: int) -> str:
    """A rollback round closing what an unhedgeable open filled."""
    return f"{intent_id}:rollback{round_}"


def close_intent(position_id: str, attempt: int, venue: str, *, emergency: bool = False) -> str:
    """One leg of a position's close, per close attempt (recorded on the position before any order)."""
    return f"{position_id}:close{attempt}:emergency:{venue}" if emergency else f"{position_id}:close{attempt}:{venue}"


def emergency_round_intent(position_id: str, attempt: int, round_: int, venue: str) -> str:
    """A leg still open after the policy ran, flattened in emergency round `round_`."""
    return f"{position_id}:close{attempt}:e{round_}:{venue}"


def reduce_intent(action_id: str, venue: str) -> str:
    """One leg of a `reduce_size` action."""
    return f"{action_id}:reduce:{venue}"


def reduce_fix_intent(action_id: str, venue: str) -> str:
    """The market top-up that rebalances a leg a reduction shed less of."""
    return f"{action_id}:reduce-fix:{venue}"
