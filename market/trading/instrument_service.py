"""Instruments: listing (operator), status changes (operator; a regulator may halt)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db.locking import advisory_xact_lock
from market.kit.errors import Forbidden, InvalidInput, NotFound
from market.kit.money import parse_money
from market.kit.time import utcnow
from market.parties.roles import Caller, require
from market.registry.product_service import ProductService
from market.trading.errors import InstrumentExists
from market.trading.models import Instrument
from market.trading.repository import TradingRepository
from market.trading.schemas import InstrumentCreate


class InstrumentService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = TradingRepository(session)

    async def create(self, caller: Caller, data: InstrumentCreate) -> Instrument:
        require(caller, "operator")
        await ProductService(self.session).product_type(data.product_type)  # 404 if unknown
        tick = parse_money(data.tick_size)
        reference = parse_money(data.reference_price)
        if tick <= 0 or reference <= 0:
            raise InvalidInput("tick_size and reference_price must be positive")
        if reference % tick:
            raise InvalidInput("reference_price must be a multiple of tick_size")
        eligibility = data.eligibility.model_dump(exclude_none=True)
        if (
            data.eligibility.vintage_from is not None
            and data.eligibility.vintage_to is not None
            and data.eligibility.vintage_from > data.eligibility.vintage_to
        ):
            raise InvalidInput("vintage_from must not exceed vintage_to")
        await advisory_xact_lock(self.session, "instrument", data.symbol)
        if await self.repo.instrument(data.symbol) is not None:
            raise InstrumentExists(f"instrument {data.symbol} exists")
        instrument = Instrument(
            symbol=data.symbol,
            product_type=data.product_type,
            eligibility=eligibility,
            tick_size_fen=tick,
            lot_size=data.lot_size,
            reference_price_fen=reference,
            price_band_bps=int(Decimal(data.price_band_pct) * 100),
            buyer_fee_bps=data.buyer_fee_bps,
            seller_fee_bps=data.seller_fee_bps,
            created_at=utcnow(),
        )
        await self.repo.add(instrument)
        return instrument

    async def get(self, symbol: str) -> Instrument:
        instrument = await self.repo.instrument(symbol)
        if instrument is None:
            raise NotFound(f"instrument {symbol} not found")
        return instrument

    async def set_status(self, caller: Caller, symbol: str, status: str) -> Instrument:
        """Operators open, halt and close; a regulator may only halt (resting orders stay)."""
        require(caller, "operator", "regulator")
        if caller.kind == "regulator" and status != "halted":
            raise Forbidden("a regulator may halt an instrument, not open or close it")
        await advisory_xact_lock(self.session, "instrument", symbol)
        instrument = await self.get(symbol)
        instrument.status = status
        await self.repo.add(instrument)
        return instrument

    async def halt_all(self) -> list[str]:
        """Halt every open instrument (the invariant watch, on a violation); resting orders
        stay. Returns the symbols halted."""
        halted: list[str] = []
        for symbol in await self.repo.symbols_in_creation_order():
            await advisory_xact_lock(self.session, "instrument", symbol)
            instrument = await self.get(symbol)
            if instrument.status == "open":
                instrument.status = "halted"
                await self.repo.add(instrument)
                halted.append(symbol)
        return halted


async def traded_in_year(session: AsyncSession, symbol: str, year: int) -> tuple[int, int]:
    """(units, value in fen) of an instrument's trades in a UTC calendar year: the volume and
    value a volume-weighted average price divides (GEP market valuation)."""
    since = datetime(year, 1, 1, tzinfo=UTC)
    until = datetime(year + 1, 1, 1, tzinfo=UTC)
    return await TradingRepository(session).traded_volume_and_value(symbol, since, until)


async def symbols_in_creation_order(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """Every instrument's symbol, oldest first: how `market.workers.homes` deals instruments
    to the workers."""
    async with sessions() as session:
        return await TradingRepository(session).symbols_in_creation_order()
