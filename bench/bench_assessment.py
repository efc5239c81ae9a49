"""An assessment of an organization with 150 assets and 90 days of data: wall time of
`services.assessments.run` (gather the evidence, score, price the risk register, plan the
30/60/90 days and the 36 months, compare, store the snapshot), beside an anchor measured in
the same run on the same database: the organization's health score
(`services.health.org_health`, the dashboard's own read of one organization); then the
snapshot printed to PDF: the full report and the one-page executive summary (WeasyPrint).

The organization: 150 assets (60 workstations, 50 laptops, 30 servers, 10 printers), an agent
on each computer with system and package inventories (800 packages each), the shipped posture
pack's results for each, 3 checks per asset with an hourly result for 90 days (~970,000
check results; the assessment reads the checks' states, not their history), pending updates,
400 findings (some recurring, some critical), purchase dates for every asset, a backup
heartbeat per server and 20 answers. Each figure is the median of --runs.

    PYTHONPATH=src .venv/bin/python bench/bench_assessment.py [--runs 5] [--database-url URL]

--database-url must name an empty database of its own: it is migrated and filled. Measured
here (2 cores, 5 runs; docs/performance.md): the run SQLite 264 ms (9.7 x the anchor),
PostgreSQL 323 ms (10 x); the 16-page report to PDF 2.2 s, the executive summary 0.2 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from forewarn.assess import questionnaire
from forewarn.config import Settings
from forewarn.domain.clock import ManualClock
from forewarn.services import assessments, bootstrap, health, orgs, posture
from forewarn.services.context import Context
from forewarn.services.schemas import OrgCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import (
    Agent,
    AssessmentAnswer,
    Asset,
    Check,
    CheckResult,
    CheckStateRow,
    Finding,
    InventorySection,
    PatchStatusRow,
    PendingUpdateRow,
    PostureResultRow,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STAMP = int(NOW.timestamp())
KINDS = ["workstation"] * 60 + ["laptop"] * 50 + ["server"] * 30 + ["printer"] * 10


def build(ctx: Context) -> int:
    org = orgs.create(ctx, SYSTEM, OrgCreate(name="Bench Clinic", employees=45)).id
    pack = [c for p in posture.builtin() for c in p.checks]
    with ctx.db.transaction() as s:
        assets = [
            Asset(org_id=org, kind=k, name=f"{k}-{i:03}", owner="IT" if i % 3 else "",
                  location="HQ", created_at=NOW, updated_at=NOW,
                  purchase_date=(NOW - timedelta(days=200 + 37 * i)).date(),
                  criticality=5 if k == "server" and i % 10 == 0 else 3)
            for i, k in enumerate(KINDS)
        ]  # fmt: skip
        s.add_all(assets)
        s.flush()
        for n, a in enumerate(assets):
            checks = [
                Check(org_id=org, asset_id=a.id, name=f"check {j}", type="ping", params={},
                      created_at=NOW, updated_at=NOW)
                for j in range(3)
            ]  # fmt: skip
            if a.kind == "server":
                checks.append(
                    Check(org_id=org, asset_id=a.id, name="nightly backup", type="heartbeat",
                          params={}, created_at=NOW, updated_at=NOW)
                )  # fmt: skip
            s.add_all(checks)
            s.flush()
            for c in checks:
                s.add(CheckStateRow(check_id=c.id, org_id=org, last_at=NOW, next_due_at=NOW,
                                    status=0, hard_status=0))  # fmt: skip
                s.execute(
                    insert(CheckResult),
                    [{"check_id": c.id, "ts": STAMP - h * 3600, "status": 0}
                     for h in range(90 * 24)],
                )  # fmt: skip
            if a.kind == "printer":
                continue
            s.add(Agent(org_id=org, asset_id=a.id, token_hash=f"{n:064}", enrolled_at=NOW,
                        status_since=NOW, last_seen_at=NOW))  # fmt: skip
            system = {"os_id": "debian", "os_version": "12" if n % 4 else "11"}
            packages = [{"name": f"pkg{i}", "version": "1.0"} for i in range(800)]
            for name, data in (("system", system), ("packages", packages)):
                s.add(InventorySection(asset_id=a.id, section=name, org_id=org, data=data,
                                       updated_at=NOW))  # fmt: skip
            for j, c in enumerate(pack):
                s.add(PostureResultRow(asset_id=a.id, policy_key="forewarn_linux",
                                       check_key=c.id, org_id=org,
                                       status="fail" if (n + j) % 5 == 0 else "pass",
                                       evidence=[], seen_at=NOW, since=NOW))  # fmt: skip
            s.add(PatchStatusRow(asset_id=a.id, org_id=org, reported_at=NOW))
            s.add(PendingUpdateRow(asset_id=a.id, org_id=org, source="apt", name="libssl3",
                                   candidate="3.0.9", security=True,
                                   first_seen=NOW - timedelta(days=n % 30)))  # fmt: skip
        for i in range(400):
            since = NOW - timedelta(days=i % 60)
            rule = f"recurring.r{i}" if i % 40 == 0 else f"posture.r{i}"
            s.add(Finding(org_id=org, asset_id=assets[i % len(assets)].id, rule=rule,
                          key=str(i), severity="critical" if i % 50 == 0 else "medium",
                          status="open", title=f"finding {i}",
                          evidence={}, first_seen=since, last_seen=NOW))  # fmt: skip
        for q in questionnaire.load()[:20]:
            s.add(AssessmentAnswer(org_id=org, question_id=q.id, answer="partly",
                                   answered_by="bench", answered_at=NOW))  # fmt: skip
    return org


def median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        ctx = Context.from_settings(
            Settings(database_url=url, data_dir=Path(tmp), run_jobs=False, run_poller=False),
            ManualClock(NOW),
        )
        bootstrap.migrate(ctx)
        t0 = time.perf_counter()
        org = build(ctx)
        print(
            f"built {len(KINDS)} assets and 90 days of results in {time.perf_counter() - t0:.1f} s"
        )
        anchor = median(lambda: health.org_health(ctx, SYSTEM, org), args.runs)
        run = median(lambda: assessments.run(ctx, SYSTEM, org), args.runs)
        doc = assessments.list_for_org(ctx, SYSTEM, org).items[0]
        print(f"overall {doc.score} with coverage {doc.coverage}")
        print(f"{'anchor: org health score':36} {anchor * 1000:8.0f} ms")
        print(f"{'assessment run (gather+score+store)':36} {run * 1000:8.0f} ms  "
              f"({run / anchor:.1f} x the anchor; budget 3 s)")  # fmt: skip
        last = assessments.list_for_org(ctx, SYSTEM, org).items[0].id
        found = assessments.get(ctx, SYSTEM, last).document
        print(f"{len(found['risks']['risks'])} risks, "
              f"{len(found['plan']['actions']['actions'])} actions, "
              f"{len(found['plan']['technology']['lines'])} technology lines")  # fmt: skip
        pdfs = max(1, min(args.runs, 3))
        report = median(lambda: assessments.pdf_of(ctx, SYSTEM, last), pdfs)
        summary = median(lambda: assessments.summary_pdf_of(ctx, SYSTEM, last), pdfs)
        import weasyprint

        from forewarn.reports import assessment as paper

        laid_out = weasyprint.HTML(string=paper.html(assessments.readable(found))).render()
        pages = len(laid_out.pages)
        print(f"{'report to PDF':36} {report * 1000:8.0f} ms  (budget 5 s; {pages} pages)")
        print(f"{'executive summary to PDF':36} {summary * 1000:8.0f} ms")
        ctx.db.dispose()


if __name__ == "__main__":
    main()
