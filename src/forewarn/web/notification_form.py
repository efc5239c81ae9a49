"""Notification settings on the pages: the channel and route forms, and routes in words.

The two forms share a page, so their fields have names of their own (channel_name,
route_name); the service's words for them (name, after_s, repeat_s) are mapped back here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from forewarn.domain.alerting import AlertKind, Matcher, MatchOp, Severity
from forewarn.services.notify import RouteOut
from forewarn.web.forms import FieldErrors, text, texts

STEPS = 3  # the form offers three steps: on duty, on call, the manager
MAX_STEPS = 10  # as many as a route may have (services.notify.RouteCreate)
MAX_DELAY_MIN = 7 * 1440
WHEN = [("any", "Any time"), ("business", "In business hours"), ("after_hours", "After hours")]
_WHEN_WORDS = {"any": "any time", "business": "in business hours", "after_hours": "after hours"}
URL_EXAMPLE = "mailto://user:password@smtp.example.com?to=oncall@example.com"
HINTS = {
    "url": (
        "An apprise URL: mailto://, slack://, msteams://, tgram://, ntfy://, json://host/path "
        "and a hundred more (see the apprise wiki). It often holds a password or a token: it is "
        "stored encrypted and never shown again."
    ),
    "secret": (
        "Only for a signed webhook to another tool (a PSA, a ticket system): with a secret of "
        "16 characters or more, the URL is a plain https:// address and Forewarn posts JSON "
        "signed with it (X-Forewarn-Signature). Leave empty for an apprise URL."
    ),
    "matchers": (
        "Anything the choices above do not cover, one label matcher per line, all must "
        "hold: type=http, type!=heartbeat, alertname=~Disk.*. Empty: no more conditions."
    ),
    "repeat": "Remind the steps reached this often while nobody acknowledged; empty for never.",
}


# ---- channels ---------------------------------------------------------------------------------


def blank_channel() -> dict[str, str]:
    return {"channel_name": "", "url": "", "secret": ""}


def channel_values(form: FormData) -> dict[str, str]:
    return {
        "channel_name": text(form, "channel_name").strip()[:300],
        "url": text(form, "url").strip()[:5000],
        "secret": text(form, "secret").strip()[:500],
    }


def channel_input(org_id: int | None, values: dict[str, str]) -> dict[str, Any]:
    data = {"org_id": org_id, "name": values["channel_name"], "url": values["url"]}
    if values.get("secret"):
        data["secret"] = values["secret"]
    return data


def place_channel(errors: FieldErrors) -> FieldErrors:
    return {("channel_name" if k == "name" else k): v for k, v in errors.items()}


# ---- routes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    """What the route form offers to pick by name: the organization's own sites, assets and
    checks as (id, name) options. The provider's routes reach every organization, whose ids
    mean nothing to each other, so they get none (`Choices()`)."""

    sites: list[tuple[str, str]] = field(default_factory=list)
    assets: list[tuple[str, str]] = field(default_factory=list)
    checks: list[tuple[str, str]] = field(default_factory=list)

    def of(self, label: str) -> list[tuple[str, str]]:
        return {"site": self.sites, "asset": self.assets, "check": self.checks}[label]


# A form field that picks values of one label; the stored route keeps a matcher on it
# (`asset=~12|14`): the form writes it from what was picked and reads it back to edit.
PICKED = {
    "sites": "site",
    "assets": "asset",
    "checks": "check",
    "severities": "severity",
    "kinds": "kind",
}
BY_ID = ("sites", "assets", "checks")
SEVERITIES = [(s.value, s.value.capitalize()) for s in reversed(Severity)]
KINDS = [
    (AlertKind.CHECK.value, "Check results"),
    (AlertKind.PREDICTIVE.value, "Predictions (a disk that fills up, a certificate that ends)"),
    (AlertKind.SECURITY.value, "Security"),
    (AlertKind.EXTERNAL.value, "From other tools (Prometheus Alertmanager)"),
]
_PLAIN_VALUES = re.compile(r"[A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)*")
MAX_GROUP_WAIT_S = 3600

ROUTE_HINTS = {
    "route_name": "e.g. Servers, day and night.",
    "when": "Business hours are the organization's, in its time zone; an organization "
    "without business hours counts as always open.",
    "sites": "Only alerts of these sites. None chosen: any site.",
    "assets": "Only alerts of these assets. None chosen: any asset.",
    "checks": "Only alerts of these checks. None chosen: any check.",
    "severities": "Only alerts of these severities. None ticked: any severity.",
    "kinds": "Only alerts from these sources. None ticked: any.",
    "steps": "Each step tells its channels once the alert has been open that many minutes "
    "with nobody acknowledging it; step 1 at 0 minutes tells them at once.",
    "open_ticket": "Open a ticket for each alert this route takes, when the alert opens "
    "(the ticket's origin is monitoring).",
    "group_wait": "Wait this many seconds (up to 3600) after the first alert of a group, so "
    "that a burst, such as a site losing its internet link, leaves as one message listing "
    "what is affected. Empty or 0: each alert at once.",
    "group_by": "The labels the alerts of one group share, separated by commas. Empty: "
    "org, site (one message per site).",
    "continue": "Also try the routes after this one: an alert it takes can reach them too. "
    "Unticked, the first route that matches is the only one.",
}


def blank_route() -> dict[str, Any]:
    values: dict[str, Any] = {
        "route_name": "",
        "matchers": "",
        "when": "any",
        "repeat": "",
        "open_ticket": "",
        "continue": "",
        "group_wait": "",
        "group_by": "",
    }
    for name in PICKED:
        values[name] = []
    for i in range(1, STEPS + 1):
        values[f"step{i}_after"] = "0" if i == 1 else ""
        values[f"step{i}_channels"] = []
    return values


def _token(value: str) -> bool:
    return len(value) <= 40 and _PLAIN_VALUES.fullmatch(value) is not None


def route_values(form: FormData) -> dict[str, Any]:
    """What was typed and picked, as typed (cut to sane lengths), to check or show again."""
    values: dict[str, Any] = {
        "route_name": text(form, "route_name").strip()[:300],
        "matchers": text(form, "matchers")[:5000],
        "when": text(form, "when").strip()[:20],
        "repeat": text(form, "repeat").strip()[:20],
        "open_ticket": "1" if text(form, "open_ticket") == "1" else "",
        "continue": "1" if text(form, "continue") == "1" else "",
        "group_wait": text(form, "group_wait").strip()[:20],
        "group_by": text(form, "group_by").strip()[:500],
    }
    for name in PICKED:
        values[name] = [v for v in texts(form, name) if _token(v)][:200]
    for i in range(1, MAX_STEPS + 1):
        after, ticked = text(form, f"step{i}_after").strip()[:20], texts(form, f"step{i}_channels")
        if i > STEPS and not after and not ticked:
            continue
        values[f"step{i}_after"] = after
        values[f"step{i}_channels"] = [v for v in ticked if v.isdigit() and len(v) <= 10][:20]
    return values


def shown_steps(values: dict[str, Any]) -> range:
    """The step fieldsets to show: those in use and one empty more (at least STEPS)."""
    used = [
        i
        for i in range(1, MAX_STEPS + 1)
        if values.get(f"step{i}_after") or values.get(f"step{i}_channels")
    ]
    return range(1, min(MAX_STEPS, max(STEPS, max(used, default=0) + 1)) + 1)


def _minutes(value: str, most: int) -> int | None:
    """A whole number of minutes from 0 to `most`, or None."""
    if not value.isdigit() or len(value) > 6 or int(value) > most:
        return None
    return int(value)


def _one_of(label: str, picked: list[str]) -> str:
    """`site=3` for one value, `site=~3|5` for several."""
    unique = sorted(set(picked), key=lambda v: (len(v), v))
    return f"{label}={unique[0]}" if len(unique) == 1 else f"{label}=~{'|'.join(unique)}"


def _allowed(name: str, choices: Choices) -> set[str]:
    if name in BY_ID:
        return {value for value, _ in choices.of(PICKED[name])}
    return {value for value, _ in (SEVERITIES if name == "severities" else KINDS)}


_NOT_LISTED = {
    "sites": "Choose sites from the list.",
    "assets": "Choose assets from the list.",
    "checks": "Choose checks from the list.",
    "severities": "Choose from the listed severities.",
    "kinds": "Choose from the listed sources.",
}


def route_input(
    org_id: int | None, values: dict[str, Any], usable: set[int], choices: Choices
) -> tuple[dict[str, Any], FieldErrors]:
    """RouteCreate's input (without a position); what the form itself can tell is wrong
    comes back as messages by field."""
    errors: FieldErrors = {}
    matchers: list[str] = []
    for name, label in PICKED.items():
        picked = values.get(name) or []
        if not picked:
            continue
        if not set(picked) <= _allowed(name, choices):
            errors[name] = [_NOT_LISTED[name]]
        else:
            matchers.append(_one_of(label, picked))
    typed = [line.strip() for line in str(values["matchers"]).splitlines() if line.strip()]
    for n, line in enumerate(typed, 1):
        try:
            Matcher.parse(line)
        except ValueError as exc:
            errors.setdefault("matchers", []).append(f"Line {n}: {exc}.")
    matchers += typed
    steps = []
    for i in shown_steps(values):
        after, ticked = values.get(f"step{i}_after", ""), values.get(f"step{i}_channels", [])
        if not ticked and (i > 1 and not after):
            continue  # a step left empty
        where = f"step{i}"
        minutes = _minutes(after or "0", MAX_DELAY_MIN)
        if minutes is None:
            errors.setdefault(where, []).append("Enter whole minutes, from 0 to 10080 (a week).")
        if not ticked:
            errors.setdefault(where, []).append("Tick at least one channel for this step.")
        elif any(int(ch) not in usable for ch in ticked):
            errors.setdefault(where, []).append("Choose channels from the list.")
        if minutes is not None and ticked:
            steps.append({"after_s": minutes * 60, "channels": [int(ch) for ch in ticked]})
    repeat_s = None
    if values["repeat"]:
        minutes = _minutes(values["repeat"], MAX_DELAY_MIN)
        if minutes is None or minutes < 1:
            errors["repeat"] = ["Enter whole minutes, from 1 to 10080 (a week), or leave empty."]
        else:
            repeat_s = minutes * 60
    group_wait_s = 0
    if values["group_wait"]:
        wait = values["group_wait"]
        if not wait.isdigit() or len(wait) > 5 or int(wait) > MAX_GROUP_WAIT_S:
            errors["group_wait"] = [
                "Enter whole seconds, from 0 to 3600 (an hour), or leave empty."
            ]
        else:
            group_wait_s = int(wait)
    group_by = [g for g in re.split(r"[,\s]+", values["group_by"]) if g] or None
    if group_by and not all(_LABEL.fullmatch(g) for g in group_by):
        errors["group_by"] = [
            "Label names are letters, digits and _, separated by commas: e.g. org, site."
        ]
    data = {
        "org_id": org_id,
        "name": values["route_name"],
        "matchers": matchers,
        "when": values["when"],
        "steps": steps,
        "repeat_s": repeat_s,
        "continue": values["continue"] == "1",
        "open_ticket": values["open_ticket"] == "1",
        "group_wait_s": group_wait_s,
        "group_by": group_by,
    }
    return data, errors


_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


def _picked(matcher: Matcher, allowed: set[str]) -> list[str] | None:
    """The values a matcher picks when the form can show it as picked ones, else None."""
    if matcher.op is MatchOp.EQ:
        found = [matcher.value]
    elif matcher.op is MatchOp.RE and _PLAIN_VALUES.fullmatch(matcher.value):
        found = matcher.value.split("|")
    else:
        return None
    return found if set(found) <= allowed else None


def values_of(route: RouteOut, choices: Choices) -> dict[str, Any]:
    """The form's values for a stored route: matchers on a site, asset, check, severity or
    kind it can show as picked (by name) go there; every other matcher stays a line."""
    values = blank_route()
    fields_of = {label: name for name, label in PICKED.items()}
    lines = []
    for text_ in route.matchers:
        try:
            matcher = Matcher.parse(text_)
        except ValueError:
            lines.append(text_)
            continue
        name = fields_of.get(matcher.name)
        found = None
        if name is not None and not values[name]:
            found = _picked(matcher, _allowed(name, choices))
        if name is not None and found:
            values[name] = found
        else:
            lines.append(text_)
    values.update(
        route_name=route.name,
        matchers="\n".join(lines),
        when=route.when,
        repeat=str(route.repeat_s // 60) if route.repeat_s else "",
        open_ticket="1" if route.open_ticket else "",
        group_wait=str(route.group_wait_s) if route.group_wait_s else "",
        group_by=", ".join(route.group_by or []),
        **{"continue": "1" if route.continue_ else ""},
    )
    ordered = sorted(route.steps, key=lambda s: int(s.get("after_s", 0)))
    for i in range(1, max(STEPS, len(ordered)) + 1):
        step = ordered[i - 1] if i <= len(ordered) else None
        values[f"step{i}_after"] = str(int(step["after_s"]) // 60) if step else ""
        values[f"step{i}_channels"] = [str(ch) for ch in step["channels"]] if step else []
    return values


def place_route(errors: FieldErrors) -> FieldErrors:
    """Messages by this form's fields: the service speaks of name, steps, repeat_s."""
    names = {
        "name": "route_name",
        "repeat_s": "repeat",
        "steps": "step1",
        "after_s": "step1",
        "channels": "step1",
        "matchers": "matchers",
        "group_wait_s": "group_wait",
    }
    out: FieldErrors = {}
    for key, messages in errors.items():
        for message in messages:
            where = names.get(key, key)
            if key == "_form" and "matcher" in message.lower():
                where = "matchers"
            if key == "_form" and "channel" in message.lower():
                where = "step1"
            found = out.setdefault(where, [])
            if message not in found:
                found.append(message)
    return out


# ---- in words ---------------------------------------------------------------------------------


def delay_text(seconds: int) -> str:
    """0 -> 'at once', 900 -> 'after 15 min', 5400 -> 'after 1 h 30 min'."""
    if seconds <= 0:
        return "at once"
    return f"after {minutes_text(seconds)}"


def minutes_text(seconds: int) -> str:
    minutes = max(round(seconds / 60), 1)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{mins} min" if mins else "",
    ]
    return " ".join(p for p in parts if p)


def steps_text(route: RouteOut, names: dict[int, str]) -> str:
    """'at once: on duty; after 15 min: on call, manager'."""
    parts = []
    for step in sorted(route.steps, key=lambda s: int(s.get("after_s", 0))):
        channels = ", ".join(names.get(int(ch), f"channel {ch}") for ch in step.get("channels", []))
        parts.append(f"{delay_text(int(step.get('after_s', 0)))}: {channels}")
    return "; ".join(parts)


def when_text(when: str) -> str:
    return _WHEN_WORDS.get(when, when)


def matches_text(matchers: list[str], choices: Choices) -> str:
    """A route's matchers as people read them: `site=~3|5` is 'site: HQ or Branch' when the
    form knows those sites by name; anything else as written."""
    parts = []
    for written in matchers:
        try:
            matcher = Matcher.parse(written)
        except ValueError:
            parts.append(written)
            continue
        field_ = next((f for f, label in PICKED.items() if label == matcher.name), None)
        names = dict(choices.of(matcher.name)) if field_ in BY_ID else {}
        found = _picked(matcher, set(names)) if names else None
        if found:
            parts.append(f"{matcher.name}: {' or '.join(names[v] for v in found)}")
        else:
            parts.append(written)
    return ", ".join(parts)
