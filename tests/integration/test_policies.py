"""Policies: define once, inherit, override, exclude, and see where each check comes from."""

from __future__ import annotations

import pytest

from forewarn.services import assets, auth, checks, policies, sites
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import (
    AssetCreate,
    AssetUpdate,
    CheckCreate,
    PolicyCreate,
    PolicyUpdate,
    SiteCreate,
)
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org, make_person

PING = {"name": "ping", "type": "ping", "target": "{host}"}
DISK = {
    "name": "disk /",
    "type": "agent",
    "params": {"metric": "disk.used_percent", "labels": {"mount": "/"}, "warn": "85", "crit": "95"},
}


def names(ctx, asset_id):
    return {
        c.name: (c.target, c.source, c.params)
        for c in checks.list_(ctx, SYSTEM, asset_id=asset_id, limit=200).items
    }


@pytest.fixture
def world(ctx):
    org = make_org(ctx, "Acme")
    other = make_org(ctx, "Bravo")
    site = sites.create(ctx, SYSTEM, SiteCreate(org_id=org, name="HQ")).id

    def asset(org_id, name, **kw):
        data = AssetCreate(org_id=org_id, name=name, kind="server", **kw)
        return assets.create(ctx, SYSTEM, data).id

    return {
        "org": org,
        "other": other,
        "site": site,
        "fs01": asset(org, "fs01", hostname="fs01.acme.test", tags=["server"], site_id=site),
        "pc01": asset(org, "pc01"),
        "bravo": asset(other, "bravo-srv", tags=["server"]),
    }


def test_inheritance_overrides_exclusions_and_sources(ctx, world):
    provider = policies.create(ctx, SYSTEM, PolicyCreate(name="baseline", checks=[PING])).id
    policies.create(ctx, SYSTEM, PolicyCreate(name="servers", tag="server", checks=[DISK]))
    policies.create(
        ctx, SYSTEM, PolicyCreate(name="acme no ping", org_id=world["org"], exclude=["ping"])
    )
    policies.create(
        ctx,
        SYSTEM,
        PolicyCreate(
            name="hq",
            org_id=world["org"],
            site_id=world["site"],
            checks=[{"name": "ping", "params": {"count": 5}}],
        ),
    )
    fs = names(ctx, world["fs01"])
    assert set(fs) == {"ping", "disk /"}
    assert fs["ping"][0] == "fs01.acme.test"  # {host} rendered
    assert fs["ping"][2] == {"count": 5}  # the site's override on the provider's check
    assert names(ctx, world["pc01"]) == {}  # excluded for Acme, no tag, no site
    bravo = names(ctx, world["bravo"])
    assert set(bravo) == {"ping", "disk /"} and bravo["ping"][0] == "bravo-srv"
    assert bravo["ping"][1] == f"policy:{provider}"

    eff = {e.name: e for e in policies.effective_checks(ctx, SYSTEM, world["pc01"])}
    assert eff["ping"].state == "excluded"
    assert [s["action"] for s in eff["ping"].sources] == ["defines", "excludes"]
    eff = {e.name: e for e in policies.effective_checks(ctx, SYSTEM, world["fs01"])}
    assert [s["policy_name"] for s in eff["ping"].sources] == ["baseline", "acme no ping", "hq"]
    assert eff["ping"].state == "applied" and eff["ping"].check_id


def test_retagging_and_manual_checks_and_deletion(ctx, world):
    servers = policies.create(
        ctx, SYSTEM, PolicyCreate(name="servers", tag="server", checks=[DISK, PING])
    ).id
    assert names(ctx, world["pc01"]) == {}
    assets.update(ctx, SYSTEM, world["pc01"], AssetUpdate(tags=["server"]))
    assert set(names(ctx, world["pc01"])) == {"disk /", "ping"}
    # A check made by hand of the same name wins and is never touched by the policy.
    own = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(asset_id=world["fs01"], name="mine", type="tcp", target="fs01:22"),
    )
    assert own.source == "manual"
    policies.update(
        ctx,
        SYSTEM,
        servers,
        PolicyUpdate(checks=[DISK, {"name": "mine", "type": "ping", "target": "{host}"}]),
    )
    fs = names(ctx, world["fs01"])
    assert fs["mine"] == ("fs01:22", "manual", {})
    assert "ping" not in fs  # dropped from the policy: removed
    assets.update(ctx, SYSTEM, world["pc01"], AssetUpdate(tags=[]))
    assert names(ctx, world["pc01"]) == {}
    policies.delete(ctx, SYSTEM, servers)
    assert set(names(ctx, world["fs01"])) == {"mine"}


def test_bad_policies_are_refused_whole(ctx, world):
    with pytest.raises(ServiceError) as err:
        policies.create(
            ctx,
            SYSTEM,
            PolicyCreate(
                name="broken",
                org_id=world["org"],
                checks=[PING, {"name": "x", "type": "tcp", "target": "{host}"}],
            ),
        )
    assert err.value.status == 422 and "checks[1] (x)" in err.value.detail
    assert policies.list_(ctx, SYSTEM) == [] and names(ctx, world["fs01"]) == {}
    with pytest.raises(ValueError, match="once"):
        PolicyCreate(name="dup", checks=[PING, PING])
    with pytest.raises(ValueError, match="both define and exclude"):
        PolicyCreate(name="both", checks=[PING], exclude=["ping"])


def test_who_may_write_policies(ctx, world):
    tech = make_person(ctx, "tech", roles={world["org"]: "technician"})
    admin = make_person(ctx, "adm", roles={world["org"]: "admin"})
    tech_actor = auth.resolve(ctx, tech.token)
    admin_actor = auth.resolve(ctx, admin.token)
    with pytest.raises(ServiceError) as err:
        policies.create(ctx, tech_actor, PolicyCreate(name="p", org_id=world["org"]))
    assert err.value.status == 403
    with pytest.raises(ServiceError) as err:
        policies.create(ctx, admin_actor, PolicyCreate(name="everyone", checks=[PING]))
    assert err.value.status == 403  # the provider's policies are the owners'
    made = policies.create(ctx, admin_actor, PolicyCreate(name="p", org_id=world["org"]))
    assert [p.id for p in policies.list_(ctx, admin_actor)] == [made.id]
