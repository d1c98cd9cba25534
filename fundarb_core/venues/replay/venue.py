"""The replay venue: recorded funding and candles served as a tradable venue on the run's `SimClock`.

It is the sim venue's order book, matching and exact ledger (so fills, fees, margin, liquidations, streams and
transfers behave the same) over recorded data instead of the random world:

- **Prices.** The mid at a time follows the candle open then: a path open → low → high → close when the candle
  closed up (open → high → low → close when it closed down), each leg a third of the candle, linear in between,
  on the tick grid. Outside the data (a gap, after the end) the last close carries forward, so a position can
  always be marked and closed. The book is the sim's: bid and ask `spread_bps` apart around the mid, levels of
  `level_usd` (deeper ones larger) 0.5 bp apart, so an order larger than the touch walks the book (slippage).
  Resting limit orders fill when the book crosses them, or at the touch from simulated flow (seeded).
- **Funding.** A position settles at each recorded timestamp with the recorded rate: −quantity × mark × rate.
  The rate shown by `fetch_funding_rates` is the last one settled, current for its interval (plus `grace`);
  after that, and in a gap, there is no rate (not a zero rate) and the symbol is not offered. A symbol is offered
  only while both its rate and its candles are current.
- **Not modelled:** funding caps and the venue's own predicted rate, order-book depth beyond the synthetic one,
  market impact that outlasts one price step, partial maker fills from real trades.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from fundarb_core.clock import Clock
from fundarb_core.errors import VenueRejected
from fundarb_core.model import RejectReason
from fundarb_core.venues._symbols import SymbolMap
from fundarb_core.venues._types import (
    BookLevel,
    Capabilities,
    FundingHistoryEntry,
    FundingPayment,
    FundingRate,
    Instrument,
    PriceCandle,
)
from fundarb_core.venues.replay.config import ReplayVenueConfig
from fundarb_core.venues.replay.data import ReplayData, Series
from fundarb_core.venues.replay.ledger import AccountingLedger
from fundarb_core.venues.sim.book import synth_levels
from fundarb_core.venues.sim.config import SimVenueConfig
from fundarb_core.venues.sim.venue import SimVenue
from fundarb_core.venues.sim.world import SimWorld, stable_seed

__all__ = ["ReplayVenue"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO = Decimal(0)


def _ms(at: datetime) -> int:
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _at(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _on_tick(price: Decimal, tick: Decimal) -> Decimal:
    """`price` on the grid of `tick`, a power of ten (as `_grid` makes every replay tick): what
    `Instrument.round_price` gives, to the digit and exponent, in two cheap steps. Dividing by a power of ten only
    moves the point, so the quotient `round_price` takes is `price` rounded to the context's precision (`+price`: a
    recorded price may carry up to 38 digits), scaled; rounding that half-even to a whole number of ticks is
    quantizing `+price` half-even at the tick's exponent."""
    return (+price).quantize(tick, ROUND_HALF_EVEN)


def _grid(price: Decimal) -> tuple[Decimal, Decimal]:
    """Tick (about five significant digits of the price) and step (an order unit worth $1–$10) for a market."""
    exponent = price.adjusted()
    tick = Decimal(1).scaleb(exponent - 4)
    step = Decimal(1).scaleb((Decimal(10) / price).adjusted())
    return tick, step


class ReplayVenue(SimVenue):
    """A venue replaying `data` in `clock` time; see the module docstring for the model."""

    kind = "replay"
    ledger: AccountingLedger

    def __init__(self, name: str, config: ReplayVenueConfig, clock: Clock, data: ReplayData) -> None:
        # Sets what `SimVenue.__init__` sets (its methods use these), without its catalogue, world and persistence:
        # instruments come from the data, prices from `mark` and funding from `fetch_funding_rates` below. Keep in step.
        self.name = name
        self.replay = config
        self.data = data
        self.clock = clock
        self.state_path = None
        self.world = SimWorld(stable_seed("replay", name), clock.now())  # the 5 s step grid; its prices are unused
        self.config = SimVenueConfig(
            profile="plain",
            starting_balance=config.starting_balance,
            maker_fee=config.maker_fee,
            taker_fee=config.taker_fee,
            spread_bps=config.spread_bps,
            maintenance_margin_ratio=config.maintenance_margin_ratio,
            persist=False,
        )
        self.maker_fee, self.taker_fee, self.spread_bps = config.maker_fee, config.taker_fee, config.spread_bps
        self.latency = {} if not config.latency else dict.fromkeys(("query", "order", "market_order", "cancel"),
                                                                   config.latency)  # fmt: skip
        # No streams: a stream wakes every simulated step (5 s) to catch up, which costs a year's backtest hours;
        # without them the executor polls orders, and a liquidated leg shows as a missing leg in the snapshots.
        # Bulk snapshots: the monitor asks once per venue and tick for every open leg, not twice per position.
        self.capabilities = Capabilities(bulk_snapshots=True, funding_history=True, price_history=True, simulated=True)
        wanted = config.symbols or data.tradable()
        self.instruments: dict[str, Instrument] = {}
        for symbol in wanted:
            series = data.series.get(symbol)
            if series is not None and series.candle_at:
                self.instruments[symbol] = self._replay_instrument(symbol, series)
        self.symbols = SymbolMap(name, {s: s for s in self.instruments})
        # Every market's (symbol, series, tick), for the quotes of all of them each tick (a replay venue's markets
        # are fixed once built: nothing replaces its instruments or series after this).
        self._markets = [(s, data.series[s], i.tick_size) for s, i in self.instruments.items()]
        self.ledger = AccountingLedger(cash=config.starting_balance)
        self.orders = {}
        self.resting = []
        self.payments = []
        self._payment_ms: list[int] = []  # the payments' times, for a bisect instead of a scan of a year's list
        self.liquidation_log = []
        self.last_step = self.world.step_at(clock.now())
        self.flow_rng = random.Random(stable_seed("replay-flow", name))
        self.fault_rng = random.Random(stable_seed("replay-faults", name))
        self._seq = 0
        self._consumed = {}
        self._consumed_step = -1
        self._books = {}
        self._lefts = {}
        self._order_subs = []
        self._liq_subs = []
        self._dirty = False
        self._no_entry_faults = None
        self._marks = {}
        self._snapshot_parts = {}
        self._paths: dict[int, tuple[int, Decimal]] = {}
        self.calls = {}
        self.transfers = {}

    def _replay_instrument(self, symbol: str, series: Series) -> Instrument:
        tick, step = _grid(series.dec(series.candles[0][0]))
        interval = series.main_interval()
        return Instrument(
            symbol=symbol,
            venue_symbol=symbol,
            tick_size=tick,
            step_size=step,
            min_qty=step,
            min_notional=Decimal(5),
            max_leverage=self.replay.max_leverage,
            funding_interval=timedelta(seconds=interval) if interval else self.replay.funding_interval,
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
        )

    # -- prices --------------------------------------------------------------------------------------------------

    def mid_at(self, symbol: str, at_ms: int) -> Decimal:
        """The modelled mid at `at_ms` (see the module docstring), before rounding to the tick."""
        s = self.data.series[symbol]
        return self._mid(s, s.last_candle(at_ms), at_ms)

    def _mid(self, s: Series, i: int, at_ms: int) -> Decimal:
        """`mid_at` for the series `s`, whose last candle opening at or before `at_ms` is `i` (−1: none)."""
        if i < 0:
            return s.dec(s.candles[0][0])
        offset = at_ms - s.candle_at[i]
        if offset == 0:
            return s.open(i)
        o, h, low, c = s.candle(i)
        if offset >= self.data.resolution_ms:
            return c  # a gap or past the end: the last close carries forward
        leg, frac = self._paths.get(offset) or self._path_at(offset)
        if leg == 0:
            return o + ((low if c >= o else h) - o) * frac
        first, second = (low, h) if c >= o else (h, low)
        if leg == 1:
            return first + (second - first) * frac
        return second + (c - second) * frac

    def _path_at(self, offset: int) -> tuple[int, Decimal]:
        """Where `offset` ms into a candle falls on its path: the leg (0–2) and the fraction of it covered. Every
        symbol's candles open on the same grid, so a tick asks the same few offsets for all of them: kept."""
        found = self._paths.get(offset)
        if found is None:
            if len(self._paths) > 4096:
                self._paths.clear()
            position = Decimal(offset * 3) / self.data.resolution_ms
            leg = min(int(position), 2)
            found = self._paths[offset] = (leg, position - leg)
        return found

    def mark(self, symbol: str, step: int | None = None) -> Decimal:
        step = self.last_step if step is None else step
        key = (symbol, step)
        cached = self._marks.get(key)
        if cached is None:
            if len(self._marks) > 4096:
                self._marks.clear()  # a cache of recent steps only: recomputing a mark is exact
            mid = self.mid_at(symbol, _ms(self.world.time_of(step)))
            cached = self._marks[key] = _on_tick(mid, self.instruments[symbol].tick_size)
        return cached

    def _synth_book(self, symbol: str, step: int, depth: int) -> tuple[list[BookLevel], list[BookLevel]]:
        mid = self.mark(symbol, step)
        return synth_levels(self.instruments[symbol], mid, self.spread_bps, self.replay.level_usd / mid, depth)

    # -- funding -------------------------------------------------------------------------------------------------

    async def fetch_funding_rates(self, symbols: Sequence[str] | None = None) -> Mapping[str, FundingRate]:
        await self._enter("query")
        # Per symbol: a current price (its candle is still open), a current rate (the last settled one, for its
        # interval plus `grace`; after it, a gap: no rate) and the mark, with what they share computed once per call.
        now_ms = _ms(self.clock.now())
        grace_ms = int(self.replay.grace.total_seconds() * 1000)
        res = self.data.resolution_ms
        step = self.last_step
        step_ms = _ms(self.world.time_of(step))
        timings: dict[int, tuple[timedelta, datetime]] = {}  # interval s → (interval, next funding time)
        out = {}
        marks = self._marks
        if len(marks) > 4096:
            marks.clear()  # a cache of recent steps only: recomputing a mark is exact
        if symbols is None:
            markets = self._markets
        else:
            known = self.instruments
            markets = [(s, self.data.series[s], known[s].tick_size) for s in symbols if s in known]
        for symbol, s, tick in markets:
            at = s.candle_at
            i = bisect_right(at, now_ms) - 1
            if i < 0 or now_ms - at[i] >= res:
                continue  # no current price
            j = bisect_right(s.funding_at, now_ms) - 1
            if j < 0:
                continue
            interval_s = s.funding_interval[j]
            if now_ms >= s.funding_at[j] + interval_s * 1000 + grace_ms:
                continue  # no current rate (a gap)
            timing = timings.get(interval_s)
            if timing is None:
                interval = timedelta(seconds=interval_s)
                timing = timings[interval_s] = (interval, EPOCH + ((now_ms // 1000) // interval_s + 1) * interval)
            key = (symbol, step)
            mark = marks.get(key)
            if mark is None:  # `mark`, with the step's candle found from this one (the step is at most 5 s earlier)
                k = i if at[i] <= step_ms <= now_ms else bisect_right(at, step_ms) - 1
                mark = marks[key] = _on_tick(self._mid(s, k, step_ms), tick)
            out[symbol] = FundingRate(symbol, s.rate(j), timing[0], timing[1], mark)
        return out

    def sync(self) -> None:
        """Catch up to now: resting orders step by step (while any rest), funding and liquidations at their times."""
        target = self.world.step_at(self.clock.now())
        if target <= self.last_step:
            return
        start_ms = _ms(self.world.time_of(self.last_step))
        if self.resting:
            step = self.last_step + 1
            while self.resting and step <= target:
                self._events(start_ms, _ms(self.world.time_of(step)))
                start_ms = _ms(self.world.time_of(step))
                self._flow(step)
                step += 1
        self._events(start_ms, _ms(self.world.time_of(target)))
        self.last_step = target

    def _events(self, after_ms: int, until_ms: int) -> None:
        """Settle funding and check liquidations for open positions at every event in `(after_ms, until_ms]`."""
        if not self.ledger.positions or until_ms <= after_ms:
            return
        events: list[tuple[int, int, str]] = []  # (time, 0 = liquidation check / 1 = funding, symbol)
        res = self.data.resolution_ms
        for symbol in self.ledger.positions:
            s = self.data.series[symbol]
            j = s.last_funding(after_ms) + 1
            while j < len(s.funding_at) and s.funding_at[j] <= until_ms:
                events.append((s.funding_at[j], 1, symbol))
                j += 1
            i = max(s.last_candle(after_ms), 0)
            may = False  # whether the last candle seen could liquidate
            while i < len(s.candle_at) and s.candle_at[i] <= until_ms:
                # A corner after the next candle opens is priced on that candle's path: skip only a whole span.
                whole = i + 1 == len(s.candle_at) or s.candle_at[i + 1] >= s.candle_at[i] + res
                may = not whole or self._may_liquidate(symbol, s.candle(i))
                if may:
                    for k in range(4):  # the path's corners: open, the two extremes, and the close
                        at = s.candle_at[i] + (res * k) // 3 - (1 if k == 3 else 0)
                        if after_ms < at <= until_ms:
                            events.append((at, 0, symbol))
                i += 1
            # The check at `until_ms`: its mark is on the last candle's path (or that candle's close, after it).
            if may or s.last_candle(until_ms) < 0:
                events.append((until_ms, 0, symbol))
        for at, kind, symbol in sorted(events):
            if symbol not in self.ledger.positions:
                continue
            mark = _on_tick(self.mid_at(symbol, at), self.instruments[symbol].tick_size)
            if kind == 1:
                self._settle_recorded(symbol, at, mark)
            elif self.ledger.maintenance(symbol, mark, self.mmr(symbol)):
                self._liquidate(symbol, mark, _at(at))

    def _may_liquidate(self, symbol: str, candle: tuple[Decimal, ...]) -> bool:
        """Whether any mark on this candle's path could breach the position's maintenance margin.

        Every mark on the path lies between the candle's lowest and highest price, give or take the rounding to
        the tick; funding goes to the wallet, not the isolated margin, so within `_events` the test is a fixed,
        linear function of the mark. When it passes at both ends of the range (widened by two ticks), it passes at
        every corner, and the corners need no check (the usual case: a hedged leg far from its liquidation)."""
        tick = self.instruments[symbol].tick_size
        low, high = min(candle) - 2 * tick, max(candle) + 2 * tick
        mmr = self.mmr(symbol)
        return low <= 0 or self.ledger.maintenance(symbol, low, mmr) or self.ledger.maintenance(symbol, high, mmr)

    def _settle_recorded(self, symbol: str, at_ms: int, mark: Decimal) -> None:
        s = self.data.series[symbol]
        rate = s.rate(s.last_funding(at_ms))
        qty = self.ledger.positions[symbol].qty
        amount = self.ledger.settle_funding(symbol, mark, rate)
        if amount is None:
            return
        self.payments.append(FundingPayment(f"{self.name}-f-{symbol}-{at_ms}", symbol, amount, rate, qty, mark,
                                            _at(at_ms)))  # fmt: skip
        self._payment_ms.append(at_ms)
        self._dirty = True

    async def fetch_funding_payments(self, symbol: str | None, since: datetime) -> Sequence[FundingPayment]:
        await self._enter("query")
        first = bisect_left(self._payment_ms, _ms(since))
        return [p for p in self.payments[first:] if symbol is None or p.symbol == symbol]

    # -- history (the recorded series themselves, up to now) -----------------------------------------------------

    def _series(self, symbol: str) -> Series:
        if symbol not in self.instruments:
            raise VenueRejected(f"unknown symbol {symbol!r}", venue=self.name, reason=RejectReason.UNKNOWN_SYMBOL)
        return self.data.series[symbol]

    async def fetch_funding_history(self, symbol: str, start: datetime, end: datetime) -> Sequence[FundingHistoryEntry]:
        await self._enter("query")
        s = self._series(symbol)
        lo, hi = _ms(start), min(_ms(end), _ms(self.clock.now()) + 1)
        first, last = bisect_left(s.funding_at, lo), bisect_left(s.funding_at, hi)  # the rows in [lo, hi)
        return [
            FundingHistoryEntry(symbol, _at(s.funding_at[k]), s.dec(s.funding_rate[k]),
                                timedelta(seconds=s.funding_interval[k]))
            for k in range(first, max(first, last))
        ]  # fmt: skip

    async def fetch_price_candles(
        self, symbol: str, resolution: timedelta, start: datetime, end: datetime
    ) -> Sequence[PriceCandle]:
        await self._enter("query")
        s = self._series(symbol)
        res = self.data.resolution_ms
        if int(resolution.total_seconds() * 1000) != res:
            raise VenueRejected(f"only {res // 1000} s candles are recorded", venue=self.name,
                                reason=RejectReason.OTHER)  # fmt: skip
        lo, hi = _ms(start), min(_ms(end), _ms(self.clock.now()) - res + 1)
        first, last = bisect_left(s.candle_at, lo), bisect_left(s.candle_at, hi)  # the candles in [lo, hi)
        d = s.dec
        return [
            PriceCandle(symbol, _at(at), resolution, d(o), d(h), d(low), d(c), ZERO, "last")
            for at, (o, h, low, c) in zip(s.candle_at[first:last], s.candles[first:last], strict=True)
        ]

    def equity(self) -> Decimal:
        """Wallet plus unrealised PnL at the current marks (what the account is worth now)."""
        return self.ledger.wallet() + sum((p.upnl(self.mark(s)) for s, p in self.ledger.positions.items()), ZERO)

    def __repr__(self) -> str:
        return f"ReplayVenue({self.name!r}, source={self.data.source!r})"
