"""GEP methodologies and accounts (DOMAIN.md "GEP methodology", "GEP account").

An account's values are computed here, never taken from the client: each line's value is
quantity × unit price rounded half-even to the fen; the categories' subtotals and the total are
sums of line values. A market-priced indicator's unit price is the volume-weighted average price
of its instrument's trades in the account's UTC year (half-even to the fen), else its default.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.certification.service import CertificateService
from market.db.locking import advisory_xact_lock
from market.kit.errors import Forbidden, NotFound
from market.kit.ids import new_id
from market.kit.money import format_decimal, format_money, parse_money
from market.kit.time import utcnow
from market.parties.roles import Caller, require
from market.parties.service import PartyService
from market.registry.claim_service import ClaimService
from market.trading.instrument_service import traded_in_year
from market.valuation.errors import (
    AccountNotDraft,
    InvalidCorrection,
    MethodologyExists,
    UnknownAsset,
    UnknownIndicator,
    UnknownMethodology,
)
from market.valuation.models import (
    CATEGORIES,
    GepAccount,
    GepAccountLine,
    GepIndicator,
    GepMethodology,
)
from market.valuation.repository import ValuationRepository
from market.valuation.schemas import AccountCreate, MethodologyCreate

ACCOUNT_READERS = frozenset({"regulator"})


def line_value(quantity: Decimal, unit_price: int) -> int:
    """quantity × unit price (fen), half-even to the fen."""
    return int((quantity * unit_price).to_integral_value(rounding=ROUND_HALF_EVEN))


def vwap(volume: int, value: int) -> int:
    """value / volume in fen, half-even (volume > 0)."""
    quotient, remainder = divmod(value, volume)
    twice = 2 * remainder
    if twice > volume or (twice == volume and quotient % 2 == 1):
        quotient += 1
    return quotient


def in_region(asset_region: str, region_code: str) -> bool:
    """An asset lies in a region when its code falls under the region's (GB/T 2260: a
    province ends in 0000, a prefecture in 00)."""
    prefix = region_code
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return asset_region.startswith(prefix)


@dataclass(slots=True)
class AccountView:
    account: GepAccount
    methodology: GepMethodology
    lines: list[GepAccountLine]


class ValuationService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = ValuationRepository(session)

    # methodologies --------------------------------------------------------------------------

    async def create_methodology(
        self, caller: Caller, data: MethodologyCreate
    ) -> tuple[GepMethodology, list[GepIndicator]]:
        """A new methodology version; immutable from the start (append-only in the database)."""
        require(caller, "operator", "regulator")
        if await self.repo.methodology(data.code, data.version) is not None:
            raise MethodologyExists(f"methodology {data.code} {data.version} exists")
        methodology = GepMethodology(
            id=new_id("gepm"),
            code=data.code,
            version=data.version,
            name=data.name or f"{data.code} {data.version}",
            created_by=caller.party_id,
            created_at=utcnow(),
        )
        indicators = [
            GepIndicator(
                methodology_id=methodology.id,
                code=i.code,
                position=n,
                name=i.name,
                category=i.category,
                unit=i.unit,
                price=None if i.price is None else parse_money(i.price),
                price_source=i.price_source,
                market_instrument=i.market_instrument,
                default_price=None if i.default_price is None else parse_money(i.default_price),
            )
            for n, i in enumerate(data.indicators)
        ]
        await self.repo.add(methodology)
        await self.repo.add(*indicators)
        return methodology, indicators

    async def methodologies(
        self, *, limit: int, cursor: str | None
    ) -> list[tuple[GepMethodology, list[GepIndicator]]]:
        found = await self.repo.methodologies(limit=limit, cursor=cursor)
        indicators = await self.repo.indicators([m.id for m in found])
        return [(m, indicators[m.id]) for m in found]

    # accounts -------------------------------------------------------------------------------

    async def draft_account(self, caller: Caller, data: AccountCreate) -> AccountView:
        """A certifier (the accounting agency) enters physical quantities; values follow."""
        require(caller, "certifier")
        await PartyService(self.session).require_active(caller)
        methodology = await self.repo.methodology(data.methodology.code, data.methodology.version)
        if methodology is None:
            raise UnknownMethodology(
                f"unknown methodology {data.methodology.code} {data.methodology.version}"
            )
        indicators = {
            i.code: i for i in (await self.repo.indicators([methodology.id]))[methodology.id]
        }
        if unknown := sorted({line.indicator for line in data.lines} - indicators.keys()):
            raise UnknownIndicator(
                f"not in {methodology.code} {methodology.version}: {', '.join(unknown)}",
                indicators=unknown,
            )
        await self._check_assets(data)
        if data.supersedes is not None:
            earlier = await self.repo.get(GepAccount, data.supersedes)
            if (
                earlier is None
                or earlier.status != "published"
                or (earlier.region_code, earlier.year) != (data.region_code, data.year)
            ):
                raise InvalidCorrection(
                    "supersedes must name the published account of the same region and year"
                )
        prices = await self._unit_prices(
            [indicators[c] for c in sorted({line.indicator for line in data.lines})], data.year
        )
        lines = []
        for entry in data.lines:
            indicator = indicators[entry.indicator]
            quantity = Decimal(entry.quantity)
            price = prices[indicator.code]
            lines.append(
                GepAccountLine(
                    account_id="",
                    indicator=indicator.code,
                    category=indicator.category,
                    unit=indicator.unit,
                    quantity=quantity,
                    unit_price=price,
                    value=line_value(quantity, price),
                    asset_id=entry.asset_id,
                )
            )
        by_category = {
            c: sum(line.value for line in lines if line.category == c) for c in CATEGORIES
        }
        account = GepAccount(
            id=new_id("gep"),
            region_code=data.region_code,
            year=data.year,
            methodology_id=methodology.id,
            drafter_id=caller.party_id,
            supersedes=data.supersedes,
            reason=data.reason,
            by_category={c: format_money(v) for c, v in by_category.items()},
            total=sum(by_category.values()),
            created_at=utcnow(),
        )
        await self.repo.add(account)
        for line in lines:
            line.account_id = account.id
        await self.repo.add_lines(account.id, lines)
        return AccountView(account, methodology, lines)

    async def publish(self, caller: Caller, account_id: str) -> AccountView:
        """The drafter signs the account; a correction supersedes the account it names."""
        account = await self.repo.get(GepAccount, account_id, lock=True)
        if account is None or not self._may_read(caller, account):
            raise NotFound("account not found")
        if account.drafter_id != caller.party_id:
            raise Forbidden("only the certifier who drafted the account publishes it")
        await PartyService(self.session).require_active(caller)
        if account.status != "draft":
            raise AccountNotDraft(f"account is {account.status}, not draft")
        # One publisher per region and year at a time, in every process: the second sees the
        # first's account as current (and is refused unless it supersedes it).
        await advisory_xact_lock(
            self.session, "gep_account", f"{account.region_code}:{account.year}"
        )
        current = await self.repo.published_account(account.region_code, account.year)
        if current is not None and current.id != account.supersedes:
            raise InvalidCorrection(
                f"account {current.id} is published for {account.region_code} {account.year}: "
                "publish a correction that supersedes it",
                current=current.id,
            )
        if account.supersedes is not None:
            if current is None:
                raise InvalidCorrection("the account it supersedes is no longer published")
            await self.repo.mark_superseded(current.id, account.id)
        methodology = await self.repo.get(GepMethodology, account.methodology_id)
        assert methodology is not None
        lines = (await self.repo.lines_of([account.id]))[account.id]
        account.status = "published"
        account.published_at = utcnow()
        certificate = await CertificateService(self.session).issue(
            "gep_account", account.id, caller.party_id, account_facts(account, methodology, lines)
        )
        account.certificate_id = certificate.id
        await self.repo.add(account)
        return AccountView(account, methodology, lines)

    async def account(self, caller: Caller | None, account_id: str) -> AccountView:
        account = await self.repo.get(GepAccount, account_id)
        if account is None or not self._may_read(caller, account):
            raise NotFound("account not found")
        return (await self._views([account]))[0]

    async def accounts(
        self,
        caller: Caller | None,
        *,
        limit: int,
        cursor: str | None,
        region_code: str | None,
        year: int | None,
        status: str | None,
    ) -> list[AccountView]:
        """Current (published) accounts by default — a region's series in year order; drafts
        for their drafter and regulators, superseded versions on request."""
        statuses = (status,) if status else ("published",)
        drafts_of = None
        if caller is not None:
            drafts_of = "*" if caller.kind in ACCOUNT_READERS else caller.party_id
        found = await self.repo.accounts(
            limit=limit,
            cursor=cursor,
            region_code=region_code,
            year=year,
            statuses=statuses,
            drafts_of=drafts_of,
        )
        return await self._views(found)

    async def published_totals(self, region_codes: list[str], year: int) -> dict[str, int]:
        """The total (fen) of each region's current published account for the year."""
        return await self.repo.published_totals(region_codes, year)

    async def _views(self, accounts: list[GepAccount]) -> list[AccountView]:
        methodologies = await self.repo.methodologies_by_id({a.methodology_id for a in accounts})
        lines = await self.repo.lines_of([a.id for a in accounts])
        return [AccountView(a, methodologies[a.methodology_id], lines[a.id]) for a in accounts]

    @staticmethod
    def _may_read(caller: Caller | None, account: GepAccount) -> bool:
        if account.status != "draft":
            return True
        return caller is not None and (
            caller.kind in ACCOUNT_READERS or caller.party_id == account.drafter_id
        )

    async def _check_assets(self, data: AccountCreate) -> None:
        asset_ids = sorted({line.asset_id for line in data.lines if line.asset_id is not None})
        if not asset_ids:
            return
        regions = await ClaimService(self.session).regions_of(asset_ids)
        if missing := [a for a in asset_ids if a not in regions]:
            raise UnknownAsset(f"unknown asset(s): {', '.join(missing)}", asset_ids=missing)
        if outside := [a for a in asset_ids if not in_region(regions[a], data.region_code)]:
            raise UnknownAsset(
                f"asset(s) outside region {data.region_code}: {', '.join(outside)}",
                asset_ids=outside,
            )

    async def _unit_prices(self, indicators: list[GepIndicator], year: int) -> dict[str, int]:
        prices: dict[str, int] = {}
        for indicator in indicators:
            if indicator.price is not None:
                prices[indicator.code] = indicator.price
                continue
            assert indicator.market_instrument is not None and indicator.default_price is not None
            volume, value = await traded_in_year(self.session, indicator.market_instrument, year)
            prices[indicator.code] = vwap(volume, value) if volume else indicator.default_price
        return prices


def account_facts(
    account: GepAccount, methodology: GepMethodology, lines: list[GepAccountLine]
) -> dict[str, Any]:
    return {
        "account_id": account.id,
        "region_code": account.region_code,
        "year": account.year,
        "methodology": {"code": methodology.code, "version": methodology.version},
        "lines": [line_json(line) for line in lines],
        "by_category": account.by_category,
        "total": format_money(account.total),
        "supersedes": account.supersedes,
        "reason": account.reason,
    }


def line_json(line: GepAccountLine) -> dict[str, Any]:
    return {
        "indicator": line.indicator,
        "category": line.category,
        "unit": line.unit,
        "quantity": format_decimal(Decimal(line.quantity), 0).rstrip("."),
        "unit_price": format_money(line.unit_price),
        "value": format_money(line.value),
        "asset_id": line.asset_id,
    }
