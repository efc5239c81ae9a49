"""Enrolment: tokens that let machines join an organization, and the join itself."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import AssetKind, Role
from forewarn.services import agent_config, audit, forecasts, keys
from forewarn.services.auth import hash_secret
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError, invalid, unauthorized
from forewarn.services.schemas import (
    EnrollTokenCreate,
    EnrollTokenCreated,
    EnrollTokenOut,
)
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope
from forewarn.store.models import Agent, Asset, EnrollmentToken, Site
from forewarn.wire import EnrollAnswer, EnrollRequest

ENROLL_PREFIX = "fwe_"
AGENT_PREFIX = "fwa_"


def create_token(ctx: Context, actor: Actor, data: EnrollTokenCreate) -> EnrollTokenCreated:
    secret = ENROLL_PREFIX + secrets.token_urlsafe(24)
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, data.org_id, Role.TECHNICIAN)
        if data.site_id is not None:
            site = session.get(Site, data.site_id)
            if site is None or site.org_id != data.org_id:
                raise invalid("site_id names no site of this organization")
        row = EnrollmentToken(
            org_id=data.org_id,
            site_id=data.site_id,
            name=data.name,
            token_hash=hash_secret(secret),
            prefix=secret[:10],
            max_uses=data.max_uses,
            created_by=actor.user_id or None,
            created_at=now,
            expires_at=now + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "enroll_token.create",
            entity="enroll_token",
            entity_id=row.id,
            org_id=row.org_id,
            after=audit.snapshot(row),
        )
        return EnrollTokenCreated(**EnrollTokenOut.model_validate(row).model_dump(), token=secret)


def list_tokens(ctx: Context, actor: Actor, org_id: int) -> list[EnrollTokenOut]:
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
        rows = session.scalars(
            select(EnrollmentToken)
            .where(EnrollmentToken.org_id == org_id)
            .order_by(EnrollmentToken.id.desc())
        )
        return [EnrollTokenOut.model_validate(r) for r in rows]


def revoke_token(ctx: Context, actor: Actor, token_id: int) -> None:
    with ctx.db.transaction() as session:
        row = get_in_scope(session, actor, EnrollmentToken, token_id, Role.TECHNICIAN)
        if row.revoked_at is None:
            row.revoked_at = ctx.clock.now()
            audit.record(
                session,
                ctx.clock,
                actor,
                "enroll_token.revoke",
                entity="enroll_token",
                entity_id=row.id,
                org_id=row.org_id,
            )


def _usable_token(session: Session, ctx: Context, secret: str) -> EnrollmentToken:
    row = session.scalar(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == hash_secret(secret))
    )
    if row is None or row.revoked_at is not None:
        raise unauthorized("unknown or revoked enrolment token")
    if row.expires_at is not None and row.expires_at <= ctx.clock.now():
        raise ServiceError("this enrolment token has expired", status=410, title="Gone")
    if row.max_uses is not None and row.uses >= row.max_uses:
        raise ServiceError("this enrolment token has been used up", status=410, title="Gone")
    return row


def _asset_for(session: Session, ctx: Context, token: EnrollmentToken, req: EnrollRequest) -> Asset:
    """The machine's asset: the same one again when a known machine enrols anew."""
    if req.machine_id:
        known = session.scalar(
            select(Asset)
            .join(Agent, Agent.asset_id == Asset.id)
            .where(Agent.org_id == token.org_id, Agent.machine_id == req.machine_id)
        )
        if known is not None:
            return known
    now = ctx.clock.now()
    name, n = req.hostname or "machine", 2
    while session.scalar(select(Asset.id).where(Asset.org_id == token.org_id, Asset.name == name)):
        name = f"{req.hostname or 'machine'}-{n}"
        n += 1
    asset = Asset(
        org_id=token.org_id,
        site_id=token.site_id,
        kind=AssetKind.SERVER.value if "server" in req.os.lower() else AssetKind.WORKSTATION.value,
        name=name,
        hostname=req.hostname,
        created_at=now,
        updated_at=now,
    )
    session.add(asset)
    session.flush()
    return asset


def enroll(ctx: Context, req: EnrollRequest, address: str = "") -> EnrollAnswer:
    """Join a machine: its asset (new or known), its agent row and its own credential."""
    secret = AGENT_PREFIX + secrets.token_urlsafe(32)
    public_key = keys.public_key_b64(ctx)
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        token = _usable_token(session, ctx, req.token)
        token.uses += 1
        asset = _asset_for(session, ctx, token, req)
        agent = session.scalar(select(Agent).where(Agent.asset_id == asset.id))
        if agent is None:
            agent = Agent(org_id=token.org_id, asset_id=asset.id, enrolled_at=now, status_since=now)
            session.add(agent)
        # A new enrolment replaces the old credential: the old copy of the agent is cut off.
        agent.token_hash = hash_secret(secret)
        agent.machine_id = req.machine_id
        agent.hostname = req.hostname
        agent.version = req.agent_version
        agent.status, agent.status_since = "online", now
        session.flush()
        forecasts.ensure_default_checks(session, ctx, asset)
        agent_config.refresh(session, [asset.id], now)  # checks may have waited for this agent
        audit.record(
            session,
            ctx.clock,
            Actor(0, f"agent:{req.hostname}"[:200], address=address),
            "agent.enroll",
            entity="asset",
            entity_id=asset.id,
            org_id=token.org_id,
            after={"agent_id": agent.id, "hostname": req.hostname, "token": token.prefix},
        )
        return EnrollAnswer(
            agent_id=agent.id,
            asset_id=asset.id,
            org_id=token.org_id,
            agent_token=secret,
            server_public_key=public_key,
            interval=agent.interval,
        )
