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

from market.kit.money import MONEY_PATTERN, POSITIVE_MONEY_PATTERN
from market.kit.time import isoformat

Money = Annotated[str, StringConstraints(pattern=MONEY_PATTERN)]
PositiveMoney = Annotated[str, StringConstraints(pattern=POSITIVE_MONEY_PATTERN)]
# Ids, symbols and cursors are short ASCII tokens.
ID_PATTERN = r"^[0-9A-Za-z_.:-]{1,64}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
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
    """JSON integers only: no strings, booleans or fractions. A number with a zero fraction
    (10.0, 1e3) is an integer in JSON Schema, as the served schema says, and is taken as one."""
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is not int:
        raise ValueError("must be a JSON integer")
    return value


# A bounded JSON integer is `Annotated[int, Field(bounds...), JSON_INT]`: bounds placed after
# the validator are left out of the JSON schema by pydantic.
JSON_INT = BeforeValidator(exact_int)
StrictInt = Annotated[int, JSON_INT]
Quantity = Annotated[int, Field(gt=0, le=1_000_000_000_000), JSON_INT]
Vintage = Annotated[int, Field(ge=1990, le=2100), JSON_INT]
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
