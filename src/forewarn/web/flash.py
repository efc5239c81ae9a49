"""One-time messages carried across a redirect ("Organization created") in a signed cookie.

Signed so that nobody can plant text of their choosing on our pages through the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from forewarn.services.context import Context

FLASH_COOKIE = "forewarn_flash"
KINDS = ("ok", "info", "warning", "critical")


@dataclass(frozen=True)
class Flash:
    kind: str
    text: str


def _sign(ctx: Context, payload: str) -> str:
    key = ctx.settings.effective_secret_key.encode()
    return hmac.new(key, b"flash:" + payload.encode(), hashlib.sha256).hexdigest()[:32]


def add_flash(ctx: Context, response: Response, text: str, kind: str = "ok") -> None:
    """Show `text` on the next page this browser renders."""
    raw = json.dumps([kind if kind in KINDS else "info", text[:300]]).encode()
    payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response.set_cookie(
        FLASH_COOKIE,
        f"{payload}.{_sign(ctx, payload)}",
        max_age=120,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.secure_cookies,
        path="/",
    )


def take_flashes(ctx: Context, request: Request) -> list[Flash]:
    """The message waiting for this browser, if its signature holds."""
    value = request.cookies.get(FLASH_COOKIE, "")
    payload, _, signature = value.partition(".")
    if not payload or not hmac.compare_digest(_sign(ctx, payload), signature):
        return []
    try:
        kind, text = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return []
    return [Flash(str(kind), str(text))]


def clear_flashes(response: Response) -> None:
    response.delete_cookie(FLASH_COOKIE, path="/")
