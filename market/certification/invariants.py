"""Invariants 7–8 for the log: gap-free indices, root recomputed from stored nodes, signatures,
and no certificate left pending (stored, not in the log) longer than `MAX_PENDING`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.certification import merkle
from market.certification.models import APPEND_ONLY_TABLES
from market.certification.offline import verify_certificate
from market.certification.repository import CertificateRepository, LogRepository
from market.certification.service import CertificateService, certificate_json
from market.kit.invariants import Check
from market.kit.time import utcnow

RECENT_CERTIFICATES = 2_000
# A write waits for its append; only a crash (or the database going away) between a commit and
# its append leaves a certificate pending, and the next integrator run (each second) takes it.
MAX_PENDING = timedelta(seconds=10)


async def certification_checks(
    session: AsyncSession, with_trigger: set[str], recent: int = RECENT_CERTIFICATES
) -> list[Check]:
    """`recent`: how many of the newest certificates to re-verify (all of them is O(n))."""
    log = LogRepository(session)
    size, root = await log.state()
    stats = (await CertificateRepository(session).leaf_gaps())[0]
    gap_free = stats["count"] == size and stats["max_index"] == size - 1 and stats["min_index"] == 0
    pending, oldest = await CertificateRepository(session).pending_since()
    stale = oldest is not None and utcnow() - oldest > MAX_PENDING
    recomputed = merkle.root_from(size, await log.fetch(merkle.root_plan(size))) if size else root
    keys = await CertificateService(session).published_keys()
    bad: list[str] = []
    for certificate in await CertificateRepository(session).recent(recent):
        result = verify_certificate(certificate_json(certificate), keys)
        # A backdated revocation (a compromised key) legitimately invalidates what followed it;
        # any other failure means a stored certificate does not match its signature or key.
        if not result.valid and result.reason != "signed_after_revocation":
            bad.append(f"{certificate.id}: {result.reason}")
    missing = sorted(set(APPEND_ONLY_TABLES) - with_trigger)
    return [
        Check(
            name="log_indices_gap_free",
            ok=gap_free,
            detail=f"{stats['count']} certificates, last index {stats['max_index']}, size {size}",
        ),
        Check(
            name="no_certificate_left_pending",
            ok=not stale,
            detail=f"{pending} pending, the oldest issued at {oldest}"
            if pending
            else "every stored certificate is in the log",
        ),
        Check(
            name="log_root_consistent",
            ok=recomputed == (root if size else merkle.EMPTY_ROOT),
            detail=f"root {root.hex()} at size {size}",
        ),
        Check(
            name="certificates_verify",
            ok=not bad,
            detail=f"latest {recent} re-verified" if not bad else "; ".join(bad[:5]),
        ),
        Check(
            name="log_append_only",
            ok=not missing,
            detail="certificates and log nodes refuse UPDATE/DELETE"
            if not missing
            else f"no append-only trigger on: {', '.join(missing)}",
        ),
    ]
