"""Silences on the pages: their matchers in words (names, not ids), and the form that makes one
by choosing what it covers from the organization's own sites, assets and checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData

from forewarn.domain import alerting
from forewarn.domain.alerting import AlertKind, MatchOp, Severity
from forewarn.services import sites
from forewarn.services.context import Context
from forewarn.services.pagination import MAX_LIMIT
from forewarn.services.scope import Actor
from forewarn.services.silences import MAX_DAYS, SilenceOut
from forewarn.web import check_views
from forewarn.web.alert_views import KINDS, SEVERITIES, by_name
from forewarn.web.forms import FORM_WIDE, FieldErrors, text
from forewarn.web.humanize import zone

FIELDS = ("target", "severity", "kind", "comment", "duration", "unit", "until")
UNITS = [("min", "minutes"), ("h", "hours"), ("d", "days")]
_MINUTES = {"min": 1, "h": 60, "d": 1440}
_KIND_WORDS = {key: label.lower() for key, label in KINDS if key}
_OPS = {MatchOp.NE: "is not", MatchOp.RE: "matches", MatchOp.NRE: "does not match"}
HINTS = {
    "target": "What its alerts are about: everything of the organization, a site, an asset or "
    "one check.",
    "end": f"For how long (up to {MAX_DAYS} days) or until when, in the organization's time "
    "zone: one of the two. A silence always ends.",
    "duration_min": f"A silence lasts at most {MAX_DAYS} days, and at least a minute.",
    "comment": "Why, e.g. the job it is for; shown in the list and in the audit log.",
}


@dataclass(frozen=True)
class Names:
    """An organization's sites, assets and checks by id (as the labels hold them)."""

    org_id: int
    org_name: str
    site: dict[str, str] = field(default_factory=dict)
    asset: dict[str, str] = field(default_factory=dict)
    check: dict[str, str] = field(default_factory=dict)

    def options(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """The target select's groups: (group label, [(value, text)])."""
        return [
            (label, by_name((f"{key}:{i}", name) for i, name in getattr(self, key).items()))
            for key, label in (("site", "One site"), ("asset", "One asset"), ("check", "One check"))
            if getattr(self, key)
        ]


def names_of(ctx: Context, actor: Actor, org_id: int, org_name: str) -> Names:
    assets = check_views.org_assets(ctx, actor, org_id)
    return Names(
        org_id=org_id,
        org_name=org_name,
        site={
            str(s.id): s.name for s in sites.list_(ctx, actor, org_id=org_id, limit=MAX_LIMIT).items
        },
        asset={str(i): a.name for i, a in assets.items()},
        check={
            str(c.id): f"{assets[c.asset_id].name} · {c.name}" if c.asset_id in assets else c.name
            for c in check_views.org_checks(ctx, actor, org_id)
        },
    )


# ---- in words ----------------------------------------------------------------------------------


def _one(m: alerting.Matcher, names: Names) -> str:
    if m.op is MatchOp.EQ:
        if m.name == "org":
            return (
                f"everything of {names.org_name}"
                if m.value == str(names.org_id)
                else (f"organization {m.value}")
            )
        if m.name in ("site", "asset", "check"):
            known: dict[str, str] = getattr(names, m.name)
            return f"{m.name} {known.get(m.value, '#' + m.value)}"
        if m.name == "kind":
            return f"{_KIND_WORDS.get(m.value, m.value)} alerts"
        if m.name == "severity":
            return f"{m.value} severity"
        if m.name == "type":
            return f"{m.value} checks"
        return f"{m.name} {m.value}"
    return f"{m.name} {_OPS[m.op]} {m.value!r}"


def in_words(silence: SilenceOut, names: Names) -> str:
    """'asset fs01, critical severity'; the provider's say they cover every organization."""
    parts = []
    for raw in silence.matchers:
        try:
            m = alerting.Matcher.parse(raw)
        except ValueError:  # pragma: no cover - stored matchers were parsed when made
            parts.append(raw)
            continue
        if m.op is MatchOp.EQ and m.name == "org" and len(silence.matchers) > 1:
            continue  # said by the page it is on
        parts.append(_one(m, names))
    said = ", ".join(parts)
    return f"every organization: {said}" if silence.org_id is None else said


# ---- the form ----------------------------------------------------------------------------------


def blank() -> dict[str, str]:
    return {key: "" for key in FIELDS} | {"target": "org", "unit": "h"}


def from_form(form: FormData) -> dict[str, str]:
    values = {key: text(form, key).strip()[:200] for key in FIELDS}
    values["comment"] = text(form, "comment").strip()[:1000]
    return values


def to_input(values: dict[str, str], names: Names, tz: str) -> tuple[dict[str, Any], FieldErrors]:
    """SilenceCreate's input; what the form itself cannot read comes back as messages."""
    errors: FieldErrors = {}
    matchers = [f"org={names.org_id}"]
    key, _, ref = values["target"].partition(":")
    if values["target"] != "org":
        if key in ("site", "asset", "check") and ref in getattr(names, key):
            matchers.append(f"{key}={ref}")
        else:
            errors["target"] = ["Choose what the silence covers from the list."]
    if values["severity"]:
        if values["severity"] in {s.value for s in Severity}:
            matchers.append(f"severity={values['severity']}")
        else:
            errors["severity"] = ["Choose one of the listed options."]
    if values["kind"]:
        if values["kind"] in {k.value for k in AlertKind}:
            matchers.append(f"kind={values['kind']}")
        else:
            errors["kind"] = ["Choose one of the listed options."]
    data: dict[str, Any] = {
        "org_id": names.org_id,
        "matchers": matchers,
        "comment": values["comment"],
        "duration_min": None,
        "ends_at": None,
    }
    if values["duration"]:
        try:
            amount = float(values["duration"].replace(",", "."))
            data["duration_min"] = round(amount * _MINUTES[values["unit"]])
        except (ValueError, KeyError, OverflowError):
            errors["end"] = ["Enter how long as a number, like 2 or 1.5."]
    if values["until"]:
        try:
            local = datetime.fromisoformat(values["until"])
            if local.tzinfo is not None:
                raise ValueError("a local time")
            data["ends_at"] = local.replace(tzinfo=zone(tz)).astimezone(UTC)
        except ValueError:
            errors.setdefault("end", []).append("Enter the end as a date and time.")
    return data, errors


def _field_of(key: str, message: str) -> str:
    if key in ("duration_min", "ends_at", "starts_at"):
        return "end"
    if key == "matchers":
        return "target"
    if key == FORM_WIDE and ("end" in message or "over" in message or "days" in message):
        return "end"
    return key


def place(errors: FieldErrors) -> FieldErrors:
    """Messages by this form's fields: the service speaks of duration_min, ends_at, matchers,
    and of rules without a field ("a silence needs an end")."""
    out: FieldErrors = {}
    for key, messages in errors.items():
        for message in messages:
            out.setdefault(_field_of(key, message.lower()), []).append(message)
    return out


def options() -> dict[str, Any]:
    return {
        "units": UNITS,
        "hints": HINTS,
        "severity_options": SEVERITIES,
        "kind_options": KINDS,
    }
