"""The database's guard against double claims (DOMAIN.md invariant 11).

`btree_gist` is not available on the embedded PostgreSQL, so no exclusion constraint on
(asset, service, period): a BEFORE INSERT trigger takes a transaction-scoped advisory lock on
(asset, service) — the same key `claim_lock_sql` takes from Python — and refuses a row whose
period overlaps an earlier claim on the same asset and service. Two concurrent claims on one
asset and service serialize on the lock; the second sees the first once it has committed
(READ COMMITTED takes a new snapshot per statement) and is refused.

The refusal is SQLSTATE 23P01 (`exclusion_violation`) with the earlier claim as JSON after
the `double_claim ` prefix of the message, which the repository turns into `DoubleClaim`.
The lookup must use the (asset, service, period) index whatever the table's statistics say:
planned while the table was empty (an ANALYZE of an empty table), it would scan the whole table
for every inserted row — quadratic in a 10,000-asset settlement — so the function runs with
`enable_seqscan = off`, and its lookup has no ORDER BY (sorted by id, the planner would walk the
primary key instead).
"""

from __future__ import annotations

CLAIM_LOCK_CLASS = 73110  # the advisory-lock namespace of (asset, service) claims
REFUSAL_PREFIX = "double_claim "


def claim_lock_key(asset: str, service: str) -> str:
    """SQL for the lock's second key, given SQL expressions for asset and service."""
    return f"hashtext({asset} || ':' || {service})"


CREATE_CLAIM_GUARD = f"""
CREATE OR REPLACE FUNCTION refuse_double_claim() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    earlier asset_claims%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(
        {CLAIM_LOCK_CLASS}, {claim_lock_key("NEW.asset_id", "NEW.service")});
    SELECT * INTO earlier FROM asset_claims c
    WHERE c.asset_id = NEW.asset_id AND c.service = NEW.service
      AND c.period_start <= NEW.period_end AND c.period_end >= NEW.period_start
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '{REFUSAL_PREFIX}%', json_build_object(
            'asset_id', earlier.asset_id, 'service', earlier.service,
            'period_start', earlier.period_start, 'period_end', earlier.period_end,
            'source', earlier.source, 'source_id', earlier.source_id)::text
            USING ERRCODE = 'exclusion_violation';
    END IF;
    RETURN NEW;
END;
$$
"""

CREATE_CLAIM_TRIGGER = (
    "CREATE TRIGGER asset_claims_exclusive BEFORE INSERT ON asset_claims "
    "FOR EACH ROW EXECUTE FUNCTION refuse_double_claim()"
)
DROP_CLAIM_TRIGGER = "DROP TRIGGER IF EXISTS asset_claims_exclusive ON asset_claims"
DROP_CLAIM_GUARD = "DROP FUNCTION IF EXISTS refuse_double_claim()"
