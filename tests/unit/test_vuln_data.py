"""Reading OSV zips, the KEV catalog and EPSS scores; bad files are refused whole."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from datetime import date

import pytest

from forewarn.domain import vulndata as vd
from forewarn.domain.vulndata import DataError
from tests.vuln_fixtures import (
    debian_record,
    epss_csv,
    kev_json,
    osv_zip,
    pypi_record,
    ubuntu_record,
)


def test_detects_each_format_by_content() -> None:
    assert vd.detect(osv_zip([debian_record("CVE-2026-1", "curl", "1")])[:64]) == vd.OSV
    assert vd.detect(kev_json([("CVE-2026-1", None, False)])[:4096]) == vd.KEV
    assert vd.detect(epss_csv([("CVE-2026-1", 0.1, 0.5)])[:64]) == vd.EPSS
    assert vd.detect(gzip.compress(epss_csv([("CVE-2026-1", 0.1, 0.5)]))[:512]) == vd.EPSS
    assert vd.detect(b'{"result": []}') is None  # end of life: someone else's
    assert vd.detect(b"version,codename,series") is None


def test_reads_a_debian_zip() -> None:
    data = vd.read_osv_zip(
        osv_zip(
            [
                debian_record("CVE-2026-1001", "openssl", "3.0.15-1~deb12u1"),
                debian_record("CVE-2026-1002", "curl", None, modified="2026-10-31T10:00:00Z"),
                debian_record("CVE-2026-1003", "curl", "1", withdrawn="2026-10-01T00:00:00Z"),
            ]
        )
    )
    assert data.families == ["Debian"]
    assert data.withdrawn == 1
    assert data.data_date == date(2026, 10, 31)
    first = data.records[0]
    assert first.id == "DEBIAN-CVE-2026-1001"
    assert first.aliases == ["CVE-2026-1001"]
    assert first.affected[0].ecosystem == "Debian:12"
    assert first.affected[0].ranges == [[["introduced", "0"], ["fixed", "3.0.15-1~deb12u1"]]]


def test_reads_ubuntu_and_pypi_records() -> None:
    ubuntu = vd.read_osv_zip(osv_zip([ubuntu_record("CVE-2026-2", "vim", "2:9.0-1", ["2:8.2-1"])]))
    rec = ubuntu.records[0]
    assert ubuntu.families == ["Ubuntu"]
    assert rec.affected[0].versions == ["2:8.2-1"]
    assert rec.cvss == pytest.approx(4.2)
    pypi = vd.read_osv_zip(
        osv_zip([pypi_record("GHSA-aaaa-bbbb-cccc", "CVE-2026-3", "Jinja2", "3.0", "3.1.5")])
    )
    rec = pypi.records[0]
    assert rec.aliases == ["CVE-2026-3", "PYSEC-2026-1"]
    assert rec.cvss == pytest.approx(9.8)
    assert len(rec.affected[0].ranges) == 1  # the GIT range is not about versions


def test_other_ecosystems_in_a_record_do_not_claim_the_file() -> None:
    records = [
        pypi_record(f"GHSA-{i}", f"CVE-2026-{100 + i}", f"p{i}", "0", "1.0") for i in range(8)
    ]
    records[0]["affected"].append(
        {
            "package": {"ecosystem": "Debian:12", "name": "p0"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
        }
    )
    data = vd.read_osv_zip(osv_zip(records))
    assert data.families == ["PyPI"]
    assert all(a.ecosystem == "PyPI" for r in data.records for a in r.affected)


def _zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (osv_zip([debian_record(f"CVE-2026-{i}", "curl", "1") for i in range(50)])[:-300], "zip"),
        (b"PK\x03\x04 not really", "zip"),
        (_zip_of({"photo.jpg": b"\xff\xd8"}), "not an OSV zip"),
        (_zip_of({"a.json": b'{"id": "X-1", "modified": '}), "not JSON"),
        (_zip_of({"a.json": json.dumps({"id": "X-1"}).encode()}), "`modified`"),
        (_zip_of({"a.json": json.dumps([1, 2]).encode()}), "not an OSV record"),
        (_zip_of({}), "empty"),
        (
            _zip_of(
                {
                    "a.json": json.dumps(
                        {
                            "id": "X-1",
                            "modified": "2026-01-01T00:00:00Z",
                            "affected": [
                                {
                                    "package": {"ecosystem": "PyPI", "name": "x"},
                                    "ranges": [{"type": "ECOSYSTEM", "events": [{"bogus": "1"}]}],
                                }
                            ],
                        }
                    ).encode()
                }
            ),
            "bad event",
        ),
        (
            _zip_of(
                {
                    "a.json": json.dumps(
                        {
                            "id": "X-1",
                            "modified": "2026-01-01T00:00:00Z",
                            "affected": [
                                {"package": {"ecosystem": "npm", "name": "x"}, "versions": ["1"]}
                            ],
                        }
                    ).encode()
                }
            ),
            "no record names a package",
        ),
    ],
)
def test_bad_zips_are_refused_with_a_reason(raw: bytes, says: str) -> None:
    with pytest.raises(DataError, match=says):
        vd.read_osv_zip(raw)


def test_reads_kev_and_refuses_a_bad_one() -> None:
    data = vd.parse_kev(
        kev_json([("CVE-2026-1001", "2026-10-22", True), ("CVE-2026-0005", None, False)]).decode()
    )
    assert data.data_date == date(2026, 10, 31)
    assert data.catalog_version == "2026.10.31"
    first = data.entries[0]
    assert (first.cve, first.due_date, first.ransomware) == (
        "CVE-2026-1001",
        date(2026, 10, 22),
        True,
    )
    assert data.entries[1].due_date is None
    text = kev_json([("CVE-2026-1001", "2026-10-22", True)]).decode()
    with pytest.raises(DataError, match="cut short"):
        vd.parse_kev(text[: len(text) // 2])
    with pytest.raises(DataError, match="says 3 entries"):
        vd.parse_kev(text.replace('"count": 1', '"count": 3'))
    with pytest.raises(DataError, match="not a CVE id"):
        vd.parse_kev(text.replace("CVE-2026-1001", "nope"))
    with pytest.raises(DataError, match="no `vulnerabilities`"):
        vd.parse_kev('{"catalogVersion": "1"}')


def test_reads_epss_and_refuses_a_bad_one() -> None:
    raw = epss_csv([("CVE-2026-1001", 0.94, 0.999), ("CVE-2026-0005", 0.0004, 0.1)])
    data = vd.parse_epss(vd.decompress(gzip.compress(raw)).decode())
    assert data.data_date == date(2026, 11, 1)
    assert data.model_version == "v2025.03.14"
    assert data.scores[0] == ("CVE-2026-1001", 0.94, 0.999)
    text = raw.decode()
    with pytest.raises(DataError, match="3 fields"):
        vd.parse_epss(text.rstrip("\n").rsplit(",", 1)[0])
    with pytest.raises(DataError, match="header"):
        vd.parse_epss("a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match="between 0 and 1"):
        vd.parse_epss(text.replace("0.94000", "7"))
    with pytest.raises(DataError, match="truncated"):
        vd.decompress(gzip.compress(raw)[:-10])
