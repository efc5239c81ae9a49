from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from forewarn import __version__
from forewarn.api.deps import Ctx
from forewarn.api.problem import problem

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", summary="The database answers", response_model=None)
def readyz(ctx: Ctx) -> dict[str, str] | Response:
    try:
        ctx.db.ping()
    except Exception as exc:
        return problem(503, "Not ready", f"database unreachable: {type(exc).__name__}")
    return {"status": "ready", "database": ctx.db.dialect}


@router.get("/metrics", summary="Prometheus exposition", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
