"""The agents' side of the API (enrol, check in) and the views of what agents reported."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from forewarn.api.deps import (
    Caller,
    Ctx,
    Cursor,
    IdPath,
    IdQuery,
    IdRequired,
    Limit,
    client_address,
)
from forewarn.api.pages import PageOut, page_out
from forewarn.api.problem import problem
from forewarn.services import (
    agent_config,
    agent_jobs,
    agents,
    discovery,
    enrollment,
    metrics,
    posture,
)
from forewarn.services.errors import ServiceError, invalid, unauthorized
from forewarn.services.ingest import AgentRef, IngestFailed, IngestWriter
from forewarn.services.schemas import (
    AgentOut,
    EnrollTokenCreate,
    EnrollTokenCreated,
    EnrollTokenOut,
)
from forewarn.wire import (
    MAX_JOBS,
    SECTIONS,
    Batch,
    BatchAnswer,
    EnrollAnswer,
    EnrollRequest,
    JobOrder,
)

router = APIRouter(prefix="/api/v1", tags=["agents"])


@router.post("/agent/enroll", response_model=EnrollAnswer, status_code=201)
def enroll(body: EnrollRequest, request: Request, ctx: Ctx) -> EnrollAnswer:
    """Public: the enrolment token is the credential. Answers the agent's own credential."""
    return enrollment.enroll(ctx, body, client_address(request))


def _inflate(raw: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise ServiceError(
            f"unsupported Content-Encoding {encoding!r}; send gzip or nothing",
            status=415,
            title="Unsupported media type",
        )
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise invalid(f"body is not valid gzip: {exc}") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise ServiceError(
            f"batch inflates to more than {limit} bytes", status=413, title="Payload too large"
        )
    if not inflater.eof:
        raise invalid("gzip body is truncated")
    return data


CHECKIN_PATH = "/api/v1/agent/checkin"


@router.post(
    "/agent/checkin",
    response_model=BatchAnswer,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}},
        }
    },
)
async def checkin(request: Request) -> BatchAnswer:
    """An agent's batch (optionally gzip): answered only once it is committed.

    Authenticated with the agent's own bearer token from enrolment. A batch id already
    stored is acknowledged as a duplicate and not stored again. In a served app CheckinLane
    answers this path before the router; this route documents it and serves an app built
    without the lane.
    """
    ref = _agent_of(request.app.state, request.headers.get("authorization"))
    raw = await request.body()
    return await _store(request.app.state, ref, request.headers.get("content-encoding"), raw)


def _agent_of(state: Any, authorization: str | None) -> AgentRef:
    """The agent a bearer credential belongs to (401 for none, a user's, or an unknown one)."""
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise unauthorized()
    ref: AgentRef = state.agent_cache.resolve(state.ctx, secret)
    return ref


async def _store(state: Any, ref: AgentRef, encoding: str | None, raw: bytes) -> BatchAnswer:
    """Validate the whole batch, then wait until the transaction holding it committed."""
    data = _inflate(raw, (encoding or "").lower(), state.ctx.settings.checkin_max_bytes)
    try:
        batch = Batch.model_validate_json(data)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)[:50]
        ]
        first = errors[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise invalid(f"batch refused: {where}: {first['msg']}", errors) from exc
    stored_rev: str | None = ref.config_rev
    if batch.sweeps:
        # Rare and idempotent, so recorded before the batch: a failure here answers 5xx and
        # the agent sends the same batch again.
        await asyncio.to_thread(
            discovery.record_reports, state.ctx, ref.agent_id, ref.asset_id, batch.sweeps
        )
        stored_rev = None  # the runs reported are no longer asked for: the rev changed
    if batch.posture:
        # Hourly and idempotent (results no newer than the stored ones change nothing), so
        # recorded before the batch like the sweeps: a failure answers 5xx, the agent retries.
        await asyncio.to_thread(
            posture.record_reports, state.ctx, ref.agent_id, ref.asset_id, batch.posture
        )
    if batch.jobs:
        # Idempotent by job id (the first final result wins), so recorded before the batch
        # like the posture reports: a failure answers 5xx and the agent sends it again.
        await asyncio.to_thread(agent_jobs.record_results, state.ctx, ref.agent_id, batch.jobs)
    if batch.running:
        # Idempotent too: only a queued or sent job becomes running.
        await asyncio.to_thread(agent_jobs.record_running, state.ctx, ref.agent_id, batch.running)
    writer: IngestWriter = state.ingest
    try:
        status = await writer.store(ref, batch)
    except IngestFailed as exc:  # the writer logged why; the agent keeps the batch
        raise ServiceError(
            str(exc), status=503, title="Service unavailable", headers={"Retry-After": "1"}
        ) from exc
    answer = writer.answer(ref, batch, status)
    if batch.config_rev != stored_rev:
        # Rare: the agent's watches changed (or the cached rev is a little old). The document
        # is built from the database now, so what the agent gets is never stale.
        config = await asyncio.to_thread(agent_config.current, state.ctx, ref.agent_id)
        if config is not None and config.rev != batch.config_rev:
            answer = answer.model_copy(update={"config": config})
    orders = await asyncio.to_thread(agent_jobs.deliver, state.ctx, ref.agent_id)
    if orders:
        answer = answer.model_copy(update={"jobs": orders})
    return answer


class CheckinLane:
    """POST /api/v1/agent/checkin answered straight from ASGI, beside the router.

    Every agent calls this once a minute, so it is the busiest route by far. Through the
    router it cost as much again as the bare parse: FastAPI matched it against every route
    before it (about forty regular expressions), solved its dependencies and validated its
    answer once more. The lane sits inside the body-size limit and the request metrics, so
    both still apply; it does what the route does and answers errors as problem+json the same
    way (anything unexpected goes up to the app's 500 handler as before).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The route template, for RequestMetrics' labels: the router would have set it.
        self.route = next(r for r in router.routes if getattr(r, "path", "") == CHECKIN_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != CHECKIN_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        authorization = encoding = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-encoding":
                encoding = value.decode("latin-1")
        state = scope["app"].state
        try:
            ref = _agent_of(state, authorization)
            raw = await _read_body(receive)
            answer = await _store(state, ref, encoding, raw)
        except ServiceError as exc:
            response: Response = problem(exc.status, exc.title, exc.detail, exc.errors, exc.headers)
        except ClientDisconnect:
            # As the app's handler does: nobody is left to answer, and nothing was stored.
            response = Response(status_code=499)
        else:
            body = answer.model_dump_json().encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await response(scope, receive, send)


class _QuietCheckins(logging.Filter):
    """Leaves answered check-ins out of the access log; refused ones are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access line: (client, method, path, http version, status)
        args = record.args
        return not (
            isinstance(args, tuple)
            and len(args) == 5
            and args[2] == CHECKIN_PATH
            and isinstance(args[4], int)
            and args[4] < 400
        )


_quiet_checkins = _QuietCheckins()


def quiet_access_log() -> None:
    """One line per agent per minute is noise at fleet scale, and cost a quarter of the
    check-in's HTTP time (bench_ingest: 40 us of 150 per request). /metrics still counts
    every check-in by status. Idempotent: the filter is one object.
    """
    logging.getLogger("uvicorn.access").addFilter(_quiet_checkins)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# ---- enrolment tokens ---------------------------------------------------------------------------


@router.get("/enroll-tokens", response_model=list[EnrollTokenOut], tags=["enrolment"])
def list_enroll_tokens(org_id: IdRequired, ctx: Ctx, actor: Caller) -> list[EnrollTokenOut]:
    return enrollment.list_tokens(ctx, actor, org_id)


@router.post(
    "/enroll-tokens", response_model=EnrollTokenCreated, status_code=201, tags=["enrolment"]
)
def create_enroll_token(body: EnrollTokenCreate, ctx: Ctx, actor: Caller) -> EnrollTokenCreated:
    """The answer carries the secret once: `forewarn agent enroll --server URL --token T`."""
    return enrollment.create_token(ctx, actor, body)


@router.delete("/enroll-tokens/{token_id}", status_code=204, tags=["enrolment"])
def revoke_enroll_token(token_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    enrollment.revoke_token(ctx, actor, token_id)


# ---- what agents reported ------------------------------------------------------------------------


@router.get("/agents", response_model=PageOut[AgentOut])
def list_agents(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    status: Annotated[str | None, Query(pattern="^(online|offline)$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[AgentOut]:
    return page_out(
        agents.list_agents(ctx, actor, org_id=org_id, status=status, limit=limit, cursor=cursor)
    )


@router.get("/assets/{asset_id}/agent", tags=["assets"])
def asset_agent(asset_id: IdPath, ctx: Ctx, actor: Caller) -> dict[str, Any]:
    """The asset's agent (or null) and the top processes it last reported."""
    agent = agents.agent_of_asset(ctx, actor, asset_id)
    return {
        "agent": agent.model_dump(mode="json") if agent else None,
        "top": agents.top_processes(ctx, actor, asset_id),
    }


@router.get("/assets/{asset_id}/metrics/series", tags=["assets"])
def metric_series(asset_id: IdPath, ctx: Ctx, actor: Caller) -> list[dict[str, Any]]:
    """Every metric series the asset has: name and labels."""
    return metrics.series_of(ctx, actor, asset_id)


@router.get("/assets/{asset_id}/metrics", tags=["assets"])
def metric_values(
    asset_id: IdPath,
    ctx: Ctx,
    actor: Caller,
    name: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=100)],
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
    step: Annotated[int | None, Query(ge=1, le=86400 * 7)] = None,
) -> dict[str, Any]:
    """Points as [bucket start (epoch s), avg, min, max], at the finest kept resolution."""
    for moment in (start, end):
        if moment.tzinfo is None:
            raise invalid("'from' and 'to' need a time zone, e.g. 2026-11-26T10:00:00Z")
    return metrics.query(ctx, actor, asset_id, name, start, end, step)


SectionName = StrEnum("SectionName", {s: s for s in SECTIONS})  # type: ignore[misc]


@router.get("/assets/{asset_id}/inventory/{section}", tags=["assets"])
def inventory_section(
    asset_id: IdPath, section: SectionName, ctx: Ctx, actor: Caller
) -> dict[str, Any]:
    """The current state of one section (packages, services, listeners, accounts, ...)."""
    return agents.inventory(ctx, actor, asset_id, section.value)


@router.get("/assets/{asset_id}/changes", tags=["assets"])
def asset_changes(
    asset_id: IdPath,
    ctx: Ctx,
    actor: Caller,
    section: Annotated[str | None, Query(pattern="^[a-z_]{1,32}$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[dict[str, Any]]:
    """What changed on the machine, newest first: packages, ports, accounts, services."""
    return page_out(
        agents.changes(ctx, actor, asset_id, section=section, limit=limit, cursor=cursor)
    )


# ---- the long-poll fast path for jobs ---------------------------------------------------------

LONG_POLL_MAX = 25.0  # seconds a request may be held: below common proxies' 30 s idle cut
LONG_POLL_STEP = 1.0  # how often a held request looks (agent_jobs.pending is in memory)


class JobsAnswer(BaseModel):
    jobs: list[JobOrder] = Field(default_factory=list, max_length=MAX_JOBS)


@router.get("/agent/jobs", response_model=JobsAnswer)
async def wait_for_jobs(
    request: Request,
    wait: Annotated[float, Query(ge=0, le=LONG_POLL_MAX)] = LONG_POLL_MAX,
) -> JobsAnswer:
    """The agent's own credential: answered as soon as a job is issued for it, or with none
    after `wait` seconds. Jobs so delivered are marked sent, as in a check-in answer; their
    results come back in check-ins. A job issued by another server process is seen within
    agent_jobs.PENDING_TTL. A server that begins to stop answers held requests at once."""
    state = request.app.state
    ref = _agent_of(state, request.headers.get("authorization"))
    deadline = time.monotonic() + wait
    while True:
        orders = await asyncio.to_thread(agent_jobs.deliver, state.ctx, ref.agent_id)
        left = deadline - time.monotonic()
        if orders or left <= 0 or state.stopping.is_set() or await request.is_disconnected():
            return JobsAnswer(jobs=orders)
        await asyncio.sleep(min(LONG_POLL_STEP, left))
