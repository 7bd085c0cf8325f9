"""The shape every invariant check reports in."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class InvariantReport(BaseModel):
    ok: bool
    checks: list[Check]


def check_from_rows(name: str, violations: list[dict[str, Any]]) -> Check:
    """A check that passes when its query found no violating rows."""
    if not violations:
        return Check(name=name, ok=True, detail="holds")
    sample = json.dumps(violations[:5], default=str)
    return Check(name=name, ok=False, detail=f"{len(violations)} violation(s), e.g. {sample}")


def report(checks: list[Check]) -> InvariantReport:
    return InvariantReport(ok=all(c.ok for c in checks), checks=checks)
