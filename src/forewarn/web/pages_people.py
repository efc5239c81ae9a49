"""People: the owners' list of every account, adding one, and switching one off or on again."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.services import dashboard, users
from forewarn.services.schemas import UserCreate, UserUpdate
from forewarn.web.errors import error_page
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, text
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

_FIELDS = ("username", "display_name", "email")
_HINTS = {
    "username": "Use 1 to 64 letters, digits or . _ @ -, starting with a letter or digit.",
    "email": "An email address like name@example.com, or nothing.",
    "password": "Use at least 10 characters.",
}
_OWNERS_ONLY = (
    "Only the provider's owners manage people. To give someone access to an organization, "
    "its administrators can invite them from the organization's page."
)


def _refused(request: Request, user: WebUser) -> Response | None:
    """A readable 403 for everyone but owners (the services refuse them as well)."""
    if user.actor.is_owner:
        return None
    return error_page(request, 403, message=_OWNERS_ONLY)


@router.get("/people")
def list_people(request: Request, user: SignedIn) -> Response:
    if refused := _refused(request, user):
        return refused
    rows = dashboard.people(get_ctx(request), user.actor)
    return page(request, "people/list.html", user, section="people", rows=rows)


def _form_page(
    request: Request, user: WebUser, values: dict[str, str], errors: FieldErrors, status: int = 200
) -> Response:
    return page(
        request,
        "people/form.html",
        user,
        status=status,
        section="people",
        values=values,
        errors=errors,
    )


@router.get("/people/new")
def new_person(request: Request, user: SignedIn) -> Response:
    if refused := _refused(request, user):
        return refused
    return _form_page(request, user, {**dict.fromkeys(_FIELDS, ""), "is_owner": ""}, {})


@router.post("/people/new")
def create_person(request: Request, user: SignedIn, form: PostedForm) -> Response:
    """Create an account with a first password, which its holder changes on My account."""
    if refused := _refused(request, user):
        return refused
    ctx = get_ctx(request)
    values = {key: text(form, key) for key in _FIELDS}
    values["is_owner"] = "1" if text(form, "is_owner") else ""
    created, errors = attempt(
        lambda: users.create_user(
            ctx,
            user.actor,
            UserCreate.model_validate(
                {
                    **values,
                    "is_owner": bool(values["is_owner"]),
                    "password": text(form, "password"),
                }
            ),
        ),
        clash_field="username",
        hints=_HINTS,
    )
    if created is None:
        return _form_page(request, user, values, errors, status=422)
    response = see_other("/people")
    if created.is_owner:
        note = "They can sign in now and see every organization."
    else:
        note = "They can sign in now; they see no organization until they are given a role in one."
    add_flash(ctx, response, f"Created the account {created.username}. {note}")
    return response


def _set_active(request: Request, user: WebUser, user_id: int, active: bool) -> Response:
    if refused := _refused(request, user):
        return refused
    ctx = get_ctx(request)
    changed = users.update_user(ctx, user.actor, user_id, UserUpdate(is_active=active))
    response = see_other("/people")
    if active:
        add_flash(ctx, response, f"Reactivated {changed.username}; they can sign in again.")
    else:
        message = (
            f"Deactivated {changed.username}: signed out everywhere; their API tokens stop working."
        )
        add_flash(ctx, response, message, "info")
    return response


@router.post("/people/{user_id}/deactivate")
def deactivate(request: Request, user_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    return _set_active(request, user, user_id, False)


@router.post("/people/{user_id}/reactivate")
def reactivate(request: Request, user_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    return _set_active(request, user, user_id, True)
