"""The first responses of orders placed with an `Idempotency-Key`, stored by their batch.

An order's effect is committed by the sequencer's batch, not by the request's session, so its
`Idempotency-Key` record is written in the batch's transaction, after the instrument's lock:
repeats of the same request — concurrent ones included, in this batch or a later one — get the
stored first response; another request under the same key gets 409 `idempotency_key_reused`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from market.http.idempotency import IdempotencyClaim, StoredResponse, replay_or_refuse
from market.http.repository import IdempotencyRepository
from market.kit.errors import DomainError
from market.kit.time import utcnow
from market.trading.batch_commands import BatchCommand, Placed, PlaceOrder
from market.trading.repository import TradingRepository
from market.trading.views import order_out


async def store_order_responses(
    session: AsyncSession, commands: Sequence[BatchCommand], results: list[object]
) -> list[object]:
    """`results` with each keyed order's `Placed` replaced by its stored first response (or a
    `DomainError`), the new ones stored in `session`'s transaction."""
    keyed: list[tuple[int, IdempotencyClaim, Placed]] = []
    for index, (command, result) in enumerate(zip(commands, results, strict=True)):
        if isinstance(command, PlaceOrder) and command.idempotency and isinstance(result, Placed):
            keyed.append((index, command.idempotency, result))
    if not keyed:
        return results
    repository = IdempotencyRepository(session)
    known = await repository.fetch(sorted({claim.scope for _, claim, _ in keyed}))
    unread = [placed.order for _, _, placed in keyed if placed.fills is None]
    read = await TradingRepository(session).fills_of(unread) if unread else {}
    answered = list(results)
    new: list[tuple[IdempotencyClaim, StoredResponse]] = []
    for index, claim, placed in keyed:
        stored = known.get(claim.scope)
        if stored is None:
            fills = placed.fills if placed.fills is not None else read[placed.order.id]
            body = order_out(placed.order, fills).model_dump_json().encode()
            response = StoredResponse(placed.status_code, body)
            known[claim.scope] = (claim.request_hash, response)
            new.append((claim, response))
            answered[index] = response
            continue
        try:
            answered[index] = replay_or_refuse(claim, stored)
        except DomainError as error:
            answered[index] = error
    if new:
        await repository.store(new, utcnow())
    return answered
