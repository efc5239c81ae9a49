"""Refuse request bodies over the configured size before anything reads them whole."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


def _page(limit: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """For a browser (a dashboard upload): words, not JSON. Self-contained: no layout here."""
    # Rounded down, as the upload form words it: a limit must not read larger than it is.
    size = f"{int(limit * 10 / 1048576) / 10:g} MB" if limit >= 1048576 else f"{limit:,} bytes"
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        "<title>Too large · Forewarn</title>"
        "<h1>That was too large to send</h1>"
        f"<p>This server accepts at most {size} in one request. If you were uploading a file, "
        "go back, split it into smaller files and send them one at a time.</p>"
        '<p><a href="/">Go to the overview</a></p>'
    ).encode()
    return body, [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", b"default-src 'none'"),
    ]


def _problem(limit: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Payload too large",
            "status": 413,
            "detail": f"request body over {limit} bytes",
        }
    ).encode()
    return body, [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]


class BodySizeLimit:
    """Checks Content-Length up front and counts streamed bytes for chunked bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        # Browsers ask for HTML when they submit a form; API clients never do.
        for_browser = b"text/html" in headers.get(b"accept", b"")
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send, for_browser)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, for_browser)

    async def _refuse(self, send: Any, for_browser: bool = False) -> None:
        body, headers = (_page if for_browser else _problem)(self.max_bytes)
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
