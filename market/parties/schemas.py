"""Party request and response models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from market.kit.schema import Input, Name, Output, RegionCode, Timestamp
from market.parties.credit_code import CREDIT_CODE_PATTERN

PartyKind = Literal[
    "collective", "enterprise", "government", "registrar", "certifier", "regulator", "operator"
]


class PartyCreate(Input):
    name: Name
    kind: PartyKind
    credit_code: Annotated[str, StringConstraints(pattern=CREDIT_CODE_PATTERN)]
    region_code: RegionCode


class PartyOut(Output):
    id: str
    name: str
    kind: str
    credit_code: Annotated[str, StringConstraints(pattern=CREDIT_CODE_PATTERN)]
    region_code: str
    status: str
    created_at: Timestamp


class ApiKeyOut(Output):
    id: str
    party_id: str
    api_key: str
    created_at: Timestamp


class PartyCreated(Output):
    party: PartyOut
    api_key: str
    api_key_id: str
