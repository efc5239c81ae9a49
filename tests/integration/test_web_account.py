"""My account and People: one's own details, password and tokens; the owners' list of accounts."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from forewarn.services import audit, auth, users
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import PasswordChange, TokenCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import PASSWORD, Person, make_org, make_person
from tests.integration.test_web import login, signed_in

NEW_PASSWORD = "a brand new passphrase"
SESSION = "forewarn_session"


def _actions(ctx: Context) -> list[str]:
    return [e.action for e in audit.list_events(ctx, SYSTEM, limit=200).items]


# ---- My account: details ------------------------------------------------------------------------


def test_account_page_is_linked_from_the_user_name(client: TestClient, ctx: Context) -> None:
    org_id = make_org(ctx, "Alpha Clinic")
    make_person(ctx, "anna", roles={org_id: "technician"})
    signed_in(client, "anna")
    overview = client.get("/").text
    assert re.search(r'<a class="account-name" href="/account"[^>]*>', overview)
    page = client.get("/account")
    assert page.status_code == 200
    assert "My account" in page.text and 'aria-current="page"' in page.text
    # What the person may see, in words.
    assert "Alpha Clinic" in page.text and "Technician" in page.text


def test_edit_own_name_and_email(client: TestClient, ctx: Context, owner: Person) -> None:
    csrf = signed_in(client, "owner")
    bad = {"csrf_token": csrf, "display_name": "Olga Owner", "email": "not an address"}
    r = client.post("/account/profile", data=bad)
    assert r.status_code == 422
    assert "An email address like name@example.com, or nothing." in r.text
    assert 'value="Olga Owner"' in r.text and 'value="not an address"' in r.text
    good = {**bad, "email": "olga@example.com"}
    r = client.post("/account/profile", data=good, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    page = client.get("/account").text
    assert "Saved your name and email." in page and 'value="olga@example.com"' in page
    me = users.get_user(ctx, SYSTEM, owner.id)
    assert (me.display_name, me.email) == ("Olga Owner", "olga@example.com")


# ---- My account: password -----------------------------------------------------------------------


def _password_form(csrf: str, current: str, new: str, again: str | None = None) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "current_password": current,
        "new_password": new,
        "new_password_again": new if again is None else again,
    }


def test_password_change_keeps_this_session_and_ends_the_others(
    client: TestClient, ctx: Context
) -> None:
    person = make_person(ctx, "bert")
    signed_in(client, "bert")
    other_browser = client.cookies[SESSION]
    csrf = signed_in(client, "bert")
    this_browser = client.cookies[SESSION]
    assert other_browser != this_browser

    r = client.post(
        "/account/password",
        data=_password_form(csrf, PASSWORD, NEW_PASSWORD),
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/account"
    page = client.get("/account")
    assert page.status_code == 200 and "Password changed." in page.text
    assert client.cookies[SESSION] == this_browser  # no new cookie was needed
    assert "user.password_change" in _actions(ctx)

    client.cookies.set(SESSION, other_browser)
    assert client.get("/account", follow_redirects=False).status_code == 303
    # API tokens are not sessions: they keep working until revoked one by one.
    assert client.get("/api/v1/orgs", headers=person.headers).status_code == 200
    client.cookies.clear()
    assert login(client, "bert", PASSWORD).status_code == 401
    assert login(client, "bert", NEW_PASSWORD).status_code == 303


def test_password_change_refusals_say_what_is_wrong(client: TestClient, ctx: Context) -> None:
    make_person(ctx, "carl")
    csrf = signed_in(client, "carl")
    r = client.post("/account/password", data=_password_form(csrf, PASSWORD, NEW_PASSWORD, "typo"))
    assert r.status_code == 422 and "The two new passwords differ" in r.text
    r = client.post("/account/password", data=_password_form(csrf, PASSWORD, "short"))
    assert r.status_code == 422 and "Use at least 10 characters." in r.text
    r = client.post("/account/password", data=_password_form(csrf, "a wrong guess", NEW_PASSWORD))
    assert r.status_code == 422
    assert 'id="f-current_password-error"' in r.text
    assert "That is not your current password." in r.text
    # Passwords never come back in the page.
    assert NEW_PASSWORD not in r.text and "a wrong guess" not in r.text
    assert "user.password_change_failed" in _actions(ctx)
    # Nothing changed: the old password still signs in.
    client.cookies.clear()
    assert login(client, "carl", PASSWORD).status_code == 303


def test_guessing_the_current_password_is_throttled(client: TestClient, ctx: Context) -> None:
    make_person(ctx, "dora")
    csrf = signed_in(client, "dora")
    for _ in range(5):
        r = client.post("/account/password", data=_password_form(csrf, "guess", NEW_PASSWORD))
        assert r.status_code == 422
    # Even the right password is refused while locked out, as on the login form.
    r = client.post("/account/password", data=_password_form(csrf, PASSWORD, NEW_PASSWORD))
    assert r.status_code == 429 and "Too many wrong passwords; try again in 5 min." in r.text
    ctx.clock.advance(minutes=6)  # type: ignore[attr-defined]
    r = client.post(
        "/account/password",
        data=_password_form(csrf, PASSWORD, NEW_PASSWORD),
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_service_keeps_only_the_named_session(ctx: Context) -> None:
    make_person(ctx, "erik")
    kept = auth.login(ctx, "erik", PASSWORD)
    ended = auth.login(ctx, "erik", PASSWORD)
    actor = auth.resolve(ctx, kept)
    change = PasswordChange(current_password=PASSWORD, new_password=NEW_PASSWORD)
    users.change_own_password(ctx, actor, change, keep_session=kept)
    assert auth.resolve(ctx, kept).username == "erik"
    with pytest.raises(ServiceError) as refused:
        auth.resolve(ctx, ended)
    assert refused.value.status == 401


# ---- My account: API tokens ---------------------------------------------------------------------


def test_create_use_and_revoke_an_api_token(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    someone = make_person(ctx, "frida")
    csrf = signed_in(client, "owner")
    page = client.get("/account").text
    # An owner sees everyone's tokens through the API; here only their own.
    assert "frida" not in page
    assert page.count("/revoke") == 1  # the fixture's own "test" token

    r = client.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "", "expires_in_days": "x"}
    )
    assert r.status_code == 422
    assert "Required." in r.text and "A whole number of days from 1 to 3650" in r.text
    assert 'value="x"' in r.text

    r = client.post(
        "/account/tokens",
        data={"csrf_token": csrf, "name": "backup script", "expires_in_days": "30"},
    )
    assert r.status_code == 200
    secret = re.search(r'id="new-token" type="text" value="(fw_[^"]+)"', r.text)
    assert secret and 'data-copy="#new-token"' in r.text
    assert "shown this once" in r.text and "in 30 days" in r.text
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    assert client.get("/api/v1/orgs", headers=bearer).status_code == 200

    page = client.get("/account").text
    assert "backup script" in page and secret.group(1) not in page
    assert secret.group(1)[:10] + "…" in page
    revoke = re.search(
        r'action="(/account/tokens/\d+/revoke)"[^<]*\s*<input[^>]*>\s*<button[^>]*>'
        r"Revoke<span[^>]*> the token backup script",
        page,
    )
    assert revoke
    r = client.post(revoke.group(1), data={"csrf_token": csrf})
    assert "Revoked the token backup script" in r.text and "backup script</td>" not in r.text
    assert client.get("/api/v1/orgs", headers=bearer).status_code == 401

    # Someone else's token is not this page's business, even for an owner.
    other = users.list_tokens(ctx, SYSTEM, user_id=someone.id).items[0]
    r = client.post(f"/account/tokens/{other.id}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 404
    assert client.get("/api/v1/orgs", headers=someone.headers).status_code == 200


def test_list_tokens_can_narrow_to_one_person(ctx: Context, owner: Person) -> None:
    someone = make_person(ctx, "gus")
    users.create_token(ctx, SYSTEM, TokenCreate(name="second"), someone.id)
    everyone = users.list_tokens(ctx, SYSTEM).items
    assert {t.user_id for t in everyone} == {owner.id, someone.id}
    mine = users.list_tokens(ctx, SYSTEM, user_id=someone.id).items
    assert sorted(t.name for t in mine) == ["second", "test"]


# ---- People -------------------------------------------------------------------------------------


def test_people_is_for_owners_only(client: TestClient, ctx: Context, owner: Person) -> None:
    org_id = make_org(ctx, "Beta Bank")
    make_person(ctx, "beta-admin", roles={org_id: "admin"})
    signed_in(client, "owner")
    assert '<a href="/people"' in client.get("/").text

    csrf = signed_in(client, "beta-admin")
    assert '<a href="/people"' not in client.get("/").text
    for path in ("/people", "/people/new"):
        r = client.get(path)
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
        assert "owners manage people." in r.text
    r = client.post(f"/people/{owner.id}/deactivate", data={"csrf_token": csrf})
    assert r.status_code == 403
    new = {"csrf_token": csrf, "username": "sneaky", "password": "long enough secret"}
    assert client.post("/people/new", data=new).status_code == 403
    assert users.get_user(ctx, SYSTEM, owner.id).is_active
    assert not users.list_users(ctx, SYSTEM, q="sneaky").items


def test_people_lists_accounts_with_their_organizations(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    alpha = make_org(ctx, "Alpha Clinic")
    beta = make_org(ctx, "Beta Bank")
    make_person(ctx, "hanna", roles={alpha: "viewer", beta: "technician"})
    make_person(ctx, "ivo")
    signed_in(client, "hanna")  # gives hanna a last sign-in
    signed_in(client, "owner")
    page = client.get("/people").text
    assert "3 accounts, 3 active" in page
    hanna = page[page.index("hanna") : page.index("ivo")]
    assert f'href="/orgs/{alpha}">Alpha Clinic</a>' in hanna and "Viewer" in hanna
    assert f'href="/orgs/{beta}">Beta Bank</a>' in hanna and "Technician" in hanna
    assert "just now" in hanna
    assert "No organization" in page
    assert "Owner</span>" in page and "every organization" in page
    # No button to switch oneself off.
    assert f"/people/{owner.id}/deactivate" not in page


def test_owner_creates_a_user_who_can_sign_in(
    client: TestClient, ctx: Context, owner: Person
) -> None:
    csrf = signed_in(client, "owner")
    assert "New user" in client.get("/people").text
    form = client.get("/people/new").text
    assert 'name="is_owner"' in form and 'type="password"' in form
    typed = {
        "csrf_token": csrf,
        "username": "juno tech",
        "display_name": "Juno",
        "email": "juno@example",
        "password": "short",
        "is_owner": "1",
    }
    r = client.post("/people/new", data=typed)
    assert r.status_code == 422
    assert "Use 1 to 64 letters" in r.text and "Use at least 10 characters." in r.text
    assert 'value="juno tech"' in r.text and 'value="Juno"' in r.text
    assert re.search(r'name="is_owner" value="1"[^>]* checked', r.text)
    assert 'value="short"' not in r.text

    r = client.post(
        "/people/new",
        data={**typed, "username": "owner", "email": "", "password": "long enough secret"},
    )
    assert r.status_code == 422 and 'id="f-username-error"' in r.text
    assert "That user name is taken." in r.text

    good = {**typed, "username": "juno", "email": "", "password": "long enough secret"}
    del good["is_owner"]
    r = client.post("/people/new", data=good, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/people"
    page = client.get("/people").text
    assert "Created the account juno." in page and "no organization until" in page
    created = users.list_users(ctx, SYSTEM, q="juno").items[0]
    assert not created.is_owner and created.display_name == "Juno"
    client.cookies.clear()
    assert login(client, "juno", "long enough secret").status_code == 303


def test_deactivate_and_reactivate_someone(client: TestClient, ctx: Context, owner: Person) -> None:
    kim = make_person(ctx, "kim")
    signed_in(client, "kim")
    kims_browser = client.cookies[SESSION]
    csrf = signed_in(client, "owner")
    r = client.post(f"/people/{kim.id}/deactivate", data={"csrf_token": csrf})
    assert "Deactivated kim" in r.text
    assert f'action="/people/{kim.id}/reactivate"' in r.text and "deactivated</span>" in r.text
    assert client.get("/api/v1/orgs", headers=kim.headers).status_code == 401
    owners_browser = client.cookies[SESSION]

    client.cookies.clear()
    assert login(client, "kim").status_code == 401
    client.cookies.set(SESSION, owners_browser)
    r = client.post(f"/people/{kim.id}/reactivate", data={"csrf_token": csrf})
    assert "Reactivated kim" in r.text
    # Deactivating ended kim's sessions; reactivating does not bring them back.
    client.cookies.set(SESSION, kims_browser)
    assert client.get("/account", follow_redirects=False).status_code == 303
    client.cookies.clear()
    assert login(client, "kim").status_code == 303
    assert client.get("/api/v1/orgs", headers=kim.headers).status_code == 200

    # One's own account has no button, and the server refuses it too.
    csrf = signed_in(client, "owner")
    r = client.post(f"/people/{owner.id}/deactivate", data={"csrf_token": csrf})
    assert r.status_code == 422
    assert users.get_user(ctx, SYSTEM, owner.id).is_active
