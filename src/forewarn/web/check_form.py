"""The check form: its fields as typed, the input CheckCreate / CheckUpdate expect, and the
service's refusals placed next to the fields they are about."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.datastructures import FormData

from forewarn.probes import registry
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import CheckOut, CheckTiming
from forewarn.web import check_params
from forewarn.web.forms import FORM_WIDE, FieldErrors, from_service, from_validation, text

T = TypeVar("T")
M = TypeVar("M")

FIELDS = (
    "name",
    "type",
    "target",
    "interval_s",
    "retry_interval_s",
    "max_attempts",
    "timeout_s",
    "enabled",
    "parent_id",
)
TIMING = ("interval_s", "retry_interval_s", "max_attempts", "timeout_s")

HINTS = {
    "interval_s": "Seconds between runs, from 10 to 86,400.",
    "retry_interval_s": "Seconds between retries while a problem is not yet confirmed.",
    "max_attempts": "Results in a row before a problem is confirmed (hard) and notified, 1 to 10.",
    "timeout_s": "Seconds one run may take, from 0.5 to 120.",
    "parent_id": "Choose one of the listed checks, or none.",
}

TYPE_LABELS: dict[str, str] = {
    "ping": "Ping (ICMP)",
    "tcp": "TCP port",
    "http": "Web page (HTTP)",
    "tls": "TLS certificate",
    "dns": "DNS record",
    "snmp": "SNMP",
    "nagios": "Nagios plugin",
    "prometheus": "Prometheus metric",
    "heartbeat": "Heartbeat (the job calls us)",
    "agent": "Agent metric or service",
    "forecast": "Forecast (disk full, memory)",
    "anomaly": "Anomaly (unusual for the hour)",
}

# What the target is for each type; passive types have none.
TARGETS: dict[str, tuple[str, str]] = {
    "ping": ("Host", "A host name or IP address, e.g. fs01.office.lan."),
    "tcp": ("Host and port", "host:port, e.g. mail.example.com:25 or [2001:db8::1]:443."),
    "http": ("URL", "The address to request, e.g. https://shop.example.com/health."),
    "tls": ("Host", "host or host:port (443 when left out), e.g. shop.example.com."),
    "dns": ("Name", "The name to resolve, e.g. example.com (an address for PTR)."),
    "snmp": ("Device", "host or host:port (161 when left out)."),
    "nagios": ("Plugin", "The plugin's file name or path, e.g. check_disk."),
    "prometheus": ("Exporter URL", "e.g. http://fs01.office.lan:9100/metrics."),
}


def type_label(check_type: str) -> str:
    return TYPE_LABELS.get(check_type, check_type)


def type_options() -> list[tuple[str, str]]:
    return [(t, type_label(t)) for t in registry.TYPES]


def has_target(check_type: str) -> bool:
    return check_type not in registry.PASSIVE


def _timing_defaults() -> dict[str, str]:
    out = {}
    for name in TIMING:
        default = CheckTiming.model_fields[name].default
        out[name] = f"{default:g}" if isinstance(default, float) else str(default)
    return out


def blank(check_type: str = "tcp") -> dict[str, str]:
    values = dict.fromkeys(FIELDS, "")
    values.update(_timing_defaults(), type=check_type, enabled="on")
    values.update(check_params.values_of(check_type))
    return values


def from_check(check: CheckOut) -> dict[str, str]:
    return {
        "name": check.name,
        "type": check.type,
        "target": check.target,
        "interval_s": str(check.interval_s),
        "retry_interval_s": str(check.retry_interval_s),
        "max_attempts": str(check.max_attempts),
        "timeout_s": f"{check.timeout_s:g}",
        "enabled": "on" if check.enabled else "",
        "parent_id": "" if check.parent_id is None else str(check.parent_id),
        **check_params.values_of(check.type, check.params),
    }


def read_type(raw: str, fallback: str = "tcp") -> str:
    """A check type from a form or URL; anything unknown is the fallback, never an error."""
    return raw if raw in registry.TYPES else fallback


def from_form(form: FormData, check_type: str) -> dict[str, str]:
    values = {key: text(form, key)[:2000] for key in FIELDS}
    values["type"] = check_type
    values.update(check_params.read(check_type, form))
    return values


def to_input(values: dict[str, str], params: dict[str, Any]) -> dict[str, Any]:
    """The fields CheckCreate and CheckUpdate share; blanks fall back to the defaults."""
    out: dict[str, Any] = {
        "name": values["name"],
        "target": values["target"] if has_target(values["type"]) else "",
        "params": params,
        "enabled": values["enabled"] != "",
        "parent_id": values["parent_id"] or None,
    }
    defaults = _timing_defaults()
    for name in TIMING:
        out[name] = values[name].strip() or defaults[name]
    return out


# ---- refusals next to their fields ------------------------------------------------------------


def _param_field(loc: list[Any]) -> str | None:
    """["body", "params", "warn", 0] -> "p_warn"; ["body", "params"] -> the params as a whole."""
    parts = [str(p) for p in loc if p != "body"]
    if not parts or parts[0] != "params":
        return None
    named = [p for p in parts[1:] if not p.isdigit()]
    return check_params.PREFIX + named[0] if named else check_params.WHOLE


def _where(exc: ServiceError, check_type: str) -> FieldErrors:
    """A refusal without field locations: which field its words are about.

    The probe's own checks of the target raise plain messages ("tcp check: target 'x':
    missing port"); SNMP folds its parameter errors into "field: message; field: message".
    """
    detail = exc.detail
    if "parent" in detail or "depend" in detail:
        return {"parent_id": [_sentence(detail)]}
    rest = detail.removeprefix(f"{check_type} check: ")
    if rest == detail:
        return {FORM_WIDE: [_sentence(detail)]}
    names = {f.name for f in check_params.fields(check_type)}
    errors: FieldErrors = {}
    for part in rest.split("; "):
        head, sep, message = part.partition(": ")
        name = head.split(".")[0]
        if sep and name in names:
            errors.setdefault(check_params.PREFIX + name, []).append(_sentence(message))
        else:
            errors.setdefault(_target_or_whole(check_type, part), []).append(_sentence(part))
    return errors


def _target_or_whole(check_type: str, message: str) -> str:
    """Only the target is checked outside the Params model, except by SNMP, whose rules
    across several params ("SNMP v3 needs a user") arrive the same way."""
    if not has_target(check_type):
        return check_params.WHOLE
    if check_type == "snmp" and "target" not in message.lower():
        return check_params.WHOLE
    return "target"


def _sentence(message: str) -> str:
    message = message.removeprefix("Value error, ").strip() or "Not valid"
    message = message[0].upper() + message[1:]
    return message if message.endswith(".") else message + "."


def _merge(into: FieldErrors, more: FieldErrors) -> None:
    for key, messages in more.items():
        found = into.setdefault(key, [])
        found.extend(m for m in messages if m not in found)


def refusal(exc: ServiceError, check_type: str) -> FieldErrors:
    """A 409 or 422 of the check service as messages by form field."""
    if exc.status == 409:
        return from_service(exc, "name")
    if not exc.errors:
        return _where(exc, check_type)
    errors: FieldErrors = {}
    for err in exc.errors:
        loc = list(err.get("loc", ()))
        named = [str(p) for p in loc if isinstance(p, str) and p != "body"]
        field = _param_field(loc) or (named[-1] if named else FORM_WIDE)
        _merge(errors, {field: [_sentence(str(err.get("msg", "")))]})
    return errors


def attempt(
    build: Callable[[], M],
    run: Callable[[M], T],
    check_type: str,
    known: FieldErrors,
) -> tuple[T | None, FieldErrors]:
    """Validate the input, then create or update; messages instead of a raise for bad input.

    `known` holds what the form could not even read (a word where a number goes): with any,
    nothing is run, but the rest is still validated so that every message shows at once.
    Not found and forbidden still raise, to end on the error pages like anywhere else.
    """
    errors: FieldErrors = {k: list(v) for k, v in known.items()}
    try:
        data = build()
    except ValidationError as exc:
        _merge(errors, from_validation(exc, HINTS))
        return None, errors
    if errors:
        return None, errors
    try:
        return run(data), {}
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        return None, refusal(exc, check_type)
