"""order events derived, not stored

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:00:00.000000

The order batch stops writing `order_events` (issue 13, fewer rows per order): an order's trail is
derived from its row, the instrument's command log and its trades (`market/trading/trail.py`).
The table and its rows stay (history is append-only); nothing writes it after this revision.

- `orders.entered_seq` / `orders.ended_seq`: the `book_commands.seq` of the submit that entered
  the order in the book and of the command during which it ended (for an order rejected before
  the book: no entry, and the last command logged before it). Backfilled from the stored events:
  each command has one *anchor* event — a submit its order's `new`, a cancel or an expiry its
  order's final event (`cancelled`, `expired`, or `rejected` when the order was no longer on the
  book) — and events and commands are numbered in the same order, so an event belongs to the last
  command whose anchor is not after it.
- `surveillance_watermarks.event_seq` becomes `command_seq` (owner cancels are read from the
  command log): the last command whose anchor the detectors had read.
- `instruments.seq` keeps its value and from now on moves by one per book command (and, as
  before, per off-book trade print): still the market data's version, no longer an event count.
- `ix_book_commands_cancels`: owner cancels past the watermark (replaces the partial index on
  `order_events`, which stays with its table).
- The trades' party indexes carry the order id (`ix_trades_buyer` on `(buyer_id,
  buy_order_id)`, seller alike): an order's fills are read from `trades` without another index
  to maintain per trade.

The downgrade writes the events the orders' rows, trades and commands imply for what happened
since (each at the end of its instrument's event numbering, in the order it happened), then maps
the columns back the same way.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each logged command with the event seq of its anchor (module docstring).
ANCHORS = """
CREATE TEMPORARY TABLE command_anchors AS
SELECT c.instrument, c.seq AS command_seq, e.seq AS event_seq
FROM book_commands c
JOIN order_events e ON e.order_id = c.command->>'order_id' AND e.instrument = c.instrument
WHERE CASE WHEN c.command->>'op' = 'submit' THEN e.kind = 'new'
           ELSE e.kind IN ('cancelled', 'expired', 'rejected') END
"""
ANCHORS_INDEX = "CREATE INDEX ON command_anchors (instrument, event_seq)"
DROP_ANCHORS = "DROP TABLE command_anchors"


def _command_at(event_seq: str, instrument: str) -> str:
    """The last command whose anchor is at or before `event_seq` (0: before the first)."""
    return f"""COALESCE((SELECT a.command_seq FROM command_anchors a
           WHERE a.instrument = {instrument} AND a.event_seq <= {event_seq}
           ORDER BY a.event_seq DESC LIMIT 1), 0)"""


ENTERED = """
UPDATE orders o SET entered_seq = c.seq
FROM book_commands c
WHERE c.command->>'op' = 'submit' AND c.command->>'order_id' = o.id
  AND c.instrument = o.instrument
"""

ENDED = f"""
UPDATE orders o SET ended_seq = {_command_at("f.seq", "o.instrument")}
FROM order_events f
WHERE f.order_id = o.id AND f.kind = o.status
"""

COMMAND_WATERMARKS = f"""
UPDATE surveillance_watermarks w SET command_seq = {_command_at("w.event_seq", "w.instrument")}
"""

# downgrade ------------------------------------------------------------------------------------

# The events the old batch would have written and the table lacks (orders placed, filled or
# ended since the upgrade), each with where it happened: `at_seq` the command (for an order
# rejected before the book, the command before it: `phase` 2, after that command's own events);
# within a command the submit's `new` (phase 0), then per trade the maker's fill (and `filled`),
# the taker's fill (and `filled`), then the orders that ended (phase 1, `trade_seq` past all).
DERIVED_EVENTS = """
CREATE TEMPORARY TABLE derived_events AS
WITH fills AS (
    SELECT o.id AS order_id, o.instrument, o.status, t.id AS trade_id, t.seq AS trade_seq,
           t.price_fen, t.quantity, t.executed_at, taker.entered_seq AS at_seq,
           CASE WHEN t.maker_order_id = o.id THEN 0 ELSE 2 END AS step,
           row_number() OVER (PARTITION BY o.id ORDER BY t.seq DESC) AS from_last
    FROM orders o
    JOIN trades t ON t.kind = 'continuous' AND o.id IN (t.buy_order_id, t.sell_order_id)
    JOIN orders taker ON taker.id = CASE WHEN t.maker_order_id = t.buy_order_id
                                         THEN t.sell_order_id ELSE t.buy_order_id END
), derived AS (
    SELECT o.id AS order_id, o.instrument, 'new' AS kind, o.quantity, o.price_fen,
           CAST(NULL AS text) AS trade_id, CAST(NULL AS text) AS reason, o.created_at,
           COALESCE(o.entered_seq, o.ended_seq) AS at_seq,
           CASE WHEN o.entered_seq IS NULL THEN 2 ELSE 0 END AS phase,
           CAST(0 AS bigint) AS trade_seq, 0 AS step, o.created_at AS placed_at
    FROM orders o
    UNION ALL
    SELECT order_id, instrument, 'fill', quantity, price_fen, trade_id, NULL, executed_at,
           at_seq, 1, trade_seq, step, NULL
    FROM fills
    UNION ALL
    SELECT order_id, instrument, 'filled', NULL, NULL, NULL, NULL, executed_at,
           at_seq, 1, trade_seq, step + 1, NULL
    FROM fills WHERE from_last = 1 AND status = 'filled'
    UNION ALL
    SELECT o.id, o.instrument, o.status, NULL, NULL, NULL,
           CASE WHEN o.reject_reason IS NOT NULL THEN o.reject_reason
                WHEN o.status = 'expired' THEN 'expired'
                WHEN c.command->>'op' = 'cancel' THEN 'user'
                ELSE 'ioc_remainder' END,
           o.updated_at, o.ended_seq,
           CASE WHEN o.entered_seq IS NULL THEN 2 ELSE 1 END,
           CAST(9223372036854775807 AS bigint), 4, o.created_at
    FROM orders o
    LEFT JOIN book_commands c ON c.instrument = o.instrument AND c.seq = o.ended_seq
    WHERE o.status IN ('cancelled', 'expired', 'rejected')
)
SELECT d.* FROM derived d
WHERE NOT EXISTS (
    SELECT 1 FROM order_events e
    WHERE e.order_id = d.order_id AND e.kind = d.kind
      AND e.trade_id IS NOT DISTINCT FROM d.trade_id
)
"""

WRITE_DERIVED_EVENTS = """
INSERT INTO order_events (order_id, instrument, seq, kind, quantity, price_fen, trade_id, reason,
                          created_at)
SELECT d.order_id, d.instrument,
       i.seq + row_number() OVER (
           PARTITION BY d.instrument
           ORDER BY d.at_seq, d.phase,
                    CASE WHEN d.phase = 2 THEN d.placed_at END,
                    CASE WHEN d.phase = 2 THEN d.order_id END,
                    d.trade_seq, d.step, d.order_id) AS seq,
       d.kind, d.quantity, d.price_fen, d.trade_id, d.reason, d.created_at
FROM derived_events d JOIN instruments i ON i.symbol = d.instrument
ORDER BY d.instrument, seq
"""

ADVANCE_EVENT_COUNTERS = """
UPDATE instruments i SET seq = i.seq + n.events
FROM (SELECT instrument, COUNT(*) AS events FROM derived_events GROUP BY instrument) n
WHERE n.instrument = i.symbol
"""

DROP_DERIVED_EVENTS = "DROP TABLE derived_events"

# Up to the event before the anchor of the first command the detectors had not read.
EVENT_WATERMARKS = """
UPDATE surveillance_watermarks w SET event_seq = COALESCE(
    (SELECT MIN(a.event_seq) - 1 FROM command_anchors a
     WHERE a.instrument = w.instrument AND a.command_seq > w.command_seq),
    (SELECT i.seq FROM instruments i WHERE i.symbol = w.instrument))
"""

CANCELS_WHERE = "command->>'op' = 'cancel'"


def upgrade() -> None:
    op.add_column("orders", sa.Column("entered_seq", sa.BigInteger(), nullable=True))
    op.add_column("orders", sa.Column("ended_seq", sa.BigInteger(), nullable=True))
    op.add_column(
        "surveillance_watermarks", sa.Column("command_seq", sa.BigInteger(), nullable=True)
    )
    op.execute(ANCHORS)
    op.execute(ANCHORS_INDEX)
    op.execute(ENTERED)
    op.execute(ENDED)
    op.execute(COMMAND_WATERMARKS)
    op.execute(DROP_ANCHORS)
    op.alter_column("surveillance_watermarks", "command_seq", nullable=False)
    op.drop_column("surveillance_watermarks", "event_seq")
    op.create_index(
        "ix_book_commands_cancels",
        "book_commands",
        ["instrument", "seq"],
        unique=False,
        postgresql_where=sa.text(CANCELS_WHERE),
    )
    _trade_party_indexes(("buyer_id", "buy_order_id"), ("seller_id", "sell_order_id"))


def downgrade() -> None:
    _trade_party_indexes(("buyer_id",), ("seller_id",))
    op.drop_index(
        "ix_book_commands_cancels",
        table_name="book_commands",
        postgresql_where=sa.text(CANCELS_WHERE),
    )
    op.execute(DERIVED_EVENTS)
    op.execute(WRITE_DERIVED_EVENTS)
    op.execute(ADVANCE_EVENT_COUNTERS)
    op.execute(DROP_DERIVED_EVENTS)
    op.add_column("surveillance_watermarks", sa.Column("event_seq", sa.BigInteger(), nullable=True))
    op.execute(ANCHORS)
    op.execute(ANCHORS_INDEX)
    op.execute(EVENT_WATERMARKS)
    op.execute(DROP_ANCHORS)
    op.alter_column("surveillance_watermarks", "event_seq", nullable=False)
    op.drop_column("surveillance_watermarks", "command_seq")
    op.drop_column("orders", "ended_seq")
    op.drop_column("orders", "entered_seq")


def _trade_party_indexes(buyer: tuple[str, ...], seller: tuple[str, ...]) -> None:
    op.drop_index("ix_trades_buyer", table_name="trades")
    op.drop_index("ix_trades_seller", table_name="trades")
    op.create_index("ix_trades_buyer", "trades", list(buyer), unique=False)
    op.create_index("ix_trades_seller", "trades", list(seller), unique=False)
