"""Matching engine benchmark: our rule-complete book against a bare heapq book, same stream.

    uv run python bench/engine.py [--orders N] [--seed S]   # throughput and latency
    uv run python bench/engine.py --depth                   # cost per order vs resting depth

Prints one JSON object. The stream is generated up front (not timed): limit orders around a
fixed mid a few ticks wide (about half of them cross), a few IOC / FOK / market orders, and
cancels of earlier order ids (some already gone). Throughput comes from an un-instrumented
pass; latency from a second pass on a fresh book that wraps every command in
`time.perf_counter_ns()` (so p50/p99 include ~0.05 µs of timer overhead).
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import platform
import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from market.trading.engine import (
    CancelOrder,
    InstrumentRules,
    NewOrder,
    OrderBook,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)

MID = 10_000  # fen
TICK = 1
LOT = 1
PARTIES = 1_000

Stream = list[NewOrder | CancelOrder]
_T = TypeVar("_T")


def make_stream(n: int, seed: int, *, spread: int = 5, cancel_share: float = 0.1) -> Stream:
    """`n` commands: ~90% new orders near MID ± `spread` ticks, ~10% cancels of earlier ids."""
    rng = random.Random(seed)
    stream: Stream = []
    issued = 0
    for _ in range(n):
        if issued and rng.random() < cancel_share:
            stream.append(CancelOrder(f"o{rng.randrange(issued)}"))
            continue
        order_id = f"o{issued}"
        issued += 1
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        party = f"p{rng.randrange(PARTIES)}"
        quantity = rng.randint(1, 10) * LOT
        kind = rng.random()
        if kind < 0.03:
            budget = MID * quantity if side is Side.BUY else None
            stream.append(
                NewOrder(
                    order_id,
                    party,
                    side,
                    quantity,
                    order_type=OrderType.MARKET,
                    time_in_force=TimeInForce.IOC,
                    max_notional_fen=budget,
                )
            )
            continue
        tif = TimeInForce.GTC
        if kind < 0.08:
            tif = TimeInForce.IOC
        elif kind < 0.10:
            tif = TimeInForce.FOK
        # A one-tick lean towards the other side brings the crossing share near one half.
        lean = 1 if side is Side.BUY else -1
        price = (MID + lean + rng.randint(-spread, spread)) * TICK
        stream.append(NewOrder(order_id, party, side, quantity, price, time_in_force=tif))
    return stream


class MinimalBook:
    """The floor: two heaps, lazy cancel, no tick/lot/band/STP/TIF, counts trades only."""

    def __init__(self) -> None:
        self.bids: list[tuple[int, int, list[int]]] = []  # (-price, seq, [remaining])
        self.asks: list[tuple[int, int, list[int]]] = []  # (price, seq, [remaining])
        self.live: dict[str, list[int]] = {}
        self.seq = 0
        self.trades = 0

    def submit(self, cmd: NewOrder) -> None:
        self.seq += 1
        remaining = cmd.quantity
        is_buy = cmd.side is Side.BUY
        price = cmd.price
        opposite = self.asks if is_buy else self.bids
        while remaining and opposite:
            key, _, cell = opposite[0]
            if not cell[0]:
                heapq.heappop(opposite)
                continue
            if price is not None and (key > price if is_buy else -key < price):
                break
            fill = min(remaining, cell[0])
            cell[0] -= fill
            remaining -= fill
            self.trades += 1
            if not cell[0]:
                heapq.heappop(opposite)
        if remaining and price is not None and cmd.time_in_force is TimeInForce.GTC:
            cell = [remaining]
            self.live[cmd.order_id] = cell
            own = self.bids if is_buy else self.asks
            heapq.heappush(own, (-price if is_buy else price, self.seq, cell))

    def cancel(self, cmd: CancelOrder) -> None:
        cell = self.live.pop(cmd.order_id, None)
        if cell is not None:
            cell[0] = 0


def _run_ours(stream: Stream, book: OrderBook) -> tuple[int, int]:
    """Returns (trades, orders that traded at least once): events are consumed, not dropped."""
    trades = crossing = 0
    submit, cancel = book.submit, book.cancel
    for cmd in stream:
        if type(cmd) is NewOrder:
            before = trades
            for event in submit(cmd):
                if type(event) is Trade:
                    trades += 1
            if trades != before:
                crossing += 1
        else:
            cancel(cmd)  # type: ignore[arg-type]
    return trades, crossing


def _run_minimal(stream: Stream, book: MinimalBook) -> int:
    submit, cancel = book.submit, book.cancel
    for cmd in stream:
        if type(cmd) is NewOrder:
            submit(cmd)
        else:
            cancel(cmd)  # type: ignore[arg-type]
    return book.trades


def _latencies(stream: Stream, handle: Callable[[NewOrder | CancelOrder], object]) -> list[int]:
    clock = time.perf_counter_ns
    out = [0] * len(stream)
    for i, cmd in enumerate(stream):
        start = clock()
        handle(cmd)
        out[i] = clock() - start
    return out


def _percentile_us(samples: Sequence[int], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000, 3)


def _timed(run: Callable[[], _T]) -> tuple[float, _T]:
    gc.collect()
    gc.disable()  # collector pauses would be charged to whichever book happens to run
    try:
        start = time.perf_counter()
        result = run()
        return time.perf_counter() - start, result
    finally:
        gc.enable()


def _ours_handler(book: OrderBook) -> Callable[[NewOrder | CancelOrder], object]:
    def handle(cmd: NewOrder | CancelOrder) -> object:
        return book.submit(cmd) if type(cmd) is NewOrder else book.cancel(cmd)  # type: ignore[arg-type]

    return handle


def _minimal_handler(book: MinimalBook) -> Callable[[NewOrder | CancelOrder], object]:
    def handle(cmd: NewOrder | CancelOrder) -> object:
        if type(cmd) is NewOrder:
            book.submit(cmd)
        else:
            book.cancel(cmd)  # type: ignore[arg-type]
        return None

    return handle


def _rules() -> InstrumentRules:
    return InstrumentRules.from_reference(MID, 1_000, tick_size_fen=TICK, lot_size=LOT)


def bench_throughput(n: int, seed: int) -> dict[str, object]:
    stream = make_stream(n, seed)
    cancels = sum(1 for cmd in stream if type(cmd) is CancelOrder)
    ours_book = OrderBook(_rules())
    ours_s, (ours_trades, crossing) = _timed(lambda: _run_ours(stream, ours_book))
    ours_book.check()
    minimal_s, minimal_trades = _timed(lambda: _run_minimal(stream, MinimalBook()))

    gc.disable()
    try:
        ours_lat = _latencies(stream, _ours_handler(OrderBook(_rules())))
        minimal_lat = _latencies(stream, _minimal_handler(MinimalBook()))
    finally:
        gc.enable()
    ours = {
        "orders_per_s": round(n / ours_s),
        "p50_us": _percentile_us(ours_lat, 0.50),
        "p99_us": _percentile_us(ours_lat, 0.99),
        "trades": ours_trades,
    }
    minimal = {
        "orders_per_s": round(n / minimal_s),
        "p50_us": _percentile_us(minimal_lat, 0.50),
        "p99_us": _percentile_us(minimal_lat, 0.99),
        "trades": minimal_trades,
    }
    return {
        "bench": "engine",
        "orders": n,
        "seed": seed,
        "stream": {
            "cancels": cancels,
            "new_orders": n - cancels,
            "crossing_share": round(crossing / (n - cancels), 3),
            "resting_at_end": len(ours_book),
        },
        "ours": ours,
        "minimal": minimal,
        "ratio_ours_to_minimal": round(minimal_s / ours_s, 3),
        "latency_method": "perf_counter_ns around every command, separate pass",
        **_env(),
    }


def _prefill(book: OrderBook, resting: int, levels: int) -> None:
    """`resting` non-crossing orders spread over `levels` prices each side, away from MID."""
    per_side = resting // 2
    for i in range(per_side):
        offset = 10 + i % levels  # the stream's prices (MID ± 5) stay inside the spread
        book.submit(NewOrder(f"b{i}", f"q{i % PARTIES}", Side.BUY, LOT, MID - offset))
        book.submit(NewOrder(f"s{i}", f"q{i % PARTIES}", Side.SELL, LOT, MID + offset))


def bench_depth(n: int, seed: int) -> dict[str, object]:
    stream = make_stream(n, seed)
    results: dict[str, object] = {}
    for resting in (1_000, 1_000_000):
        levels = min(resting // 20, 5_000)  # keeps every price positive below MID
        rules = InstrumentRules(tick_size_fen=TICK, lot_size=LOT)
        book = OrderBook(rules)
        _prefill(book, resting, levels)
        seconds, _ = _timed(partial(_run_ours, stream, book))
        book.check()
        results[str(resting)] = {
            "resting_levels_per_side": levels,
            "ns_per_order": round(seconds / n * 1e9),
            "orders_per_s": round(n / seconds),
        }
    return {"bench": "depth", "orders": n, "seed": seed, "by_resting_orders": results, **_env()}


def _env() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}".strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20_240_601)
    parser.add_argument("--depth", action="store_true", help="cost per order vs resting depth")
    args = parser.parse_args()
    if args.depth:
        print(json.dumps(bench_depth(args.orders or 200_000, args.seed)))
    else:
        print(json.dumps(bench_throughput(args.orders or 1_000_000, args.seed)))


if __name__ == "__main__":
    main()
