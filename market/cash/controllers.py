"""Cash, deposits, withdrawals and ledger entries over HTTP (API.md "Cash and payments")."""

from __future__ import annotations

from litestar import Controller


class CashController(Controller):
    path = "/v1"
    tags = ["cash"]  # noqa: RUF012
