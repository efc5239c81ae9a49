"""A check type's settings as form fields, read from its probe's own `Params` model.

Each probe declares its parameters once, as a pydantic model with defaults and descriptions;
the form is drawn from that model, so a new parameter shows up here without a template edit.
Typed text is kept as typed (strings) until it is turned into the params the service checks.
"""

from __future__ import annotations

import json
import re
import types
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from starlette.datastructures import FormData

from forewarn.probes import registry
from forewarn.web.forms import FieldErrors, text

PREFIX = "p_"
# The params as a whole: a rule across several of them ("crit_days must not be above ...").
WHOLE = "params"

_LABELS: dict[str, str] = {
    "warn": "Warning threshold",
    "crit": "Critical threshold",
    "warn_time": "Warning response time",
    "crit_time": "Critical response time",
    "warn_days": "Warn below (days left)",
    "crit_days": "Critical below (days left)",
    "expect_status": "Expected status codes",
    "keyword_absent": "Keyword that must be absent",
    "verify_tls": "Verify the TLS certificate",
    "verify_chain": "Verify the certificate chain",
    "verify_host": "Verify the host name",
    "follow_redirects": "Follow redirects",
    "min_version": "Lowest TLS version",
    "server_name": "Server name (SNI)",
    "ca_file": "Extra CA file",
    "max_body": "Read at most (bytes)",
    "read_bytes": "Read at most (bytes)",
    "basic_auth_user": "Basic auth user",
    "basic_auth_password": "Basic auth password",
    "oid": "OID",
    "auth_protocol": "Auth protocol (v3)",
    "auth_key": "Auth passphrase (v3)",
    "priv_protocol": "Privacy protocol (v3)",
    "priv_key": "Privacy passphrase (v3)",
    "user": "User (v3)",
    "period_s": "Expected every (s)",
    "grace_s": "Grace (s)",
    "max_runtime_s": "Longest run (s)",
    "window_s": "Averaged over (s)",
    "args": "Arguments",
    "privileged": "Socket",
}

# Hints for parameters whose model carries no description.
_HINTS: dict[tuple[str, str], str] = {
    ("ping", "count"): "Echo requests per run.",
    ("ping", "interval"): "Seconds between echo requests.",
    ("ping", "warn"): "Round trip in ms and packet loss, e.g. 100,20%.",
    ("ping", "crit"): "Round trip in ms and packet loss, e.g. 500,60%.",
    ("ping", "privileged"): "auto: an unprivileged ICMP socket when the kernel allows it.",
    ("dns", "type"): "The record asked for.",
    ("dns", "server"): "IP or IP:port of the resolver; empty for the system's resolver.",
    ("dns", "expect"): "One expected answer per line; empty accepts any answer.",
    ("dns", "warn_time"): "Seconds, as a Nagios range, e.g. 0.5.",
    ("dns", "crit_time"): "Seconds, as a Nagios range, e.g. 2.",
    ("nagios", "args"): "One argument per line, e.g. -w then 80 then -c then 90.",
    ("snmp", "version"): "2c or 3.",
    ("http", "headers"): "One per line, as Name: value.",
    ("http", "expect_status"): "Separated by commas or lines, e.g. 200, 301.",
    ("agent", "labels"): "One per line, as name=value, e.g. mount=/.",
    ("forecast", "labels"): "One per line, as name=value, e.g. mount=/srv; empty: every series.",
    ("anomaly", "labels"): "One per line, as name=value, e.g. mount=/srv; empty: every series.",
    ("agent", "warn"): "A Nagios range, e.g. 80 (above 80 warns).",
    ("agent", "crit"): "A Nagios range, e.g. 90.",
}

Kind = Literal["text", "password", "number", "checkbox", "select", "lines", "pairs", "json"]


@dataclass(frozen=True)
class ParamField:
    """One input of the settings fieldset."""

    name: str
    label: str
    kind: Kind
    hint: str
    required: bool
    default: Any
    options: list[tuple[str, str]] = field(default_factory=list)
    whole: bool = True  # numbers: whole numbers only

    @property
    def input_name(self) -> str:
        return PREFIX + self.name

    @property
    def default_text(self) -> str:
        return _as_text(self.kind, self.default)


def _label(name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    words = name.removesuffix("_s").replace("_", " ")
    words = re.sub(r"\b(tls|url|oid|snmp|dns|http)\b", lambda m: m.group(1).upper(), words)
    return words[:1].upper() + words[1:] + (" (s)" if name.endswith("_s") else "")


def _optional(annotation: Any) -> tuple[Any, bool]:
    """The annotation without `| None`, and whether None was allowed."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) < len(get_args(annotation)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True  # noqa: UP007
    return annotation, False


def _choices(annotation: Any) -> list[str] | None:
    """Select options for a Literal, or a union of bool and a Literal ('auto', true, false)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return [str(a) for a in get_args(annotation)]
    if origin in (Union, types.UnionType):
        out: list[str] = []
        for arg in get_args(annotation):
            if arg is bool:
                out += ["true", "false"]
            elif get_origin(arg) is Literal:
                out = [str(a) for a in get_args(arg)] + out
            else:
                return None
        return out
    return None


def _kind(annotation: Any, info: FieldInfo) -> tuple[Kind, list[str], bool]:
    choices = _choices(annotation)
    if choices is not None:
        return "select", choices, True
    if annotation is bool:
        return "checkbox", [], True
    if annotation in (int, float):
        return "number", [], annotation is int
    if annotation is str:
        return ("password" if info.repr is False else "text"), [], True
    origin = get_origin(annotation)
    if origin in (list, tuple):
        return "lines", [], True
    if origin is dict and get_args(annotation) == (str, str):
        return "pairs", [], True
    return "json", [], True


def model_of(check_type: str) -> type[BaseModel]:
    params: type[BaseModel] = registry.module(check_type).Params
    return params


def fields(check_type: str) -> list[ParamField]:
    """The settings of a check type, in the order its probe declares them."""
    out = []
    for name, info in model_of(check_type).model_fields.items():
        annotation, _ = _optional(info.annotation)
        kind, choices, whole = _kind(annotation, info)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        hint = (info.description or _HINTS.get((check_type, name), "")).replace("`", "")
        if hint and not hint.endswith("."):
            hint = hint[:1].upper() + hint[1:] + "."
        out.append(
            ParamField(
                name=name,
                label=_label(name),
                kind=kind,
                hint=hint,
                required=info.is_required(),
                default=default,
                options=[(c, c) for c in choices],
                whole=whole,
            )
        )
    return out


# ---- between stored params and what the form shows ------------------------------------------


def _as_text(kind: Kind, value: Any) -> str:
    if value is None:
        return ""
    if kind == "checkbox":
        return "on" if value else ""
    if kind == "select" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "lines":
        return "\n".join(str(v) for v in value)
    if kind == "pairs":
        return "\n".join(f"{k}: {v}" for k, v in dict(value).items())
    if kind == "json":
        return json.dumps(value, indent=2)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def values_of(check_type: str, params: dict[str, Any] | None = None) -> dict[str, str]:
    """Form values: the stored params where set, each default otherwise."""
    given = params or {}
    return {
        f.input_name: _as_text(f.kind, given.get(f.name, f.default)) for f in fields(check_type)
    }


def read(check_type: str, form: FormData) -> dict[str, str]:
    """What was typed into the settings, as typed (an unticked box sends nothing: empty)."""
    # PostgreSQL cannot store NUL in JSON text: drop it here, as the other inputs refuse it.
    return {
        f.input_name: text(form, f.input_name)[:10_000].replace("\x00", "")
        for f in fields(check_type)
    }


# ---- from the form to params --------------------------------------------------------------------


def _number(f: ParamField, raw: str) -> int | float:
    cleaned = raw.strip().replace("_", "")
    try:
        return int(cleaned) if f.whole else float(cleaned)
    except ValueError:
        raise ValueError("Enter a whole number." if f.whole else "Enter a number.") from None


def _pairs(raw: str) -> dict[str, str]:
    """'Name: value' or 'name=value' per line; whichever sign comes first splits the line."""
    out: dict[str, str] = {}
    for line in raw.splitlines():
        if not line.strip():
            continue
        cut = min((i for i in (line.find(":"), line.find("=")) if i > 0), default=-1)
        if cut < 0:
            raise ValueError(f"Write each line as name: value (line {line.strip()!r}).")
        out[line[:cut].strip()] = line[cut + 1 :].strip()
    return out


def _lines(f: ParamField, raw: str) -> list[str]:
    if f.name == "expect_status":  # status codes read naturally as "200, 301"
        return [p for p in re.split(r"[\s,;]+", raw) if p]
    return [line.strip() for line in raw.splitlines() if line.strip()]


def _value(f: ParamField, raw: str) -> Any:
    """The typed value of one field; ValueError with a message for the person."""
    match f.kind:
        case "checkbox":
            return raw != ""
        case "number":
            return _number(f, raw)
        case "select":
            with_bool = any(value == "true" for value, _ in f.options)
            return {"true": True, "false": False}.get(raw, raw) if with_bool else raw
        case "lines":
            return _lines(f, raw)
        case "pairs":
            return _pairs(raw)
        case "json":
            try:
                return json.loads(raw)
            except ValueError:
                raise ValueError("Enter valid JSON.") from None
    return raw


def _same_as_default(f: ParamField, value: Any) -> bool:
    if f.default is None:
        return False
    if isinstance(f.default, tuple | list) and isinstance(value, list):
        return list(f.default) == value
    return bool(value == f.default and type(value) is type(f.default))


def to_params(check_type: str, values: dict[str, str]) -> tuple[dict[str, Any], FieldErrors]:
    """The params to send: typed, leaving out what is empty or the probe's default.

    Leaving defaults out keeps a definition short and lets the probe's defaults evolve; it also
    spares rules like SNMP's "community is for v2c" a value nobody chose.
    """
    params: dict[str, Any] = {}
    errors: FieldErrors = {}
    for f in fields(check_type):
        raw = values.get(f.input_name, "")
        if f.kind not in ("checkbox", "lines", "pairs") and raw.strip() == "":
            continue
        try:
            value = _value(f, raw if f.kind == "password" else raw.strip())
        except ValueError as exc:
            errors[f.input_name] = [str(exc)]
            continue
        if value in ([], {}) and not f.required:
            continue
        if not _same_as_default(f, value):
            params[f.name] = value
    return params, errors
