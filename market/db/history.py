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


# A history table whose one column is filled once, later (a certificate's `log_index`, set when
# the log integrates it): the only UPDATE allowed sets that column (TG_ARGV[0]) from NULL to a
# value with every other column unchanged; every other UPDATE and every DELETE raises.
CREATE_SET_ONCE_FUNCTION = """
CREATE OR REPLACE FUNCTION refuse_history_change_but_set_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND to_jsonb(OLD) -> TG_ARGV[0] = 'null'::jsonb
       AND to_jsonb(NEW) -> TG_ARGV[0] <> 'null'::jsonb
       AND to_jsonb(NEW) - TG_ARGV[0] = to_jsonb(OLD) - TG_ARGV[0] THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""

DROP_SET_ONCE_FUNCTION = "DROP FUNCTION IF EXISTS refuse_history_change_but_set_once()"


def make_append_only_but_set_once(table: str, column: str) -> str:
    """Like `make_append_only`, but `column` may be set once from NULL (same trigger name)."""
    return (
        f"CREATE TRIGGER {trigger_name(table)} BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION refuse_history_change_but_set_once('{column}')"
    )
