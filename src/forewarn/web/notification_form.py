"""Notification settings on the pages: the channel and route forms, and routes in words.

The two forms share a page, so their fields have names of their own (channel_name,
route_name); the service's words for them (name, after_s, repeat_s) are mapped back here.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from forewarn.domain.alerting import Matcher
from forewarn.services.notify import RouteOut
from forewarn.web.forms import FieldErrors, text, texts

STEPS = 3  # the form offers three steps: on duty, on call, the manager
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
        "One per line, all must hold: severity=critical, type!=heartbeat, asset=~12|14. "
        "Empty: every alert."
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


def channel_input(org_id: int, values: dict[str, str]) -> dict[str, Any]:
    data = {"org_id": org_id, "name": values["channel_name"], "url": values["url"]}
    if values.get("secret"):
        data["secret"] = values["secret"]
    return data


def place_channel(errors: FieldErrors) -> FieldErrors:
    return {("channel_name" if k == "name" else k): v for k, v in errors.items()}


# ---- routes -----------------------------------------------------------------------------------


def blank_route() -> dict[str, Any]:
    values: dict[str, Any] = {"route_name": "", "matchers": "", "when": "any", "repeat": ""}
    for i in range(1, STEPS + 1):
        values[f"step{i}_after"] = "0" if i == 1 else ""
        values[f"step{i}_channels"] = []
    return values


def route_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        "route_name": text(form, "route_name").strip()[:300],
        "matchers": text(form, "matchers")[:5000],
        "when": text(form, "when").strip()[:20],
        "repeat": text(form, "repeat").strip()[:20],
    }
    for i in range(1, STEPS + 1):
        values[f"step{i}_after"] = text(form, f"step{i}_after").strip()[:20]
        values[f"step{i}_channels"] = [
            v for v in texts(form, f"step{i}_channels") if v.isdigit() and len(v) <= 10
        ][:20]
    return values


def _minutes(value: str, most: int) -> int | None:
    """A whole number of minutes from 0 to `most`, or None."""
    if not value.isdigit() or len(value) > 6 or int(value) > most:
        return None
    return int(value)


def route_input(
    org_id: int, values: dict[str, Any], position: int, usable: set[int]
) -> tuple[dict[str, Any], FieldErrors]:
    """RouteCreate's input; what the form itself can tell is wrong comes back as messages."""
    errors: FieldErrors = {}
    matchers = [line.strip() for line in str(values["matchers"]).splitlines() if line.strip()]
    for n, line in enumerate(matchers, 1):
        try:
            Matcher.parse(line)
        except ValueError as exc:
            errors.setdefault("matchers", []).append(f"Line {n}: {exc}.")
    steps = []
    for i in range(1, STEPS + 1):
        after, ticked = values[f"step{i}_after"], values[f"step{i}_channels"]
        if not ticked and (i > 1 and not after):
            continue  # a step left empty
        field = f"step{i}"
        minutes = _minutes(after or "0", MAX_DELAY_MIN)
        if minutes is None:
            errors.setdefault(field, []).append("Enter whole minutes, from 0 to 10080 (a week).")
        if not ticked:
            errors.setdefault(field, []).append("Tick at least one channel for this step.")
        elif any(int(ch) not in usable for ch in ticked):
            errors.setdefault(field, []).append("Choose channels from the list.")
        if minutes is not None and ticked:
            steps.append({"after_s": minutes * 60, "channels": [int(ch) for ch in ticked]})
    repeat_s = None
    if values["repeat"]:
        minutes = _minutes(values["repeat"], MAX_DELAY_MIN)
        if minutes is None or minutes < 1:
            errors["repeat"] = ["Enter whole minutes, from 1 to 10080 (a week), or leave empty."]
        else:
            repeat_s = minutes * 60
    data = {
        "org_id": org_id,
        "name": values["route_name"],
        "position": position,
        "matchers": matchers,
        "when": values["when"],
        "steps": steps,
        "repeat_s": repeat_s,
    }
    return data, errors


def place_route(errors: FieldErrors) -> FieldErrors:
    """Messages by this form's fields: the service speaks of name, steps, repeat_s."""
    names = {
        "name": "route_name",
        "repeat_s": "repeat",
        "steps": "step1",
        "after_s": "step1",
        "channels": "step1",
        "matchers": "matchers",
    }
    out: FieldErrors = {}
    for key, messages in errors.items():
        for message in messages:
            field = names.get(key, key)
            if key == "_form" and "matcher" in message.lower():
                field = "matchers"
            found = out.setdefault(field, [])
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
