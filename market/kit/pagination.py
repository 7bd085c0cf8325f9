"""Cursor pagination: `?limit=` (default 50, max 500) and `?cursor=` (the last id seen)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def page_of(items: list[T], limit: int) -> Page[T]:
    """`items` were fetched with `limit + 1` rows; the extra row says there is a next page.

    Every listed item has an `id`, and lists are ordered by it, so the cursor is the last id.
    """
    if len(items) > limit:
        kept = items[:limit]
        last: Any = kept[-1]
        return Page[T](items=kept, next_cursor=str(last.id))
    return Page[T](items=items, next_cursor=None)
