"""One commit path: every session's `commit()` first runs the pre-commit steps contexts register.

A context that leaves work in `session.info` to be written at commit (the certification
context's signed certificates) registers a step when its module is imported: an async `write`
that stores that work in the transaction, and a `pending` test. `UnitOfWorkSession.commit` runs
every step before committing; a commit that bypasses it (a sync-level commit, a
`session.begin()` block) and still carries pending work is refused by the guard on the session's
sync class, never silently committed without it. `db/` knows no context: the steps are opaque.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class PreCommitStep:
    name: str
    write: Callable[[AsyncSession], Awaitable[None]]
    pending: Callable[[Session], bool]


_steps: dict[str, PreCommitStep] = {}


def register_pre_commit(step: PreCommitStep) -> None:
    """Idempotent by name (modules may be reloaded in tests)."""
    _steps[step.name] = step


async def run_pre_commit(session: AsyncSession) -> None:
    for step in list(_steps.values()):
        if step.pending(session.sync_session):
            await step.write(session)


class UnitOfWorkSyncSession(Session):
    """The sync session behind `UnitOfWorkSession`; its guard refuses unwritten work."""


def _refuse_unwritten(session: Session) -> None:
    left = [step.name for step in _steps.values() if step.pending(session)]
    if left:
        raise RuntimeError(f"committing without the pre-commit step(s) {', '.join(left)}")


event.listen(UnitOfWorkSyncSession, "before_commit", _refuse_unwritten)


class UnitOfWorkSession(AsyncSession):
    sync_session_class = UnitOfWorkSyncSession

    async def commit(self) -> None:
        await run_pre_commit(self)
        await super().commit()
