"""Base request/response models: strict input, no NUL characters (PostgreSQL refuses them)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    model_validator,
)

from market.kit.money import MONEY_PATTERN
from market.kit.time import isoformat

Money = Annotated[str, StringConstraints(pattern=MONEY_PATTERN)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(max_length=2000)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


class Input(BaseModel):
    """Every request body: unknown fields refused, no NUL characters."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _contains_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def exact_int(value: Any) -> Any:
    """JSON integers only: no strings, floats (10.0, 1e3) or booleans."""
    if type(value) is not int:
        raise ValueError("must be a JSON integer")
    return value


StrictInt = Annotated[int, BeforeValidator(exact_int)]
Quantity = Annotated[int, BeforeValidator(exact_int), Field(gt=0, le=1_000_000_000_000)]
Day = Annotated[date, Strict()]
Json = dict[str, Any]


def bounded_json(value: Json, limit: int = 65_536) -> Json:
    """Free-form attributes: a JSON object of at most `limit` bytes."""
    if len(json.dumps(value, ensure_ascii=False)) > limit:
        raise ValueError(f"must be at most {limit} bytes of JSON")
    return value


Attributes = Annotated[Json, AfterValidator(bounded_json)]

# RFC 3339 UTC with microseconds always present (API.md Conventions).
Timestamp = Annotated[datetime, PlainSerializer(isoformat, return_type=str)]
