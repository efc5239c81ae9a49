"""Policies: checks defined once for the provider, an organization, a site, a tag or an asset.

The effective checks of an asset are decided in one place (domain.policy.effective) and
materialized as ordinary checks with source "policy:<id>", so the poller runs them like any
other. Whenever a policy or an asset's site or tags change, the assets concerned are synced in
the same transaction: missing checks are added, changed ones updated, dropped ones deleted.
A check made by hand with the same name wins over the policy's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.domain.policy import RANKS, Effective, PolicyDef, effective, render_target
from forewarn.services import agent_config, audit, checks, secret_params
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError, invalid, not_found
from forewarn.services.schemas import (
    CheckCreate,
    EffectiveCheckOut,
    PolicyCreate,
    PolicyOut,
    PolicyUpdate,
)
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, require_owner
from forewarn.store.models import Asset, AssetTag, Check, CheckStateRow, Policy, Site

# The fields a policy check may set on the check it makes.
_CHECK_FIELDS = (
    "type",
    "target",
    "params",
    "interval_s",
    "retry_interval_s",
    "max_attempts",
    "timeout_s",
    "enabled",
)
_SAMPLE_HOST = "host.example.test"


def level_of(p: Policy) -> str:
    if p.asset_id is not None:
        return "asset"
    if p.site_id is not None:
        return "site"
    if p.tag is not None:
        return "provider_tag" if p.org_id is None else "org_tag"
    return "provider" if p.org_id is None else "org"


def _out(p: Policy) -> PolicyOut:
    return PolicyOut(
        id=p.id,
        org_id=p.org_id,
        name=p.name,
        level=p.level,
        site_id=p.site_id,
        asset_id=p.asset_id,
        tag=p.tag,
        checks=[
            {**c, "params": secret_params.masked(c["params"])} if c.get("params") else c
            for c in p.checks
        ],
        exclude=list(p.exclude),
    )


def _require_may_edit(session: Session, actor: Actor, org_id: int | None) -> None:
    if org_id is None:
        require_owner(actor)
    else:
        get_org_in_scope(session, actor, org_id, Role.ADMIN)


def _validate_checks(ctx: Context, items: list[dict[str, Any]]) -> None:
    """A defining entry must make a valid check (with a sample host for {host}); an override
    is checked when it meets what it overrides, at sync time."""
    for i, item in enumerate(items):
        if item.get("type") is None:
            continue
        target = render_target(item.get("target") or "", host=_SAMPLE_HOST, name="asset")
        try:
            checks.validate_definition(ctx, item["type"], target, item.get("params") or {})
        except ServiceError as exc:
            raise invalid(f"checks[{i}] ({item['name']}): {exc.detail}", exc.errors) from None


def _dump_checks(data: list[Any]) -> list[dict[str, Any]]:
    return [c.model_dump(exclude_none=True) for c in data]


def _seal_checks(
    ctx: Context, items: list[dict[str, Any]], stored: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Secrets in the checks' params encrypted; a masked one keeps what was stored."""
    before = {c["name"]: c.get("params") or {} for c in stored or []}
    out = []
    for item in items:
        if item.get("params"):
            plain = secret_params.unmask(ctx, item["params"], before.get(item["name"]))
            item = {**item, "params": secret_params.seal(ctx, plain)}
        out.append(item)
    return out


def _opened(ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**c, "params": secret_params.open_params(ctx, c["params"])} if c.get("params") else c
        for c in items
    ]


def create(ctx: Context, actor: Actor, data: PolicyCreate) -> PolicyOut:
    now = ctx.clock.now()
    items = _dump_checks(data.checks)
    with ctx.db.transaction() as session:
        _require_may_edit(session, actor, data.org_id)
        if data.site_id is not None:
            site = session.get(Site, data.site_id)
            if site is None or site.org_id != data.org_id:
                raise invalid("site not found in this organization")
        if data.asset_id is not None:
            asset = session.get(Asset, data.asset_id)
            if asset is None or asset.org_id != data.org_id:
                raise invalid("asset not found in this organization")
        _validate_checks(ctx, items)
        items = _seal_checks(ctx, items)
        policy = Policy(
            org_id=data.org_id,
            name=data.name,
            level="",
            site_id=data.site_id,
            asset_id=data.asset_id,
            tag=data.tag,
            checks=items,
            exclude=list(data.exclude),
            created_at=now,
            updated_at=now,
        )
        policy.level = level_of(policy)
        session.add(policy)
        session.flush()
        sync(session, ctx, reached_by(session, policy))
        audit.record(
            session,
            ctx.clock,
            actor,
            "policy.create",
            entity="policy",
            entity_id=policy.id,
            org_id=policy.org_id,
            after=audit.snapshot(policy),
        )
        return _out(policy)


def _load(session: Session, actor: Actor, policy_id: int, edit: bool) -> Policy:
    policy = session.get(Policy, policy_id)
    if policy is None:
        raise not_found("policy")
    if policy.org_id is None:
        if not actor.is_owner:
            raise not_found("policy")
    else:
        get_in_scope(session, actor, Policy, policy_id, Role.ADMIN if edit else Role.VIEWER)
    return policy


def get(ctx: Context, actor: Actor, policy_id: int) -> PolicyOut:
    with ctx.db.read() as session:
        return _out(_load(session, actor, policy_id, edit=False))


def list_(ctx: Context, actor: Actor, org_id: int | None = None) -> list[PolicyOut]:
    """The provider's policies (for owners) and those of the organizations the actor sees."""
    with ctx.db.read() as session:
        rows = session.scalars(select(Policy).order_by(Policy.id)).all()
        out = []
        for p in rows:
            if p.org_id is None:
                if actor.is_owner and org_id is None:
                    out.append(_out(p))
            elif actor.role_in(p.org_id) is not None and org_id in (None, p.org_id):
                out.append(_out(p))
        return out


def update(ctx: Context, actor: Actor, policy_id: int, data: PolicyUpdate) -> PolicyOut:
    with ctx.db.transaction() as session:
        policy = _load(session, actor, policy_id, edit=True)
        before = audit.snapshot(policy)
        changes = data.model_dump(exclude_unset=True)
        if changes.get("name") is not None:
            policy.name = changes["name"]
        if data.checks is not None:
            items = _seal_checks(ctx, _dump_checks(data.checks), policy.checks)
            _validate_checks(ctx, _opened(ctx, items))
            policy.checks = items
        if data.exclude is not None:
            policy.exclude = list(data.exclude)
        names = [c["name"] for c in policy.checks]
        if len(set(names)) != len(names) or set(names) & set(policy.exclude):
            raise invalid("a policy names each check once and never both defines and excludes it")
        policy.updated_at = ctx.clock.now()
        session.flush()
        sync(session, ctx, reached_by(session, policy))
        audit.record(
            session,
            ctx.clock,
            actor,
            "policy.update",
            entity="policy",
            entity_id=policy.id,
            org_id=policy.org_id,
            before=before,
            after=audit.snapshot(policy),
        )
        return _out(policy)


def delete(ctx: Context, actor: Actor, policy_id: int) -> None:
    with ctx.db.transaction() as session:
        policy = _load(session, actor, policy_id, edit=True)
        before = audit.snapshot(policy)
        assets = reached_by(session, policy)
        session.delete(policy)
        session.flush()
        sync(session, ctx, assets)
        audit.record(
            session,
            ctx.clock,
            actor,
            "policy.delete",
            entity="policy",
            entity_id=policy_id,
            org_id=before["org_id"],
            before=before,
        )


def reached_by(session: Session, p: Policy) -> list[int]:
    """The assets a policy applies to."""
    stmt = select(Asset.id)
    if p.asset_id is not None:
        return [p.asset_id]
    if p.site_id is not None:
        stmt = stmt.where(Asset.site_id == p.site_id)
    elif p.org_id is not None:
        stmt = stmt.where(Asset.org_id == p.org_id)
    if p.tag is not None:
        stmt = stmt.where(Asset.id.in_(select(AssetTag.asset_id).where(AssetTag.tag == p.tag)))
    return list(session.scalars(stmt))


def _applies(p: Policy, asset: Asset, tags: set[str]) -> bool:
    if p.org_id is not None and p.org_id != asset.org_id:
        return False
    if p.asset_id is not None:
        return p.asset_id == asset.id
    if p.site_id is not None:
        return p.site_id == asset.site_id
    if p.tag is not None:
        return p.tag in tags
    return True


def _effective_for(asset: Asset, tags: set[str], policies: list[Policy]) -> list[Effective]:
    return effective(
        PolicyDef(p.id, p.name, RANKS[p.level], tuple(p.checks), tuple(p.exclude))
        for p in policies
        if _applies(p, asset, tags)
    )


def _tags_of(session: Session, asset_ids: list[int]) -> dict[int, set[str]]:
    tags: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(asset_ids), 500):
        chunk = asset_ids[start : start + 500]
        for aid, tag in session.execute(
            select(AssetTag.asset_id, AssetTag.tag).where(AssetTag.asset_id.in_(chunk))
        ):
            tags[aid].add(tag)
    return tags


def _desired(ctx: Context, asset: Asset, e: Effective) -> CheckCreate:
    """The check a policy entry makes for an asset, its secrets in clear."""
    d = {k: e.definition[k] for k in _CHECK_FIELDS if e.definition.get(k) is not None}
    if "params" in d:
        d["params"] = secret_params.open_params(ctx, d["params"])
    if "type" not in d:
        raise invalid("overrides a check no broader policy defines")
    d["target"] = render_target(d.get("target", ""), host=asset.hostname, name=asset.name)
    return CheckCreate.model_validate({**d, "asset_id": asset.id, "name": e.name})


def sync(session: Session, ctx: Context, asset_ids: Iterable[int]) -> None:
    """Make the policy-made checks of these assets match their policies now."""
    ids = sorted(set(asset_ids))
    if not ids:
        return
    policies = list(session.scalars(select(Policy)))
    tags = _tags_of(session, ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        assets = session.scalars(select(Asset).where(Asset.id.in_(chunk))).all()
        existing: dict[int, dict[str, Check]] = defaultdict(dict)
        for c in session.scalars(select(Check).where(Check.asset_id.in_(chunk))):
            existing[c.asset_id][c.name] = c
        for asset in assets:
            _sync_one(
                session,
                ctx,
                asset,
                _effective_for(asset, tags[asset.id], policies),
                existing[asset.id],
            )


def _sync_one(
    session: Session,
    ctx: Context,
    asset: Asset,
    wanted: list[Effective],
    have: dict[str, Check],
) -> None:
    keep: set[str] = set()
    for e in wanted:
        current = have.get(e.name)
        if e.excluded or (current is not None and current.source == "manual"):
            continue
        try:
            desired = _desired(ctx, asset, e)
            params = checks.validate_definition(ctx, desired.type, desired.target, desired.params)
        except (ServiceError, ValueError):
            continue  # shown as invalid in the effective view; never a broken check
        keep.add(e.name)
        source = f"policy:{e.origin.policy_id}"
        if current is None:
            checks.add(session, ctx, asset, desired, source)
            continue
        fields = desired.model_dump(exclude={"asset_id", "name", "parent_id", "params"})
        changed = {k: v for k, v in fields.items() if getattr(current, k) != v}
        # Sealed values differ at every encryption: compare the params in clear.
        if secret_params.open_params(ctx, current.params) != params:
            changed["params"] = secret_params.seal(ctx, params)
        if current.source != source:
            changed["source"] = source
        if changed:
            for k, v in changed.items():
                setattr(current, k, v)
            current.updated_at = ctx.clock.now()
            if "target" in changed or "params" in changed or "type" in changed:
                st = session.get(CheckStateRow, current.id)
                if st is not None:
                    st.next_due_at = checks.first_due(current, current.updated_at)
    gone = [c for name, c in have.items() if c.source.startswith("policy:") and name not in keep]
    for c in gone:
        session.delete(c)
    session.flush()
    if any(c.type == "agent" for c in [*have.values(), *gone]) or any(
        e.definition.get("type") == "agent" for e in wanted
    ):
        agent_config.refresh(session, [asset.id], ctx.clock.now())


def effective_checks(ctx: Context, actor: Actor, asset_id: int) -> list[EffectiveCheckOut]:
    """Every check name that reaches the asset: applied, excluded, beaten by a manual check,
    or invalid once its overrides are applied; with the policies that decided it."""
    with ctx.db.read() as session:
        asset = get_in_scope(session, actor, Asset, asset_id)
        policies = list(session.scalars(select(Policy)))
        tags = _tags_of(session, [asset.id])[asset.id]
        have = {c.name: c for c in session.scalars(select(Check).where(Check.asset_id == asset_id))}
        out = []
        for e in _effective_for(asset, tags, policies):
            current = have.get(e.name)
            state, detail = "applied", ""
            target = render_target(
                e.definition.get("target") or "", host=asset.hostname, name=asset.name
            )
            if e.excluded:
                state, detail = "excluded", f"excluded by {e.origin.policy_name}"
            elif current is not None and current.source == "manual":
                state, detail = "manual", "a check made by hand of the same name applies instead"
            else:
                try:
                    d = _desired(ctx, asset, e)
                    checks.validate_definition(ctx, d.type, d.target, d.params)
                except ServiceError as exc:
                    state, detail = "invalid", exc.detail
                except ValueError as exc:
                    state, detail = "invalid", str(exc)
            out.append(
                EffectiveCheckOut(
                    name=e.name,
                    type=e.definition.get("type"),
                    target=target,
                    state=state,
                    detail=detail,
                    check_id=current.id if current is not None else None,
                    sources=[s.__dict__ for s in e.sources],
                )
            )
        manual = [
            EffectiveCheckOut(
                name=c.name,
                type=c.type,
                target=c.target,
                state="manual",
                detail="made by hand",
                check_id=c.id,
                sources=[],
            )
            for c in have.values()
            if c.source == "manual" and c.name not in {o.name for o in out}
        ]
        return sorted(out + manual, key=lambda o: o.name)
