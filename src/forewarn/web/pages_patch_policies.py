"""Patch policies on the pages: the form a technician sets an organization's policy with (its
default, or an override for a tag); what each policy decides per machine is shown on the
organization's Patches page (pages_patches)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from forewarn.domain.inventory import Role
from forewarn.services import orgs, patch_policies
from forewarn.services.errors import not_found
from forewarn.services.patch_policies import PatchPolicyCreate, PatchPolicyFields, PatchPolicyOut
from forewarn.services.schemas import OrgOut
from forewarn.services.scope import require
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, text, texts
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

WEEKDAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]
SECURITY = [("auto", "Approved automatically"), ("manual", "Approved by hand")]
OTHER = [
    ("manual", "Approved by hand"),
    ("auto", "Approved automatically"),
    ("never", "Never installed by the policy"),
]
REBOOT = [
    ("when_required", "When required, inside the window"),
    ("always", "After every install, inside the window"),
    ("never", "Never"),
]
HINTS = {
    "window_start": "The organization's wall-clock time, HH:MM.",
    "window_minutes": "15 minutes to 24 hours.",
    "deferral_days": "Install an update this many days after it first appeared (0: at once).",
    "pilot_tag": "Machines with this tag get updates first; empty: no rings.",
    "ring_delay_days": "The rest follow this many days after the pilot installed an update, "
    "if the pilot stayed healthy.",
    "holds": "Package names never installed by the policy, one per line; * and ? allowed.",
    "grace_hours": "A machine that was off during its window installs when it is back, "
    "within this many hours; later it waits for the next window.",
}


def _values(p: PatchPolicyOut | None, tag: str = "") -> dict[str, Any]:
    if p is None:
        return {
            "name": "Patch night" if not tag else f"Patch night ({tag})",
            "tag": tag,
            "security": "auto",
            "other": "manual",
            "deferral_days": "0",
            "pilot_tag": "",
            "ring_delay_days": "7",
            "window_start": "02:00",
            "window_minutes": "120",
            "window_days": [],
            "reboot": "when_required",
            "holds": "",
            "grace_hours": "72",
            "paused": False,
        }
    return {
        **{k: str(v) for k, v in p.model_dump().items() if isinstance(v, int | str)},
        "tag": p.tag or "",
        "pilot_tag": p.pilot_tag or "",
        "window_days": [str(d) for d in p.window_days],
        "holds": "\n".join(p.holds),
        "paused": p.paused,
    }


def _from_form(form: FormData) -> dict[str, Any]:
    names = (
        "name",
        "tag",
        "security",
        "other",
        "deferral_days",
        "pilot_tag",
        "ring_delay_days",
        "window_start",
        "window_minutes",
        "reboot",
        "holds",
        "grace_hours",
    )
    values: dict[str, Any] = {n: text(form, n) for n in names}
    values["window_days"] = texts(form, "window_days")
    values["paused"] = text(form, "paused") == "on"
    return values


def _data(values: dict[str, Any]) -> dict[str, Any]:
    """What the service's model is given: blanks are "none", holds one per line or comma."""
    holds = [h for h in values["holds"].replace(",", "\n").split() if h]
    return {
        **{k: v for k, v in values.items() if k not in ("holds", "tag", "pilot_tag")},
        "tag": values["tag"] or None,
        "pilot_tag": values["pilot_tag"] or None,
        "holds": holds,
    }


def _form(
    request: Request,
    user: WebUser,
    org: OrgOut,
    policy: PatchPolicyOut | None,
    values: dict[str, Any],
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "patches/policy_form.html",
        user,
        status=status,
        section="overview",
        org=org,
        tz=org.timezone,
        policy=policy,
        values=values,
        errors=errors or {},
        hints=HINTS,
        weekdays=WEEKDAYS,
        security_options=SECURITY,
        other_options=OTHER,
        reboot_options=REBOOT,
    )


def _own(request: Request, user: WebUser, org_id: int, policy_id: int) -> PatchPolicyOut:
    """One of this organization's own policies (the provider's is set through the API)."""
    found = patch_policies.get(get_ctx(request), user.actor, policy_id)
    if found.org_id != org_id:
        raise not_found("patch policy")
    return found


@router.get("/orgs/{org_id}/patch-policies/new")
def new_policy(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    tag = request.query_params.get("tag", "")[:64]
    return _form(request, user, org, None, _values(None, tag))


@router.get("/orgs/{org_id}/patch-policies/{policy_id}/edit")
def edit_policy(request: Request, org_id: WebId, policy_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    found = _own(request, user, org_id, policy_id)
    return _form(request, user, org, found, _values(found))


@router.post("/orgs/{org_id}/patch-policies")
def create_policy(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    values = _from_form(form)
    done, errors = attempt(
        lambda: patch_policies.create(
            ctx, user.actor, PatchPolicyCreate.model_validate({**_data(values), "org_id": org_id})
        ),
        hints=HINTS,
    )
    if done is None:
        return _form(request, user, org, None, values, errors, status=422)
    response = see_other(f"/orgs/{org_id}/patches#policy")
    add_flash(ctx, response, f"Saved the patch policy {done.name}.")
    return response


@router.post("/orgs/{org_id}/patch-policies/{policy_id}")
def update_policy(
    request: Request, org_id: WebId, policy_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    found = _own(request, user, org_id, policy_id)
    values = _from_form(form)
    done, errors = attempt(
        lambda: patch_policies.update(
            ctx, user.actor, policy_id, PatchPolicyFields.model_validate(_data(values))
        ),
        hints=HINTS,
    )
    if done is None:
        return _form(request, user, org, found, values, errors, status=422)
    response = see_other(f"/orgs/{org_id}/patches#policy")
    add_flash(ctx, response, f"Saved the patch policy {done.name}.")
    return response


@router.post("/orgs/{org_id}/patch-policies/{policy_id}/delete")
def delete_policy(
    request: Request, org_id: WebId, policy_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    ctx = get_ctx(request)
    found = _own(request, user, org_id, policy_id)
    patch_policies.delete(ctx, user.actor, policy_id)
    response = see_other(f"/orgs/{org_id}/patches#policy")
    add_flash(ctx, response, f"Deleted the patch policy {found.name}.", "info")
    return response
