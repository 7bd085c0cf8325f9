"""government party kind

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = ("collective", "enterprise", "registrar", "certifier", "regulator", "operator")
KINDS_AFTER = ("collective", "enterprise", "government", *KINDS_BEFORE[2:])


def _kind_check(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_parties_kind"), "parties", type_="check")
    listed = ", ".join(f"'{k}'" for k in kinds)
    op.create_check_constraint(op.f("ck_parties_kind"), "parties", f"kind IN ({listed})")


def upgrade() -> None:
    _kind_check(KINDS_AFTER)


def downgrade() -> None:
    _kind_check(KINDS_BEFORE)
