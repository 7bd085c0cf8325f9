"""Which worker is each instrument's home (`market serve --workers N`).

Instruments are numbered in the order they were created (then by symbol) and dealt round-robin
to the workers, so a handful of instruments still spreads evenly (hashing symbols would often
put most of them on one worker). Instruments are never deleted, so every worker computes the
same numbering; a worker that does not know a symbol yet reads the list again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

SymbolsInCreationOrder = Callable[[], Awaitable[Sequence[str]]]


class InstrumentHomes:
    def __init__(self, symbols: SymbolsInCreationOrder, workers: int) -> None:
        """`symbols` reads every instrument's symbol in creation order (the trading context's
        `instrument_service.symbols_in_creation_order`)."""
        self.symbols = symbols
        self.workers = workers
        self._homes: dict[str, int] = {}

    async def home(self, symbol: str) -> int | None:
        """The home worker's index; None for a symbol that is not an instrument."""
        found = self._homes.get(symbol)
        if found is None:
            symbols = await self.symbols()
            self._homes = {s: i % self.workers for i, s in enumerate(symbols)}
            found = self._homes.get(symbol)
        return found
