"""All SQL for signing keys, certificates and the Merkle log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Table, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.certification.merkle import NodeRef
from market.certification.models import Certificate, LogNode, LogState, SigningKey

KEYS: Table = SigningKey.__table__  # type: ignore[attr-defined]
NODES: Table = LogNode.__table__  # type: ignore[attr-defined]
STATE: Table = LogState.__table__  # type: ignore[attr-defined]
CERTS: Table = Certificate.__table__  # type: ignore[attr-defined]


class KeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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

    async def lock_state(self) -> tuple[int, bytes]:
        """Lock the log for appending (held until commit); returns (tree_size, root)."""
        row = (
            await self.session.execute(
                select(STATE.c.tree_size, STATE.c.root_hash)
                .where(STATE.c.id == 1)
                .with_for_update()
            )
        ).one()
        return int(row.tree_size), bytes(row.root_hash)

    async def state(self) -> tuple[int, bytes]:
        row = (
            await self.session.execute(
                select(STATE.c.tree_size, STATE.c.root_hash).where(STATE.c.id == 1)
            )
        ).one()
        return int(row.tree_size), bytes(row.root_hash)

    async def set_state(self, tree_size: int, root: bytes) -> None:
        await self.session.execute(
            update(STATE).where(STATE.c.id == 1).values(tree_size=tree_size, root_hash=root)
        )

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

    async def store(self, nodes: list[tuple[NodeRef, bytes]]) -> None:
        if nodes:
            await self.session.execute(
                insert(NODES), [{"level": r.level, "idx": r.index, "hash": h} for r, h in nodes]
            )


class CertificateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, certificate: Certificate) -> None:
        self.session.add(certificate)
        await self.session.flush()

    async def add_all(self, certificates: list[Certificate]) -> None:
        self.session.add_all(certificates)
        await self.session.flush()

    async def get(self, certificate_id: str) -> Certificate | None:
        return await self.session.get(Certificate, certificate_id)

    async def recent(self, limit: int) -> list[Certificate]:
        rows = await self.session.execute(
            select(Certificate).order_by(CERTS.c.log_index.desc()).limit(limit)
        )
        return list(rows.scalars())

    async def leaf_gaps(self) -> list[dict[str, int]]:
        """Log indices are 0..n-1 with no gap: compare count and max with the state."""
        from sqlalchemy import func

        row = (
            await self.session.execute(
                select(func.count(), func.coalesce(func.max(CERTS.c.log_index), -1))
            )
        ).one()
        return [{"count": int(row[0]), "max_index": int(row[1])}]
