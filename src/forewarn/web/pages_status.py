"""The public status page: /status/<slug>, no login, only what the organization published."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from forewarn.services import status_pages
from forewarn.web.check_uptime import DayBar, percent_text
from forewarn.web.render import page
from forewarn.web.session import get_ctx

router = APIRouter(include_in_schema=False)

_WORDS = {
    "operational": ("ok", "Operational"),
    "degraded": ("warning", "Degraded"),
    "down": ("critical", "Down"),
    "maintenance": ("maintenance", "Maintenance"),
    "unknown": ("unknown", "Unknown"),
}
_OVERALL = {
    "operational": "All systems operational",
    "degraded": "Some systems are degraded",
    "down": "Some systems are down",
    "maintenance": "Planned maintenance in progress",
    "unknown": "Status not yet known",
}


@router.get("/status/{slug}", response_class=HTMLResponse)
def public_status(request: Request, slug: Annotated[str, Path(max_length=64)]) -> HTMLResponse:
    view = status_pages.public(get_ctx(request), slug)
    items = [
        {
            "label": i.label,
            "css": _WORDS[i.state][0],
            "word": _WORDS[i.state][1],
            "uptime": percent_text(i.uptime_90d),
            "bars": [DayBar(d.day, d.ratio) for d in i.days],
        }
        for i in view.items
    ]
    return page(
        request,
        "status/public.html",
        None,
        view=view,
        items=items,
        overall_css=_WORDS[view.overall][0],
        overall_text=_OVERALL[view.overall],
    )
