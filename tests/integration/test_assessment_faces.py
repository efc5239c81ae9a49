"""The assessment's faces: the API (roles, refusals), the pages and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forewarn.domain.clock import ManualClock
from forewarn.services import assessments
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from forewarn.store.models import Assessment, AssessmentAnswer
from tests.conftest import Person, make_org, make_person
from tests.integration.test_assessment import build_clinic
from tests.integration.test_web import _hidden, signed_in


def _count(ctx: Context, model: Any) -> int:
    with ctx.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_api_runs_lists_reads_and_downloads(
    client: TestClient, ctx: Context, clock: ManualClock
) -> None:
    clinic = build_clinic(ctx, clock)
    tech = make_person(ctx, "tech", roles={clinic.org: "technician"})
    viewer = make_person(ctx, "viewer", roles={clinic.org: "viewer"})
    url = f"/api/v1/orgs/{clinic.org}/assessments"
    assert client.post(url, headers=viewer.headers).status_code == 403
    r = client.post(url, headers=tech.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["document"]["schema"] == "forewarn.assessment/2"
    assert made["score"] is not None and 0 < made["coverage"] < 1
    listed = client.get(url, headers=viewer.headers).json()["items"]
    assert [a["id"] for a in listed] == [made["id"]]
    got = client.get(f"/api/v1/assessments/{made['id']}", headers=viewer.headers).json()
    assert got["document"] == made["document"]
    raw = client.get(f"/api/v1/assessments/{made['id']}/json", headers=viewer.headers)
    assert raw.headers["content-disposition"].startswith("attachment")
    assert json.loads(raw.content) == made["document"]
    assert raw.content == assessments.canonical_json(made["document"])


def test_api_answers_refused_with_each_problem_and_nothing_stored(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org = make_org(ctx, "Answers Ltd")
    url = f"/api/v1/orgs/{org}/questionnaire"
    r = client.post(
        url, json={"answers": {"mfa_admins": "yes", "bogus": "yes", "dns_filtering": "often"}},
        headers=owner.headers,
    )  # fmt: skip
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {e["id"] for e in r.json()["errors"]} == {"bogus", "dns_filtering"}
    bad_yaml = b"answers:\n  mfa_admins: yes\n  incident_owner: yes\n"
    r = client.post(
        f"{url}/import", content=bad_yaml,
        headers={**owner.headers, "Content-Type": "application/yaml"},
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["errors"][0]["line"] == 3
    assert _count(ctx, AssessmentAnswer) == 0
    good = b"answers:\n  incident_owner: {answer: yes, name: Dana}\n"
    r = client.post(
        f"{url}/import", content=good, headers={**owner.headers, "Content-Type": "application/yaml"}
    )
    assert r.status_code == 200 and r.json()["answered"] == 1
    asked = {q["id"]: q for q in client.get(url, headers=owner.headers).json()["questions"]}
    assert asked["incident_owner"]["answer"] == "yes"
    assert asked["incident_owner"]["answer_detail"] == "Dana"
    assert asked["incident_owner"]["answered_by"] == "owner"


def test_an_org_with_no_data_gets_no_score_through_the_api(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org = make_org(ctx, "Nothing Yet")
    made = client.post(f"/api/v1/orgs/{org}/assessments", headers=owner.headers).json()
    assert made["no_data"] is True and made["score"] is None
    assert "nothing to assess" in made["document"]["message"]


def test_pages_run_show_and_answer(client: TestClient, ctx: Context, clock: ManualClock) -> None:
    clinic = build_clinic(ctx, clock)
    make_person(ctx, "tech", roles={clinic.org: "technician"})
    make_person(ctx, "viewer", roles={clinic.org: "viewer"})
    csrf = signed_in(client, "viewer")
    page = client.get(f"/orgs/{clinic.org}/assessments")
    assert page.status_code == 200 and "No assessment yet" in page.text
    assert "Run assessment" not in page.text
    refused = client.post(
        f"/orgs/{clinic.org}/assessments", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert refused.status_code == 403 and _count(ctx, Assessment) == 0

    csrf = signed_in(client, "tech")
    assert "Run assessment" in client.get(f"/orgs/{clinic.org}/assessments").text
    done = client.post(
        f"/orgs/{clinic.org}/assessments", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/assessments/")
    detail = client.get(done.headers["location"])
    assert detail.status_code == 200
    for words in ("Overall", "coverage", "Hidden gaps", "pc01", "first assessment", "4.5"):
        assert words in detail.text, words
    download = client.get(done.headers["location"] + "/download")
    assert json.loads(download.content)["schema"] == "forewarn.assessment/2"

    form = client.get(f"/orgs/{clinic.org}/questionnaire")
    assert form.status_code == 200 and "Who handles security incidents?" in form.text
    csrf = _hidden(form.text, "csrf_token")
    wrong = client.post(
        f"/orgs/{clinic.org}/questionnaire",
        data={"csrf_token": csrf, "answer-incident_owner": "yes", "answer-mfa_admins": "no"},
        follow_redirects=False,
    )
    assert wrong.status_code == 422 and "needs the name" in wrong.text
    assert "Nothing was kept" in wrong.text and "checked" in wrong.text
    assert _count(ctx, AssessmentAnswer) == 0
    kept = client.post(
        f"/orgs/{clinic.org}/questionnaire",
        data={
            "csrf_token": csrf,
            "answer-incident_owner": "yes",
            "detail-incident_owner": "Ann",
            "answer-mfa_admins": "no",
        },
        follow_redirects=False,
    )
    assert kept.status_code == 303 and _count(ctx, AssessmentAnswer) == 2
    again = client.post(
        f"/orgs/{clinic.org}/assessments", data={"csrf_token": csrf}, follow_redirects=False
    )
    second = client.get(again.headers["location"]).text
    assert "Since the last assessment" in second and "first assessment" not in second


def test_another_organization_sees_no_page(client: TestClient, ctx: Context) -> None:
    org_a = make_org(ctx, "Alpha")
    made = assessments.run(ctx, SYSTEM, org_a)
    org_b = make_org(ctx, "Bravo")
    make_person(ctx, "bravo", roles={org_b: "admin"})
    signed_in(client, "bravo")
    for path in (
        f"/orgs/{org_a}/assessments",
        f"/assessments/{made.id}",
        f"/assessments/{made.id}/download",
        f"/assessments/{made.id}/pdf",
        f"/assessments/{made.id}/summary.pdf",
        f"/assessments/{made.id}/html",
        f"/orgs/{org_a}/questionnaire",
    ):
        assert client.get(path).status_code == 404, path


@pytest.fixture
def cli(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Any:
    from typer.testing import CliRunner

    from forewarn.cli import app

    monkeypatch.setenv("FOREWARN_DATABASE_URL", ctx.db.url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_cli_assesses_by_slug_and_writes_json(
    ctx: Context, clock: ManualClock, cli: Any, tmp_path: Path
) -> None:
    clinic = build_clinic(ctx, clock)
    out = tmp_path / "a.json"
    done = cli("assess", "harbor-dental", "--json", str(out))
    assert done.exit_code == 0, done.output
    assert "Harbor Dental" in done.output and "Protect" in done.output
    assert "no agent 1" in done.output
    doc = json.loads(out.read_bytes())
    assert doc["org"]["id"] == clinic.org and doc["scores"]["overall"]["score"] is not None
    by_id = cli("assess", str(clinic.org))
    assert by_id.exit_code == 0 and "since assessment" in by_id.output
    missing = cli("assess", "no-such-org")
    assert missing.exit_code == 2


def test_cli_writes_the_report_and_the_summary_as_pdf(
    ctx: Context, clock: ManualClock, cli: Any, tmp_path: Path
) -> None:
    build_clinic(ctx, clock)
    report, summary = tmp_path / "report.pdf", tmp_path / "summary.pdf"
    done = cli("assess", "harbor-dental", "--pdf", str(report), "--summary-pdf", str(summary))
    assert done.exit_code == 0, done.output
    assert "an 8-hour outage costs $" in done.output and "likely a year" in done.output
    assert f"report written to {report}" in done.output.replace("\n", "")
    assert report.read_bytes().startswith(b"%PDF-") and summary.read_bytes().startswith(b"%PDF-")
    assert len(report.read_bytes()) > len(summary.read_bytes())
    unwritable = cli("assess", "harbor-dental", "--pdf", str(tmp_path / "no" / "such" / "x.pdf"))
    assert unwritable.exit_code == 2 and "cannot write" in unwritable.output


def test_cli_no_data_and_answers(ctx: Context, cli: Any, tmp_path: Path) -> None:
    org = make_org(ctx, "Empty Shop")
    done = cli("assess", "empty-shop")
    assert done.exit_code == 0 and "no data" in done.output
    bad = tmp_path / "bad.yml"
    bad.write_text("answers:\n  mfa_admins: yes\n  nope: yes\n  training_program: sometimes\n")
    refused = cli("assess", "answers", "empty-shop", str(bad))
    assert refused.exit_code == 2
    assert "line 3: nope" in refused.output and "line 4: training_program" in refused.output
    assert _count(ctx, AssessmentAnswer) == 0
    good = tmp_path / "good.yml"
    good.write_text(
        "answers:\n  mfa_admins: yes\n  training_program: {answer: yes, date: 2026-09-01}\n"
    )
    kept = cli("assess", "answers", str(org), str(good))
    assert kept.exit_code == 0 and "2 of 36" in kept.output
