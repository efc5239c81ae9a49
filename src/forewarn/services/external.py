"""Alerts from other tools: Prometheus Alertmanager's webhook, received as alerts of an
organization, routed and notified like Forewarn's own (kind "external").

Point an Alertmanager receiver at `POST /api/v1/orgs/{org_id}/alertmanager` with a bearer
API token of a technician of that organization (`http_config.authorization`). A firing alert
opens (or refreshes) its alert, a resolved one resolves it; the external labels come along,
so routes and silences can match them (`alertname=DiskFull`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from forewarn.domain.alerting import Severity
from forewarn.domain.inventory import Role
from forewarn.services import alerts
from forewarn.services.context import Context
from forewarn.services.scope import Actor, get_org_in_scope

# Our own label names: an external label of that name is kept as am_<name>.
RESERVED = {"org", "site", "asset", "check", "type", "kind", "severity", "source"}
_NAME = re.compile(r"[^A-Za-z0-9_]")
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.CRITICAL,
    "high": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "medium": Severity.WARNING,
    "info": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
}
LabelMap = dict[str, str]


class AMAlert(BaseModel):
    """One alert of Alertmanager's webhook payload (version 4)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(max_length=100)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=100)
    starts_at: datetime | None = Field(None, alias="startsAt")
    ends_at: datetime | None = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL", max_length=2000)
    fingerprint: str = Field("", max_length=64)


class AMPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str = "4"
    status: Literal["firing", "resolved"]
    receiver: str = Field("", max_length=500)
    external_url: str = Field("", alias="externalURL", max_length=2000)
    alerts: list[AMAlert] = Field(max_length=1000)


class Received(BaseModel):
    firing: int
    resolved: int


def labels_of(org_id: int, external: dict[str, str]) -> LabelMap:
    out: LabelMap = {"org": str(org_id), "kind": "external", "source": "alertmanager"}
    for key, value in external.items():
        name = _NAME.sub("_", key)[:64] or "_"
        if not name[0].isalpha() and name[0] != "_":
            name = "_" + name
        if name in RESERVED:
            name = f"am_{name}"
        out[name] = value[:500]
    return out


def _summary(a: AMAlert) -> str:
    what = a.annotations.get("summary") or a.annotations.get("description") or ""
    name = a.labels.get("alertname", "alert")
    where = a.labels.get("instance") or a.labels.get("job") or ""
    head = f"{name} on {where}" if where else name
    return f"{head}: {what}" if what else head


def receive_alertmanager(ctx: Context, actor: Actor, org_id: int, payload: AMPayload) -> Received:
    now = ctx.clock.now()
    firing = resolved = 0
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
        for a in payload.alerts:
            labels = labels_of(org_id, a.labels)
            summary = _summary(a)
            if a.status == "resolved":
                at = a.ends_at if a.ends_at and a.ends_at <= now else now
                if alerts.clear(session, ctx, labels, at, summary) is not None:
                    resolved += 1
                continue
            severity = _SEVERITY.get(a.labels.get("severity", "").lower(), Severity.WARNING)
            # Opened when Forewarn heard of it: escalation counts from then, not from a
            # startsAt that may lie hours back.
            alerts.raise_(session, ctx, org_id, labels, severity, now, summary)
            firing += 1
    return Received(firing=firing, resolved=resolved)


def example_payload(status: str = "firing") -> dict[str, Any]:
    """A payload in Alertmanager's documented shape (for the docs and the tests)."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "forewarn",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "DiskFull",
                    "instance": "nas01:9100",
                    "job": "node",
                    "severity": "critical",
                    "mountpoint": "/srv",
                },
                "annotations": {"summary": "/srv is 97 % full"},
                "startsAt": "2026-11-01T08:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-01T09:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph",
                "fingerprint": "b0f4c5f0a1d2e3f4",
            }
        ],
    }
