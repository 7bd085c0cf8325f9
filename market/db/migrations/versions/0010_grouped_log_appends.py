"""grouped log appends

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 15:30:00.000000

A certificate is stored by its writer's transaction with `log_index` NULL (pending) and given its
index when the log integrator appends it: the column becomes nullable, a partial index finds the
pending rows, and the append-only trigger on `certificates` lets exactly that one UPDATE through
(NULL → a value, every other column unchanged). `log_index` stays unique.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from market.db.history import (
    CREATE_SET_ONCE_FUNCTION,
    DROP_SET_ONCE_FUNCTION,
    drop_append_only,
    make_append_only,
    make_append_only_but_set_once,
)

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("certificates", "log_index", existing_type=sa.BigInteger(), nullable=True)
    op.create_index(
        "ix_certificates_pending",
        "certificates",
        ["issued_at", "id"],
        unique=False,
        postgresql_where=sa.text("log_index IS NULL"),
    )
    op.execute(CREATE_SET_ONCE_FUNCTION)
    op.execute(drop_append_only("certificates"))
    op.execute(make_append_only_but_set_once("certificates", "log_index"))


def downgrade() -> None:
    # Pending certificates cannot be kept under NOT NULL: integrate them before downgrading.
    op.execute(drop_append_only("certificates"))
    op.execute(make_append_only("certificates"))
    op.execute(DROP_SET_ONCE_FUNCTION)
    op.drop_index(
        "ix_certificates_pending",
        table_name="certificates",
        postgresql_where=sa.text("log_index IS NULL"),
    )
    op.alter_column("certificates", "log_index", existing_type=sa.BigInteger(), nullable=False)
