"""The status page for those who run it: choose checks under public labels, publish and
withdraw, incident notes; and who may do which."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from forewarn.services import checks, status_pages
from forewarn.services.context import Context
from forewarn.services.schemas import CheckCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import Person, make_org, make_person
from tests.integration.test_web import make_asset, signed_in


def _check(ctx: Context, asset_id: int, name: str) -> int:
    data = CheckCreate(asset_id=asset_id, name=name, type="tcp", target="10.9.9.9:443")
    return checks.create(ctx, SYSTEM, data).id


def _error(html: str, field: str) -> str:
    found = re.search(rf'id="f-{re.escape(field)}-error">(.*?)</p>', html, re.S)
    assert found, f"no message at {field}"
    return found.group(1)


def test_choose_publish_note_and_withdraw(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Acme Dental")
    asset_id = make_asset(ctx, org_id, "secret-web-01")
    web = _check(ctx, asset_id, "https port")
    mail = _check(ctx, asset_id, "smtp port")
    csrf = signed_in(client, "owner")
    url = f"/orgs/{org_id}/status-page"

    assert f'href="{url}"' in client.get(f"/orgs/{org_id}").text  # in the page header
    page = client.get(url).text
    slug = status_pages.get(ctx, SYSTEM, org_id).slug
    public = f"/status/{slug}"
    # The full public link, ready to copy; not public yet.
    assert f'value="http://testserver{public}" readonly' in page
    assert 'data-copy="#public-url"' in page and "Not published" in page
    assert "Open the public page" not in page
    assert client.get(public).status_code == 404

    # A ticked check needs its public label: said at that label, the rest kept, nothing saved.
    form = {
        "csrf_token": csrf,
        "title": "Acme services",
        "items": [str(web), str(mail)],
        f"label-{web}": "Website",
        f"label-{mail}": "",
    }
    r = client.post(url, data=form)
    assert r.status_code == 422
    assert "label the public reads" in _error(r.text, f"label-{mail}")
    assert 'value="Acme services"' in r.text and 'value="Website"' in r.text
    assert status_pages.get(ctx, SYSTEM, org_id).items == []

    r = client.post(url, data={**form, "items": [str(web)]}, follow_redirects=False)
    assert r.status_code == 303
    saved = status_pages.get(ctx, SYSTEM, org_id)
    assert saved.title == "Acme services"
    assert [(i.check_id, i.label) for i in saved.items] == [(web, "Website")]

    r = client.post(f"{url}/publish", data={"csrf_token": csrf, "published": "true"})
    assert r.status_code == 200 and "Published: anyone with the link" in r.text
    assert f'href="{public}" target="_blank"' in r.text  # opened from here
    shown = client.get(public)
    assert shown.status_code == 200
    assert "Acme services" in shown.text and "Website" in shown.text
    assert "secret-web-01" not in shown.text and "10.9.9.9" not in shown.text

    r = client.post(
        f"{url}/notes",
        data={"csrf_token": csrf, "note_title": "Email delayed", "note_body": "Next update 14:00"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}#notes"
    (note,) = status_pages.get(ctx, SYSTEM, org_id).notes
    assert "Email delayed" in client.get(public).text
    assert "Mark resolved" in client.get(url).text

    r = client.post(f"{url}/notes/{note.id}", data={"csrf_token": csrf, "resolved": "true"})
    assert r.status_code == 200 and "Marked Email delayed resolved." in r.text
    assert status_pages.get(ctx, SYSTEM, org_id).notes[0].resolved
    assert "Resolved" in client.get(public).text

    # A note needs a title; what was typed stays.
    r = client.post(f"{url}/notes", data={"csrf_token": csrf, "note_body": "Body only"})
    assert r.status_code == 422 and "Required." in _error(r.text, "note_title")
    assert "Body only</textarea>" in r.text

    r = client.post(f"{url}/publish", data={"csrf_token": csrf, "published": "false"})
    assert r.status_code == 200 and "Withdrawn" in r.text
    assert client.get(public).status_code == 404


def test_technicians_write_notes_and_strangers_see_nothing(
    client: TestClient, ctx: Context
) -> None:
    org_id = make_org(ctx, "Acme")
    web = _check(ctx, make_asset(ctx, org_id, "web01"), "https port")
    make_person(ctx, "tech", roles={org_id: "technician"})
    csrf = signed_in(client, "tech")
    url = f"/orgs/{org_id}/status-page"

    page = client.get(url).text
    assert "Add note" in page
    assert "Publish the page" not in page and "Save title and services" not in page
    assert "An administrator of Acme publishes" in page
    form = {"csrf_token": csrf, "items": [str(web)], f"label-{web}": "Website", "title": "x"}
    assert client.post(url, data=form).status_code == 403
    r = client.post(f"{url}/publish", data={"csrf_token": csrf, "published": "true"})
    assert r.status_code == 403
    assert not status_pages.get(ctx, SYSTEM, org_id).published
    r = client.post(f"{url}/notes", data={"csrf_token": csrf, "note_title": "Printer down"})
    assert r.status_code == 200 and "Printer down" in r.text

    other = make_org(ctx, "Bravo")
    assert client.get(f"/orgs/{other}/status-page").status_code == 404
    r = client.post(
        f"/orgs/{other}/status-page/notes", data={"csrf_token": csrf, "note_title": "x"}
    )
    assert r.status_code == 404
