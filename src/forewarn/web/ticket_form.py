"""The ticket forms: reporting a problem, working a ticket, commenting.

The detail page holds two forms, so their fields have names of their own (assignee, body);
the service's words for them (assignee_id) are mapped back here.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from forewarn.services.tickets import TicketDetail
from forewarn.web.forms import FORM_WIDE, FieldErrors, text

HINTS = {
    "title": "What is wrong, in a line: e.g. The printer on the first floor prints blank pages.",
    "description": "What you see, since when, who is affected, what you tried.",
    "priority": "Urgent: work has stopped. High: someone cannot work. Normal: it can wait "
    "a day. Low: whenever there is time.",
}


# ---- reporting a problem ----------------------------------------------------------------------


def blank_report() -> dict[str, str]:
    return {"title": "", "description": "", "priority": "normal"}


def report_values(form: FormData) -> dict[str, str]:
    return {
        "title": text(form, "title").strip()[:1000],
        "description": text(form, "description")[:30_000],
        "priority": text(form, "priority").strip()[:20],
    }


def report_input(org_id: int, values: dict[str, str]) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "title": values["title"],
        "description": values["description"].strip(),
        "priority": values["priority"] or "normal",
    }


def place_report(errors: FieldErrors) -> FieldErrors:
    """Messages about the organization (or anything else) go to the top of the form."""
    fields = {"title", "description", "priority"}
    placed: FieldErrors = {}
    for key, messages in errors.items():
        placed.setdefault(key if key in fields else FORM_WIDE, []).extend(messages)
    return placed


# ---- working a ticket and commenting -----------------------------------------------------------


def current_values(ticket: TicketDetail) -> dict[str, str]:
    """The work form as the ticket stands, and an empty comment."""
    return {
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee": str(ticket.assignee_id or 0),
        "body": "",
    }


def work_values(form: FormData) -> dict[str, str]:
    return {
        "status": text(form, "status").strip()[:20],
        "priority": text(form, "priority").strip()[:20],
        "assignee": text(form, "assignee").strip()[:12],
    }


def work_input(values: dict[str, str]) -> tuple[dict[str, Any], FieldErrors]:
    """TicketUpdate's input; an assignee that is no id comes back as a message."""
    data: dict[str, Any] = {
        "status": values["status"] or None,
        "priority": values["priority"] or None,
    }
    assignee = values["assignee"] or "0"
    if not assignee.isdigit() or len(assignee) > 10:
        return data, {"assignee": ["Choose one of the listed options."]}
    data["assignee_id"] = int(assignee)
    return data, {}


def place_work(errors: FieldErrors) -> FieldErrors:
    return {("assignee" if k == "assignee_id" else k): v for k, v in errors.items()}


def comment_values(form: FormData) -> dict[str, str]:
    return {"body": text(form, "body").strip()[:30_000]}


def place_comment(errors: FieldErrors) -> FieldErrors:
    """A closed ticket's refusal has no field: it belongs with the comment all the same."""
    return {("body" if k == FORM_WIDE else k): v for k, v in errors.items()}
