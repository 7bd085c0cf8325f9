"""Each instrument's home worker: dealt round-robin in creation order, the same in every worker."""

from __future__ import annotations

from functools import partial

from market.db.engine import create_engine, session_factory
from market.settings import Settings
from market.trading.instrument_service import symbols_in_creation_order
from market.workers.homes import InstrumentHomes
from tests.api.trading_helpers import Market


async def test_instruments_are_dealt_round_robin_in_creation_order(
    market: Market, settings: Settings
) -> None:
    engine = create_engine(settings.database_url or "", 2)
    symbols = partial(symbols_in_creation_order, session_factory(engine))
    try:
        first = InstrumentHomes(symbols, 2)
        created = [(await market.instrument())["symbol"] for _ in range(3)]
        homes = [await first.home(s) for s in created]
        assert homes[1] == (homes[0] + 1) % 2 and homes[2] == homes[0]
        later = (await market.instrument())["symbol"]  # unknown to `first` until it re-reads
        assert await first.home(later) == (homes[2] + 1) % 2
        second = InstrumentHomes(symbols, 2)  # another worker agrees
        assert [await second.home(s) for s in [*created, later]] == [
            *homes,
            await first.home(later),
        ]
        assert await first.home("NOSUCH") is None
    finally:
        await engine.dispose()
