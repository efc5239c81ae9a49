"""The policy form: its check rows as typed, the input PolicyCreate / PolicyUpdate expect, and
the service's refusals placed next to the row and field they are about.

A row's inputs are named "c<row>-<field>" ("c2-target", "c2-p_warn"): the settings of a row
come from its type's probe (web/check_params.py) like on the check form, only prefixed. Rows
are kept as typed (strings) until they are turned into policy checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from forewarn.probes import registry
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import PolicyOut
from forewarn.web import check_form, check_params
from forewarn.web.check_params import ParamField
from forewarn.web.forms import FORM_WIDE, FieldErrors, text

T = TypeVar("T")
M = TypeVar("M")

MAX_ROWS = 200
# The type select's value for a row that changes a check a broader policy defines.
OVERRIDE = ""
# Messages about a row as a whole ("overrides a check no broader policy defines").
ROW_WIDE = "_row"
JSON_FIELD = "params_json"
TIMING = check_form.TIMING
ROW_FIELDS = ("name", "type", "target", JSON_FIELD, *TIMING, "enabled", "remove")
TOP_FIELDS = ("name", "scope", "tag", "exclude")
ENABLED_OPTIONS = [
    ("", "Unchanged (on for a new check)"),
    ("on", "On"),
    ("off", "Off: keep it but do not run it"),
]
TARGET_HINT = "{host} is each asset's host name (its name when it has none), {name} its name"
# A target per type as a policy writes it: the same for every asset it reaches.
EXAMPLES = {
    "ping": "{host}",
    "tcp": "{host}:22",
    "http": "https://{host}/",
    "tls": "{host} or {host}:8443",
    "dns": "{host}",
    "snmp": "{host}",
    "nagios": "check_disk",
    "prometheus": "http://{host}:9100/metrics",
}
HINTS = {
    "exclude": "One check name per line: checks a broader policy defines that these assets "
    "should not get.",
    "tag": "Letters, digits and . _ : -, up to 64, starting with a letter or digit.",
    JSON_FIELD: 'Only the settings to change, as JSON, e.g. {"crit": "97"}. Empty: unchanged.',
}
_SAMPLE_HOST = "host.example.test"  # what the service puts for {host} when it validates


def prefix(index: int) -> str:
    return f"c{index}-"


# ---- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowView:
    """What the template needs to draw one row besides its values."""

    index: int
    check_type: str  # a known type; "" for an override or a type we do not know
    param_fields: list[ParamField]
    has_target: bool
    target_label: str
    target_hint: str

    @property
    def prefix(self) -> str:
        return prefix(self.index)


def row_view(index: int, row: dict[str, str]) -> RowView:
    typed = row.get("type", "")
    known = typed if typed in registry.TYPES else OVERRIDE
    if known:
        label = check_form.TARGETS.get(known, ("Target", ""))[0]
        example = EXAMPLES.get(known)
        hint = f"{TARGET_HINT}; e.g. {example}." if example else f"{TARGET_HINT}."
    else:
        label, hint = "Target", f"Empty: unchanged. {TARGET_HINT}."
    return RowView(
        index=index,
        check_type=known,
        param_fields=check_params.fields(known) if known else [],
        has_target=check_form.has_target(known) if known else True,
        target_label=label,
        target_hint=hint,
    )


def blank_row(check_type: str = "ping") -> dict[str, str]:
    row = dict.fromkeys(ROW_FIELDS, "")
    row["type"] = check_type
    if check_type in registry.TYPES:
        row.update(check_params.values_of(check_type))
    return row


def _number_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def row_of(item: dict[str, Any]) -> dict[str, str]:
    """A stored policy check as form values (its secrets masked, as the service gave them)."""
    check_type = str(item.get("type") or "")
    row = blank_row(check_type)
    row["name"] = str(item.get("name", ""))
    row["target"] = str(item.get("target") or "")
    params = item.get("params") or {}
    if check_type in registry.TYPES:
        row.update(check_params.values_of(check_type, params))
    elif params:
        row[JSON_FIELD] = json.dumps(params, indent=2)
    for name in TIMING:
        if item.get(name) is not None:
            row[name] = _number_text(item[name])
    if item.get("enabled") is not None:
        row["enabled"] = "on" if item["enabled"] else "off"
    return row


def blank() -> dict[str, str]:
    return {"name": "", "scope": "", "tag": "", "exclude": ""}


def from_policy(p: PolicyOut) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The form of a stored policy, with one empty row to add a check."""
    values = {**blank(), "name": p.name, "exclude": "\n".join(p.exclude)}
    return values, [row_of(c) for c in p.checks] + [blank_row()]


def read(form: FormData) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The top fields and every row as typed; a row's settings are its typed type's."""
    values = {key: text(form, key)[:10_000] for key in TOP_FIELDS}
    try:
        count = min(max(int(text(form, "rows")), 0), MAX_ROWS)
    except ValueError:
        count = 0
    rows = []
    for i in range(count):
        p = prefix(i)
        row = {key: text(form, p + key)[:10_000].replace("\x00", "") for key in ROW_FIELDS}
        if row["type"] in registry.TYPES:
            for f in check_params.fields(row["type"]):
                row[f.input_name] = text(form, p + f.input_name)[:10_000].replace("\x00", "")
        rows.append(row)
    return values, rows


def flat(rows: list[dict[str, str]], start: int = 0) -> dict[str, str]:
    """The rows' values under their input names, as the field macros look them up."""
    return {
        prefix(i) + key: value for i, row in enumerate(rows, start) for key, value in row.items()
    }


# ---- from the form to the input -----------------------------------------------------------------


def _is_blank(row: dict[str, str]) -> bool:
    """An untouched row (the empty one at the end): left out, never an error."""
    typed = [row[k].strip() for k in ("name", "target", JSON_FIELD, *TIMING, "enabled")]
    if any(typed):
        return False
    check_type = row["type"]
    if check_type not in registry.TYPES:
        return True
    params, errors = check_params.to_params(check_type, row)
    return not params and not errors


def _json_params(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValueError('Enter valid JSON, like {"crit": "97"}.') from None
    if not isinstance(value, dict):
        raise ValueError('Enter a JSON object: names and values in braces, like {"count": 5}.')
    return value


def _check_of(index: int, row: dict[str, str]) -> tuple[dict[str, Any], FieldErrors]:
    """One policy check from a row, and what the form itself could not read."""
    p = prefix(index)
    errors: FieldErrors = {}
    out: dict[str, Any] = {"name": row["name"]}
    check_type = row["type"]
    if check_type in registry.TYPES:
        out["type"] = check_type
        if check_form.has_target(check_type):
            out["target"] = row["target"]
            if not row["target"].strip():
                example = EXAMPLES.get(check_type, "{host}")
                errors[p + "target"] = [f"Required, e.g. {example}: the hint says how."]
        params, known = check_params.to_params(check_type, row)
        errors.update({p + key: messages for key, messages in known.items()})
        if params:
            out["params"] = params
    elif check_type == OVERRIDE:
        if row["target"].strip():
            out["target"] = row["target"]
        if row[JSON_FIELD].strip():
            try:
                out["params"] = _json_params(row[JSON_FIELD])
            except ValueError as exc:
                errors[p + JSON_FIELD] = [str(exc)]
    else:
        errors[p + "type"] = ["Choose a type from the list."]
    for name in TIMING:
        if row[name].strip():
            out[name] = row[name].strip()
    if row["enabled"] in ("on", "off"):
        out["enabled"] = row["enabled"] == "on"
    if not row["name"].strip():
        errors[p + "name"] = ["Required: the check's name on each asset."]
    return out, errors


def to_checks(rows: list[dict[str, str]]) -> tuple[list[dict[str, Any]], list[int], FieldErrors]:
    """The policy checks of the rows not removed or left blank, and the row each came from."""
    checks: list[dict[str, Any]] = []
    sent: list[int] = []
    errors: FieldErrors = {}
    for i, row in enumerate(rows):
        if row.get("remove") or _is_blank(row):
            continue
        check, known = _check_of(i, row)
        checks.append(check)
        sent.append(i)
        errors.update(known)
    return checks, sent, errors


def exclude_list(values: dict[str, str]) -> list[str]:
    names = [line.strip() for line in values["exclude"].splitlines()]
    return list(dict.fromkeys(n for n in names if n))


def scope_input(values: dict[str, str], provider: bool) -> tuple[dict[str, Any], FieldErrors]:
    """The site, asset or tag PolicyCreate expects, from the scope select (and typed tag).

    Values: "org" / "all" (everyone it can reach), "site:<id>", "asset:<id>", "tag:<tag>", and
    "tag" for the tag typed in its own field.
    """
    scope = values["scope"]
    kind, _, ref = scope.partition(":")
    if scope in ("org", "all"):
        return {}, {}
    if scope == "tag":
        if not values["tag"].strip():
            return {}, {"tag": ["Type the tag, e.g. server."]}
        return {"tag": values["tag"]}, {}
    if kind == "tag" and ref:
        return {"tag": ref}, {}
    if not provider and kind in ("site", "asset") and ref.isdigit():
        return {f"{kind}_id": ref}, {}
    return {}, {"scope": ["Choose what the policy applies to from the list."]}


# ---- refusals next to their rows and fields ---------------------------------------------------


def _sentence(message: str) -> str:
    message = message.removeprefix("Value error, ").strip() or "Not valid"
    message = message.replace(_SAMPLE_HOST, "{host}")
    message = message[0].upper() + message[1:]
    return message if message.endswith(".") else message + "."


def _message(err: ErrorDetails, field: str) -> str:
    kind = err.get("type", "")
    if kind in ("missing", "string_too_short"):
        return "Required."
    if kind == "string_too_long":
        return "Too long."
    if field in check_form.HINTS:
        return check_form.HINTS[field]
    if field == "tag" and kind == "string_pattern_mismatch":
        return HINTS["tag"]
    return _sentence(str(err.get("msg", "")))


def _add(errors: FieldErrors, field: str, message: str) -> None:
    found = errors.setdefault(field, [])
    if message not in found:
        found.append(message)


@dataclass(frozen=True)
class Typed:
    """What was sent, to place refusals: the rows, which of them went to the service (in
    order), the exclusions, and whether the tag was typed rather than chosen."""

    rows: list[dict[str, str]]
    sent: list[int]
    exclude: list[str]
    tag_typed: bool = False

    def row_of(self, k: int) -> int:
        """The form row of the k-th check sent."""
        return self.sent[k] if 0 <= k < len(self.sent) else 0

    def duplicates(self) -> list[int]:
        seen: dict[str, int] = {}
        out = []
        for i in self.sent:
            name = self.rows[i]["name"].strip()
            if name in seen:
                out += [seen[name], i]
            seen.setdefault(name, i)
        return sorted(set(out))

    def both(self) -> list[str]:
        """Names this policy both defines and excludes."""
        names = {self.rows[i]["name"].strip() for i in self.sent}
        return [n for n in self.exclude if n in names]


def _across(typed: Typed) -> FieldErrors:
    """The rules across rows, checked here too: pydantic skips the model's own rules when a
    field already failed, and every message should show at once."""
    errors: FieldErrors = {}
    for i in typed.duplicates():
        _add(errors, prefix(i) + "name", "Another check of this policy has this name.")
    both = typed.both()
    if both:
        _add(
            errors,
            "exclude",
            f"This policy defines {', '.join(both)}: remove it here or from the checks above.",
        )
    return errors


def _rule(message: str, typed: Typed) -> FieldErrors:
    """A rule across fields, placed where it can be fixed."""
    errors = _across(typed)
    lower = message.lower()
    if not errors and ("site" in lower or "asset" in lower or "applies to" in lower):
        _add(errors, "tag" if typed.tag_typed else "scope", _sentence(message))
    return errors or {FORM_WIDE: [_sentence(message)]}


def from_validation(exc: ValidationError, typed: Typed) -> FieldErrors:
    """PolicyCreate's or PolicyUpdate's refusals by input name."""
    errors: FieldErrors = {}
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if len(loc) >= 3 and loc[0] == "checks" and isinstance(loc[1], int):
            field = str(loc[2])
            key = prefix(typed.row_of(loc[1])) + (JSON_FIELD if field == "params" else field)
            _add(errors, key, _message(err, field))
        elif loc and loc[0] == "exclude":
            _add(errors, "exclude", _message(err, "exclude"))
        elif loc and loc[0] in ("tag", "site_id", "asset_id"):
            _add(errors, "tag" if typed.tag_typed else "scope", _message(err, "tag"))
        elif loc and loc[0] == "name":
            _add(errors, "name", _message(err, "name"))
        else:
            for key, messages in _rule(str(err.get("msg", "")), typed).items():
                for message in messages:
                    _add(errors, key, message)
    return errors


_ROW_MESSAGE = re.compile(r"^checks\[(\d+)\] \((.*?)\): (.*)$", re.S)


def _row_refusal(i: int, row: dict[str, str], detail: str, exc: ServiceError) -> FieldErrors:
    """The probe's refusal of one row, by the row's fields (as on the check form)."""
    check_type = row["type"] if row["type"] in registry.TYPES else OVERRIDE
    one = ServiceError(detail, status=422, errors=exc.errors)
    placed = check_form.refusal(one, check_type) if check_type else {FORM_WIDE: [detail]}
    errors: FieldErrors = {}
    for key, messages in placed.items():
        field = {FORM_WIDE: ROW_WIDE, check_params.WHOLE: "params"}.get(key, key)
        if check_type == OVERRIDE and field == "params":
            field = JSON_FIELD
        for message in messages:
            _add(errors, prefix(i) + field, _sentence(message))
    return errors


def refusal(exc: ServiceError, typed: Typed) -> FieldErrors:
    """A 409 or 422 of the policy service by input name.

    The service names the row it refuses by its place in the list it was sent ("checks[1]
    (ssh): tcp check: target ...: missing port"); `typed.sent` maps that place to the row.
    """
    found = _ROW_MESSAGE.match(exc.detail)
    if found:
        i = typed.row_of(int(found.group(1)))
        return _row_refusal(i, typed.rows[i], found.group(3), exc)
    return _rule(exc.detail, typed)


def attempt(
    build: Callable[[], M],
    run: Callable[[M], T],
    typed: Typed,
    known: FieldErrors,
) -> tuple[T | None, FieldErrors]:
    """Validate, then create or update; messages instead of a raise for bad input.

    With anything the form could not read (`known`) nothing is run, but the input is still
    validated so that every message shows at once. Not found and forbidden still raise.
    """
    errors: FieldErrors = {k: list(v) for k, v in known.items()}
    for key, messages in _across(typed).items():
        for message in messages:
            _add(errors, key, message)
    try:
        data = build()
    except ValidationError as exc:
        for key, messages in from_validation(exc, typed).items():
            for message in messages:
                _add(errors, key, message)
        return None, errors
    if errors:
        return None, errors
    try:
        return run(data), {}
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        return None, refusal(exc, typed)


def row_errors(errors: FieldErrors) -> set[int]:
    """The rows with a message, to mark their headings."""
    out = set()
    for key in errors:
        found = re.match(r"c(\d+)-", key)
        if found:
            out.add(int(found.group(1)))
    return out
