"""Cursor pagination: `?limit=` (default 50, max 500) and `?cursor=` (the last id seen)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _id(item: Any) -> object:
    return item.id


def page_of(items: list[T], limit: int, key: Callable[[T], object] = _id) -> Page[T]:
    """`items` were fetched with `limit + 1` rows; the extra row says there is a next page.

    Lists are ordered by `key` (the item's `id` unless said otherwise), so the cursor is the
    last item's key.
    """
    if len(items) > limit:
        kept = items[:limit]
        return Page[T](items=kept, next_cursor=str(key(kept[-1])))
    return Page[T](items=items, next_cursor=None)
