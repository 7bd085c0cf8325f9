"""Trading refusals. Order rejections are recorded orders with a reason, not errors."""

from __future__ import annotations

from market.kit.errors import Conflict, InvalidInput


class OrderNotOpen(Conflict):
    code = "order_not_open"


class InstrumentExists(Conflict):
    code = "instrument_exists"


class InvalidStatusChange(Conflict):
    code = "invalid_status"


class InvalidOrder(InvalidInput):
    code = "validation_error"


class ExpiryPassed(Conflict):
    """`expires_at` is already past when the order arrives (a 409: it depends on the clock)."""

    code = "expires_at_passed"


class SettlementConflict(Exception):
    """A batch's optimistic reads went stale (a CHECK refused the apply): retry it alone."""
