"""Deterministic client order indexes: fundarb's string client ids ↔ Lighter's integer `ClientOrderIndex`.

Lighter identifies a client's order by an integer in [0, 2^48) that must be unique per account, and refuses a
second order with the same index (code 21728). fundarb's client order ids are strings derived from the intent and
the attempt (`fa<16 hex>-<n>`), so the same intent always yields the same index: a re-send after a lost reply is
refused by the venue instead of doubling the position, and a restarted bot finds its orders by recomputing the
index, with no state needed.

The index is the first 48 bits of SHA-256 of the id, mapped into [1, 2^48) (0 is avoided: it reads as "none" in
some of Lighter's messages). The map keeps both directions for every id it has seen, so orders that come back from
the venue (active and inactive orders, the account stream) are named by their client id again; it can persist
itself as a JSON file so that this also works across restarts. Two ids that hash to one index (with n ids the
odds are about n²/2^49: 1 in 5.6 million for 10^4 ids) are detected and refused: sharing an index would be worse.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from fundarb_core.errors import VenueRejected
from fundarb_core.model import RejectReason
from fundarb_venue_lighter.scaling import MAX_CLIENT_ORDER_INDEX

__all__ = ["ClientIndexMap", "client_order_index"]


def client_order_index(client_order_id: str) -> int:
    """Return the deterministic Lighter client order index of a fundarb client order id, in [1, 2^48)."""
    if not client_order_id:
        raise ValueError("a client order id must not be empty")
    digest = hashlib.sha256(client_order_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:6], "big") % MAX_CLIENT_ORDER_INDEX + 1


class ClientIndexMap:
    """Both directions of the client id ↔ index map for the ids this venue has used."""

    def __init__(self, path: Path | None = None, *, venue: str = "lighter") -> None:
        self.venue = venue
        self.path = path
        self._by_index: dict[int, str] = {}
        if path is not None and path.exists():
            for cid in json.loads(path.read_text(encoding="utf-8")):
                self._by_index[client_order_index(cid)] = cid

    def index(self, client_order_id: str) -> int:
        """Return the index of `client_order_id`, remembering it; refuse an id whose index another id holds."""
        index = client_order_index(client_order_id)
        known = self._by_index.get(index)
        if known is None:
            self._by_index[index] = client_order_id
            self._save()
        elif known != client_order_id:
            raise VenueRejected(
                f"client ids {known!r} and {client_order_id!r} map to one client order index {index}",
                venue=self.venue,
                reason=RejectReason.DUPLICATE_CLIENT_ORDER_ID,
            )
        return index

    def peek(self, client_order_id: str) -> int:
        """Return the index of `client_order_id` without remembering it (for look-ups of ids maybe never sent)."""
        return client_order_index(client_order_id)

    def client_id(self, index: int) -> str | None:
        """Return the client id behind `index`, or None for an order this map never saw (placed by someone else)."""
        return self._by_index.get(index)

    def __contains__(self, client_order_id: object) -> bool:
        return isinstance(client_order_id, str) and self._by_index.get(client_order_index(client_order_id)) == (
            client_order_id
        )

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self._by_index.items())

    def __len__(self) -> int:
        return len(self._by_index)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(self._by_index.values())), encoding="utf-8")
        os.replace(tmp, self.path)
