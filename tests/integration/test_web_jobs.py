"""The script library and jobs pages: what ran where with its output; other organizations'
people get nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from forewarn.services import agent_jobs, keys, scripts
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from forewarn.wire import JobResult
from tests.conftest import make_org, make_person
from tests.integration.test_ingest import enroll
from tests.integration.test_web import signed_in


def test_scripts_and_jobs_with_their_output(client: TestClient, ctx: Context) -> None:
    org = make_org(ctx, "Paged Ltd")
    agent = enroll(client, ctx, org)
    scripts.create(
        ctx,
        SYSTEM,
        scripts.ScriptCreate(
            org_id=org,
            name="disk report",
            language="bash",
            body="df -h <&-",
            parameters=[scripts.ScriptParameter(name="MOUNT", default="/")],
        ),
    )
    scripts.create(
        ctx, SYSTEM, scripts.ScriptCreate(name="provider-wide", language="python", body="pass")
    )
    key = keys.signing_key(ctx)
    with ctx.db.transaction() as session:
        job = agent_jobs.issue(
            session,
            key,
            ctx.clock.now(),
            org_id=org,
            asset_id=agent["asset_id"],
            agent_id=agent["agent_id"],
            kind="script",
            payload={"language": "bash", "body": "df -h", "params": {}},
            title="disk report",
        ).id
    ts = ctx.clock.now().timestamp()
    agent_jobs.record_results(
        ctx,
        agent["agent_id"],
        [
            JobResult(
                job=job,
                state="failed",
                exit_code=2,
                output="df: <oops> no such mount\n",
                started_at=ts,
                finished_at=ts,
            )
        ],
    )
    make_person(ctx, "pager", roles={org: "viewer"})
    signed_in(client, "pager")
    page = client.get(f"/orgs/{org}/scripts").text
    assert "disk report" in page and "provider-wide" in page and "MOUNT" in page
    assert "df -h &lt;&amp;-" in page  # escaped, never markup
    page = client.get(f"/orgs/{org}/jobs").text
    assert f"#{job} disk report" in page and "df: &lt;oops&gt; no such mount" in page
    assert f'href="/orgs/{org}/jobs"' in client.get(f"/orgs/{org}").text

    make_person(ctx, "outsider", roles={make_org(ctx, "Elsewhere Ltd"): "admin"})
    signed_in(client, "outsider")
    assert client.get(f"/orgs/{org}/jobs").status_code == 404
    assert client.get(f"/orgs/{org}/scripts").status_code == 404


def test_a_technician_runs_a_script_from_the_page(client: TestClient, ctx: Context) -> None:
    org = make_org(ctx, "Runner Ltd")
    agent = enroll(client, ctx, org)
    script = scripts.create(
        ctx,
        SYSTEM,
        scripts.ScriptCreate(
            org_id=org,
            name="greet",
            language="bash",
            body='echo "$GREETING"',
            parameters=[scripts.ScriptParameter(name="GREETING", default="hello")],
        ),
    ).id
    make_person(ctx, "viewer", roles={org: "viewer"})
    csrf = signed_in(client, "viewer")
    assert "Run now" not in client.get(f"/orgs/{org}/scripts").text
    r = client.post(
        f"/orgs/{org}/scripts/{script}/run", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 403
    assert agent_jobs.list_jobs(ctx, SYSTEM, org_id=org).items == []

    make_person(ctx, "tech", roles={org: "technician"})
    csrf = signed_in(client, "tech")
    page = client.get(f"/orgs/{org}/scripts").text
    assert "Run now" in page and "GREETING=hello" in page
    # An unknown parameter is refused with the script's own words, and nothing is issued.
    r = client.post(
        f"/orgs/{org}/scripts/{script}/run",
        data={"csrf_token": csrf, "params": "NOPE=1"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/orgs/{org}/scripts"
    assert agent_jobs.list_jobs(ctx, SYSTEM, org_id=org).items == []
    r = client.post(
        f"/orgs/{org}/scripts/{script}/run",
        data={"csrf_token": csrf, "params": "GREETING=good morning"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/orgs/{org}/jobs"
    assert "Issued 1 job." in client.get(r.headers["location"]).text
    (job,) = agent_jobs.list_jobs(ctx, SYSTEM, org_id=org).items
    assert job.asset_id == agent["asset_id"]
