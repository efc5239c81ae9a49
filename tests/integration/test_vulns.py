"""Vulnerabilities end to end: real-format files imported with the CLI, an agent's inventory
checked in, findings with KEV/EPSS/fixed version, the API and pages, an upgrade resolving it."""

from __future__ import annotations

import io
import platform
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from forewarn.agent.collectors import packages as package_collector
from forewarn.agent.collectors import system as system_collector
from forewarn.cli import app as cli_app
from forewarn.domain import vulns as dv
from forewarn.domain.clock import ManualClock
from forewarn.services import findings, vulns
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from forewarn.store.models import EpssScore, KevEntry, VulnAffected, VulnDataset, VulnRecord
from forewarn.wire import Package
from tests.conftest import Person, make_org, make_person
from tests.integration.test_ingest import batch, enroll, send
from tests.integration.test_web import signed_in
from tests.vuln_fixtures import (
    debian_record,
    epss_csv,
    kev_json,
    osv_zip,
    pypi_record,
)

SYSTEM_SECTION = {
    "hostname": "fs01",
    "os_id": "debian",
    "os_name": "Debian GNU/Linux",
    "os_version": "12",
}
OLD_SSL = "3.0.13-1~deb12u1"
NEW_SSL = "3.0.15-1~deb12u1"


def _packages(ssl: str, with_jinja: bool = True) -> list[dict[str, Any]]:
    pkgs = [
        {
            "name": "bash",
            "version": "5.2.15-2+b7",
            "arch": "amd64",
            "source": "dpkg",
            "source_version": "5.2.15-2",
        },
        {
            "name": "libssl3",
            "version": ssl,
            "arch": "amd64",
            "source": "dpkg",
            "source_name": "openssl",
        },
        {"name": "openssl", "version": ssl, "arch": "amd64", "source": "dpkg"},
        {
            "name": "zlib1g",
            "version": "1:1.2.13.dfsg-1+b1",
            "arch": "amd64",
            "source": "dpkg",
            "source_name": "zlib",
            "source_version": "1:1.2.13.dfsg-1",
        },
    ]
    if with_jinja:
        pkgs.append({"name": "Jinja2", "version": "3.1.2", "source": "pypi"})
    return pkgs


def _files(tmp_path: Path) -> dict[str, Path]:
    debian = [
        debian_record("CVE-2026-1001", "openssl", NEW_SSL),
        debian_record("CVE-2026-1002", "openssl", "3.0.14-1~deb12u1"),
        debian_record("CVE-2026-1003", "zlib", "1:1.2.13.dfsg-1"),  # fixed by what is installed
        debian_record("CVE-2026-1004", "openssl", None, withdrawn="2026-10-02T00:00:00Z"),
        debian_record("CVE-2026-1005", "openssl", None, release="11"),  # another release
    ]
    files = {
        "debian": (tmp_path / "all.zip", osv_zip(debian)),
        "pypi": (
            tmp_path / "pypi-all.zip",
            osv_zip(
                [pypi_record("GHSA-h5c8-rqwp-cp95", "CVE-2026-2001", "jinja2", "3.0.0", "3.1.5")]
            ),
        ),
        "kev": (
            tmp_path / "known_exploited_vulnerabilities.json",
            kev_json([("CVE-2026-1001", "2026-11-20", True), ("CVE-2020-0001", None, False)]),
        ),
        "epss": (
            tmp_path / "epss_scores-current.csv",
            epss_csv(
                [
                    ("CVE-2026-1001", 0.94, 0.999),
                    ("CVE-2026-1002", 0.002, 0.41),
                    ("CVE-2026-2001", 0.01, 0.8),
                ]
            ),
        ),
    }
    for path, raw in files.values():
        path.write_bytes(raw)
    return {name: path for name, (path, _) in files.items()}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("FOREWARN_DATABASE_URL", database_url)
    monkeypatch.setenv("FOREWARN_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return buffer.getvalue()


def _checkin(client: TestClient, token: str, seq: int, pkgs: list[dict[str, Any]]) -> None:
    inventory = {"full": True, "system": SYSTEM_SECTION, "packages": pkgs}
    r = send(client, token, batch(seq, [], inventory))
    assert r.status_code == 200, r.text


def _open(ctx: Context, org_id: int) -> dict[str, findings.FindingOut]:
    page = findings.list_findings(ctx, SYSTEM, org_id=org_id, status="open", limit=500)
    return {f.evidence["package"]: f for f in page.items if f.rule == vulns.RULE}


def _data_state(ctx: Context) -> tuple[Any, ...]:
    with ctx.db.read() as session:
        return (
            sorted(
                (d.name, d.records, d.imported_at) for d in session.scalars(select(VulnDataset))
            ),
            session.scalar(select(func.count()).select_from(VulnRecord)),
            session.scalar(select(func.count()).select_from(VulnAffected)),
            session.scalar(select(func.count()).select_from(KevEntry)),
            session.scalar(select(func.count()).select_from(EpssScore)),
        )


def test_import_match_upgrade_and_bad_files(
    cli: CliRunner,
    client: TestClient,
    ctx: Context,
    clock: ManualClock,
    owner: Person,
    tmp_path: Path,
) -> None:
    org = make_org(ctx, "Alpha Dental")
    agent = enroll(client, ctx, org)
    _checkin(client, agent["agent_token"], 1, _packages(OLD_SSL))

    files = _files(tmp_path)
    for name in ("debian", "pypi", "kev", "epss"):
        r = cli.invoke(cli_app, ["data", "import", str(files[name])])
        assert r.exit_code == 0, (name, r.output)
    status = cli.invoke(cli_app, ["data", "status"])
    assert status.exit_code == 0, status.output
    for words in (
        "OSV Debian",
        "OSV PyPI",
        "CISA known exploited",
        "EPSS",
        "2026-10-31",
        "2026-11-01",
    ):
        assert words in status.output, words

    found = _open(ctx, org)
    assert set(found) == {"openssl", "jinja2"}  # zlib's source version is the fixed one
    ssl = found["openssl"]
    assert ssl.severity == "critical" and ssl.asset_id == agent["asset_id"]
    assert ssl.due_at == datetime(2026, 11, 20, tzinfo=UTC)  # KEV's due date
    ev = ssl.evidence
    assert ev["fixed_version"] == NEW_SSL and ev["binaries"] == ["libssl3", "openssl"]
    assert ev["installed"] == OLD_SSL and ev["count"] == 2 and ev["kev"] is True
    first = ev["vulns"][0]
    assert first["id"] == "DEBIAN-CVE-2026-1001" and first["aliases"] == ["CVE-2026-1001"]
    assert (first["kev"], first["ransomware"], first["kev_due"]) == (True, True, "2026-11-20")
    assert (first["epss"], first["percentile"]) == (0.94, 0.999)
    assert ev["vulns"][1]["kev"] is False  # the catalog is loaded and does not list it
    assert ev["data"]["osv:Debian"] == "2026-10-30" and ev["data"]["kev"] == "2026-10-31"
    jinja = found["jinja2"].evidence
    assert found["jinja2"].severity == "high"  # CVSS 9.8, not known exploited
    assert jinja["vulns"][0]["aliases"] == ["CVE-2026-2001", "PYSEC-2026-1"]
    assert jinja["fixed_version"] == "3.1.5" and jinja["cvss"] == pytest.approx(9.8)

    # The API: per asset, known exploited first; per organization, most urgent first.
    r = client.get(f"/api/v1/assets/{agent['asset_id']}/vulnerabilities", headers=owner.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["package"] for p in body["packages"]] == ["openssl", "jinja2"]
    assert body["known_exploited"] == 1 and body["total"] == 3
    assert body["packages"][0]["fixed_version"] == NEW_SSL
    assert {d["name"]: d["data_date"] for d in body["data"]}["epss"] == "2026-11-01"
    r = client.get(f"/api/v1/orgs/{org}/vulnerabilities", headers=owner.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [
        "DEBIAN-CVE-2026-1001",
        "GHSA-h5c8-rqwp-cp95",
        "DEBIAN-CVE-2026-1002",
    ]
    assert items[0]["assets"][0]["asset_id"] == agent["asset_id"]
    assert items[0]["assets"][0]["fixed"] == NEW_SSL

    # A truncated zip, a foreign zip and a cut KEV file change nothing.
    before, before_findings = _data_state(ctx), _open(ctx, org)
    raw = files["debian"].read_bytes()
    bad = {
        "truncated.zip": raw[: len(raw) // 2],
        "photos.zip": _zip_of({"holiday.jpg": b"\xff\xd8\xff"}),
        "kev-cut.json": files["kev"].read_bytes()[:300],
    }
    for name, content in bad.items():
        path = tmp_path / name
        path.write_bytes(content)
        r = cli.invoke(cli_app, ["data", "import", str(path)])
        assert r.exit_code == 1, (name, r.output)
        assert "error" in r.output
        assert _data_state(ctx) == before
    assert _open(ctx, org).keys() == before_findings.keys()

    # Upgrading openssl past both fixes and removing Jinja2 resolves both findings.
    clock.advance(minutes=5)
    _checkin(client, agent["agent_token"], 2, _packages(NEW_SSL, with_jinja=False))
    report = vulns.refresh(ctx)
    assert report.assets == 1 and report.sync.resolved == 2
    assert _open(ctx, org) == {}
    assert vulns.refresh(ctx).assets == 0  # nothing changed since: nothing to do
    # New data matches again: an advisory for the new version reopens openssl.
    newer = tmp_path / "all.zip"
    newer.write_bytes(
        osv_zip(
            [
                debian_record(
                    "CVE-2026-1009", "openssl", "3.0.16-1~deb12u1", modified="2026-11-01T00:00:00Z"
                )
            ]
        )
    )
    r = cli.invoke(cli_app, ["data", "import", str(newer)])
    assert r.exit_code == 0, r.output
    assert _open(ctx, org)["openssl"].evidence["vulns"][0]["id"] == "DEBIAN-CVE-2026-1009"


def test_pages_show_vulnerabilities_with_their_data_date(
    cli: CliRunner, client: TestClient, ctx: Context, owner: Person, tmp_path: Path
) -> None:
    org = make_org(ctx, "Alpha Dental")
    agent = enroll(client, ctx, org)
    _checkin(client, agent["agent_token"], 1, _packages(OLD_SSL))
    files = _files(tmp_path)
    for name in ("debian", "kev"):
        assert cli.invoke(cli_app, ["data", "import", str(files[name])]).exit_code == 0
    signed_in(client, "owner")
    asset_page = client.get(f"/assets/{agent['asset_id']}")
    assert f'href="/assets/{agent["asset_id"]}/vulnerabilities"' in asset_page.text
    page = client.get(f"/assets/{agent['asset_id']}/vulnerabilities")
    assert page.status_code == 200
    for words in (
        "openssl",
        NEW_SSL,
        "Known exploited",
        "DEBIAN-CVE-2026-1001",
        "CVE-2026-1001",
        "2026-10-30",
    ):
        assert words in page.text, words
    org_page = client.get(f"/orgs/{org}")
    assert f'href="/orgs/{org}/vulnerabilities"' in org_page.text
    page = client.get(f"/orgs/{org}/vulnerabilities")
    assert page.status_code == 200
    assert "DEBIAN-CVE-2026-1001" in page.text and "fs01" in page.text
    assert "EPSS" in page.text and "2026-10-31" in page.text
    # Another organization's viewer sees neither page.
    other = make_org(ctx, "Beta Bakery")
    make_person(ctx, "beta-viewer", roles={other: "viewer"})
    signed_in(client, "beta-viewer")
    assert client.get(f"/assets/{agent['asset_id']}/vulnerabilities").status_code == 404
    assert client.get(f"/orgs/{org}/vulnerabilities").status_code == 404


# ---- the real agent on this machine ----------------------------------------------------------


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a dpkg system")
def test_this_machines_packages_match_a_record_made_for_them() -> None:
    """The agent's real collectors; a made-up record for a package really installed here,
    fixed in a version just above the installed one, and one fixed below it."""
    collected = package_collector.collect()
    assert collected, "dpkg-query listed nothing"
    pkgs = [Package.model_validate(p) for p in collected]  # what the server would accept
    system = system_collector.collect()
    eco = dv.os_ecosystem(system["os_id"], system["os_version"])
    if eco is None:
        pytest.skip(f"not a numbered Debian/Ubuntu release: {platform.platform()}")
    # A binary built from a differently named source, when there is one (libc6 <- glibc).
    target = next((p for p in pkgs if p.source == "dpkg" and p.source_name), pkgs[0])
    source = target.source_name or target.name
    version = target.source_version or target.version
    index = dv.Index()
    index.add(eco, source, "FOREWARN-TEST-1", [[("introduced", "0"), ("fixed", f"{version}+fw1")]])
    index.add(eco, source, "FOREWARN-TEST-2", [[("introduced", "0"), ("fixed", "0~")]])
    installed = dv.installed_from(p.model_dump() for p in pkgs)
    hits = dv.match(index, dv.subjects(installed, eco))
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.package, hit.installed, hit.fixed) == (source, version, f"{version}+fw1")
    assert target.name in hit.binaries
    assert [v.vuln_id for v in hit.vulns] == ["FOREWARN-TEST-1"]
