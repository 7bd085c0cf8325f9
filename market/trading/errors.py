"""Trading refusals. Order rejections are recorded orders with a reason, not errors."""

from __future__ import annotations

from market.kit.errors import Conflict


class OrderNotOpen(Conflict):
    code = "order_not_open"


class InstrumentExists(Conflict):
    code = "instrument_exists"


class ExpiryPassed(Conflict):
    """`expires_at` is already past when the order arrives (a 409: it depends on the clock)."""

    code = "expires_at_passed"


# Block trades and auctions: refusals are 409s with the codes API.md lists for orders.
class PriceOutOfBand(Conflict):
    code = "price_out_of_band"


class PriceNotOnTick(Conflict):
    code = "price_not_on_tick"


class QuantityNotOnLot(Conflict):
    code = "quantity_not_on_lot"


class InstrumentHalted(Conflict):
    code = "instrument_halted"


class InstrumentClosed(Conflict):
    code = "instrument_closed"


class BatchNotEligible(Conflict):
    code = "batch_not_eligible"


class BlockTradeNotOpen(Conflict):
    """Accept, decline or cancel of a proposal that was already decided or expired."""

    code = "block_trade_not_open"


class BelowReserve(Conflict):
    code = "below_reserve"


class AuctionClosed(Conflict):
    code = "auction_closed"


class AuctionOpen(Conflict):
    code = "auction_open"
