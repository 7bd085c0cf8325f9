"""All SQL for signing keys, certificates and the Merkle log.

Storing certificates, integrating them into the log and reading the signer's key run as raw
asyncpg on the session's connection and transaction (`market.db.raw`, which also says how
database errors are raised): they are on every certified write's path.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Table, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.certification.merkle import NodeRef
from market.certification.models import (
    Certificate,
    LogNode,
    LogState,
    SignedCertificate,
    SigningKey,
)
from market.db.raw import attribute_columns, raw_connection

KEYS: Table = SigningKey.__table__  # type: ignore[attr-defined]
NODES: Table = LogNode.__table__  # type: ignore[attr-defined]
STATE: Table = LogState.__table__  # type: ignore[attr-defined]
CERTS: Table = Certificate.__table__  # type: ignore[attr-defined]

# The locked log's size, root and peaks: the complete nodes its root folds, one per set bit b of
# the size, (b, (size >> b) - 1). A peak committed by a transaction this one waited for (on the
# lock) is not in the statement's snapshot, so it is missing here.
Tip = tuple[int, bytes, dict[NodeRef, bytes]]

_ACTIVE_KEYS = """
SELECT party_id, key_id, encrypted_private_key FROM signing_keys
WHERE party_id = ANY($1::text[]) AND status = 'active'
"""

# The peaks of the locked state `s`, read only when {condition} holds.
_PEAKS = """
CROSS JOIN LATERAL (
  SELECT array_agg(n.level) AS levels, array_agg(n.hash) AS hashes
  FROM generate_series(0, 62) AS b
  JOIN log_nodes AS n ON n.level = b AND n.idx = (s.tree_size >> b) - 1
  WHERE (s.tree_size >> b) & 1 = 1 AND {condition}
) AS p
"""

_LOCK_TIP = f"""
WITH state AS (
  SELECT tree_size, root_hash FROM log_state WHERE id = 1 FOR UPDATE
)
SELECT s.tree_size, s.root_hash, p.levels, p.hashes
FROM state AS s
{_PEAKS.format(condition="true")}"""

_CERTIFICATE_COLUMNS = (
    "id",
    "kind",
    "subject_id",
    "issuer_id",
    "key_id",
    "canonical",
    "payload_hash",
    "signature",
    "log_index",
    "issued_at",
)

# Only certificates signed by their issuer's key that is active as this statement runs: a
# process remembers active keys, and a key rotated or revoked by another process meanwhile
# must not sign (the caller signs those again with the current key).
_INSERT_PENDING = """
INSERT INTO certificates (id, kind, subject_id, issuer_id, key_id, canonical, payload_hash,
                          signature, log_index, issued_at)
SELECT c.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                       $6::bytea[], $7::text[], $8::bytea[], $9::bigint[], $10::timestamptz[])
       AS c(id, kind, subject_id, issuer_id, key_id, canonical, payload_hash, signature,
            log_index, issued_at)
JOIN signing_keys AS k
  ON k.key_id = c.key_id AND k.party_id = c.issuer_id AND k.status = 'active'
RETURNING id
"""

# Every pending certificate committed so far (any process's), in the order the log takes them.
_PENDING = """
SELECT id, canonical FROM certificates WHERE log_index IS NULL
ORDER BY issued_at, id LIMIT $1
"""

# Under the log's lock: store the nodes, index the certificates ($6 ids get $7 + 0, 1, …) and
# move the state to ($1 size, $2 root). Returns how many certificates were indexed.
_INTEGRATE = """
WITH new_state AS (
  UPDATE log_state SET tree_size = $1, root_hash = $2 WHERE id = 1
), new_nodes AS (
  INSERT INTO log_nodes (level, idx, hash)
  SELECT * FROM unnest($3::smallint[], $4::bigint[], $5::bytea[])
), indexed AS (
  UPDATE certificates AS c SET log_index = $7::bigint + u.n - 1
  FROM unnest($6::text[]) WITH ORDINALITY AS u(id, n)
  WHERE c.id = u.id AND c.log_index IS NULL
  RETURNING 1
)
SELECT count(*) FROM indexed
"""


def _tip(size: int, root: bytes, levels: list[int] | None, hashes: list[bytes] | None) -> Tip:
    peaks = {
        NodeRef(level, (size >> level) - 1): bytes(value)
        for level, value in zip(levels or (), hashes or (), strict=True)
    }
    return int(size), bytes(root), peaks


class KeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_signers(self, party_ids: list[str]) -> dict[str, tuple[str, bytes]]:
        """party id → (key id, encrypted private key) of the active key, for those with one."""
        connection = await raw_connection(self.session)
        rows = await connection.fetch(_ACTIVE_KEYS, party_ids)
        return {r[0]: (r[1], r[2]) for r in rows}

    async def active_for(self, party_id: str) -> SigningKey | None:
        rows = await self.session.execute(
            select(SigningKey).where(KEYS.c.party_id == party_id, KEYS.c.status == "active")
        )
        return rows.scalars().first()

    async def get(self, key_id: str, *, lock: bool = False) -> SigningKey | None:
        return await self.session.get(SigningKey, key_id, with_for_update=lock)

    async def add(self, key: SigningKey) -> None:
        self.session.add(key)
        await self.session.flush()

    async def all(self) -> list[SigningKey]:
        rows = await self.session.execute(select(SigningKey).order_by(KEYS.c.not_before))
        return list(rows.scalars())

    async def retire(self, key_id: str, status: str, at: datetime, column: str) -> None:
        await self.session.execute(
            update(KEYS).where(KEYS.c.key_id == key_id).values({"status": status, column: at})
        )


class LogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_tip(self) -> Tip:
        """Lock the log for appending (held until commit): its size, root and peaks."""
        connection = await raw_connection(self.session)
        row = await connection.fetchrow(_LOCK_TIP)
        assert row is not None  # log_state always has its one row
        return _tip(*row)

    async def pending(self, limit: int) -> list[tuple[str, bytes]]:
        """(id, canonical bytes) of the oldest pending certificates (a fresh snapshot: call it
        after `lock_tip`, so it sees what the previous holder of the lock indexed)."""
        connection = await raw_connection(self.session)
        return [(r[0], bytes(r[1])) for r in await connection.fetch(_PENDING, limit)]

    async def integrate(
        self,
        grown: tuple[int, bytes],
        nodes: list[tuple[NodeRef, bytes]],
        certificate_ids: list[str],
        first_index: int,
    ) -> int:
        """Store `nodes`, give `certificate_ids` the indices from `first_index` on and move the
        log to `grown` (size, root), in one round trip; how many certificates were indexed."""
        connection = await raw_connection(self.session)
        return int(
            await connection.fetchval(
                _INTEGRATE,
                *grown,
                [r.level for r, _ in nodes],
                [r.index for r, _ in nodes],
                [h for _, h in nodes],
                certificate_ids,
                first_index,
            )
        )

    async def has_pending(self) -> bool:
        connection = await raw_connection(self.session)
        return bool(
            await connection.fetchval(
                "SELECT EXISTS (SELECT 1 FROM certificates WHERE log_index IS NULL)"
            )
        )

    async def indexed(self, certificate_ids: list[str]) -> set[str]:
        """Those of `certificate_ids` that are in the log."""
        connection = await raw_connection(self.session)
        rows = await connection.fetch(
            "SELECT id FROM certificates WHERE id = ANY($1::text[]) AND log_index IS NOT NULL",
            certificate_ids,
        )
        return {r[0] for r in rows}

    async def state(self) -> tuple[int, bytes]:
        row = (
            await self.session.execute(
                select(STATE.c.tree_size, STATE.c.root_hash).where(STATE.c.id == 1)
            )
        ).one()
        return int(row.tree_size), bytes(row.root_hash)

    async def fetch(self, refs: Iterable[NodeRef]) -> dict[NodeRef, bytes]:
        wanted = list(dict.fromkeys(refs))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(NODES.c.level, NODES.c.idx, NODES.c.hash).where(
                tuple_(NODES.c.level, NODES.c.idx).in_([(r.level, r.index) for r in wanted])
            )
        )
        return {NodeRef(r.level, r.idx): bytes(r.hash) for r in rows}


class CertificateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_pending(self, certificates: list[SignedCertificate]) -> set[str]:
        """Store signed certificates, not yet in the log (`log_index` NULL), in one statement;
        the ids stored — all but those whose key is no longer its issuer's active one."""
        connection = await raw_connection(self.session)
        rows = await connection.fetch(
            _INSERT_PENDING, *attribute_columns(certificates, _CERTIFICATE_COLUMNS)
        )
        return {row[0] for row in rows}

    async def add(self, certificate: Certificate) -> None:
        self.session.add(certificate)
        await self.session.flush()

    async def get(self, certificate_id: str) -> Certificate | None:
        return await self.session.get(Certificate, certificate_id)

    async def recent(self, limit: int) -> list[Certificate]:
        rows = await self.session.execute(
            select(Certificate)
            .order_by(CERTS.c.log_index.desc().nulls_first(), CERTS.c.issued_at.desc())
            .limit(limit)
        )
        return list(rows.scalars())

    async def leaf_gaps(self) -> list[dict[str, int]]:
        """Log indices are 0..n-1 with no gap: compare the indexed certificates' count and max
        (and the smallest index) with the state."""
        from sqlalchemy import func

        row = (
            await self.session.execute(
                select(
                    func.count(CERTS.c.log_index),
                    func.coalesce(func.max(CERTS.c.log_index), -1),
                    func.coalesce(func.min(CERTS.c.log_index), 0),
                )
            )
        ).one()
        return [{"count": int(row[0]), "max_index": int(row[1]), "min_index": int(row[2])}]

    async def pending_since(self) -> tuple[int, datetime | None]:
        """How many certificates are pending, and the oldest one's `issued_at`."""
        from sqlalchemy import func

        row = (
            await self.session.execute(
                select(func.count(), func.min(CERTS.c.issued_at)).where(CERTS.c.log_index.is_(None))
            )
        ).one()
        return int(row[0]), row[1]
