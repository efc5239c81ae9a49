"""The Reports page: technicians generate a month and everyone of the organization downloads
it; a client's viewer reads but cannot generate; other organizations' people get nothing."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from forewarn.services import monthly_report, notify, report_sending
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org, make_person
from tests.integration.test_reports import seed_october
from tests.integration.test_web import signed_in
from tests.integration.test_web_alerts import _flash


def test_generate_list_and_download_from_the_page(client: TestClient, ctx: Context) -> None:
    org = make_org(ctx, "India Ink", timezone="Europe/Berlin")
    seed_october(ctx, org)
    make_person(ctx, "tech", roles={org: "technician"})
    csrf = signed_in(client, "tech")
    page = client.get(f"/orgs/{org}/reports").text
    assert "No reports yet." in page and 'value="2026-10"' in page and "Generate" in page
    assert f'href="/orgs/{org}/reports"' in client.get(f"/orgs/{org}").text

    bad = client.post(
        f"/orgs/{org}/reports/monthly",
        data={"csrf_token": csrf, "period": "2026-13"},
        follow_redirects=False,
    )
    assert bad.status_code == 303
    assert "there is no month 13" in (_flash(client.get(f"/orgs/{org}/reports").text) or "")
    assert monthly_report.list_(ctx, SYSTEM, org).items == []

    made = client.post(
        f"/orgs/{org}/reports/monthly",
        data={"csrf_token": csrf, "period": "2026-10"},
        follow_redirects=False,
    )
    assert made.headers["location"] == f"/orgs/{org}/reports"
    page = client.get(f"/orgs/{org}/reports").text
    assert _flash(page) == "Report for October 2026 generated."
    (report,) = monthly_report.list_(ctx, SYSTEM, org).items
    assert "1 of 2 problems were caught before anyone reported them." in page
    assert f'href="/reports/{report.id}/pdf"' in page

    make_person(ctx, "vic", roles={org: "viewer"})
    csrf = signed_in(client, "vic")
    page = client.get(f"/orgs/{org}/reports").text
    assert "Generate" not in page and f'href="/reports/{report.id}/json"' in page
    refused = client.post(
        f"/orgs/{org}/reports/monthly",
        data={"csrf_token": csrf, "period": "2026-09"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    as_json = client.get(f"/reports/{report.id}/json")
    assert as_json.headers["content-type"] == "application/json"
    assert json.loads(as_json.text)["tickets"]["proactive_share"] == 0.5
    as_html = client.get(f"/reports/{report.id}/html")
    assert "attachment" in as_html.headers["content-disposition"]
    assert "India Ink" in as_html.text
    assert client.get(f"/reports/{report.id}/pdf").content.startswith(b"%PDF-")
    assert client.get(f"/reports/{report.id}/exe").status_code == 404

    make_person(ctx, "outsider", roles={make_org(ctx, "Juliet Joinery"): "admin"})
    csrf = signed_in(client, "outsider")
    assert client.get(f"/orgs/{org}/reports").status_code == 404
    for fmt in ("json", "html", "pdf"):
        assert client.get(f"/reports/{report.id}/{fmt}").status_code == 404
    r = client.post(
        f"/orgs/{org}/reports/monthly",
        data={"csrf_token": csrf, "period": "2026-09"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert len(monthly_report.list_(ctx, SYSTEM, org).items) == 1


def test_choose_recipients_and_send_again_from_the_page(client: TestClient, ctx: Context) -> None:
    org = make_org(ctx, "Juliet Joinery")
    other = make_org(ctx, "Kilo Kitchens")
    url = "mailto://127.0.0.1:25?from=fw@msp.test&to=owner@juliet.test"
    mine = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org, name="owner mail", url=url)
    ).id
    theirs = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=other, name="kilo mail", url=url)
    ).id
    make_person(ctx, "tech", roles={org: "technician"})
    csrf = signed_in(client, "tech")
    page = client.get(f"/orgs/{org}/reports").text
    assert "Monthly report" in page and "owner mail" in page and "kilo mail" not in page

    bad = client.post(
        f"/orgs/{org}/reports/recipients",
        data={"csrf_token": csrf, "channel": [str(mine), str(theirs)]},
        follow_redirects=False,
    )
    assert bad.status_code == 303
    said = _flash(client.get(f"/orgs/{org}/reports").text) or ""
    assert f"Channel {theirs} is not one of this organization's channels" in said
    assert report_sending.get_recipients(ctx, SYSTEM, org).channels == []

    saved = client.post(
        f"/orgs/{org}/reports/recipients",
        data={"csrf_token": csrf, "channel": [str(mine)]},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get(f"/orgs/{org}/reports").text
    assert _flash(page) == "The monthly report goes to owner mail."
    assert f'value="{mine}" checked' in page

    report = monthly_report.generate(ctx, SYSTEM, org, "2026-10")
    page = client.get(f"/orgs/{org}/reports").text
    assert f'action="/reports/{report.id}/send"' in page and "Send again" in page
    sent = client.post(
        f"/reports/{report.id}/send", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert sent.status_code == 303
    assert _flash(client.get(f"/orgs/{org}/reports").text) == (
        "Report for 2026-10 queued to 1 channel."
    )
    kinds = [d.kind for d in notify.list_deliveries(ctx, SYSTEM, org_id=org).items]
    assert kinds == ["report", "report"]  # once when made, once more when asked

    make_person(ctx, "vic", roles={org: "viewer"})
    csrf = signed_in(client, "vic")
    assert "Save recipients" not in client.get(f"/orgs/{org}/reports").text
    refused = client.post(
        f"/orgs/{org}/reports/recipients",
        data={"csrf_token": csrf, "channel": []},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert len(report_sending.get_recipients(ctx, SYSTEM, org).channels) == 1
