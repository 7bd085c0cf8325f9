"""Who an API key speaks for, remembered for a moment in each process.

Every request authenticates; looking the key up in PostgreSQL each time costs a round trip and
more Python than the lookup itself. Callers are kept here for `TTL_SECONDS`. A revocation or a
freeze clears this process's cache at once; other processes see it within `TTL_SECONDS` (the
order batch re-reads the party's status in its own transaction, so a frozen party's orders are
refused exactly).
"""

from __future__ import annotations

import time

from market.parties.roles import Caller

TTL_SECONDS = 1.0
MAX_ENTRIES = 10_000

_entries: dict[str, tuple[float, Caller]] = {}


def cached(token_hash: str) -> Caller | None:
    entry = _entries.get(token_hash)
    if entry is None:
        return None
    if entry[0] < time.monotonic():
        _entries.pop(token_hash, None)
        return None
    return entry[1]


def remember(token_hash: str, caller: Caller) -> None:
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[token_hash] = (time.monotonic() + TTL_SECONDS, caller)


def forget_all() -> None:
    """A key was revoked or a party frozen or unfrozen: look every key up again."""
    _entries.clear()
