"""fee sub-accounts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00.000000

The platform operator's fee account becomes one sub-account per instrument (`fee:{symbol}` in
postings), so settlements on different instruments no longer queue for one row. A row is made by
the first settlement that credits it. The fee balances the operator's own cash account already
holds stay there (journal history is append-only); the operator's balance is its own account
plus the sub-accounts. A low fillfactor leaves room on each page for the next row version, so
the frequent credits stay HOT updates (no index writes, no page hunting).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSE_WHILE_FEES_ARE_HELD = """
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM fee_accounts WHERE available <> 0) THEN
    RAISE EXCEPTION 'fee sub-accounts still hold fees: sweep them before downgrading';
  END IF;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "fee_accounts",
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("available", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("available >= 0", name=op.f("ck_fee_accounts_non_negative")),
        sa.ForeignKeyConstraint(
            ["instrument"],
            ["instruments.symbol"],
            name=op.f("fk_fee_accounts_instrument_instruments"),
        ),
        sa.PrimaryKeyConstraint("instrument", name=op.f("pk_fee_accounts")),
        postgresql_with={"fillfactor": "50"},
    )


def downgrade() -> None:
    # Fees held here would vanish (their postings would no longer sum to an account): sweep
    # them into the operator's own account first (`fee_sweep`), after which the `fee:*`
    # postings of each sub-account sum to zero.
    op.execute(REFUSE_WHILE_FEES_ARE_HELD)
    op.drop_table("fee_accounts")
