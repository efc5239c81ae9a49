"""Small vulnerability data files in the real formats (OSV zip, CISA KEV JSON, EPSS CSV).

Shapes follow what OSV publishes for Debian (DEBIAN-CVE-*, source packages, "upstream"),
Ubuntu (UBUNTU-CVE-*, a `versions` list and an "Ubuntu" severity) and PyPI (GHSA/PYSEC with
`aliases` and CVSS vectors), and the KEV and EPSS files as CISA and FIRST serve them.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

CVSS_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
CVSS_MEDIUM = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N"  # 4.2


def debian_record(
    cve: str,
    package: str,
    fixed: str | None,
    *,
    release: str = "12",
    modified: str = "2026-10-30T08:00:00Z",
    withdrawn: str | None = None,
    introduced: str = "0",
) -> dict[str, Any]:
    events: list[dict[str, str]] = [{"introduced": introduced}]
    if fixed:
        events.append({"fixed": fixed})
    record: dict[str, Any] = {
        "schema_version": "1.7.0",
        "id": f"DEBIAN-{cve}",
        "modified": modified,
        "published": "2026-01-10T00:00:00Z",
        "upstream": [cve],
        "summary": f"{package}: a flaw in {package}",
        "details": f"A flaw was found in {package}.",
        "affected": [
            {
                "package": {
                    "ecosystem": f"Debian:{release}",
                    "name": package,
                    "purl": f"pkg:deb/debian/{package}?arch=source",
                },
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": f"https://security-tracker.debian.org/tracker/{cve}"}
        ],
    }
    if withdrawn:
        record["withdrawn"] = withdrawn
    return record


def ubuntu_record(cve: str, package: str, fixed: str, versions: list[str]) -> dict[str, Any]:
    return {
        "schema_version": "1.7.0",
        "id": f"UBUNTU-{cve}",
        "modified": "2026-10-29T00:00:00Z",
        "upstream": [cve],
        "details": f"{package} could be made to crash.",
        "severity": [
            {"type": "Ubuntu", "score": "medium"},
            {"type": "CVSS_V3", "score": CVSS_MEDIUM},
        ],
        "affected": [
            {
                "package": {"ecosystem": "Ubuntu:22.04:LTS", "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
                "versions": versions,
            }
        ],
    }


def pypi_record(ghsa: str, cve: str, package: str, introduced: str, fixed: str) -> dict[str, Any]:
    return {
        "schema_version": "1.7.0",
        "id": ghsa,
        "modified": "2026-10-28T00:00:00Z",
        "aliases": [cve, "PYSEC-2026-1"],
        "summary": f"{package} allows code execution",
        "severity": [{"type": "CVSS_V3", "score": CVSS_CRITICAL}],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": introduced}, {"fixed": fixed}],
                    },
                    {
                        "type": "GIT",
                        "repo": "https://example.invalid/x",
                        "events": [{"introduced": "0"}],
                    },
                ],
            }
        ],
    }


def osv_zip(records: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buffer.getvalue()


def kev_json(
    entries: list[tuple[str, str | None, bool]], released: str = "2026-10-31T17:00:00.000Z"
) -> bytes:
    """entries: (cve, due date, known ransomware use)."""
    items = [
        {
            "cveID": cve,
            "vendorProject": "Example",
            "product": "Product",
            "vulnerabilityName": f"Example Product flaw ({cve})",
            "dateAdded": "2026-10-01",
            "shortDescription": "A flaw that is being exploited.",
            "requiredAction": "Apply mitigations per vendor instructions or discontinue use.",
            "dueDate": due or "",
            "knownRansomwareCampaignUse": "Known" if ransomware else "Unknown",
            "notes": "",
            "cwes": ["CWE-787"],
        }
        for cve, due, ransomware in entries
    ]
    catalog = {
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2026.10.31",
        "dateReleased": released,
        "count": len(items),
        "vulnerabilities": items,
    }
    return json.dumps(catalog, indent=2).encode()


def epss_csv(rows: list[tuple[str, float, float]], day: str = "2026-11-01") -> bytes:
    lines = [f"#model_version:v2025.03.14,score_date:{day}T12:55:00Z", "cve,epss,percentile"]
    lines += [f"{cve},{epss:.5f},{pct:.5f}" for cve, epss, pct in rows]
    return ("\n".join(lines) + "\n").encode()
