"""The monthly client report: figures from real rows on both engines, stored and replaced,
rendered to PDF and read back with pdftotext, refused periods, tenancy, the scheduled turn,
and a user-typed name that must neither break out of the HTML nor make the PDF fetch."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from forewarn.cli import app as cli_app
from forewarn.domain.clock import ManualClock
from forewarn.domain.observation import Status
from forewarn.reports import formatting
from forewarn.reports.monthly import html as monthly_html
from forewarn.services import assets, checks, monthly_report, orgs, sites
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import AssetCreate, CheckCreate, SiteCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import (
    AlertEvent,
    AlertRow,
    Assessment,
    AuditEvent,
    CheckEvent,
    ClientReport,
    Organization,
    Ticket,
)
from tests.conftest import Person, make_org, make_person

# The org's clocks are Berlin's: October 2026 there runs from 30 Sep 22:00 UTC to
# 31 Oct 23:00 UTC (summer time ends on the 25th), 745 hours in all.
TZ = "Europe/Berlin"
OCT_START = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
OCT_HOURS = 745
DOWN_AT = datetime(2026, 10, 10, 10, 0, tzinfo=UTC)
DOWN_HOURS = 3


def _uptime_percent() -> float:
    return round(100.0 * (OCT_HOURS - DOWN_HOURS) / OCT_HOURS, 3)


def seed_october(ctx: Context, org: int) -> dict[str, int]:
    """One check down 3 h on 10 October, its critical alert acknowledged after 6 min and
    resolved after 3 h; two tickets: one from monitoring, one a person reported (not caught)."""
    site = sites.create(ctx, SYSTEM, SiteCreate(org_id=org, name="HQ")).id
    asset = assets.create(
        ctx, SYSTEM, AssetCreate(org_id=org, name="fs01", kind="server", site_id=site)
    ).id
    check = checks.create(
        ctx, SYSTEM, CheckCreate(asset_id=asset, name="backup", type="heartbeat")
    ).id
    up = DOWN_AT + timedelta(hours=DOWN_HOURS)
    with ctx.db.transaction() as session:
        for at, old, new in (
            (datetime(2026, 9, 1, tzinfo=UTC), Status.UNKNOWN, Status.OK),
            (DOWN_AT, Status.OK, Status.CRITICAL),
            (up, Status.CRITICAL, Status.OK),
        ):
            session.add(
                CheckEvent(org_id=org, check_id=check, at=at, kind="hard", old=old, new=new)
            )
        alert = AlertRow(
            org_id=org,
            fingerprint="b" * 16,
            labels={"org": str(org), "check": str(check)},
            severity="critical",
            state="resolved",
            summary="fs01 backup missing",
            check_id=check,
            asset_id=asset,
            opened_at=DOWN_AT,
            last_fired_at=DOWN_AT,
            acked_at=DOWN_AT + timedelta(minutes=6),
            resolved_at=up,
        )
        session.add(alert)
        session.flush()
        session.add(
            AlertEvent(alert_id=alert.id, at=DOWN_AT + timedelta(minutes=6), kind="acknowledged")
        )
        for origin, created in (
            ("monitoring", DOWN_AT + timedelta(minutes=1)),
            ("user", datetime(2026, 10, 20, 8, 0, tzinfo=UTC)),
        ):
            session.add(
                Ticket(
                    org_id=org,
                    title=f"{origin} ticket",
                    status="resolved",
                    priority="normal",
                    origin=origin,
                    reporter="someone",
                    created_at=created,
                    updated_at=created,
                    resolved_at=created + timedelta(hours=1),
                )
            )
    return {"site": site, "asset": asset, "check": check, "alert": alert.id}


@pytest.fixture
def org(ctx: Context) -> int:
    return make_org(ctx, "Delta Dental & Co", timezone=TZ, currency="EUR")


@pytest.fixture
def tech(ctx: Context, org: int) -> Person:
    return make_person(ctx, "tess", roles={org: "technician"})


def test_the_months_figures_come_from_the_months_rows(ctx: Context, org: int) -> None:
    seed_october(ctx, org)
    doc = monthly_report.build(ctx, SYSTEM, org, "2026-10")
    assert doc["schema"] == "forewarn.monthly-report/1"
    assert doc["period"]["start"] == OCT_START.isoformat()
    assert doc["period"]["partial"] is False
    assert doc["uptime"]["percent"] == _uptime_percent()
    assert doc["uptime"]["down_s"] == DOWN_HOURS * 3600
    assert doc["uptime"]["worst"][0]["check"] == "backup"
    ten = next(d for d in doc["uptime"]["daily"] if d["date"] == "2026-10-10")
    assert ten["percent"] == round(100 * 21 / 24, 3)
    assert len(doc["uptime"]["daily"]) == 31
    assert doc["alerts"]["raised"] == 1 and doc["alerts"]["resolved"] == 1
    assert doc["alerts"]["raised_by_severity"] == {"critical": 1}
    assert doc["tickets"]["mtta_s"] == 360
    assert doc["tickets"]["mttr_s"] == DOWN_HOURS * 3600
    assert doc["tickets"]["opened"] == 2 and doc["tickets"]["closed"] == 2
    assert doc["tickets"]["proactive_share"] == 0.5
    assert doc["headline"]["text"] == "1 of 2 problems were caught before anyone reported them."
    assert doc["no_data"] is False
    assert doc["org"]["currency"] == "EUR"
    # November is under way: the check has been up since, nothing else happened.
    november = monthly_report.build(ctx, SYSTEM, org, "2026-11")
    assert november["period"]["partial"] is True and november["uptime"]["percent"] == 100
    assert november["headline"]["text"] == "No problems needed a ticket this month."
    # An organization with nothing watched says so rather than printing a clean month.
    empty = monthly_report.build(ctx, SYSTEM, make_org(ctx, "Hotel Empty"), "2026-10")
    assert empty["no_data"] is True
    assert "There is no data for October 2026" in (empty["no_data_reason"] or "")
    assert empty["uptime"]["percent"] is None and empty["health"]["score"] is None


def test_sla_alerts_are_not_counted_as_the_clients_problems(ctx: Context, org: int) -> None:
    """A ticket's missed deadline raised an alert (tickets.sla_watch): it is about our own
    service, so the month's alerts, MTTA and MTTR leave it out."""
    seed_october(ctx, org)
    at = datetime(2026, 10, 20, 8, 15, tzinfo=UTC)
    with ctx.db.transaction() as session:
        sla = AlertRow(
            org_id=org,
            fingerprint="s" * 16,
            labels={"org": str(org), "kind": "ticket", "ticket": "2", "sla": "respond"},
            severity="critical",
            state="resolved",
            summary="Ticket #2 (urgent): answer was due",
            opened_at=at,
            last_fired_at=at,
            acked_at=at + timedelta(hours=5),
            resolved_at=at + timedelta(hours=9),
        )
        session.add(sla)
        session.flush()
        session.add(AlertEvent(alert_id=sla.id, at=at + timedelta(hours=5), kind="acknowledged"))
    doc = monthly_report.build(ctx, SYSTEM, org, "2026-10")
    assert doc["alerts"]["raised"] == 1 and doc["alerts"]["resolved"] == 1
    assert doc["alerts"]["raised_by_severity"] == {"critical": 1}
    assert sum(d["raised"] for d in doc["alerts"]["daily"]) == 1
    assert doc["tickets"]["mtta_s"] == 360
    assert doc["tickets"]["mttr_s"] == DOWN_HOURS * 3600


def test_caught_first_counts_problems_not_planned_work(ctx: Context, org: int) -> None:
    """A checklist ticket (a leaver) is a ticket opened, but no problem: the report says
    "1 of 2 problems" beside the 50 %, not "1 of 3"."""
    seed_october(ctx, org)
    at = datetime(2026, 10, 12, 8, 0, tzinfo=UTC)
    with ctx.db.transaction() as session:
        session.add(
            Ticket(
                org_id=org,
                title="Offboard: Alex",
                status="new",
                priority="normal",
                origin="checklist",
                reporter="someone",
                created_at=at,
                updated_at=at,
            )
        )
    doc = monthly_report.build(ctx, SYSTEM, org, "2026-10")
    assert doc["tickets"]["opened"] == 3 and doc["tickets"]["proactive_share"] == 0.5
    words = " ".join(re.sub(r"<[^>]+>", " ", monthly_html(doc)).split())
    assert "Caught first 50 % 1 of 2 problems" in words
    assert "Caught before anyone reported them 1 of 2 (50 %)" in words


@pytest.mark.parametrize(
    ("period", "reason"),
    [
        ("2026-13", "there is no month 13"),
        ("2026-00", "there is no month 0"),
        ("2026-12", "has not begun yet"),
        ("2027-01", "has not begun yet"),
        ("26-10", "not a month written YYYY-MM"),
        ("2026-1", "not a month written YYYY-MM"),
        ("1999-12", "before the year 2000"),
    ],
)
def test_a_bad_period_is_refused_with_the_reason_and_nothing_is_stored(
    ctx: Context, org: int, period: str, reason: str
) -> None:
    with pytest.raises(ServiceError) as refused:
        monthly_report.generate(ctx, SYSTEM, org, period)
    assert refused.value.status == 422 and reason in refused.value.detail
    with ctx.db.read() as session:
        assert session.scalar(select(func.count(ClientReport.id))) == 0


def test_generating_again_replaces_the_month_in_place(
    ctx: Context, clock: ManualClock, org: int, tech: Person
) -> None:
    seed_october(ctx, org)
    actor = _actor(ctx, tech)
    first = monthly_report.generate(ctx, actor, org, "2026-10")
    clock.advance(3600)
    again = monthly_report.generate(ctx, actor, org, "2026-10")
    assert again.id == first.id and again.created_at > first.created_at
    listed = monthly_report.list_(ctx, actor, org).items
    assert [r.period for r in listed] == ["2026-10"]
    assert listed[0].headline == "1 of 2 problems were caught before anyone reported them."
    with ctx.db.read() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "client_report")
        ).all()
    assert actions == ["report.generate", "report.generate"]


def _actor(ctx: Context, person: Person) -> Any:
    from forewarn.services import auth

    return auth.resolve(ctx, person.token, "127.0.0.1")


needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None,
    reason="pdftotext (poppler-utils) is not installed: the PDF cannot be read back",
)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # Words as read, whatever the line breaks and columns of the page.
    return " ".join(done.stdout.split())


@needs_pdftotext
def test_the_pdf_prints_the_figures_of_the_json(
    client: TestClient, ctx: Context, org: int, tech: Person, tmp_path: Path
) -> None:
    seed_october(ctx, org)
    made = client.post(
        f"/api/v1/orgs/{org}/reports/monthly", json={"period": "2026-10"}, headers=tech.headers
    )
    assert made.status_code == 201, made.text
    report = made.json()
    doc = report["document"]
    got = client.get(f"/api/v1/reports/{report['id']}/pdf", headers=tech.headers)
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/pdf"
    assert f"forewarn-{org}-monthly-2026-10.pdf" in got.headers["content-disposition"]
    assert got.content.startswith(b"%PDF-")
    text = pdf_text(got.content, tmp_path)
    # The figures as the JSON holds them, printed the one way the report prints them...
    assert formatting.percent(doc["uptime"]["percent"], 2) in text
    assert formatting.duration(doc["tickets"]["mtta_s"]) in text
    assert formatting.share(doc["tickets"]["proactive_share"]) in text
    # ... and those are the month's true figures.
    assert "99.60 %" in text and "6 min" in text and "50 %" in text
    assert "1 of 2 problems were caught before anyone reported them." in text
    assert "Delta Dental & Co" in text and "October 2026" in text
    assert "Page 1 of" in text
    html = client.get(f"/api/v1/reports/{report['id']}/html", headers=tech.headers)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert "Delta Dental &amp; Co" in html.text and "<svg" in html.text


def test_api_refuses_a_bad_period_and_viewers_read_but_do_not_generate(
    client: TestClient, ctx: Context, org: int, tech: Person
) -> None:
    viewer = make_person(ctx, "vera", roles={org: "viewer"})
    bad = client.post(
        f"/api/v1/orgs/{org}/reports/monthly", json={"period": "2026-13"}, headers=tech.headers
    )
    assert bad.status_code == 422 and "there is no month 13" in bad.json()["detail"]
    future = client.post(
        f"/api/v1/orgs/{org}/reports/monthly", json={"period": "2027-03"}, headers=tech.headers
    )
    assert future.status_code == 422 and "has not begun yet" in future.json()["detail"]
    refused = client.post(
        f"/api/v1/orgs/{org}/reports/monthly", json={"period": "2026-10"}, headers=viewer.headers
    )
    assert refused.status_code == 403
    made = client.post(
        f"/api/v1/orgs/{org}/reports/monthly", json={"period": "2026-10"}, headers=tech.headers
    ).json()
    listed = client.get(f"/api/v1/orgs/{org}/reports", headers=viewer.headers).json()["items"]
    assert [r["id"] for r in listed] == [made["id"]]
    one = client.get(f"/api/v1/reports/{made['id']}", headers=viewer.headers).json()
    assert one["document"]["schema"] == "forewarn.monthly-report/1"


def test_another_organizations_people_cannot_see_or_make_reports(
    client: TestClient, ctx: Context, org: int, tech: Person
) -> None:
    made = monthly_report.generate(ctx, _actor(ctx, tech), org, "2026-10")
    other = make_org(ctx, "Echo Eyecare")
    outsider = make_person(ctx, "otto", roles={other: "admin"})
    h = outsider.headers
    for path in (
        f"/api/v1/reports/{made.id}",
        f"/api/v1/reports/{made.id}/pdf",
        f"/api/v1/reports/{made.id}/html",
        f"/api/v1/orgs/{org}/reports",
    ):
        assert client.get(path, headers=h).status_code == 404, path
    r = client.post(f"/api/v1/orgs/{org}/reports/monthly", json={"period": "2026-09"}, headers=h)
    assert r.status_code == 404
    assert [x.period for x in monthly_report.list_(ctx, SYSTEM, org).items] == ["2026-10"]


def test_the_scheduled_turn_makes_last_month_once_for_every_organization(
    ctx: Context, clock: ManualClock, org: int
) -> None:
    seed_october(ctx, org)
    other = make_org(ctx, "Foxtrot Farms", timezone="America/New_York")
    clock.advance(3600)
    assert monthly_report.generate_last_month(ctx) == 0  # both became clients in November
    _created(ctx, datetime(2026, 9, 15, tzinfo=UTC))
    assert monthly_report.generate_last_month(ctx) == 2
    with ctx.db.read() as session:
        rows = session.execute(
            select(ClientReport.org_id, ClientReport.period, ClientReport.created_by)
        ).all()
    assert sorted(rows) == sorted([(org, "2026-10", "scheduler"), (other, "2026-10", "scheduler")])
    clock.advance(3600)
    assert monthly_report.generate_last_month(ctx) == 0  # idempotent: nothing made twice
    with ctx.db.read() as session:
        assert session.scalar(select(func.count(ClientReport.id))) == 2
    # A month later the next month's report is made, and the trend carries October's score.
    clock.advance((datetime(2026, 12, 1, 6, 0, tzinfo=UTC) - clock.now()).total_seconds())
    assert monthly_report.generate_last_month(ctx) == 2
    november = [r for r in monthly_report.list_(ctx, SYSTEM, org).items if r.period == "2026-11"]
    doc = monthly_report.get(ctx, SYSTEM, november[0].id).document
    assert [t["period"] for t in doc["risk_trend"]] == ["2026-10", "2026-11"]


def _created(ctx: Context, at: datetime) -> None:
    with ctx.db.transaction() as session:
        session.execute(update(Organization).values(created_at=at))


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[tuple[int, list[str]]]:
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Recorder.hits
    server.shutdown()
    server.server_close()
    thread.join(5)


@needs_pdftotext
def test_a_typed_name_is_text_and_the_pdf_fetches_nothing(
    client: TestClient,
    ctx: Context,
    owner: Person,
    loopback_server: tuple[int, list[str]],
    tmp_path: Path,
) -> None:
    port, hits = loopback_server
    trap = f'<img src="http://127.0.0.1:{port}/name"><link rel=stylesheet href="http://127.0.0.1:{port}/css">'
    org = make_org(ctx, f"Golf {trap}"[:200])
    seed_october(ctx, org)
    made = client.post(
        f"/api/v1/orgs/{org}/reports/monthly", json={"period": "2026-10"}, headers=owner.headers
    ).json()
    html = client.get(f"/api/v1/reports/{made['id']}/html", headers=owner.headers).text
    assert "<img" not in html and f"&lt;img src=&#34;http://127.0.0.1:{port}/name&#34;&gt;" in html
    # Were the name not escaped, this very HTML would make the PDF printer ask the server.
    pdf = client.get(f"/api/v1/reports/{made['id']}/pdf", headers=owner.headers)
    assert pdf.status_code == 200
    assert "Golf <img" in pdf_text(pdf.content, tmp_path)
    assert hits == []
    # Even unescaped, an address in the HTML is not fetched: the printer loads data: only.
    from forewarn.reports.render import html_to_pdf

    html_to_pdf(f'<p>x</p><img src="http://127.0.0.1:{port}/raw">')
    assert hits == [], "WeasyPrint fetched a loopback address"
    # And the recorder does record: the test could have failed.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/probe", timeout=5) as answer:
        assert answer.status == 200
    assert hits == ["/probe"]


# ---- forewarn report monthly -----------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("FOREWARN_DATABASE_URL", database_url)
    monkeypatch.setenv("FOREWARN_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def test_cli_writes_the_month_as_json_html_and_pdf(
    cli: CliRunner, ctx: Context, org: int, tmp_path: Path
) -> None:
    seed_october(ctx, org)
    slug = next(o for o in orgs.list_(ctx, SYSTEM).items if o.id == org).slug
    files = {ext: tmp_path / f"r.{ext}" for ext in ("json", "html", "pdf")}
    args = ["report", "monthly", slug, "--month", "2026-10"]
    r = cli.invoke(
        cli_app,
        [
            *args,
            "--json",
            str(files["json"]),
            "--html",
            str(files["html"]),
            "--pdf",
            str(files["pdf"]),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "1 of 2 problems were caught" in r.output and "October 2026" in r.output
    doc = json.loads(files["json"].read_text())
    assert (
        doc["schema"] == "forewarn.monthly-report/1"
        and doc["uptime"]["percent"] == _uptime_percent()
    )
    assert "Delta Dental &amp; Co" in files["html"].read_text()
    assert files["pdf"].read_bytes().startswith(b"%PDF-")
    assert [x.period for x in monthly_report.list_(ctx, SYSTEM, org).items] == ["2026-10"]

    for bad, reason in (("2026-13", "there is no month 13"), ("2099-01", "has not begun yet")):
        r = cli.invoke(cli_app, ["report", "monthly", slug, "--month", bad])
        assert r.exit_code == 2 and reason in r.output, r.output
    r = cli.invoke(cli_app, ["report", "monthly", "no-such-org", "--month", "2026-10"])
    assert r.exit_code == 2 and "organization not found" in r.output
    assert len(monthly_report.list_(ctx, SYSTEM, org).items) == 1


# ---- the assessment's overall score in the risk trend ------------------------------------------


def test_the_trend_reads_each_months_latest_assessment_score(ctx: Context, org: int) -> None:
    """Each month's latest overall score joins the trend, in the organization's months;
    an assessment that found no data has no score and is left out; other organizations'
    assessments never appear."""

    def stored(org_id: int, at: datetime, score: float | None) -> Assessment:
        return Assessment(
            org_id=org_id, created_at=at, score=score, no_data=score is None, document={}
        )

    other = make_org(ctx, "Elsewhere Ltd")
    with ctx.db.transaction() as s:
        s.add_all(
            [
                stored(org, datetime(2026, 9, 3, tzinfo=UTC), 50.0),
                stored(org, datetime(2026, 10, 2, tzinfo=UTC), 58.0),
                stored(org, datetime(2026, 10, 20, tzinfo=UTC), 61.5),
                stored(org, datetime(2026, 10, 25, tzinfo=UTC), None),
                stored(other, datetime(2026, 10, 21, tzinfo=UTC), 10.0),
            ]
        )
    trend = monthly_report.build(ctx, SYSTEM, org, "2026-10")["risk_trend"]
    assessed = {t["period"]: t["assessment_score"] for t in trend if t["assessment_score"]}
    assert assessed == {"2026-09": 50.0, "2026-10": 61.5}
