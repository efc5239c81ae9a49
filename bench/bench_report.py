"""The monthly client report for an organization with 150 assets and 90 days of history:
time to build its JSON (every figure read from the database), to render its HTML, and to
print its PDF, beside an anchor measured in the same run: WeasyPrint printing a plain one-page
HTML document (what any PDF costs here before our report adds anything).

Issue 9's target: an assessment rendered to PDF in under 5 s at this size.

The history is written the way the platform holds it: assets and checks through the services
(`assets.add_asset`, `checks.add`), then 90 days of check status changes, alerts with their
acknowledgements, tickets and open findings in bulk inserts.

    .venv/bin/python bench/bench_report.py [--assets 150] [--checks-per-asset 2]
        [--changes-per-day 2] [--alerts-per-day 20] [--runs 5] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from _checks_setup import load, new_context, tmpdir
from sqlalchemy import insert

from forewarn.domain.clock import ManualClock
from forewarn.domain.observation import Status
from forewarn.reports import monthly as paper
from forewarn.reports.render import html_to_pdf
from forewarn.services import assets, checks, monthly_report, orgs
from forewarn.services.context import Context
from forewarn.services.schemas import AssetCreate, CheckCreate, OrgCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import AlertEvent, AlertRow, CheckEvent, Finding, Ticket

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DAYS = 90
MONTH = "2026-10"
KINDS = ("workstation", "laptop", "server", "network_device", "printer")
PLAIN = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><style>@page{size:A4;margin:20mm}"
    "body{font-family:'DejaVu Sans',sans-serif;font-size:10pt}</style></head><body>"
    "<h1>One page</h1>"
    + "<p>A plain paragraph of text, as any document has.</p>" * 30
    + "</body></html>"
)


def seed(ctx: Context, args: argparse.Namespace) -> int:
    rng = random.Random(9)
    org = orgs.create(
        ctx, SYSTEM, OrgCreate(name="Bench Report Ltd", timezone="Europe/Berlin", currency="EUR")
    ).id
    check_ids: list[int] = []
    asset_ids: list[int] = []
    with ctx.db.transaction() as session:
        for i in range(args.assets):
            asset = assets.add_asset(
                session,
                ctx,
                SYSTEM,
                AssetCreate(org_id=org, name=f"asset-{i:04d}", kind=KINDS[i % len(KINDS)]),
            )
            asset_ids.append(asset.id)
            for k in range(args.checks_per_asset):
                data = CheckCreate(asset_id=asset.id, name=f"hb-{k}", type="heartbeat")
                check_ids.append(checks.add(session, ctx, asset, data, "manual").id)
    start = NOW - timedelta(days=DAYS)
    events: list[dict[str, Any]] = []
    for check_id in check_ids:
        events.append(
            {"org_id": org, "check_id": check_id, "at": start, "kind": "hard", "old": 3, "new": 0}
        )
        at, status = start, Status.OK
        for _ in range(DAYS * args.changes_per_day):
            at += timedelta(seconds=rng.uniform(0.2, 1.8) * 86400 / args.changes_per_day)
            if at >= NOW:
                break
            new = Status.CRITICAL if status is Status.OK else Status.OK
            events.append(
                {
                    "org_id": org,
                    "check_id": check_id,
                    "at": at,
                    "kind": "hard",
                    "old": int(status),
                    "new": int(new),
                }
            )
            status = new
    alerts: list[dict[str, Any]] = []
    for n in range(DAYS * args.alerts_per_day):
        opened = start + timedelta(seconds=rng.uniform(0, DAYS * 86400))
        alerts.append(
            {
                "org_id": org,
                "fingerprint": f"{n:016x}",
                "labels": {"n": str(n)},
                "severity": rng.choice(("critical", "warning", "critical", "info")),
                "state": "resolved",
                "summary": f"bench alert {n}",
                "asset_id": rng.choice(asset_ids),
                "opened_at": opened,
                "last_fired_at": opened,
                "acked_at": opened + timedelta(minutes=rng.uniform(1, 30)),
                "resolved_at": opened + timedelta(minutes=rng.uniform(30, 600)),
            }
        )
    tickets = [
        {
            "org_id": org,
            "title": f"bench ticket {n}",
            "status": "resolved",
            "priority": "normal",
            "origin": rng.choice(("monitoring", "monitoring", "user", "predictive")),
            "reporter": "bench",
            "created_at": (c := start + timedelta(seconds=rng.uniform(0, DAYS * 86400))),
            "updated_at": c,
            "first_response_at": c + timedelta(minutes=20),
            "resolved_at": c + timedelta(hours=5),
        }
        for n in range(DAYS * 5)
    ]
    findings = [
        {
            "org_id": org,
            "asset_id": rng.choice(asset_ids),
            "rule": f"bench.rule.{n % 20}",
            "key": str(n),
            "severity": rng.choice(("low", "medium", "high", "critical")),
            "status": "open",
            "title": f"bench finding {n}",
            "evidence": {},
            "first_seen": start,
            "last_seen": NOW,
        }
        for n in range(200)
    ]
    with ctx.db.transaction() as session:
        for table, rows in (
            (CheckEvent, events),
            (AlertRow, alerts),
            (Ticket, tickets),
            (Finding, findings),
        ):
            for i in range(0, len(rows), 5000):
                session.execute(insert(table), rows[i : i + 5000])
        ids = session.execute(
            AlertRow.__table__.select()
            .with_only_columns(AlertRow.id, AlertRow.acked_at)
            .where(AlertRow.org_id == org)
        ).all()
        session.execute(
            insert(AlertEvent), [{"alert_id": i, "at": at, "kind": "acknowledged"} for i, at in ids]
        )
    print(
        f"seeded: {args.assets} assets, {len(check_ids)} checks, {len(events):,} status changes, "
        f"{len(alerts):,} alerts, {len(tickets)} tickets, {len(findings)} findings over {DAYS} days"
    )
    return org


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assets", type=int, default=150)
    ap.add_argument("--checks-per-asset", type=int, default=2)
    ap.add_argument("--changes-per-day", type=int, default=2)
    ap.add_argument("--alerts-per-day", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL; SQLite by default")
    args = ap.parse_args()
    with tmpdir() as tmp:
        ctx = new_context(tmp, args.database_url)
        ctx.clock = ManualClock(NOW)
        org = seed(ctx, args)
        html_to_pdf(PLAIN)  # load Pango and fonts once, outside every measurement
        anchor, _ = timed(lambda: html_to_pdf(PLAIN), args.runs)
        build, doc = timed(lambda: monthly_report.build(ctx, SYSTEM, org, MONTH), args.runs)
        assert isinstance(doc, dict)
        html_s, html = timed(lambda: paper.html(doc), args.runs)
        assert isinstance(html, str)
        pdf_s, pdf = timed(lambda: html_to_pdf(html), args.runs)
        assert isinstance(pdf, bytes)
        stored, _ = timed(lambda: monthly_report.generate(ctx, SYSTEM, org, MONTH), args.runs)
        print(f"engine {ctx.db.dialect}; {load()}; medians of {args.runs} runs")
        rows = [
            ("anchor: WeasyPrint, a plain one-page HTML to PDF", anchor, ""),
            (f"build the JSON ({MONTH}, every figure)", build, ""),
            ("render its HTML (3 SVG charts)", html_s, ""),
            (f"print its PDF ({len(pdf) // 1024} KiB)", pdf_s, f"  = {pdf_s / anchor:.1f}x anchor"),
            ("JSON + HTML + PDF", build + html_s + pdf_s, "  (target < 5,000 ms)"),
            ("generate and store (build + one transaction)", stored, ""),
        ]
        for label, seconds, note in rows:
            print(f"  {label:<50} {seconds * 1000:8,.0f} ms{note}")
        print(
            f"  uptime {doc['uptime']['percent']} %, {doc['alerts']['raised']} alerts, "
            f"{doc['tickets']['opened']} tickets, proactive {doc['tickets']['proactive_share']:.0%}"
        )
        ctx.db.dispose()


if __name__ == "__main__":
    main()
