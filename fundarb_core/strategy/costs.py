"""The cost model: what one round trip of a pair (open both legs, close both legs) is expected to cost.

All parts are fractions of the notional of one leg:

- **fees**: four fills, each priced at `maker_share × maker fee + (1 − maker_share) × taker fee` of its venue. The
  open's maker share is learnt from the stored opens' telemetry (else `[strategy] maker_share`); the close's likewise
  from stored closes, and 0 under a market-only close policy. A venue whose fees are unknown is priced at its taker
  rate, or at `UNKNOWN_FEE` when that is unknown too — never at 0 — with a warning.
- **crossing**: the half-spread of each leg's book, paid by every fill that is not a maker's (live books where read,
  else `[strategy] half_spread_bps`).
- **slippage**: per fill, the average adverse slippage measured against the mid in stored telemetry (at least
  `MIN_SAMPLES` executions) beyond the crossing above, else `[strategy] slippage_bps`.
- **basis**: the long leg's price above the short leg's (mids, or marks without books), paid at entry when the basis
  converges; a basis in our favour is not counted.
- **transfer**: `[strategy] transfer_cost_usd` per round trip, when the exit plan moves funds between venues.
- **settlement**: funding the pair would pay at settlements within `[strategy] settlement_window` from now (a leg that
  pays minutes after entry), at the current rates.

No input raises: a book or rate that is not usable falls back to the configured assumptions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from loguru import logger

from fundarb_core.config import StrategyConfig
from fundarb_core.strategy.market import usable_hourly, usable_price
from fundarb_core.venues import BBO, FundingRate, Instrument

__all__ = ["UNKNOWN_FEE", "Cost", "CostModel", "usable_book"]

ZERO = Decimal(0)
BPS = Decimal(10_000)
UNKNOWN_FEE = Decimal("0.0005")  # 5 bp: a common base-tier taker fee, charged when a venue tells us nothing
MIN_SAMPLES = 5  # executions before learnt figures replace the configured ones
_LEARN_FROM = 200  # the most recent open and close events read


@attrs.frozen
class Cost:
    """A round trip's expected cost by part (fractions of one leg's notional)."""

    fees: Decimal = ZERO
    crossing: Decimal = ZERO
    slippage: Decimal = ZERO
    basis: Decimal = ZERO
    transfer: Decimal = ZERO
    settlement: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.fees + self.crossing + self.slippage + self.basis + self.transfer + self.settlement

    @property
    def bps(self) -> Decimal:
        return self.total * BPS


def usable_book(book: object) -> bool:
    """Whether `book` has a finite positive bid and ask, not crossed."""
    bid, ask = usable_price(getattr(book, "bid", None)), usable_price(getattr(book, "ask", None))
    return bid is not None and ask is not None and ask >= bid


def _mean(values: list[tuple[Decimal, Decimal]]) -> Decimal | None:
    weight = sum((w for _, w in values), ZERO)
    if len(values) < MIN_SAMPLES or weight <= 0:
        return None
    return sum((v * w for v, w in values), ZERO) / weight


def _number(value: object) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (ArithmeticError, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


class CostModel:
    """Expected round-trip costs per pair and size; see the module docstring."""

    def __init__(
        self,
        config: StrategyConfig,
        instruments: Mapping[str, Mapping[str, Instrument]],
        *,
        close_market_only: bool = False,
        transfers: bool = False,
    ) -> None:
        self.config = config
        self.instruments = instruments
        self.close_market_only = close_market_only
        self.transfers = transfers
        self.learnt_open_maker: Decimal | None = None
        self.learnt_close_maker: Decimal | None = None
        self.learnt_slippage_bps: Decimal | None = None
        self._warned: set[tuple[str, str]] = set()
        # Per event kind: the last event id read and the latest events' data (`learn_from` reads only what is new).
        self._read: dict[str, tuple[int | None, deque[Mapping[str, Any]]]] = {}
        self._learnt_at: tuple[int | None, ...] | None = None  # the last ids the learnt figures come from (see below)
        self._fees: dict[tuple[str, str, str, Decimal, Decimal], tuple[object, object, Decimal]] = {}

    # -- the parts ---------------------------------------------------------------------------------------------

    @property
    def open_maker_share(self) -> Decimal:
        return self.learnt_open_maker if self.learnt_open_maker is not None else self.config.maker_share

    @property
    def close_maker_share(self) -> Decimal:
        if self.close_market_only:
            return ZERO
        return self.learnt_close_maker if self.learnt_close_maker is not None else self.config.maker_share

    def fee_rates(self, venue: str, symbol: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates of one instrument; unknown ones priced conservatively, with a warning."""
        instrument = self.instruments.get(venue, {}).get(symbol)
        maker = getattr(instrument, "maker_fee", None)
        taker = getattr(instrument, "taker_fee", None)
        maker = maker if isinstance(maker, Decimal) and maker.is_finite() else None
        taker = taker if isinstance(taker, Decimal) and taker.is_finite() else None
        if maker is None or taker is None:
            if (venue, symbol) not in self._warned:
                self._warned.add((venue, symbol))
                logger.bind(venue=venue, symbol=symbol).warning(
                    "fee rates unknown (maker {}, taker {}): pricing every fill at the taker rate", maker, taker
                )
            taker = taker if taker is not None else max(maker or ZERO, UNKNOWN_FEE)
            maker = taker
        return maker, taker

    def _fill_fee(self, venue: str, symbol: str, maker_share: Decimal) -> Decimal:
        maker, taker = self.fee_rates(venue, symbol)
        return maker_share * maker + (1 - maker_share) * taker

    def fees(self, symbol: str, long_venue: str, short_venue: str) -> Decimal:
        """The round trip's fee part alone (what `round_trip` charges as `fees`; the other parts are all ≥ 0)."""
        m_open, m_close = self.open_maker_share, self.close_maker_share
        long_i = self.instruments.get(long_venue, {}).get(symbol)
        short_i = self.instruments.get(short_venue, {}).get(symbol)
        key = (symbol, long_venue, short_venue, m_open, m_close)
        cached = self._fees.get(key)
        # Kept while the maker shares (in the key) and the instruments (frozen: new fees, new object) are the same.
        if cached is not None and cached[0] is long_i and cached[1] is short_i:
            return cached[2]
        fees = ZERO
        for venue in (long_venue, short_venue):
            fees += self._fill_fee(venue, symbol, m_open) + self._fill_fee(venue, symbol, m_close)
        if len(self._fees) > 100_000:
            self._fees.clear()
        self._fees[key] = (long_i, short_i, fees)
        return fees

    def half_spread(self, book: BBO | None) -> Decimal:
        """The book's half-spread as a fraction of its mid, or the configured one without a usable book."""
        default = self.config.half_spread_bps / BPS
        if book is None:
            return default
        bid, ask = usable_price(getattr(book, "bid", None)), usable_price(getattr(book, "ask", None))
        if bid is None or ask is None or ask < bid:
            return default
        return (ask - bid) / (ask + bid)

    @staticmethod
    def basis(long_price: object, short_price: object) -> Decimal:
        """The long leg's price above the short one's, as a fraction (≥ 0: a basis in our favour is free)."""
        long_p, short_p = usable_price(long_price), usable_price(short_price)
        if long_p is None or short_p is None:
            return ZERO
        return max(long_p / short_p - 1, ZERO)

    def settlement(
        self, long_rate: FundingRate | None, short_rate: FundingRate | None, now: datetime | None
    ) -> Decimal:
        """Funding the pair pays (≥ 0) at settlements within the window from `now`, at the current rates."""
        window = self.config.settlement_window
        if now is None or window.total_seconds() <= 0:
            return ZERO
        received = ZERO
        for rate, sign in ((long_rate, -1), (short_rate, 1)):
            if rate is None:
                continue
            try:
                due = rate.next_funding_time - now
                per_interval = rate.rate
            except (AttributeError, TypeError, OverflowError):
                continue
            if usable_hourly(per_interval, rate.interval) is None or not (due.total_seconds() >= 0 and due <= window):
                continue
            received += sign * per_interval
        return max(-received, ZERO)

    # -- the whole -------------------------------------------------------------------------------------------

    def round_trip(
        self,
        symbol: str,
        long_venue: str,
        short_venue: str,
        *,
        notional: Decimal | None = None,
        long_price: object = None,
        short_price: object = None,
        books: Mapping[str, BBO] | None = None,
        rates: Mapping[str, FundingRate] | None = None,
        now: datetime | None = None,
    ) -> Cost:
        """The expected cost of opening and closing `notional` of the pair (default: the configured size)."""
        books = {v: b for v, b in (books or {}).items() if usable_book(b)}
        m_open, m_close = self.open_maker_share, self.close_maker_share
        fees = self.fees(symbol, long_venue, short_venue)
        crossing = (self.half_spread(books.get(long_venue)) + self.half_spread(books.get(short_venue))) * (
            (1 - m_open) + (1 - m_close)
        )
        if self.learnt_slippage_bps is not None:  # measured against the mid: what is beyond the crossing
            slippage = max(4 * self.learnt_slippage_bps / BPS - crossing, ZERO)
        else:
            slippage = 4 * self.config.slippage_bps / BPS
        long_book, short_book = books.get(long_venue), books.get(short_venue)
        if long_book is not None and short_book is not None:
            basis = self.basis(getattr(long_book, "mid", None), getattr(short_book, "mid", None))
        else:
            basis = self.basis(long_price, short_price)
        size = usable_price(notional) or self.config.position_size_usd
        transfer = self.config.transfer_cost_usd / size if self.transfers else ZERO
        rates = rates or {}
        settlement = self.settlement(rates.get(long_venue), rates.get(short_venue), now)
        return Cost(fees, crossing, slippage, basis, transfer, settlement)

    # -- learning from what the store measured -----------------------------------------------------------------

    def learn(self, opened: list[Mapping[str, Any]], closed: list[Mapping[str, Any]]) -> None:
        """Learn maker shares and slippage from stored opens' and closes' telemetry (event data dictionaries)."""
        self._learnt_at = None  # learnt from these events, whatever `learn_from` read last
        slips: list[tuple[Decimal, Decimal]] = []
        for events, attr in ((opened, "learnt_open_maker"), (closed, "learnt_close_maker")):
            shares: list[tuple[Decimal, Decimal]] = []
            for data in events:
                telemetry = data.get("telemetry") if isinstance(data, Mapping) else None
                if not isinstance(telemetry, Mapping):
                    continue
                share, slip = _number(telemetry.get("maker_share")), _number(telemetry.get("slippage_bps"))
                if share is not None and 0 <= share <= 1:
                    shares.append((share, Decimal(1)))
                if slip is not None and abs(slip) < 1000:
                    slips.append((slip, Decimal(1)))
            learnt = _mean(shares)
            if learnt is not None:
                setattr(self, attr, learnt)
        learnt_slip = _mean(slips)
        if learnt_slip is not None:
            self.learnt_slippage_bps = max(learnt_slip, ZERO)

    async def learn_from(self, store: Any) -> None:
        """Read the most recent opens' and closes' telemetry from the store's events and learn from it (the first
        call reads the last `_LEARN_FROM` of each; later ones only the events appended since)."""
        data = []
        for kind in ("position_opened", "position_closed"):
            last_id, kept = self._read.get(kind, (None, deque(maxlen=_LEARN_FROM)))
            if last_id is None:
                new = list(reversed(await store.events.recent(_LEARN_FROM, kind=kind)))
            else:
                new = await store.events.list(kind=kind, after_id=last_id, limit=_LEARN_FROM)
                while len(new) == _LEARN_FROM:  # more than a page since the last read: the newest count
                    kept.extend(e.data for e in new)
                    last_id = new[-1].id
                    new = await store.events.list(kind=kind, after_id=last_id, limit=_LEARN_FROM)
            kept.extend(e.data for e in new)
            self._read[kind] = (new[-1].id if new else last_id, kept)
            data.append(list(reversed(kept)))  # newest first, as the store's `recent` gives them
        # Nothing new since the events the learnt figures come from: learning again would give them again.
        read = tuple(self._read[kind][0] for kind in ("position_opened", "position_closed"))
        if read == self._learnt_at:
            return
        self.learn(data[0], data[1])
        self._learnt_at = read
