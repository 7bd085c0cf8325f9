"""Party use cases: create, read, list, API keys, freeze, bootstrap operator."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from market.db.remembered import remembered
from market.kit.errors import Forbidden, NotFound, Unauthenticated
from market.kit.ids import new_id
from market.kit.time import utcnow
from market.parties import caller_cache
from market.parties.credit_code import complete_credit_code, is_valid_credit_code
from market.parties.errors import InvalidCreditCode, PartyExists, PartyFrozen
from market.parties.models import ApiKey, Party
from market.parties.repository import ApiKeyRepository, PartyRepository
from market.parties.roles import Caller, require
from market.parties.schemas import PartyCreate

BOOTSTRAP_OPERATOR_CODE = complete_credit_code("91110000MA0000000")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "mk_" + secrets.token_urlsafe(32)


class PartyService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.parties = PartyRepository(session)
        self.keys = ApiKeyRepository(session)

    async def authenticate(self, token: str) -> Caller:
        token_hash = hash_token(token)
        caller = caller_cache.cached(token_hash)
        if caller is not None:
            return caller
        party = await self.keys.party_for_token_hash(token_hash)
        if party is None:
            raise Unauthenticated("invalid or revoked API key")
        caller = Caller(party_id=party.id, kind=party.kind, status=party.status)
        caller_cache.remember(token_hash, caller)
        return caller

    async def create(self, caller: Caller, data: PartyCreate) -> tuple[Party, ApiKey, str]:
        """Create a party with its first API key (the token is returned once)."""
        require(caller, "operator")
        if not is_valid_credit_code(data.credit_code):
            raise InvalidCreditCode("credit_code fails the GB 32100-2015 check")
        if await self.parties.by_credit_code(data.credit_code):
            raise PartyExists("a party with this credit_code exists")
        party = await self.parties.add(
            Party(
                id=new_id("pty"),
                name=data.name,
                kind=data.kind,
                credit_code=data.credit_code,
                region_code=data.region_code,
                created_at=utcnow(),
            )
        )
        key, token = await self._issue_key(party.id)
        return party, key, token

    async def _issue_key(self, party_id: str, token: str | None = None) -> tuple[ApiKey, str]:
        token = token or new_token()
        key = await self.keys.add(
            ApiKey(
                id=new_id("key"),
                party_id=party_id,
                token_hash=hash_token(token),
                created_at=utcnow(),
            )
        )
        return key, token

    async def get(self, caller: Caller, party_id: str) -> Party:
        party = await self.parties.get(party_id)
        if party is None or not (caller.oversees or caller.party_id == party_id):
            raise NotFound("party not found")
        return party

    async def list_parties(
        self, caller: Caller, *, limit: int, cursor: str | None, kind: str | None
    ) -> list[Party]:
        require(caller, "operator", "regulator")
        return await self.parties.list(limit=limit, cursor=cursor, kind=kind)

    async def create_key(self, caller: Caller, party_id: str) -> tuple[ApiKey, str]:
        if not (caller.kind == "operator" or caller.party_id == party_id):
            if caller.kind == "regulator":
                raise Forbidden("regulators do not manage API keys")
            raise NotFound("party not found")
        if await self.parties.get(party_id) is None:
            raise NotFound("party not found")
        return await self._issue_key(party_id)

    async def revoke_key(self, caller: Caller, key_id: str) -> ApiKey:
        key = await self.keys.get(key_id)
        if key is None or not (caller.kind == "operator" or caller.party_id == key.party_id):
            raise NotFound("API key not found")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            await self.keys.revoke(key_id, key.revoked_at)
            caller_cache.forget_all()
        return key

    async def require_active(self, caller: Caller) -> None:
        """Refuse a frozen party's write (`party_frozen`), reading its status in this
        transaction: the caller's cached status may be a second old on another worker (either
        way: a freeze or an unfreeze made there)."""
        if await self.parties.status(caller.party_id) != "active":
            raise PartyFrozen("the party is frozen by a regulator")

    async def set_frozen(self, caller: Caller, party_id: str, frozen: bool) -> Party:
        require(caller, "regulator")
        party = await self.parties.lock(party_id)
        if party is None:
            raise NotFound("party not found")
        party.status = "frozen" if frozen else "active"
        await self.parties.set_status(party_id, party.status)
        caller_cache.forget_all()
        return party

    async def ensure_platform_operator(self, name: str = "Platform operator") -> Party:
        """The platform's own operator party (fee account, platform signing key)."""
        party = await self.parties.by_credit_code(BOOTSTRAP_OPERATOR_CODE)
        if party is None:
            party = await self.parties.add(
                Party(
                    id=new_id("pty"),
                    name=name,
                    kind="operator",
                    credit_code=BOOTSTRAP_OPERATOR_CODE,
                    region_code="110000",
                    created_at=utcnow(),
                )
            )
        return party

    async def ensure_bootstrap_operator(self, token: str, name: str = "Platform operator") -> Party:
        """Make `token` a valid operator key (creating the operator party on first start)."""
        existing = await self.keys.party_for_token_hash(hash_token(token))
        if existing is not None:
            return existing
        party = await self.ensure_platform_operator(name)
        await self._issue_key(party.id, token)
        return party

    async def platform_party_id(self) -> str | None:
        """The platform operator (owner of the fee account and the platform key); once it
        exists it never changes, so the process reads it once."""

        async def load() -> str | None:
            party = await self.parties.by_credit_code(BOOTSTRAP_OPERATOR_CODE)
            return party.id if party else None

        return await remembered(self.session, "platform_party_id", load)
