"""The organization's asset table: filters read from the URL, one page of rows, the links on.

Everything that shapes the view lives in the query string, so any view can be bookmarked.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from forewarn.domain.inventory import AssetKind
from forewarn.services import assets
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import AssetFilter, AssetOut
from forewarn.services.scope import Actor

PAGE_SIZE = 50
_KINDS = {k.value for k in AssetKind}


@dataclass(frozen=True)
class Filters:
    q: str = ""
    kind: str = ""
    tag: str = ""

    @property
    def active(self) -> bool:
        return bool(self.q or self.kind or self.tag)

    def url(self, base: str, cursor: str | None = None, **changes: str) -> str:
        """This view's address, optionally with some filters changed or a page cursor."""
        fields = {"q": self.q, "kind": self.kind, "tag": self.tag, **changes}
        if cursor:
            fields["cursor"] = cursor
        query = urlencode({k: v for k, v in fields.items() if v})
        return f"{base}?{query}" if query else base


@dataclass(frozen=True)
class AssetTable:
    filters: Filters
    items: list[AssetOut]
    base: str
    next_url: str | None
    first_url: str | None


def _clean(value: str | None, limit: int) -> str:
    # A bookmarked or hand-edited URL should still show a page, never an error.
    return (value or "").replace("\x00", "").strip()[:limit]


def read_filters(params: QueryParams) -> Filters:
    kind = _clean(params.get("kind"), 32)
    return Filters(
        q=_clean(params.get("q"), 200),
        kind=kind if kind in _KINDS else "",
        tag=_clean(params.get("tag"), 64).lower(),
    )


def load(ctx: Context, actor: Actor, org_id: int, params: QueryParams) -> AssetTable:
    """One page of the organization's assets as the URL asks for it."""
    filters = read_filters(params)
    cursor = _clean(params.get("cursor"), 200) or None
    query = AssetFilter(
        org_id=org_id,
        q=filters.q or None,
        kind=AssetKind(filters.kind) if filters.kind else None,
        tag=filters.tag or None,
    )
    try:
        found = assets.list_(ctx, actor, query, limit=PAGE_SIZE, cursor=cursor)
    except ServiceError as exc:
        if exc.status != 422 or cursor is None:
            raise
        # A cursor we never gave out (edited by hand): start from the first page instead.
        cursor = None
        found = assets.list_(ctx, actor, query, limit=PAGE_SIZE)
    base = f"/orgs/{org_id}"
    return AssetTable(
        filters=filters,
        items=found.items,
        base=base,
        next_url=filters.url(base, found.next_cursor) if found.next_cursor else None,
        first_url=filters.url(base) if cursor else None,
    )
