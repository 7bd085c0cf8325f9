"""Dependencies every controller shares: the caller and list parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.errors import Unauthenticated
from market.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT
from market.kit.schema import ID_PATTERN
from market.parties.roles import Caller
from market.parties.service import PartyService


async def provide_caller(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Caller:
    """401 unless the request carries a valid, unrevoked `Authorization: Bearer` API key."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        raise Unauthenticated("missing or malformed Authorization: Bearer header")
    return await PartyService(db_session).authenticate(token)


@dataclass(frozen=True, slots=True)
class ListParams:
    limit: int
    cursor: str | None


def provide_list_params(
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, QueryParameter(pattern=ID_PATTERN)] = None,
) -> ListParams:
    return ListParams(limit=limit, cursor=cursor)


# Handler parameter types: the parameter names (`db_session`, `caller`, `list_params`) pick the
# dependency; the markers keep Litestar from guessing.
Session = NamedDependency[AsyncSession]
CallerOf = NamedDependency[Caller]
Listing = NamedDependency[ListParams]
