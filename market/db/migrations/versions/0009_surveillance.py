"""surveillance: alerts, reviews, detector watermarks, the invariant watch

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from market.db.history import drop_append_only, make_append_only

HISTORY_TABLES = ("alerts", "alert_reviews")

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("instrument", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("parties", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("trade_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("order_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=False),
        sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('circular_trading', 'price_spike', 'concentration', 'layering', "
            "'invariant_violation')",
            name=op.f("ck_alerts_kind"),
        ),
        sa.CheckConstraint(
            "severity IN ('low', 'medium', 'high', 'critical')", name=op.f("ck_alerts_severity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_alerts_dedupe_key")),
    )
    op.create_index(op.f("ix_alerts_kind"), "alerts", ["kind"], unique=False)
    op.create_table(
        "alert_reviews",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("alert_id", sa.String(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reviewed_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_reviews_alert_id_alerts")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["parties.id"], name=op.f("fk_alert_reviews_reviewed_by_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_reviews")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_alert_reviews_alert_id")),
    )
    op.create_table(
        "surveillance_watermarks",
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("trade_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instrument"],
            ["instruments.symbol"],
            name=op.f("fk_surveillance_watermarks_instrument_instruments"),
        ),
        sa.PrimaryKeyConstraint("instrument", name=op.f("pk_surveillance_watermarks")),
    )
    op.create_table(
        "watch_runs",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_watch_runs")),
    )
    op.create_index(
        "ix_order_events_user_cancels",
        "order_events",
        ["instrument", "seq"],
        unique=False,
        postgresql_where=sa.text("kind = 'cancelled' AND reason = 'user'"),
    )
    for table in HISTORY_TABLES:
        op.execute(make_append_only(table))


def downgrade() -> None:
    for table in HISTORY_TABLES:
        op.execute(drop_append_only(table))
    op.drop_index(
        "ix_order_events_user_cancels",
        table_name="order_events",
        postgresql_where=sa.text("kind = 'cancelled' AND reason = 'user'"),
    )
    op.drop_table("watch_runs")
    op.drop_table("surveillance_watermarks")
    op.drop_table("alert_reviews")
    op.drop_index(op.f("ix_alerts_kind"), table_name="alerts")
    op.drop_table("alerts")
