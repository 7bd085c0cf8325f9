"""Who the caller is and what its role may do."""

from __future__ import annotations

from dataclasses import dataclass

from market.kit.errors import Forbidden

OVERSEERS = frozenset({"operator", "regulator"})
TRADERS = frozenset({"collective", "enterprise", "government"})


@dataclass(frozen=True, slots=True)
class Caller:
    party_id: str
    kind: str
    status: str

    @property
    def oversees(self) -> bool:
        """Operators and regulators read every party's objects."""
        return self.kind in OVERSEERS


def require(caller: Caller, *kinds: str) -> None:
    """403 unless the caller's party kind is one of `kinds`."""
    if caller.kind not in kinds:
        raise Forbidden(f"a {caller.kind} may not do this")
