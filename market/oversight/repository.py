"""All SQL of oversight: alerts and reviews, the detectors' reads past their watermarks, the
watch's bookkeeping. Oversight is the regulator's read side: it reads the trading tables it
watches but never writes them (halting goes through the trading service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from market.db.locking import lock_key
from market.oversight.detectors import Finding, PlacedOrder, TradeFact
from market.oversight.models import Alert, AlertReview, SurveillanceWatermark, WatchRun

ALERTS: Table = Alert.__table__  # type: ignore[attr-defined]
REVIEWS: Table = AlertReview.__table__  # type: ignore[attr-defined]
WATERMARKS: Table = SurveillanceWatermark.__table__  # type: ignore[attr-defined]
RUNS: Table = WatchRun.__table__  # type: ignore[attr-defined]

_TRADE_COLUMNS = (
    "id, instrument, seq, price_fen, quantity, buyer_id, seller_id, buy_order_id, "
    "sell_order_id, executed_at"
)

PENDING_INSTRUMENTS = """
SELECT i.symbol, i.trade_seq, i.command_seq,
       COALESCE(w.trade_seq, 0) AS trade_mark, COALESCE(w.command_seq, 0) AS command_mark
FROM instruments i LEFT JOIN surveillance_watermarks w ON w.instrument = i.symbol
WHERE i.trade_seq > COALESCE(w.trade_seq, 0) OR i.command_seq > COALESCE(w.command_seq, 0)
ORDER BY i.symbol
"""

TRADES_FROM = f"""
SELECT {_TRADE_COLUMNS} FROM trades
WHERE instrument = :instrument AND seq >= :first AND seq <= :last ORDER BY seq
"""

# Bounded: under a flood of trades among few parties, the newest legs are the ones that count.
CYCLE_CANDIDATES = f"""
SELECT {_TRADE_COLUMNS} FROM trades
WHERE instrument = :instrument AND seq <= :last AND executed_at >= :since
  AND (seller_id = ANY(:buyers) OR buyer_id = ANY(:sellers))
ORDER BY seq DESC LIMIT 50000
"""

DAY_TOTALS = """
SELECT COUNT(*) AS trades, COALESCE(SUM(quantity), 0) AS total FROM trades
WHERE instrument = :instrument AND executed_at >= :day_start AND executed_at < :day_end
  AND seq <= :last
"""

DAY_BY_PARTY = """
SELECT buyer_id AS party, 'buy' AS side, SUM(quantity) AS quantity FROM trades
WHERE instrument = :instrument AND executed_at >= :day_start AND executed_at < :day_end
  AND seq <= :last GROUP BY buyer_id
UNION ALL
SELECT seller_id, 'sell', SUM(quantity) FROM trades
WHERE instrument = :instrument AND executed_at >= :day_start AND executed_at < :day_end
  AND seq <= :last GROUP BY seller_id
"""

PARTY_DAY_TRADES = """
SELECT id FROM trades
WHERE instrument = :instrument AND executed_at >= :day_start AND executed_at < :day_end
  AND seq <= :last AND CASE WHEN :side = 'buy' THEN buyer_id ELSE seller_id END = :party
ORDER BY seq LIMIT :limit
"""

# An owner's cancel: a cancel command that ended its order `cancelled` with no reason given (a
# cancel command of an order no longer on the book ends it `rejected`). A finished order is never
# changed again, so its `updated_at` is when it ended. The commands come off the partial index
# `ix_book_commands_cancels`.
USER_CANCELS = """
SELECT c.seq, o.id AS order_id, o.updated_at AS created_at, o.party_id FROM book_commands c
JOIN orders o ON o.id = c.command->>'order_id'
WHERE c.instrument = :instrument AND c.command->>'op' = 'cancel'
  AND c.seq > :first AND c.seq <= :last
  AND o.ended_seq = c.seq AND o.status = 'cancelled' AND o.reject_reason IS NULL
ORDER BY c.seq
"""

PLACED_ORDERS = """
SELECT o.id, o.created_at, c.seq IS NOT NULL AS by_owner, o.updated_at
FROM orders o
LEFT JOIN book_commands c ON c.instrument = o.instrument AND c.seq = o.ended_seq
  AND c.command->>'op' = 'cancel' AND o.status = 'cancelled' AND o.reject_reason IS NULL
WHERE o.party_id = :party AND o.instrument = :instrument
  AND o.created_at >= :since AND o.created_at <= :until
ORDER BY o.created_at, o.id
"""

LAST_LAYERING = """
SELECT MAX(observed_at) FROM alerts
WHERE kind = 'layering' AND instrument = :instrument
  AND parties @> jsonb_build_array(CAST(:party AS text))
"""

OPEN_ALERT_WITH_KEY_PREFIX = """
SELECT a.id FROM alerts a LEFT JOIN alert_reviews r ON r.alert_id = a.id
WHERE a.kind = :kind AND r.id IS NULL AND a.dedupe_key LIKE :prefix LIMIT 1
"""


def _trade(row: Any) -> TradeFact:
    return TradeFact(**dict(row._mapping))


class OversightRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, name: str, *, wait: bool) -> bool:
        """A transaction-scoped advisory lock: one worker runs a periodic job at a time."""
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        row = await self.session.execute(
            text(f"SELECT {function}(:key)::text"), {"key": lock_key("oversight", name)}
        )
        return row.scalar_one() in ("true", "")

    # alerts ---------------------------------------------------------------------------------

    async def record(self, finding: Finding, alert_id: str, now: datetime) -> bool:
        """Insert the finding unless one with its key exists; True when it was new."""
        statement = (
            insert(ALERTS)
            .values(
                id=alert_id,
                kind=finding.kind,
                severity=finding.severity,
                instrument=finding.instrument,
                parties=finding.parties,
                trade_ids=finding.trade_ids,
                order_ids=finding.order_ids,
                detail=finding.detail,
                dedupe_key=finding.dedupe_key,
                facts=finding.facts,
                observed_at=finding.observed_at,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(ALERTS.c.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def open_alert_with_key_prefix(self, kind: str, prefix: str) -> str | None:
        row = await self.session.execute(
            text(OPEN_ALERT_WITH_KEY_PREFIX), {"kind": kind, "prefix": prefix + "%"}
        )
        return row.scalar_one_or_none()

    async def alert(self, alert_id: str) -> tuple[Alert, AlertReview | None] | None:
        row = (
            await self.session.execute(
                select(Alert, AlertReview)
                .outerjoin(AlertReview, REVIEWS.c.alert_id == ALERTS.c.id)
                .where(ALERTS.c.id == alert_id)
            )
        ).one_or_none()
        return None if row is None else (row[0], row[1])

    async def alerts(
        self, *, kind: str | None, status: str | None, limit: int, cursor: str | None
    ) -> list[tuple[Alert, AlertReview | None]]:
        """Newest first; the cursor is the last id seen."""
        query = (
            select(Alert, AlertReview)
            .outerjoin(AlertReview, REVIEWS.c.alert_id == ALERTS.c.id)
            .order_by(ALERTS.c.id.desc())
            .limit(limit + 1)
        )
        if kind:
            query = query.where(ALERTS.c.kind == kind)
        if status == "open":
            query = query.where(REVIEWS.c.id.is_(None))
        elif status == "reviewed":
            query = query.where(REVIEWS.c.id.is_not(None))
        if cursor:
            query = query.where(ALERTS.c.id < cursor)
        return [(r[0], r[1]) for r in await self.session.execute(query)]

    async def add_review(self, review: AlertReview) -> bool:
        """Insert the review unless the alert has one; True when it was new."""
        statement = (
            insert(REVIEWS)
            .values(
                id=review.id,
                alert_id=review.alert_id,
                note=review.note,
                reviewed_by=review.reviewed_by,
                created_at=review.created_at,
            )
            .on_conflict_do_nothing(index_elements=["alert_id"])
            .returning(REVIEWS.c.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    # the detectors' reads -------------------------------------------------------------------

    async def pending_instruments(self) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await self.session.execute(text(PENDING_INSTRUMENTS))]

    async def trades_from(self, instrument: str, first: int, last: int) -> list[TradeFact]:
        rows = await self.session.execute(
            text(TRADES_FROM), {"instrument": instrument, "first": first, "last": last}
        )
        return [_trade(r) for r in rows]

    async def cycle_candidates(
        self, instrument: str, last: int, since: datetime, buyers: list[str], sellers: list[str]
    ) -> list[TradeFact]:
        rows = await self.session.execute(
            text(CYCLE_CANDIDATES),
            {
                "instrument": instrument,
                "last": last,
                "since": since,
                "buyers": buyers,
                "sellers": sellers,
            },
        )
        return [_trade(r) for r in rows]

    async def day_volume(
        self, instrument: str, day_start: datetime, day_end: datetime, last: int
    ) -> tuple[int, int, dict[tuple[str, str], int]]:
        """Trades, total quantity and each (party, side)'s quantity up to trade `last`."""
        params = {
            "instrument": instrument,
            "day_start": day_start,
            "day_end": day_end,
            "last": last,
        }
        totals = (await self.session.execute(text(DAY_TOTALS), params)).one()
        rows = await self.session.execute(text(DAY_BY_PARTY), params)
        by_party = {(r.party, r.side): int(r.quantity) for r in rows}
        return int(totals.trades), int(totals.total), by_party

    async def party_day_trades(
        self,
        instrument: str,
        day_start: datetime,
        day_end: datetime,
        last: int,
        party: str,
        side: str,
        limit: int,
    ) -> list[str]:
        rows = await self.session.execute(
            text(PARTY_DAY_TRADES),
            {
                "instrument": instrument,
                "day_start": day_start,
                "day_end": day_end,
                "last": last,
                "party": party,
                "side": side,
                "limit": limit,
            },
        )
        return list(rows.scalars())

    async def user_cancels(self, instrument: str, first: int, last: int) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(USER_CANCELS), {"instrument": instrument, "first": first, "last": last}
        )
        return [dict(r._mapping) for r in rows]

    async def placed_orders(
        self, party: str, instrument: str, since: datetime, until: datetime
    ) -> list[PlacedOrder]:
        rows = await self.session.execute(
            text(PLACED_ORDERS),
            {"party": party, "instrument": instrument, "since": since, "until": until},
        )
        return [PlacedOrder(r.id, r.created_at, r.updated_at if r.by_owner else None) for r in rows]

    async def last_layering_alert(self, instrument: str, party: str) -> datetime | None:
        row = await self.session.execute(
            text(LAST_LAYERING), {"instrument": instrument, "party": party}
        )
        value: datetime | None = row.scalar_one_or_none()
        return value

    async def advance(
        self, instrument: str, trade_seq: int, command_seq: int, now: datetime
    ) -> None:
        statement = insert(WATERMARKS).values(
            instrument=instrument, trade_seq=trade_seq, command_seq=command_seq, updated_at=now
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["instrument"],
                set_={
                    "trade_seq": statement.excluded.trade_seq,
                    "command_seq": statement.excluded.command_seq,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )

    # the periodic jobs' bookkeeping ---------------------------------------------------------

    async def last_run(self, name: str) -> datetime | None:
        row = await self.session.execute(select(RUNS.c.last_run_at).where(RUNS.c.name == name))
        value: datetime | None = row.scalar_one_or_none()
        return value

    async def mark_run(self, name: str, now: datetime, ok: bool) -> None:
        statement = insert(RUNS).values(name=name, last_run_at=now, last_ok=ok)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"last_run_at": statement.excluded.last_run_at, "last_ok": ok},
            )
        )
