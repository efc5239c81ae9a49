"""The app factory: one FastAPI app serving the API, the dashboard and health endpoints."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from forewarn import __version__
from forewarn.api import problem
from forewarn.api.limits import BodySizeLimit
from forewarn.api.metrics import RequestMetrics
from forewarn.api.routers import (
    agent,
    alerts,
    assessments,
    assets,
    audit,
    auth,
    automation,
    checklists,
    checks,
    discovery,
    expiries,
    findings,
    health,
    imports,
    jobs,
    orgs,
    patches,
    posture,
    reports,
    security,
    sites,
    status,
    tickets,
    users,
    vulns,
)
from forewarn.config import Settings
from forewarn.services.context import Context
from forewarn.services.ingest import AgentCache, IngestWriter
from forewarn.services.jobs import Scheduler
from forewarn.services.notify import Notifier
from forewarn.services.poller import PollerThread


def create_app(ctx: Context | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the app over a service context (made from settings when not given)."""
    if ctx is None:
        ctx = Context.from_settings(settings or Settings())
    app = FastAPI(
        title="Forewarn",
        version=__version__,
        description="Proactive IT management for small businesses and their IT providers.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan,
    )
    app.state.ctx = ctx
    app.state.ingest = IngestWriter(ctx)
    app.state.agent_cache = AgentCache()
    app.state.registry = CollectorRegistry()
    # Set when the server begins to stop (cli.serve): held long-polls answer at once rather
    # than keep the shutdown waiting for their 25 s.
    app.state.stopping = threading.Event()
    problem.install(app)
    for router in (auth, orgs, sites, assets, imports, users, audit, agent, checks, health):
        app.include_router(router.router)
    app.include_router(checks.pings)
    app.include_router(checks.maintenance_router)
    app.include_router(checks.policies_router)
    app.include_router(checks.asset_checks_router)
    app.include_router(status.router)
    app.include_router(status.public)
    app.include_router(discovery.router)
    app.include_router(findings.router)
    app.include_router(expiries.router)
    app.include_router(posture.router)
    app.include_router(patches.router)
    app.include_router(vulns.router)
    app.include_router(alerts.router)
    app.include_router(tickets.router)
    app.include_router(security.router)
    app.include_router(jobs.router)
    app.include_router(reports.router)
    app.include_router(checklists.router)
    app.include_router(assessments.router)
    app.include_router(automation.router)
    _mount_web(app)
    _document_errors(app)
    # Each one added wraps those before it, so the last added runs first: size limits apply
    # before anything parses, metrics see every answer, and the agents' check-in lane answers
    # inside both, before the router.
    app.add_middleware(agent.CheckinLane)
    agent.quiet_access_log()
    app.add_middleware(RequestMetrics, registry=app.state.registry)
    app.add_middleware(BodySizeLimit, max_bytes=ctx.settings.max_body_bytes)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work lives as long as the app: ingest writer, job scheduler, poller."""
    ctx: Context = app.state.ctx
    scheduler = Scheduler(ctx) if ctx.settings.run_jobs else None
    notifier = Notifier(ctx) if ctx.settings.run_jobs else None
    poller = PollerThread(ctx) if ctx.settings.run_poller else None
    for part in (scheduler, notifier, poller):
        if part:
            part.start()
    try:
        yield
    finally:
        for part in (poller, notifier, scheduler):
            if part:
                part.stop()
        app.state.ingest.stop()


def _document_errors(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem.document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _mount_web(app: FastAPI) -> None:
    from forewarn.web import routes

    routes.install(app)
