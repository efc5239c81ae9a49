"""Real servers on 127.0.0.1 for the probe tests, run by an event loop in a background thread.

Tests call probes with `asyncio.run(...)` in the test's own thread; the servers live in
another thread's loop so that they outlive each test and a probe is a real network client.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gzip
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
HOST = "127.0.0.1"

WELCOME = b"<html><body><h1>Welcome to the test site</h1></body></html>"
BIG_SIZE = 3 << 20  # 3 MiB, with "NEEDLE" only at the very end
USER, PASSWORD = "alice", "s3cret pass"


class LoopThread:
    """An event loop running in a daemon thread; `call` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # Server-side noise (a client that aborts a TLS handshake on purpose) is expected.
        self.loop.set_exception_handler(lambda loop, context: None)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._cleanups: list[Callable[[], Awaitable[Any]]] = []

    def call(self, coro: Awaitable[T]) -> T:
        async def wrapper() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(10)

    def serve_app(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> int:
        """Serve an aiohttp app on 127.0.0.1; its port."""

        async def start() -> int:
            runner = web.AppRunner(app, shutdown_timeout=0.1)
            await runner.setup()
            site = web.TCPSite(runner, HOST, 0, ssl_context=ssl_context)
            await site.start()
            self._cleanups.append(runner.cleanup)
            server = site._server
            assert isinstance(server, asyncio.Server)
            return int(server.sockets[0].getsockname()[1])

        return self.call(start())

    def serve(
        self,
        handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
        ssl_context: ssl.SSLContext | None = None,
    ) -> int:
        """Serve a stream handler on 127.0.0.1; its port."""

        async def start() -> int:
            server = await asyncio.start_server(handler, HOST, 0, ssl=ssl_context)

            async def stop() -> None:
                server.close()

            self._cleanups.append(stop)
            return int(server.sockets[0].getsockname()[1])

        return self.call(start())

    def close(self) -> None:
        async def cleanup() -> None:
            for c in reversed(self._cleanups):
                await c()

        try:
            self.call(cleanup())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            if not self.thread.is_alive():
                self.loop.close()


@contextmanager
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    try:
        yield lt
    finally:
        lt.close()


@contextmanager
def silent_port() -> Iterator[int]:
    """A port whose connections the kernel completes but nobody ever reads or answers."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        s.listen(64)
        yield int(s.getsockname()[1])


@contextmanager
def refused_port() -> Iterator[int]:
    """A port bound but not listening: a connection to it is refused (and nobody takes it)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        yield int(s.getsockname()[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# --- the test web site -------------------------------------------------------------------


async def _index(request: web.Request) -> web.Response:
    return web.Response(body=WELCOME, content_type="text/html", charset="utf-8")


async def _status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), text="status page")


async def _redirect(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    raise web.HTTPFound("/" if n <= 1 else f"/redirect/{n - 1}")


async def _loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def _auth(request: web.Request) -> web.Response:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if request.headers.get("Authorization") != expected:
        return web.Response(status=401, text="who are you?", headers={"WWW-Authenticate": "Basic"})
    return web.Response(text="secret area")


async def _big(request: web.Request) -> web.Response:
    return web.Response(body=b"a" * (BIG_SIZE - 6) + b"NEEDLE", content_type="text/plain")


async def _big_chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for start in range(0, BIG_SIZE - 6, 65536):
        await response.write(b"b" * min(65536, BIG_SIZE - 6 - start))
    await response.write(b"NEEDLE")
    await response.write_eof()
    return response


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(b"0" * (16 << 20), compresslevel=9)


async def _gzip_bomb(request: web.Request) -> web.Response:
    """16 kB on the wire, 16 MiB once inflated: a reader must stop at its bound."""
    body = _bomb()
    return web.Response(body=body, headers={"Content-Encoding": "gzip"}, content_type="text/plain")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(3600)
    return web.Response(text="too late")


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    headers = "".join(f"{k}: {v}\n" for k, v in request.headers.items())
    return web.Response(text=f"{request.method}\n{headers}\n{body.decode()}")


async def _latin1(request: web.Request) -> web.Response:
    return web.Response(
        body="Grüße aus Köln".encode("latin-1"), content_type="text/plain", charset="iso-8859-1"
    )


def demo_site() -> web.Application:
    app = web.Application()
    app.router.add_get("/", _index)
    app.router.add_get("/status/{code}", _status)
    app.router.add_get("/redirect/{n}", _redirect)
    app.router.add_get("/loop", _loop)
    app.router.add_get("/auth", _auth)
    app.router.add_get("/big", _big)
    app.router.add_get("/big-chunked", _big_chunked)
    app.router.add_get("/gzip-bomb", _gzip_bomb)
    app.router.add_get("/slow", _slow)
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/latin1", _latin1)
    return app


def text_app(
    path: str, text: str, content_type: str = "text/plain", status: int = 200
) -> web.Application:
    """An app serving one fixed text at `path`."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type=content_type, status=status)

    app = web.Application()
    app.router.add_get(path, handler)
    return app
