"""The one SQLModel metadata, with a naming convention so Alembic names constraints stably."""

from __future__ import annotations

from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata


def import_all_models() -> None:
    """Import every context's models so the metadata is complete (Alembic, tests)."""
    import market.cash.models
    import market.certification.models
    import market.compensation.models
    import market.http.models
    import market.oversight.models
    import market.parties.models
    import market.payments.models
    import market.registry.models
    import market.trading.models
    import market.valuation.models  # noqa: F401
