"""DOMAIN.md invariants 1, 2, 4 and 8 for the registry, as code the tests, CLI and API run."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.invariants import Check, check_from_rows
from market.registry.invariant_repository import RegistryInvariantRepository
from market.registry.models import APPEND_ONLY_TABLES


async def append_only_tables(session: AsyncSession) -> set[str]:
    return await RegistryInvariantRepository(session).tables_with_append_only_trigger()


async def registry_checks(session: AsyncSession, with_trigger: set[str]) -> list[Check]:
    repo = RegistryInvariantRepository(session)
    missing = sorted(set(APPEND_ONLY_TABLES) - with_trigger)
    return [
        check_from_rows("units_conserved", await repo.units_not_conserved()),
        check_from_rows("holding_counters_match_ranges", await repo.counters_off_ranges()),
        check_from_rows("serials_exact", await repo.serial_gaps_or_overlaps()),
        check_from_rows("retired_serials_never_move", await repo.retired_serials_moved()),
        check_from_rows("nothing_negative", await repo.negative_buckets()),
        Check(
            name="history_append_only",
            ok=not missing,
            detail="every history table refuses UPDATE/DELETE"
            if not missing
            else f"no append-only trigger on: {', '.join(missing)}",
        ),
    ]
