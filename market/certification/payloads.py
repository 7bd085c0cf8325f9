"""Pure builders of certificate payloads: every number becomes a string (API.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

KINDS = (
    "rights_confirmation",
    "eco_product_certification",
    "batch_issuance",
    "transfer",
    "retirement",
    "pledge",
    "pledge_release",
    "trade",
    "block_trade",
    "gep_account",
    "monitoring_record",
    "compensation_payment",
)


def _normalize(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime):
        raise TypeError("pass timestamps as RFC 3339 strings")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    raise TypeError(f"cannot put {type(value).__name__} in a certificate payload")


def build_payload(
    kind: str, certificate_id: str, issued_at: str, issuer: str, facts: Mapping[str, Any]
) -> dict[str, Any]:
    """`{kind, id, issued_at, issuer, ...facts}` with numbers as strings, dates as ISO text."""
    if kind not in KINDS:
        raise ValueError(f"unknown certificate kind {kind!r}")
    reserved = {"kind", "id", "issued_at", "issuer"} & set(facts)
    if reserved:
        raise ValueError(f"facts may not set {sorted(reserved)}")
    payload: dict[str, Any] = {
        "kind": kind,
        "id": certificate_id,
        "issued_at": issued_at,
        "issuer": issuer,
    }
    payload.update(_normalize(dict(facts)))
    return payload
