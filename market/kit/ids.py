"""Opaque, time-ordered identifiers: a prefix plus 26 Crockford base32 characters."""

from __future__ import annotations

import base64
import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())
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
    return f"{prefix}_{encode(value)}"


def encode(value: int) -> str:
    """A 128-bit value as 26 Crockford base-32 digits (lower case), most significant first."""
    # 26 digits are the top 130 bits of a 136-bit (17-byte) field: RFC 4648 base32 (in C),
    # mapped to Crockford's alphabet.
    return base64.b32encode((value << 6).to_bytes(17, "big"))[:26].translate(_CROCKFORD).decode()
