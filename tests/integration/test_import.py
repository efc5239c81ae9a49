"""Importing an inventory spreadsheet through the API and the CLI, on each database engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from forewarn.cli import app as cli_app
from forewarn.services import importing, sites
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import SiteCreate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import Asset, AuditEvent, Site
from tests.conftest import Person, make_org, make_person

CSV = {"content-type": "text/csv"}

GOOD = (
    "Asset Name;Type;Site;Tags;Warranty expires;Criticality\n"
    "fs01;Server;hq;linux|backup;31.12.2027;5\n"
    "reception-pc;PC;Warehouse;windows;;\n"
    "hp-laser;printer;;;;\n"
)

# Lines 3 and 5 are bad: an unknown kind, and a date that could mean two days.
TWO_BAD = (
    "name,kind,warranty_end\n"
    "fs01,server,2027-01-31\n"
    "pc-1,toaster,\n"
    "pc-2,laptop,\n"
    "pc-3,laptop,01/02/2027\n"
    "pc-4,laptop,\n"
)


def import_url(org_id: int, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/orgs/{org_id}/assets/import" + (f"?{query}" if query else "")


def post_csv(client: TestClient, person: Person, org_id: int, text: str, **params: str) -> Any:
    return client.post(
        import_url(org_id, **params), content=text.encode(), headers={**person.headers, **CSV}
    )


def count(ctx: Context, model: type[Any], org_id: int) -> int:
    with ctx.db.read() as session:
        stmt = select(func.count()).select_from(model).where(model.org_id == org_id)
        return int(session.scalar(stmt) or 0)


def assets_by_name(client: TestClient, person: Person, org_id: int) -> dict[str, Any]:
    page = client.get("/api/v1/assets", params={"org_id": org_id}, headers=person.headers)
    return {a["name"]: a for a in page.json()["items"]}


def test_import_creates_assets_with_tags_and_missing_sites(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Acme Dental")
    hq = sites.create(ctx, SYSTEM, SiteCreate(org_id=org_id, name="HQ"))
    r = post_csv(client, owner, org_id, GOOD)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["created"] == 3
    assert report["skipped"] == 0
    assert report["errors"] == []
    assert report["sites_created"] == ["Warehouse"]  # "hq" is the existing HQ
    assets = assets_by_name(client, owner, org_id)
    assert set(assets) == {"fs01", "reception-pc", "hp-laser"}
    assert assets["fs01"]["site_id"] == hq.id
    assert assets["fs01"]["tags"] == ["backup", "linux"]
    assert assets["fs01"]["warranty_end"] == "2027-12-31"
    assert assets["fs01"]["criticality"] == 5
    assert assets["reception-pc"]["kind"] == "workstation"
    assert assets["hp-laser"]["site_id"] is None
    warehouse = client.get(
        f"/api/v1/sites/{assets['reception-pc']['site_id']}", headers=owner.headers
    )
    assert warehouse.json()["name"] == "Warehouse"
    tagged = client.get("/api/v1/assets", params={"tag": "windows"}, headers=owner.headers)
    assert [a["name"] for a in tagged.json()["items"]] == ["reception-pc"]


def test_one_audit_event_for_the_whole_file(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Audited")
    assert post_csv(client, owner, org_id, GOOD).status_code == 200
    with ctx.db.read() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action.like("asset.%"))))
    assert [(e.action, e.org_id) for e in events] == [("asset.import", org_id)]
    assert events[0].after == {"created": 3, "skipped": 0, "sites_created": ["hq", "Warehouse"]}
    assert events[0].actor == "owner"


def test_bad_rows_are_listed_and_nothing_is_stored(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Careful")
    assert post_csv(client, owner, org_id, "name,kind\nold-nas,nas\n").status_code == 200
    r = post_csv(client, owner, org_id, TWO_BAD)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(3, "kind"), (5, "warranty_end")]
    assert all(e["message"] for e in body["errors"])
    assert "2 of 5 rows" in body["detail"]
    assert set(assets_by_name(client, owner, org_id)) == {"old-nas"}
    with ctx.db.read() as session:
        imports = session.scalars(select(AuditEvent).where(AuditEvent.action == "asset.import"))
        assert len(list(imports)) == 1  # the first, good import only


def test_bad_rows_create_no_sites_either(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "NoSites")
    text = "name,kind,site\npc-1,laptop,Annex\npc-2,toaster,Annex\n"
    assert post_csv(client, owner, org_id, text).status_code == 422
    assert count(ctx, Site, org_id) == 0


def test_skip_bad_imports_the_good_rows(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Pragmatic")
    r = post_csv(client, owner, org_id, TWO_BAD, skip_bad="true")
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["skipped"], report["rows"]) == (3, 2, 5)
    assert [e["line"] for e in report["errors"]] == [3, 5]
    assert set(assets_by_name(client, owner, org_id)) == {"fs01", "pc-2", "pc-4"}


def test_dry_run_reports_and_writes_nothing(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Cautious")
    r = post_csv(client, owner, org_id, GOOD, dry_run="true")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["dry_run"] is True
    assert report["created"] == 3
    assert report["sites_created"] == ["hq", "Warehouse"]
    assert count(ctx, Asset, org_id) == 0
    assert count(ctx, Site, org_id) == 0
    # ... and a dry run with bad rows answers as the real import would.
    assert post_csv(client, owner, org_id, TWO_BAD, dry_run="true").status_code == 422


def test_names_already_in_the_organization_are_row_errors(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Existing")
    other_org = make_org(ctx, "Elsewhere")
    assert post_csv(client, owner, org_id, "name,kind\nfs01,server\n").status_code == 200
    r = post_csv(client, owner, org_id, "name,kind\npc-9,laptop\nfs01,server\n")
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"line": 3, "column": "name", "message": "asset 'fs01' already exists in this organization"}
    ]
    assert count(ctx, Asset, org_id) == 1
    # The same name in another organization is no clash.
    assert post_csv(client, owner, other_org, "name,kind\nfs01,server\n").status_code == 200


def test_whole_file_problems_are_422_with_their_line(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    org_id = make_org(ctx, "Sloppy")
    r = post_csv(client, owner, org_id, "name,kind,serial\nfs01,server,123\n")
    assert r.status_code == 422
    assert r.json()["errors"][0]["column"] == "serial"
    r = client.post(
        import_url(org_id),
        content="name,kind\nfs01,server,Jürgen\n".encode("latin-1"),
        headers={**owner.headers, **CSV},
    )
    assert r.status_code == 422
    assert "UTF-8" in r.json()["detail"]
    assert count(ctx, Asset, org_id) == 0


def test_content_types(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Typed")
    r = client.post(
        import_url(org_id),
        content=b"name,kind\nfs01,server\n",
        headers={**owner.headers, "content-type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    r = client.post(import_url(org_id), json={"name": "x"}, headers=owner.headers)
    assert r.status_code == 415
    assert "text/csv" in r.json()["detail"]


def test_viewer_is_forbidden_and_other_orgs_are_not_found(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Guarded")
    other_org = make_org(ctx, "Other")
    viewer = make_person(ctx, "viewer", roles={org_id: "viewer"})
    outsider = make_person(ctx, "outsider", roles={other_org: "admin"})
    technician = make_person(ctx, "tech", roles={org_id: "technician"})
    assert post_csv(client, viewer, org_id, GOOD).status_code == 403
    assert post_csv(client, outsider, org_id, GOOD).status_code == 404
    assert post_csv(client, outsider, 999_999, GOOD).status_code == 404
    assert count(ctx, Asset, org_id) == 0
    assert post_csv(client, technician, org_id, GOOD).status_code == 200
    r = client.post(import_url(org_id), content=GOOD.encode(), headers=CSV)
    assert r.status_code == 401


def test_thousands_of_rows_cross_insert_batches(ctx: Context) -> None:
    org_id = make_org(ctx, "Large")
    text = "name,kind,site,tags\n" + "".join(
        f"pc-{i:05d},workstation,Floor {i % 3},dept-{i % 7};windows\n" for i in range(2_500)
    )
    seen: list[tuple[int, int]] = []
    report = importing.import_assets(
        ctx, SYSTEM, org_id, text.encode(), progress=lambda d, t: seen.append((d, t))
    )
    assert report.created == 2_500
    assert sorted(report.sites_created) == ["Floor 0", "Floor 1", "Floor 2"]
    assert seen[0] == (0, 2_500)
    assert seen[-1] == (2_500, 2_500)
    assert count(ctx, Asset, org_id) == 2_500
    with ctx.db.read() as session:
        # Row 2,000 sits in the third batch: its tags and site must be its own.
        row = session.scalar(select(Asset).where(Asset.name == "pc-02000"))
        assert row is not None
        assert row.tags == [f"dept-{2000 % 7}", "windows"]
        assert row.site is not None and row.site.name == f"Floor {2000 % 3}"


def test_service_refusal_carries_every_row_error(ctx: Context) -> None:
    org_id = make_org(ctx, "Service")
    with pytest.raises(ServiceError) as caught:
        importing.import_assets(ctx, SYSTEM, org_id, TWO_BAD.encode())
    assert caught.value.status == 422
    assert [e["line"] for e in caught.value.errors] == [3, 5]
    assert count(ctx, Asset, org_id) == 0


# ---- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("FOREWARN_DATABASE_URL", database_url)
    monkeypatch.setenv("FOREWARN_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("COLUMNS", "200")  # Rich wraps tables at the terminal's width
    return CliRunner()


def test_cli_imports_a_file_by_org_slug(cli: CliRunner, ctx: Context, tmp_path: Path) -> None:
    org_id = make_org(ctx, "Acme Dental")
    path = tmp_path / "inventory.csv"
    path.write_text(GOOD)
    result = cli.invoke(cli_app, ["asset", "import", str(path), "--org", "acme-dental"])
    assert result.exit_code == 0, result.output
    assert "imported 3 assets; created sites: hq, Warehouse" in result.stdout
    assert count(ctx, Asset, org_id) == 3


def test_cli_lists_bad_rows_and_exits_1(cli: CliRunner, ctx: Context, tmp_path: Path) -> None:
    org_id = make_org(ctx, "Careful")
    path = tmp_path / "inventory.csv"
    path.write_text(TWO_BAD)
    result = cli.invoke(cli_app, ["asset", "import", str(path), "--org", str(org_id)])
    assert result.exit_code == 1
    table_lines = [line for line in result.stderr.splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in table_lines] == ["3", "5"]
    assert "toaster" in result.stderr
    assert "nothing was imported" in result.stderr
    assert count(ctx, Asset, org_id) == 0
    result = cli.invoke(cli_app, ["asset", "import", str(path), "--org", str(org_id), "--skip-bad"])
    assert result.exit_code == 0, result.output
    assert "imported 3 assets; skipped 2 bad rows" in result.stdout
    assert count(ctx, Asset, org_id) == 3


def test_cli_refuses_missing_file_and_unknown_org(
    cli: CliRunner, ctx: Context, tmp_path: Path
) -> None:
    make_org(ctx, "Known")
    missing = cli.invoke(cli_app, ["asset", "import", str(tmp_path / "nope.csv"), "--org", "known"])
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr
    folder = cli.invoke(cli_app, ["asset", "import", str(tmp_path), "--org", "known"])
    assert folder.exit_code == 2
    assert "not a file" in folder.stderr
    path = tmp_path / "inventory.csv"
    path.write_text(GOOD)
    unknown = cli.invoke(cli_app, ["asset", "import", str(path), "--org", "unknown-org"])
    assert unknown.exit_code == 2
    assert "organization not found" in unknown.stderr
