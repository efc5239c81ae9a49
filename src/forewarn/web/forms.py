"""Reading posted forms and turning refusals into messages next to the fields that caused them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.datastructures import FormData

from forewarn.services.errors import ServiceError

T = TypeVar("T")
FieldErrors = dict[str, list[str]]
FORM_WIDE = "_form"

# Pydantic's wording is written for programmers; these are for the person at the form.
_PLAIN: dict[str, str] = {
    "missing": "Required.",
    "string_too_short": "Required.",
    "string_too_long": "Too long.",
    "int_parsing": "Enter a whole number.",
    "int_from_float": "Enter a whole number.",
    "decimal_parsing": "Enter a number, like 48.50.",
    "decimal_max_places": "Use at most two decimals.",
    "decimal_max_digits": "That number is too large.",
    "date_from_datetime_parsing": "Enter a date as YYYY-MM-DD.",
    "date_parsing": "Enter a date as YYYY-MM-DD.",
    "enum": "Choose one of the listed options.",
    "literal_error": "Choose one of the listed options.",
    "extra_forbidden": "This field is not expected here.",
}


def text(form: FormData, name: str) -> str:
    """One text field; a missing field or an uploaded file reads as empty."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def texts(form: FormData, name: str) -> list[str]:
    """Every value of a repeated field, such as a group of checkboxes."""
    return [v for v in form.getlist(name) if isinstance(v, str)]


def _sentence(message: str) -> str:
    message = message.removeprefix("Value error, ").strip()
    if not message:
        return "Not valid."
    message = message[0].upper() + message[1:]
    return message if message.endswith(".") else message + "."


def _field_of(loc: Any) -> str:
    """The form field an error belongs to: the innermost named part of its location.

    ("business_hours", "start") is the field "start"; ("tags", 2) is "tags". Our forms are
    flat, so the innermost name is the input the person typed into.
    """
    names = [str(p) for p in loc if isinstance(p, str) and p != "body"]
    return names[-1] if names else FORM_WIDE


def _add(errors: FieldErrors, field: str, message: str) -> None:
    found = errors.setdefault(field, [])
    if message not in found:
        found.append(message)


def from_validation(exc: ValidationError, hints: dict[str, str] | None = None) -> FieldErrors:
    """Messages by field name; `hints` says once, per field, what a valid value looks like."""
    errors: FieldErrors = {}
    for err in exc.errors():
        field = _field_of(err.get("loc", ()))
        kind = err.get("type", "")
        if hints and field in hints and kind != "missing":
            message = hints[field]
        else:
            message = _PLAIN.get(kind) or _sentence(str(err.get("msg", "")))
        _add(errors, field, message)
    return errors


def from_service(exc: ServiceError, clash_field: str) -> FieldErrors:
    """A service's refusal: its field list when it has one; a name clash goes by `clash_field`."""
    errors: FieldErrors = {}
    for err in exc.errors:
        _add(errors, _field_of(err.get("loc", ())), _sentence(str(err.get("msg", ""))))
    if not errors:
        _add(errors, clash_field if exc.status == 409 else FORM_WIDE, _sentence(exc.detail))
    return errors


def attempt(
    action: Callable[[], T], *, clash_field: str = "name", hints: dict[str, str] | None = None
) -> tuple[T | None, FieldErrors]:
    """Run a create or update; on invalid input return the messages instead of raising.

    Only refusals of the input (422, 409) become messages. Not found and forbidden still
    raise, so they end on the error pages like anywhere else.
    """
    try:
        return action(), {}
    except ValidationError as exc:
        return None, from_validation(exc, hints)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        return None, from_service(exc, clash_field)


def error_text(errors: FieldErrors) -> str:
    """Every message of a refusal in one line, for a flash after a redirect."""
    return " ".join(" ".join(messages) for messages in errors.values())
