"""Opaque, time-ordered identifiers: a prefix plus 26 Crockford base32 characters."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_lock = threading.Lock()
_last = 0


def new_id(prefix: str) -> str:
    """A ULID-like id: 48 bits of milliseconds then 80 random bits, so ids sort by creation.

    Monotonic within a process (as ULID's monotonic mode): an id made in the same millisecond
    as the previous one is the previous one plus one, so ids made one after the other — the
    trades of one order, say — also sort in the order they were made.
    """
    global _last
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    with _lock:
        if value >> 80 <= _last >> 80:
            value = _last + 1
        _last = value
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
