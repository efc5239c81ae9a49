"""The list envelope every collection answers with."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

from forewarn.services.pagination import Page

T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def page_out(page: Page[T]) -> PageOut[T]:
    return PageOut[T](items=page.items, next_cursor=page.next_cursor)
