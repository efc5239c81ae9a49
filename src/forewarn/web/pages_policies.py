"""Policies on the pages: an organization's and the provider's, their form, and an asset's
effective checks with the policies that decided each."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.probes import registry
from forewarn.services import assets, orgs, policies, sites
from forewarn.services.errors import not_found
from forewarn.services.pagination import MAX_LIMIT
from forewarn.services.schemas import OrgOut, PolicyCreate, PolicyOut, PolicyUpdate
from forewarn.services.scope import require
from forewarn.web import check_form, check_views, policy_form, policy_views
from forewarn.web.errors import error_page
from forewarn.web.flash import add_flash
from forewarn.web.forms import FORM_WIDE, FieldErrors, text
from forewarn.web.render import NAV, NavItem, fragment, page, see_other, wants_fragment
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

if not any(item.href == "/policies" for item in NAV):
    NAV.append(NavItem("policies", "Policies", "/policies", owners_only=True))

RowIndex = Annotated[int, Path(ge=0, lt=policy_form.MAX_ROWS)]

_OWNERS_ONLY = (
    "The provider's own policies reach every organization, so only the provider's owners "
    "manage them. An organization's policies are on its page, under Policies."
)


def _refused(request: Request, user: WebUser) -> Response | None:
    """A readable 403 for everyone but owners (the services refuse them as well)."""
    if user.actor.is_owner:
        return None
    return error_page(request, 403, message=_OWNERS_ONLY)


def _list_url(org: OrgOut | None) -> str:
    return f"/orgs/{org.id}/policies" if org else "/policies"


def _section(org: OrgOut | None) -> str:
    return "overview" if org else "policies"


# ---- the lists ----------------------------------------------------------------------------------


def _names(request: Request, user: WebUser, org: OrgOut | None) -> dict[str, Any]:
    """Site and asset names, for saying where a policy applies."""
    if org is None:
        return {"site_names": {}, "asset_names": {}}
    ctx = get_ctx(request)
    org_sites = sites.list_(ctx, user.actor, org_id=org.id, limit=MAX_LIMIT).items
    return {
        "site_names": {s.id: s.name for s in org_sites},
        "asset_names": check_views.asset_names(ctx, user.actor, org.id),
    }


def _list_page(
    request: Request, user: WebUser, org: OrgOut | None, found: list[PolicyOut]
) -> Response:
    may_edit = user.actor.is_owner if org is None else user.actor.can(org.id, Role.ADMIN)
    listed = policy_views.by_rank(found)
    return page(
        request,
        "policies/list.html",
        user,
        section=_section(org),
        org=org,
        policies=listed,
        rows={p.id: policy_views.check_rows(p) for p in listed},
        level_label=policy_views.level_label,
        may_edit=may_edit,
        list_url=_list_url(org),
        new_url=f"{_list_url(org)}/new",
        **_names(request, user, org if any(p.site_id or p.asset_id for p in found) else None),
    )


@router.get("/orgs/{org_id}/policies")
def org_policies(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """The organization's policies, broad to specific, each with its checks and exclusions."""
    ctx = get_ctx(request)
    org = orgs.get(ctx, user.actor, org_id)
    return _list_page(request, user, org, policies.list_(ctx, user.actor, org_id))


@router.get("/policies")
def provider_policies(request: Request, user: SignedIn) -> Response:
    """The provider's own policies: they reach every organization (owners only)."""
    if refused := _refused(request, user):
        return refused
    found = [p for p in policies.list_(get_ctx(request), user.actor) if p.org_id is None]
    return _list_page(request, user, None, found)


# ---- the form -----------------------------------------------------------------------------------


def _scope_options(request: Request, user: WebUser, org: OrgOut | None) -> dict[str, Any]:
    if org is None:
        return {
            "scope_groups": [
                (
                    "",
                    [
                        ("all", "Every asset of every organization"),
                        ("tag", "Assets with the tag typed below, in every organization"),
                    ],
                )
            ]
        }
    ctx = get_ctx(request)
    org_sites = sites.list_(ctx, user.actor, org_id=org.id, limit=MAX_LIMIT).items
    org_assets = check_views.org_assets(ctx, user.actor, org.id).values()
    tags = assets.tags_in_use(ctx, user.actor, org.id)
    return {
        "scope_groups": [
            ("", [("org", f"Every asset of {org.name}")]),
            ("One site", sorted(((f"site:{s.id}", s.name) for s in org_sites), key=_by_text)),
            (
                "Assets with a tag",
                [(f"tag:{t}", t) for t in tags] + [("tag", "Another tag, typed below")],
            ),
            ("One asset", sorted(((f"asset:{a.id}", a.name) for a in org_assets), key=_by_text)),
        ]
    }


def _by_text(option: tuple[str, str]) -> str:
    return option[1].lower()


def _type_options() -> list[tuple[str, str]]:
    override = (policy_form.OVERRIDE, "Override (of a broader policy)")
    return [*check_form.type_options(), override]


def _known_names(request: Request, user: WebUser, org: OrgOut | None, own: int | None) -> list[str]:
    """Names other policies this person can see define, as a hint for exclusions."""
    ctx = get_ctx(request)
    provider = [p for p in policies.list_(ctx, user.actor) if p.org_id is None]
    if org is None:
        return policy_views.defined_names(provider, own)
    found = policies.list_(ctx, user.actor, org.id)
    return policy_views.defined_names(found + (provider if user.actor.is_owner else []), own)


def _form_page(
    request: Request,
    user: WebUser,
    org: OrgOut | None,
    *,
    values: dict[str, str],
    rows: list[dict[str, str]],
    errors: FieldErrors,
    policy: PolicyOut | None = None,
    focus: int | None = None,
    status: int = 200,
) -> Response:
    action = f"/policies/{policy.id}/edit" if policy else f"{_list_url(org)}/new"
    if policy is None and not values["scope"]:
        values = {**values, "scope": "all" if org is None else "org"}
    named = org if policy is not None and (policy.site_id or policy.asset_id) else None
    return page(
        request,
        "policies/form.html",
        user,
        status=status,
        section=_section(org),
        org=org,
        policy=policy,
        values={**values, **policy_form.flat(rows)},
        row_views=[policy_form.row_view(i, r) for i, r in enumerate(rows)],
        rows_with_errors=policy_form.row_errors(errors),
        errors=errors,
        focus=focus,
        action=action,
        list_url=_list_url(org),
        type_options=_type_options(),
        enabled_options=policy_form.ENABLED_OPTIONS,
        hints={**check_form.HINTS, **policy_form.HINTS},
        known_names=_known_names(request, user, org, policy.id if policy else None),
        level_label=policy_views.level_label,
        **_names(request, user, named),
        **(_scope_options(request, user, org) if policy is None else {}),
        **check_views.helpers(),
    )


def _changed_rows(
    request: Request,
    user: WebUser,
    org: OrgOut | None,
    form: Any,
    values: dict[str, str],
    rows: list[dict[str, str]],
    policy: PolicyOut | None,
) -> Response | None:
    """The form again with one more row, for the "Add another check" button; nothing is
    saved. None when the form was sent to be saved."""
    if text(form, "action") != "add":
        return None
    if len(rows) >= policy_form.MAX_ROWS:
        full = {FORM_WIDE: [f"A policy holds at most {policy_form.MAX_ROWS} checks."]}
        return _form_page(
            request, user, org, values=values, rows=rows, errors=full, policy=policy, status=422
        )
    rows = [*rows, policy_form.blank_row()]
    return _form_page(
        request, user, org, values=values, rows=rows, errors={}, policy=policy, focus=len(rows) - 1
    )


def _org_of(request: Request, user: WebUser, org_id: int | None) -> OrgOut | None:
    """The policy's organization, once the person may edit its policies."""
    if org_id is None:
        if not user.actor.is_owner:  # the service answers not found to them as well
            raise not_found("policy")
        return None
    org = orgs.get(get_ctx(request), user.actor, org_id)
    require(user.actor, org_id, Role.ADMIN)
    return org


def _new(request: Request, user: WebUser, org: OrgOut | None) -> Response:
    values, rows = policy_form.blank(), [policy_form.blank_row()]
    return _form_page(request, user, org, values=values, rows=rows, errors={})


def _create(request: Request, user: WebUser, org: OrgOut | None, form: Any) -> Response:
    ctx = get_ctx(request)
    values, rows = policy_form.read(form)
    if changed := _changed_rows(request, user, org, form, values, rows, None):
        return changed
    scope, scope_errors = policy_form.scope_input(values, provider=org is None)
    checks, sent, known = policy_form.to_checks(rows)
    exclude = policy_form.exclude_list(values)
    typed = policy_form.Typed(rows, sent, exclude, tag_typed=values["scope"] == "tag")
    created, errors = policy_form.attempt(
        lambda: PolicyCreate.model_validate(
            {
                "name": values["name"],
                "org_id": org.id if org else None,
                **scope,
                "checks": checks,
                "exclude": exclude,
            }
        ),
        lambda data: policies.create(ctx, user.actor, data),
        typed,
        {**known, **scope_errors},
    )
    if created is None:
        return _form_page(request, user, org, values=values, rows=rows, errors=errors, status=422)
    response = see_other(f"{_list_url(org)}#policy-{created.id}")
    add_flash(
        ctx,
        response,
        f"Added the policy {created.name}. The assets it reaches have its checks now.",
    )
    return response


@router.get("/orgs/{org_id}/policies/new")
def new_org_policy(request: Request, org_id: WebId, user: SignedIn) -> Response:
    return _new(request, user, _org_of(request, user, org_id))


@router.post("/orgs/{org_id}/policies/new")
def create_org_policy(
    request: Request, org_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    return _create(request, user, _org_of(request, user, org_id), form)


@router.get("/policies/new")
def new_provider_policy(request: Request, user: SignedIn) -> Response:
    if refused := _refused(request, user):
        return refused
    return _new(request, user, None)


@router.post("/policies/new")
def create_provider_policy(request: Request, user: SignedIn, form: PostedForm) -> Response:
    if refused := _refused(request, user):
        return refused
    return _create(request, user, None, form)


@router.get("/policies/{policy_id}/edit")
def edit_policy(request: Request, policy_id: WebId, user: SignedIn) -> Response:
    policy = policies.get(get_ctx(request), user.actor, policy_id)
    org = _org_of(request, user, policy.org_id)
    values, rows = policy_form.from_policy(policy)
    return _form_page(request, user, org, values=values, rows=rows, errors={}, policy=policy)


@router.post("/policies/{policy_id}/edit")
def update_policy(request: Request, policy_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    policy = policies.get(ctx, user.actor, policy_id)
    org = _org_of(request, user, policy.org_id)
    values, rows = policy_form.read(form)
    if changed := _changed_rows(request, user, org, form, values, rows, policy):
        return changed
    checks, sent, known = policy_form.to_checks(rows)
    exclude = policy_form.exclude_list(values)
    updated, errors = policy_form.attempt(
        lambda: PolicyUpdate.model_validate(
            {"name": values["name"], "checks": checks, "exclude": exclude}
        ),
        lambda data: policies.update(ctx, user.actor, policy_id, data),
        policy_form.Typed(rows, sent, exclude),
        known,
    )
    if updated is None:
        return _form_page(
            request, user, org, values=values, rows=rows, errors=errors, policy=policy, status=422
        )
    response = see_other(f"{_list_url(org)}#policy-{policy_id}")
    add_flash(
        ctx,
        response,
        f"Saved the policy {updated.name}. The assets it reaches have its checks as saved now.",
    )
    return response


@router.get("/policy-check-fields/{row}")
def row_fields(request: Request, row: RowIndex, user: SignedIn) -> Response:
    """A row's target and settings for the type just chosen (htmx swaps them in); the target
    typed so far stays, the settings start from the new type's defaults."""
    p = policy_form.prefix(row)
    typed = request.query_params.get(p + "type", "")
    values = policy_form.blank_row(typed if typed in registry.TYPES else policy_form.OVERRIDE)
    values["target"] = request.query_params.get(p + "target", "")[:2000]
    return fragment(
        request,
        "policies/_row_fields.html",
        user,
        r=policy_form.row_view(row, values),
        values=policy_form.flat([values], start=row),
        errors={},
        hints=policy_form.HINTS,
        **check_views.helpers(),
    )


# ---- deleting -----------------------------------------------------------------------------------


@router.get("/policies/{policy_id}/delete")
def confirm_delete_policy(request: Request, policy_id: WebId, user: SignedIn) -> Response:
    policy = policies.get(get_ctx(request), user.actor, policy_id)
    org = _org_of(request, user, policy.org_id)
    return page(
        request,
        "policies/delete.html",
        user,
        section=_section(org),
        org=org,
        policy=policy,
        list_url=_list_url(org),
    )


@router.post("/policies/{policy_id}/delete")
def delete_policy(request: Request, policy_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx = get_ctx(request)
    policy = policies.get(ctx, user.actor, policy_id)
    org = _org_of(request, user, policy.org_id)
    policies.delete(ctx, user.actor, policy_id)
    response = see_other(_list_url(org))
    add_flash(
        ctx,
        response,
        f"Deleted the policy {policy.name}. The checks it made were removed, or follow a "
        "broader policy again.",
        "info",
    )
    return response


# ---- an asset's effective checks ----------------------------------------------------------------


def _policy_links(request: Request, user: WebUser, org_id: int) -> dict[int, str]:
    """Links to the policies this person may open: the organization's, and the provider's
    for owners."""
    ctx = get_ctx(request)
    found = policies.list_(ctx, user.actor, org_id)
    if user.actor.is_owner:
        found += [p for p in policies.list_(ctx, user.actor) if p.org_id is None]
    return {p.id: policy_views.policy_href(p) for p in found}


@router.get("/assets/{asset_id}/effective-checks")
def effective_checks(request: Request, asset_id: WebId, user: SignedIn) -> Response:
    """Every check name the policies bring to the asset: applied, excluded, beaten by a check
    made by hand, or invalid; with the policies that decided it. The asset page loads this
    part with htmx; without JavaScript it is a page of its own."""
    ctx, actor = get_ctx(request), user.actor
    asset = assets.get(ctx, actor, asset_id)
    org = orgs.get(ctx, actor, asset.org_id)
    found = policies.effective_checks(ctx, actor, asset_id)
    data = {
        "org": org,
        "asset": asset,
        "rows": policy_views.effective_rows(found, _policy_links(request, user, org.id)),
        **check_views.helpers(),
    }
    if wants_fragment(request, "asset-effective"):
        return fragment(request, "policies/_effective.html", user, **data)
    return page(request, "policies/effective.html", user, section="overview", **data)
