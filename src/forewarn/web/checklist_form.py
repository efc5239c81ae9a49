"""The checklist forms: starting one from an organization's tickets page (one small form per
template, its fields named "<template>.<parameter>" so they stay apart on one page), and
ticking a step on the ticket's page."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from forewarn.assess.plans import Checklist
from forewarn.domain.inventory import Role
from forewarn.services import checklists
from forewarn.services.context import Context
from forewarn.services.scope import Actor
from forewarn.web import check_views
from forewarn.web.forms import FORM_WIDE, FieldErrors, text

KIND_HINTS = {
    "date": "YYYY-MM-DD.",
    "asset": "Add it to the assets first if it is not listed.",
}


def section(
    ctx: Context,
    actor: Actor,
    org_id: int,
    *,
    failed: str = "",
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    own: str | None = None,
) -> dict[str, Any]:
    """What the tickets page needs for its "Start a checklist" section; `failed` names the
    form refused ("import" for the organization's own templates), `own` the YAML typed."""
    shown = checklists.startable(ctx, actor, org_id)
    tech = actor.can(org_id, Role.TECHNICIAN)
    if own is None:
        own = checklists.own_file(ctx, actor, org_id) if tech else ""
    wants_assets = any(p.kind == "asset" for c in shown for p in c.parameters)
    names = check_views.asset_names(ctx, actor, org_id) if wants_assets else {}
    options = sorted(((str(i), n) for i, n in names.items()), key=lambda o: o[1].lower())
    return {
        "checklist_templates": shown,
        "checklist_assets": [("", "Choose an asset"), *options],
        "checklist_failed": failed,
        "checklist_values": values or {},
        "checklist_errors": errors or {},
        "kind_hints": KIND_HINTS,
        "checklist_own": {"templates": own},
        "checklist_import": tech,
    }


def start_values(form: FormData, checklist: Checklist) -> dict[str, str]:
    return {
        f"{checklist.id}.{p.id}": text(form, f"{checklist.id}.{p.id}").strip()[:1000]
        for p in checklist.parameters
    }


def start_input(checklist: Checklist, values: dict[str, str]) -> dict[str, Any]:
    """ChecklistStart's input: the filled parameters by their own ids (blank ones left out,
    so a required one is named as missing)."""
    filled = {p.id: values.get(f"{checklist.id}.{p.id}", "") for p in checklist.parameters}
    return {"parameters": {k: v for k, v in filled.items() if v}}


def place_start(checklist: Checklist, errors: FieldErrors) -> FieldErrors:
    """The service names parameters by their ids: back to this form's field names."""
    known = {p.id for p in checklist.parameters}
    placed: FieldErrors = {}
    for key, messages in errors.items():
        field = f"{checklist.id}.{key}" if key in known else FORM_WIDE
        placed.setdefault(field, []).extend(messages)
    return placed


def tick_done(form: FormData) -> bool | None:
    """The tick's button says done=1 or done=0; anything else is no tick."""
    return {"1": True, "0": False}.get(text(form, "done").strip())


def import_values(form: FormData) -> str:
    return text(form, "templates")[:300_000]


def place_import(errors: FieldErrors) -> FieldErrors:
    """Every problem of a refused file belongs to the file's field."""
    return {"templates": [m for messages in errors.values() for m in messages]}
