"""Expiries and recurring problems through the real pipeline, jobs, API, page and CLI."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from forewarn.cli import app as cli_app
from forewarn.domain.clock import ManualClock
from forewarn.domain.observation import Metric, Observation, Result, Status
from forewarn.services import (
    assets,
    checks,
    expiries,
    findings,
    heartbeats,
    lifecycle,
    results,
    tickets,
)
from forewarn.services import recurring as recurring_service
from forewarn.services.context import Context
from forewarn.services.ingest import SeriesCache
from forewarn.services.schemas import AssetCreate, AssetUpdate, CheckCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import Agent, AlertRow, InventorySection, LifecycleProduct
from tests.conftest import Person, make_org, make_person
from tests.integration.test_web import signed_in

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _no_machine_distro_info(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The shipped table only: what this machine's distro-info says must not change results."""
    monkeypatch.setattr(lifecycle, "DISTRO_INFO_DIR", tmp_path / "no-distro-info")


def _open(ctx: Context, org_id: int) -> dict[tuple[str, str], findings.FindingOut]:
    page = findings.list_findings(ctx, SYSTEM, org_id=org_id, status="open", limit=500)
    return {(f.rule, f.key): f for f in page.items}


def _tls_days(ctx: Context, check_id: int, at: datetime, days: float) -> None:
    result = Result(Status.OK, "valid", (Metric("days_left", days),))
    results.record(ctx, [Observation(check_id, at, result)], series=SeriesCache())


def _inventory(ctx: Context, org_id: int, asset_id: int, section: str, data: Any) -> None:
    with ctx.db.transaction() as session:
        row = session.get(InventorySection, (asset_id, section))
        if row is None:
            session.add(
                InventorySection(
                    asset_id=asset_id,
                    section=section,
                    org_id=org_id,
                    data=data,
                    updated_at=ctx.clock.now(),
                )
            )
        else:
            row.data = data


def _agent(ctx: Context, org_id: int, asset_id: int, version: str) -> None:
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        session.add(
            Agent(
                org_id=org_id,
                asset_id=asset_id,
                token_hash=f"{asset_id:064d}",
                version=version,
                enrolled_at=now,
                status_since=now,
            )
        )


def _token(ctx: Context, check_id: int) -> str:
    path = checks.get(ctx, SYSTEM, check_id).push_path
    assert path
    return path.rsplit("/", 1)[-1]


def _world(ctx: Context, clock: ManualClock) -> dict[str, int]:
    now = clock.now()  # 2026-11-02 09:00 UTC
    org = make_org(ctx, "Alpha Dental")
    fs = assets.create(
        ctx,
        SYSTEM,
        AssetCreate(org_id=org, name="fs01", kind="server", warranty_end=(now + 40 * DAY).date()),
    ).id
    web = assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name="web", kind="website")).id
    tls = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(asset_id=web, name="cert", type="tls", target="shop.example.com:443"),
    ).id
    _tls_days(ctx, tls, now - timedelta(hours=1), 12.5)
    # Debian 11 ended regular support 2024-08-14; Python 3.11 ends 2027-10-31 (no finding).
    _inventory(ctx, org, fs, "system", {"hostname": "fs01", "os_id": "debian", "os_version": "11"})
    _inventory(
        ctx,
        org,
        fs,
        "packages",
        [
            {"name": "postgresql-14", "version": "14.9-1"},  # ends 2026-11-12: 10 days
            {"name": "python3.11", "version": "3.11.2-6"},
        ],
    )
    backup = checks.create(
        ctx, SYSTEM, CheckCreate(asset_id=fs, name="nightly", type="heartbeat")
    ).id
    heartbeats.ping(ctx, _token(ctx, backup), "fail")
    _agent(ctx, org, fs, "0.0.1")
    return {"org": org, "fs": fs, "web": web, "tls": tls, "backup": backup}


def test_the_job_raises_expiries_with_due_dates_and_resolves_them(
    ctx: Context, clock: ManualClock
) -> None:
    w = _world(ctx, clock)
    expiries.refresh(ctx)
    found = _open(ctx, w["org"])
    cert = found[("expiry.certificate", f"check:{w['tls']}")]
    assert cert.title == "Certificate for shop.example.com expires in 12 days"
    assert cert.severity == "medium" and cert.asset_id == w["web"]
    assert cert.due_at is not None and cert.due_at.date() == date(2026, 11, 14)
    warranty = found[("expiry.warranty", f"asset:{w['fs']}")]
    assert warranty.title == "Warranty of fs01 ends in 40 days" and warranty.severity == "low"
    os_eol = found[("lifecycle.os_eol", f"asset:{w['fs']}")]
    assert os_eol.severity == "high" and "Debian 11 on fs01 reached end of life" in os_eol.title
    assert os_eol.evidence["extended_support"] == "2026-08-31"
    pg = found[("lifecycle.software_eol", f"asset:{w['fs']}:postgresql:14")]
    assert pg.title == "PostgreSQL 14 on fs01 reaches end of life in 10 days"
    assert not any(k[1].endswith(":python:3.11") for k in found)  # 2027: upcoming, no finding
    backup = found[("backup.not_reported", f"check:{w['backup']}")]
    assert backup.title == "Backup 'nightly' on fs01 reported a failure"
    assert backup.severity == "high"
    agent = next(f for (rule, _), f in found.items() if rule == "agent.outdated")
    assert "version 0.0.1" in agent.title and agent.due_at is None

    # Running again changes nothing but the last-seen time.
    assert expiries.refresh(ctx).opened == 0

    # A day later the certificate is renewed, the backup succeeds, the warranty moves
    # beyond 90 days and the server is upgraded: those findings resolve by themselves.
    clock.advance(days=1)
    _tls_days(ctx, w["tls"], clock.now(), 89.0)
    heartbeats.ping(ctx, _token(ctx, w["backup"]), "success")
    assets.update(ctx, SYSTEM, w["fs"], AssetUpdate(warranty_end=date(2027, 6, 1)))
    _inventory(ctx, w["org"], w["fs"], "system", {"os_id": "debian", "os_version": "13"})
    report = expiries.refresh(ctx)
    assert report.opened == 0 and report.resolved == 3
    left = _open(ctx, w["org"])
    assert ("expiry.certificate", f"check:{w['tls']}") in left  # 88 days left: still low
    assert left[("expiry.certificate", f"check:{w['tls']}")].severity == "low"
    assert ("expiry.warranty", f"asset:{w['fs']}") not in left
    assert ("lifecycle.os_eol", f"asset:{w['fs']}") not in left
    assert ("backup.not_reported", f"check:{w['backup']}") not in left
    assert left[("lifecycle.software_eol", f"asset:{w['fs']}:postgresql:14")].title.endswith(
        "in 9 days"
    )


def test_api_lists_dates_soonest_first_and_refuses_other_orgs(
    ctx: Context, clock: ManualClock, client: TestClient, owner: Person
) -> None:
    w = _world(ctx, clock)
    r = client.get(f"/api/v1/orgs/{w['org']}/expiries", headers=owner.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    dues = [i["due"] for i in items]
    assert dues == sorted(dues)  # passed ones (Debian 11, the failed backup) lead
    kinds = {i["kind"] for i in items}
    assert kinds == {"certificate", "warranty", "os_eol", "software_eol", "backup"}
    python = next(i for i in items if i["title"].startswith("Python 3.11"))
    assert python["severity"] is None and python["days_left"] == 363
    cert = next(i for i in items if i["kind"] == "certificate")
    assert cert["days_left"] == 12 and cert["asset_name"] == "web"

    other = make_org(ctx, "Bravo Bakery")
    outsider = make_person(ctx, "bravo", roles={other: "viewer"})
    r = client.get(f"/api/v1/orgs/{w['org']}/expiries", headers=outsider.headers)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/api/v1/orgs/{w['org']}/expiries").status_code == 401


def test_recurring_failures_become_findings_with_their_history(
    ctx: Context, clock: ManualClock
) -> None:
    org = make_org(ctx, "Alpha Dental")
    pc = assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name="pc-12", kind="workstation")).id
    ping = checks.create(
        ctx,
        SYSTEM,
        CheckCreate(asset_id=pc, name="ping", type="ping", target="10.0.0.12", max_attempts=1),
    ).id
    start = clock.now()
    for n in range(3):  # down and up again, three times in ten days
        at = start - timedelta(days=10 - 4 * n)
        for status in (Status.CRITICAL, Status.OK):
            obs = Observation(ping, at, Result(status, f"{status.label} #{n}"))
            results.record(ctx, [obs], series=SeriesCache())
            at += timedelta(minutes=10)
    # Three tickets about its alerts.
    with ctx.db.transaction() as session:
        alert = AlertRow(
            org_id=org,
            fingerprint="b" * 16,
            labels={},
            severity="critical",
            state="resolved",
            asset_id=pc,
            opened_at=start,
            last_fired_at=start,
        )
        session.add(alert)
        session.flush()
        alert_id = alert.id
    for n in range(3):
        tickets.create(
            ctx,
            SYSTEM,
            tickets.TicketCreate(org_id=org, title=f"pc-12 again {n}", alert_ids=[alert_id]),
        )

    recurring_service.refresh(ctx)
    found = _open(ctx, org)
    check = found[("recurring.check", f"check:{ping}")]
    assert check.title == "Check 'ping' on pc-12 failed 3 times in 30 days"
    assert check.severity == "medium" and check.asset_id == pc
    history = check.evidence["history"]
    assert [h["status"] for h in history] == ["critical"] * 3
    assert history[0]["at"].startswith((start - 10 * DAY).date().isoformat())
    assert ("recurring.asset", f"asset:{pc}") not in found  # one check: its finding says it
    busy = found[("recurring.tickets", f"asset:{pc}")]
    assert busy.title == "pc-12 had 3 tickets in 30 days"
    assert busy.evidence["history"][0]["title"] == "pc-12 again 0"

    # Three weeks on, the first failure and the tickets have left the 30-day window.
    clock.advance(days=21)
    recurring_service.refresh(ctx)
    left = _open(ctx, org)
    assert ("recurring.check", f"check:{ping}") not in left
    assert ("recurring.tickets", f"asset:{pc}") in left  # tickets opened 21 days ago
    clock.advance(days=10)
    recurring_service.refresh(ctx)
    assert not any(rule.startswith("recurring.") for rule, _ in _open(ctx, org))


# ---- forewarn data import ------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("FOREWARN_DATABASE_URL", database_url)
    monkeypatch.setenv("FOREWARN_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _imported(ctx: Context) -> list[tuple[str, list[Any]]]:
    with ctx.db.read() as session:
        rows = session.scalars(select(LifecycleProduct).order_by(LifecycleProduct.product))
        return [(r.product, r.releases) for r in rows]


def test_cli_imports_a_newer_file_and_a_bad_one_changes_nothing(
    cli: CliRunner, ctx: Context, clock: ManualClock, tmp_path: Path
) -> None:
    w = _world(ctx, clock)
    # PostgreSQL 14 gets two more years (a made-up newer file, dated after the shipped one).
    good = tmp_path / "postgresql.json"
    good.write_text(
        json.dumps([{"cycle": "14", "eol": "2028-11-09"}, {"cycle": "15", "eol": "2027-11-11"}])
    )
    r = cli.invoke(cli_app, ["data", "import", str(good), "--date", "2026-10-01"])
    assert r.exit_code == 0, r.output
    assert "postgresql" in r.output
    after = _imported(ctx)
    assert [p for p, _ in after] == ["postgresql"]
    pg = next(i for i in expiries.upcoming(ctx, SYSTEM, w["org"]) if "PostgreSQL" in i.title)
    assert pg.due == date(2028, 11, 9) and pg.severity is None

    status = cli.invoke(cli_app, ["data", "status"])
    assert status.exit_code == 0 and "imported: postgresql.json" in status.output
    assert "2026-10-01" in status.output and "shipped" in status.output

    bad_files = {
        "broken.json": '[{"cycle": "14", "eol": "someday"}]',
        "empty.json": "{}",
        "debian.csv": "version,codename\n12,bookworm\n",
    }
    for name, text in bad_files.items():
        path = tmp_path / name
        path.write_text(text)
        r = cli.invoke(cli_app, ["data", "import", str(path), "--product", "postgresql"])
        assert r.exit_code == 1, (name, r.output)
        assert "error" in r.output
        assert _imported(ctx) == after
    r = cli.invoke(cli_app, ["data", "import", str(tmp_path / "missing.json")])
    assert r.exit_code == 2 and _imported(ctx) == after


def test_the_upcoming_dates_page_is_linked_from_the_organization(
    ctx: Context, clock: ManualClock, client: TestClient
) -> None:
    w = _world(ctx, clock)
    make_person(ctx, "tech", roles={w["org"]: "technician"})
    signed_in(client, "tech")
    assert f'href="/orgs/{w["org"]}/expiries"' in client.get(f"/orgs/{w['org']}").text
    page = client.get(f"/orgs/{w['org']}/expiries")
    assert page.status_code == 200
    text = page.text
    assert "Certificate for shop.example.com expires in 12 days" in text
    assert "in 12 days" in text and "2026-11-14" in text
    # Soonest first: the ended Debian release leads, the 2027 Python release comes last.
    assert text.index("Debian 11 on fs01") < text.index("PostgreSQL 14") < text.index("Python 3.11")
    other = make_org(ctx, "Bravo Bakery")
    assert client.get(f"/orgs/{other}/expiries").status_code == 404
