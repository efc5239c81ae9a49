"""Prometheus exposition: request counts and latency by route template."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetrics:
    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "forewarn_http_requests_total",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "forewarn_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )

    @staticmethod
    def _route(scope: Scope) -> str:
        # Label by template (/api/v1/assets/{asset_id}) so ids never explode the series count.
        # The router leaves the matched route in the scope it passed down, which is ours.
        route = scope.get("route")
        return str(getattr(route, "path_format", None) or getattr(route, "path", "unmatched"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = self._route(scope)
            method = scope.get("method", "")
            self.latency.labels(method, route).observe(time.perf_counter() - start)
            self.requests.labels(method, route, str(status)).inc()
