"""Surveillance as trades and cancels are committed: a pass reads each instrument's trades and
owner cancels past its watermark, runs the detectors and records their findings as alerts.

The order hot path knows nothing of this. Every worker runs the loop; a pass takes an advisory
lock (`pg_try_advisory_xact_lock`), so one worker does the work each second and the others skip.
Trades and book commands of an instrument get their sequence numbers under the instrument's lock
and commit in that order, so a watermark on them never skips a row committed late.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.kit import background
from market.kit.ids import new_id
from market.kit.money import format_money
from market.kit.time import isoformat, utcnow
from market.oversight.detectors import (
    CYCLE_WINDOW,
    LAYERING_WINDOW,
    CycleIndex,
    DayVolume,
    Finding,
    TradeFact,
    concentrated,
    find_cycle,
    layering_at,
    price_spike,
)
from market.oversight.repository import OversightRepository

log = structlog.get_logger()
INTERVAL_S = 1.0
MAX_TRADES_PER_PASS = 2_000  # per instrument; the next pass continues from the watermark
MAX_COMMANDS_PER_PASS = 50_000
MAX_TRADE_IDS = 100


def _pct(basis_points: int) -> str:
    return f"{basis_points // 100}.{basis_points % 100:02d}"


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


class SurveillancePass:
    """One pass over every instrument with new trades or book commands."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = OversightRepository(session)
        self.findings: list[Finding] = []

    async def run(self, *, wait: bool) -> int:
        """Returns how many new alerts were recorded (0 when another worker holds the pass)."""
        if not await self.repo.lock("surveillance", wait=wait):
            return 0
        for row in await self.repo.pending_instruments():
            symbol = row["symbol"]
            trade_last = min(row["trade_seq"], row["trade_mark"] + MAX_TRADES_PER_PASS)
            command_last = min(row["command_seq"], row["command_mark"] + MAX_COMMANDS_PER_PASS)
            if trade_last > row["trade_mark"]:
                await self._trades(symbol, row["trade_mark"], trade_last)
            if command_last > row["command_mark"]:
                await self._cancels(symbol, row["command_mark"], command_last)
            await self.repo.advance(symbol, trade_last, command_last, utcnow())
        recorded = 0
        now = utcnow()
        for finding in self.findings:
            if await self.repo.record(finding, new_id("alr"), now):
                recorded += 1
                log.info("alert_raised", kind=finding.kind, instrument=finding.instrument)
        return recorded

    # trades ---------------------------------------------------------------------------------

    async def _trades(self, symbol: str, mark: int, last: int) -> None:
        window = await self.repo.trades_from(symbol, max(mark, 1), last)
        previous = window[0] if window and window[0].seq == mark else None
        new = [t for t in window if t.seq > mark]
        if not new:
            return
        for trade in new:
            if price_spike(trade, previous):
                assert previous is not None
                self.findings.append(_spike(trade, previous))
            previous = trade
        await self._cycles(symbol, new, last)
        await self._concentration(symbol, new, mark)

    async def _cycles(self, symbol: str, new: list[TradeFact], last: int) -> None:
        candidates = await self.repo.cycle_candidates(
            symbol,
            last,
            new[0].executed_at - CYCLE_WINDOW,
            sorted({t.buyer_id for t in new}),
            sorted({t.seller_id for t in new}),
        )
        index = CycleIndex(candidates)
        for trade in new:
            legs = find_cycle(trade, index)
            if legs is not None:
                self.findings.append(_cycle(legs))

    async def _concentration(self, symbol: str, new: list[TradeFact], mark: int) -> None:
        by_day: dict[date, list[TradeFact]] = defaultdict(list)
        for trade in new:
            by_day[trade.executed_at.astimezone(UTC).date()].append(trade)
        for day, trades in by_day.items():
            start, end = _day_bounds(day)
            count, total, by_party = await self.repo.day_volume(symbol, start, end, mark)
            raised: set[tuple[str, str]] = set()
            for trade in trades:  # as each trade happened
                count += 1
                total += trade.quantity
                for key in ((trade.buyer_id, "buy"), (trade.seller_id, "sell")):
                    by_party[key] = by_party.get(key, 0) + trade.quantity
                volume = DayVolume(symbol, day, count, total, dict(by_party))
                for party, side, quantity in concentrated(volume):
                    if (party, side) in raised:
                        continue
                    raised.add((party, side))
                    trade_ids = await self.repo.party_day_trades(
                        symbol, start, end, trade.seq, party, side, MAX_TRADE_IDS
                    )
                    self.findings.append(
                        _concentrated(volume, party, side, quantity, trade, trade_ids)
                    )

    # owner cancels --------------------------------------------------------------------------

    async def _cancels(self, symbol: str, mark: int, last: int) -> None:
        cancels_by_party: dict[str, list[datetime]] = defaultdict(list)
        for cancel in await self.repo.user_cancels(symbol, mark, last):
            cancels_by_party[cancel["party_id"]].append(cancel["created_at"])
        for party, times in cancels_by_party.items():
            orders = await self.repo.placed_orders(
                party, symbol, times[0] - LAYERING_WINDOW, times[-1]
            )
            last_alert = await self.repo.last_layering_alert(symbol, party)
            for at in times:
                if last_alert is not None and at - last_alert < LAYERING_WINDOW:
                    continue
                placed = layering_at(orders, at)
                if placed is not None:
                    self.findings.append(_layering(symbol, party, at, placed))
                    last_alert = at


def _spike(trade: TradeFact, previous: TradeFact) -> Finding:
    change = (trade.price_fen - previous.price_fen) * 10_000 // previous.price_fen
    return Finding(
        kind="price_spike",
        severity="medium",
        instrument=trade.instrument,
        parties=sorted({trade.buyer_id, trade.seller_id}),
        trade_ids=[previous.id, trade.id],
        order_ids=[trade.buy_order_id, trade.sell_order_id],
        detail=(
            f"trade #{trade.seq} of {trade.instrument} at {format_money(trade.price_fen)} is "
            f"{_pct(abs(change))} % {'above' if change > 0 else 'below'} the previous "
            f"trade #{previous.seq} at {format_money(previous.price_fen)}, "
            f"{(trade.executed_at - previous.executed_at).total_seconds():.3f} s earlier"
        ),
        dedupe_key=f"price_spike:{trade.id}",
        observed_at=trade.executed_at,
        facts={"previous_price": format_money(previous.price_fen)},
    )


def _cycle(legs: list[TradeFact]) -> Finding:
    path = [legs[0].seller_id, *(t.buyer_id for t in legs)]
    closing = legs[-1]
    order_ids: list[str] = []
    for t in legs:
        order_ids += [t.sell_order_id, t.buy_order_id]
    minutes = (closing.executed_at - legs[0].executed_at).total_seconds() / 60
    return Finding(
        kind="circular_trading",
        severity="high",
        instrument=closing.instrument,
        parties=path[:-1],
        trade_ids=[t.id for t in legs],
        order_ids=order_ids,
        detail=(
            f"units of {closing.instrument} went {' → '.join(path)} in {len(legs)} trades "
            f"(#{', #'.join(str(t.seq) for t in legs)}; quantities "
            f"{'/'.join(str(t.quantity) for t in legs)}) within {minutes:.1f} min"
        ),
        dedupe_key=f"circular_trading:{closing.id}",
        observed_at=closing.executed_at,
    )


def _concentrated(
    volume: DayVolume, party: str, side: str, quantity: int, trade: TradeFact, trade_ids: list[str]
) -> Finding:
    share = quantity * 10_000 // volume.total
    return Finding(
        kind="concentration",
        severity="medium",
        instrument=volume.instrument,
        parties=[party],
        trade_ids=trade_ids,
        order_ids=[],
        detail=(
            f"{party} was the {'buyer' if side == 'buy' else 'seller'} of {quantity} of the "
            f"{volume.total} units of {volume.instrument} traded on {volume.day.isoformat()} "
            f"(UTC) in {volume.trades} trades, {_pct(share)} % (as of trade #{trade.seq})"
        ),
        dedupe_key=f"concentration:{volume.instrument}:{volume.day.isoformat()}:{party}:{side}",
        observed_at=trade.executed_at,
        facts={"side": side, "day": volume.day.isoformat(), "quantity": str(quantity)},
    )


def _layering(symbol: str, party: str, at: datetime, placed: list[Any]) -> Finding:
    cancelled = sum(1 for o in placed if o.cancelled_at is not None and o.cancelled_at <= at)
    return Finding(
        kind="layering",
        severity="high",
        instrument=symbol,
        parties=[party],
        trade_ids=[],
        order_ids=[o.id for o in placed],
        detail=(
            f"{party} cancelled {cancelled} of the {len(placed)} orders it placed on {symbol} "
            f"in the 5 minutes up to {isoformat(at)}"
        ),
        dedupe_key=f"layering:{symbol}:{party}:{isoformat(at)}",
        observed_at=at,
        facts={"placed": str(len(placed)), "cancelled": str(cancelled)},
    )


async def surveillance_pass(
    session_factory: async_sessionmaker[AsyncSession], *, wait: bool = False
) -> int:
    """Run one pass and commit it; `wait=True` waits for another worker's pass (tests)."""
    async with session_factory() as session:
        recorded = await SurveillancePass(session).run(wait=wait)
        await session.commit()
    return recorded


async def watch_forever(
    session_factory: async_sessionmaker[AsyncSession], interval_s: float
) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await surveillance_pass(session_factory)
        except Exception:  # the next tick tries again from the same watermark
            log.exception("surveillance_pass_failed")


def running(
    session_factory: async_sessionmaker[AsyncSession], interval_s: float = INTERVAL_S
) -> contextlib.AbstractAsyncContextManager[None]:
    """The loop while the app runs (nothing when `interval_s` is 0)."""
    return background.running(
        *([watch_forever(session_factory, interval_s)] if interval_s > 0 else [])
    )
