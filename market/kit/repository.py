"""What every repository starts from: its session, adding rows, getting one by key."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

M = TypeVar("M", bound=SQLModel)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel table class (for select/update statements)."""
    return model.__table__  # type: ignore[attr-defined,no-any-return]


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: SQLModel) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def get(self, model: type[M], key: str, *, lock: bool = False) -> M | None:
        return await self.session.get(model, key, with_for_update=lock)
