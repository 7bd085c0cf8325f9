"""Append-only history tables, enforced by PostgreSQL: UPDATE and DELETE raise."""

from __future__ import annotations

CREATE_REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION refuse_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""

DROP_REFUSE_FUNCTION = "DROP FUNCTION IF EXISTS refuse_history_change()"


def trigger_name(table: str) -> str:
    return f"{table}_append_only"


def make_append_only(table: str) -> str:
    return (
        f"CREATE TRIGGER {trigger_name(table)} BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION refuse_history_change()"
    )


def drop_append_only(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {table}"
