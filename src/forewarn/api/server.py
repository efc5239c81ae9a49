"""Serving the app with uvicorn, and stopping it promptly.

A stop (SIGTERM, Ctrl-C) waits for requests in flight, which is right for most, but an
agent's job long-poll is held open on purpose for up to 25 s. The server tells the app when a
stop begins (app.state.stopping) so such requests answer at once; anything still running
GRACEFUL_SHUTDOWN_S later is cut short, so a restart is never held up for long.
"""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI

GRACEFUL_SHUTDOWN_S = 10


class _StoppingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._app.state.stopping.set()
        super().handle_exit(sig, frame)


def run_server(app: FastAPI, host: str, port: int) -> None:
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S
    )
    _StoppingServer(config, app).run()
