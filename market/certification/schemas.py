"""Certification request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from market.kit.schema import Input, Output


class CertificateIn(Input):
    """A certificate as `GET /v1/certificates/{id}` returns it (extra fields are refused)."""

    id: str = Field(max_length=100)
    kind: str = Field(max_length=100)
    payload: dict[str, Any]
    signature: str = Field(max_length=200)
    alg: str = Field(max_length=50)
    key_id: str = Field(max_length=100)
    log_index: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """Verifying writes nothing: a NUL in a presented payload is just a character."""
        return data


class VerificationOut(Output):
    valid: bool
    reason: str | None = None
    key_status: str


class RevokeIn(Input):
    revoked_at: datetime | None = None
