"""Load target for bench_checks.py: an aiohttp web server on uvloop, in its own process.

Listens on 0.0.0.0:PORT (so every loopback address 127.0.0.x reaches it) with a deep accept
backlog. `GET /` answers 200 with a 2-byte body; a bare TCP connect that closes at once is
accepted and dropped, so TCP and HTTP checks hit the same listener. With --workers N, N
processes share the port through SO_REUSEPORT. Prints "ready" once listening.

    python bench/_checks_server.py PORT [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from aiohttp import web


async def hello(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def serve(port: int, reuse: bool) -> None:
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", port, backlog=4096, reuse_port=reuse)
    await site.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # still an aiohttp server, just a slower loop
        pass
    for _ in range(args.workers - 1):
        if os.fork() == 0:
            break
    try:
        asyncio.run(serve(args.port, args.workers > 1))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
