"""Findings on the pages: severity in the one palette, evidence in a line, a filter by status.

Generic on purpose: every rule's findings share these columns; a rule that has something
better to say than its evidence's plain facts adds a summary here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from forewarn.services.discovery import RULE as UNKNOWN_DEVICE
from forewarn.services.findings import FindingOut
from forewarn.web.discovery_views import guess_label, ports_text

STATUSES = [("open", "Open"), ("resolved", "Resolved"), ("accepted", "Accepted"), ("all", "All")]
_STATUS_KEYS = {key for key, _ in STATUSES}
PAGE_SIZE = 50

# Severity word -> the palette state that colours it. The word is always shown beside it.
_SEVERITY: dict[str, tuple[str, str]] = {
    "critical": ("critical", "Critical"),
    "high": ("critical", "High"),
    "medium": ("warning", "Medium"),
    "low": ("unknown", "Low"),
    "info": ("unknown", "Info"),
}
RULE_LABELS = {
    UNKNOWN_DEVICE: "Unknown device on the network",
    "expiry.certificate": "Certificate expiry",
    "expiry.warranty": "Warranty end",
    "lifecycle.os_eol": "Operating system end of life",
    "lifecycle.software_eol": "Software end of life",
    "backup.not_reported": "Backup not reported",
    "agent.outdated": "Outdated agent",
    "recurring.check": "Recurring issue: a check",
    "recurring.asset": "Recurring issue: an asset",
    "recurring.tickets": "Recurring issue: tickets",
    "vuln.package": "Vulnerable package",
    "patch.security_overdue": "Security updates overdue",
    "patch.reboot_pending": "Reboot pending",
}


# Families of rules a register can be narrowed to (the rule names' first part).
FAMILIES = [
    ("", "Every kind"),
    ("posture.", "Posture"),
    ("vuln.", "Vulnerabilities"),
    ("patch.", "Patches"),
    ("expiry.", "Certificates and warranties"),
    ("lifecycle.", "End of life"),
    ("backup.", "Backups"),
    ("agent.", "Agents"),
    ("recurring.", "Recurring issues"),
    ("network.", "Network"),
]
_FAMILY_KEYS = {key for key, _ in FAMILIES}
SEVERITIES = [("", "Any severity"), ("critical", "Critical"), ("high", "High"),
              ("medium", "Medium"), ("low", "Low"), ("info", "Info")]  # fmt: skip
_SEVERITY_KEYS = {key for key, _ in SEVERITIES}


def read_status(value: str | None) -> str:
    return value if value in _STATUS_KEYS else "open"


def read_family(value: str | None) -> str:
    return value if value in _FAMILY_KEYS else ""


def read_severity(value: str | None) -> str:
    return value if value in _SEVERITY_KEYS else ""


def status_url(
    org_id: int,
    status: str,
    cursor: str | None = None,
    *,
    family: str = "",
    severity: str = "",
    mine: bool = False,
) -> str:
    params = {"status": status}
    if family:
        params["family"] = family
    if severity:
        params["severity"] = severity
    if mine:
        params["mine"] = "1"
    if cursor:
        params["cursor"] = cursor
    return f"/orgs/{org_id}/findings?{urlencode(params)}"


def severity(value: str) -> tuple[str, str]:
    """(palette state, word) for a finding's severity."""
    return _SEVERITY.get(value, ("unknown", value.capitalize() or "Unknown"))


def rule_label(rule: str) -> str:
    if rule in RULE_LABELS:
        return RULE_LABELS[rule]
    family, _, rest = rule.partition(".")
    named = dict(FAMILIES).get(family + ".")
    return f"{named}: {rest}" if named and rest else rule


def _unknown_device(evidence: dict[str, Any]) -> list[str]:
    parts = [str(evidence.get("address", ""))]
    if evidence.get("mac"):
        parts.append(f"MAC {evidence['mac']}")
    name = evidence.get("sys_name") or evidence.get("hostname")
    if name:
        parts.append(f"named {name}")
    parts.append(f"open ports: {ports_text(list(evidence.get('open_ports') or []))}")
    if evidence.get("kind_guess"):
        parts.append(f"looks like: {guess_label(str(evidence['kind_guess']))}")
    if evidence.get("network"):
        parts.append(f"on {evidence['network']}")
    return [p for p in parts if p]


_SUMMARIES: dict[str, Callable[[dict[str, Any]], list[str]]] = {UNKNOWN_DEVICE: _unknown_device}
_SHOWN_FACTS = 4


def evidence_summary(finding: FindingOut) -> str:
    """The evidence in one line: what the rule knows to say, else its first plain facts."""
    summary = _SUMMARIES.get(finding.rule)
    if summary is not None:
        return " · ".join(summary(finding.evidence))
    facts = [
        f"{key.replace('_', ' ')}: {value}"
        for key, value in finding.evidence.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""
        if not key.endswith("_id")
    ]
    return " · ".join(facts[:_SHOWN_FACTS])


def device_id(finding: FindingOut) -> int | None:
    """The discovered device a finding is about, when its rule names one."""
    value = finding.evidence.get("device_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
