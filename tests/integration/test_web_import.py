"""Importing a CSV inventory from the organization's page: upload, problems by line, the report."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from forewarn.api.app import create_app
from forewarn.services import assets, sites
from forewarn.services.context import Context
from forewarn.services.schemas import AssetFilter, SiteCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import Person, make_org, make_person
from tests.integration.test_web import make_asset, signed_in

GOOD = (
    "name;type;site;criticality;owner;warranty expires;tags\n"
    "fs01;Server;HQ;5;Anna;31.03.2027;linux|backup\n"
    "reception-pc;PC;HQ;3;Front desk;2026-11-30;windows\n"
    "hp-laser;printer;Warehouse;2;;;\n"
)
BAD = "name,kind,warranty expires\nfs01,server,2027-03-31\ntoaster-1,toaster,\npc-2,pc,01/02/2027\n"


def _upload(
    client: TestClient,
    org_id: int,
    csrf: str,
    content: str | bytes,
    filename: str = "inventory.csv",
    **options: str,
) -> Response:
    data = {"csrf_token": csrf, **options}
    files = {"file": (filename, content, "text/csv")}
    return client.post(f"/orgs/{org_id}/import", data=data, files=files)


def _names(ctx: Context, org_id: int) -> list[str]:
    return sorted(a.name for a in assets.list_(ctx, SYSTEM, AssetFilter(org_id=org_id)).items)


def test_import_button_and_page_for_technicians_only(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Alpha Clinic")
    other = make_org(ctx, "Beta Bank")
    make_person(ctx, "tech", roles={org_id: "technician"})
    make_person(ctx, "viewer", roles={org_id: "viewer"})

    csrf = signed_in(client, "viewer")
    assert "Import CSV" not in client.get(f"/orgs/{org_id}").text
    assert client.get(f"/orgs/{org_id}/import").status_code == 403
    assert _upload(client, org_id, csrf, GOOD).status_code == 403
    assert _names(ctx, org_id) == []

    signed_in(client, "tech")
    page = client.get(f"/orgs/{org_id}").text
    assert f'href="/orgs/{org_id}/import">Import CSV</a>' in page
    form = client.get(f"/orgs/{org_id}/import")
    assert form.status_code == 200
    assert 'enctype="multipart/form-data"' in form.text and 'type="file"' in form.text
    assert 'name="skip_bad"' in form.text and 'name="dry_run"' in form.text
    # The columns are explained on the page itself, and the size limit is the server's.
    for column in ("name", "kind", "hostname", "site", "warranty_end", "tags"):
        assert f'<code class="mono">{column}</code>' in form.text
    assert "Files up to 1 MB" in form.text and 'data-max-bytes="1048576"' in form.text
    assert client.get(f"/orgs/{other}/import").status_code == 404


def test_import_a_good_file_shows_the_report(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Gamma Goods")
    sites.create(ctx, SYSTEM, SiteCreate(org_id=org_id, name="HQ"))
    csrf = signed_in(client, "owner")
    r = _upload(client, org_id, csrf, GOOD)
    assert r.status_code == 200
    assert "Import finished: inventory.csv" in r.text
    assert "Added <strong>3</strong> assets to Gamma Goods" in r.text
    assert "Sites created</dt><dd>Warehouse</dd>" in r.text
    assert f'href="/orgs/{org_id}#assets">Back to Gamma Goods</a>' in r.text
    assert 'type="file"' not in r.text  # done: no second upload by accident
    assert _names(ctx, org_id) == ["fs01", "hp-laser", "reception-pc"]
    assert "fs01" in client.get(f"/orgs/{org_id}").text


def test_bad_rows_are_listed_by_line_and_column_and_nothing_is_stored(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Delta Dental")
    make_asset(ctx, org_id, "fs01")
    csrf = signed_in(client, "owner")
    r = _upload(client, org_id, csrf, BAD, dry_run="1")
    assert r.status_code == 422
    assert "3 of 3 rows have problems, so nothing was imported" in r.text
    assert "by ticking “Skip bad rows”" in r.text
    rows = re.findall(r'<td class="num">(\d+)</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>', r.text)
    assert [(line, column) for line, column, _ in rows] == [
        ("2", "name"),
        ("3", "kind"),
        ("4", "warranty expires"),
    ]
    assert "already exists in this organization" in rows[0][2]
    assert "unknown kind" in rows[1][2] and "ambiguous" in rows[2][2]
    # The choices stay as they were, and the file is asked for again.
    assert re.search(r'name="dry_run" value="1"[^>]* checked', r.text)
    assert not re.search(r'name="skip_bad" value="1"[^>]* checked', r.text)
    assert "Choose the file again" in r.text
    assert _names(ctx, org_id) == ["fs01"]


def test_skip_bad_imports_the_rest_and_lists_what_was_skipped(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Epsilon")
    csrf = signed_in(client, "owner")
    r = _upload(client, org_id, csrf, BAD, skip_bad="1")
    assert r.status_code == 200
    assert "Added <strong>1</strong> asset to Epsilon; skipped 2 bad rows." in r.text
    assert "Skipped rows and their problems" in r.text and "unknown kind" in r.text
    assert _names(ctx, org_id) == ["fs01"]


def test_dry_run_stores_nothing_and_offers_the_real_import(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Zeta")
    csrf = signed_in(client, "owner")
    r = _upload(client, org_id, csrf, GOOD, dry_run="1", skip_bad="1")
    assert r.status_code == 200
    assert "Check passed: inventory.csv" in r.text
    assert "Importing this file would add <strong>3</strong> assets" in r.text
    assert "Sites to create</dt><dd>HQ, Warehouse</dd>" in r.text
    # Next comes the real import: check-only is off, skip-bad is kept.
    assert not re.search(r'name="dry_run" value="1"[^>]* checked', r.text)
    assert re.search(r'name="skip_bad" value="1"[^>]* checked', r.text)
    assert _names(ctx, org_id) == []


def test_file_problems_and_a_missing_file(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Eta")
    csrf = signed_in(client, "owner")
    r = _upload(client, org_id, csrf, b"", filename="", skip_bad="1")
    assert r.status_code == 422 and "Choose the CSV file to import." in r.text
    assert 'aria-invalid="true"' in r.text
    assert re.search(r'name="skip_bad" value="1"[^>]* checked', r.text)

    r = _upload(client, org_id, csrf, "name,kind,serial\nfs01,server,X1\n")
    assert r.status_code == 422
    assert "The header row is not usable: unknown column &#39;serial&#39;" in r.text
    assert '<td class="num">1</td>' in r.text

    r = _upload(client, org_id, csrf, "name,kind\nk\xf6ln,server\n".encode("latin-1"))
    assert r.status_code == 422 and "is not valid UTF-8" in r.text
    assert '<span class="visually-hidden">no particular column</span>' in r.text
    assert _names(ctx, org_id) == []


def test_upload_is_bounded_by_the_import_limit(
    client: TestClient, ctx: Context, owner: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id = make_org(ctx, "Theta")
    csrf = signed_in(client, "owner")
    monkeypatch.setattr(ctx.settings, "import_max_bytes", 100)
    assert "Files up to 100 bytes" in client.get(f"/orgs/{org_id}/import").text
    r = _upload(client, org_id, csrf, GOOD)
    assert r.status_code == 422
    assert "The file is larger than 100 bytes. Split it into smaller files." in r.text
    assert _names(ctx, org_id) == []


@pytest.fixture
def small_body_client(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """An app whose request body limit is 2 KiB, as FOREWARN_MAX_BODY_BYTES=2048 would make it."""
    monkeypatch.setattr(ctx.settings, "max_body_bytes", 2048)
    with TestClient(create_app(ctx), raise_server_exceptions=False) as c:
        yield c


def test_the_body_limit_applies_to_the_form_and_says_so_in_words(
    small_body_client: TestClient, ctx: Context, owner: Person
) -> None:
    client = small_body_client
    org_id = make_org(ctx, "Iota")
    csrf = signed_in(client, "owner")
    form = client.get(f"/orgs/{org_id}/import").text
    assert "Files up to 2 KB" in form and 'data-max-bytes="2048"' in form
    big = GOOD + "".join(f"pc-{n};PC;HQ;3;;;\n" for n in range(200))
    r = client.post(
        f"/orgs/{org_id}/import",
        data={"csrf_token": csrf},
        files={"file": ("big.csv", big, "text/csv")},
        headers={"Accept": "text/html,application/xhtml+xml"},
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "at most 2,048 bytes" in r.text
    # API clients keep their problem+json.
    api = client.post(
        f"/api/v1/orgs/{org_id}/assets/import",
        content=big,
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert api.status_code == 413
    assert api.headers["content-type"].startswith("application/problem+json")
    assert _names(ctx, org_id) == []


def test_the_upload_needs_the_csrf_token(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Kappa")
    signed_in(client, "owner")
    r = _upload(client, org_id, "forged", GOOD)
    assert r.status_code == 403
    assert _names(ctx, org_id) == []
