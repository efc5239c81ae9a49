"""An organization's notification settings on the pages: channels, routes, the delivery log.

The one channel that is sent to points at a closed port on loopback (127.0.0.1:9, discard):
the test message fails at once with apprise's reason, and nothing leaves this machine.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forewarn.services import notify
from forewarn.services.context import Context
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org, make_person
from tests.integration.test_web import signed_in

CLOSED = "json://127.0.0.1:9/x"


def _error(page: str, field: str) -> str:
    found = re.search(rf'id="f-{field}-error">(.*?)</p>', page, re.S)
    assert found, f"no message at {field}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).removeprefix("Error: ")


def _flash(page: str) -> str:
    found = re.search(r'class="flash flash-\w+" role="status">.*?<span>(.*?)</span>', page, re.S)
    assert found, "no flash message"
    return html.unescape(found.group(1))


@pytest.fixture
def org_id(ctx: Context) -> int:
    org = make_org(ctx, "Acme Dental")
    other = make_org(ctx, "Other Ltd")
    make_person(ctx, "admin", roles={org: "admin"})
    make_person(ctx, "tech", roles={org: "technician"})
    make_person(ctx, "viewer", roles={org: "viewer"})
    make_person(ctx, "stranger", roles={other: "admin"})
    return org


def _add_channel(client: TestClient, csrf: str, org_id: int, name: str, url: str) -> Any:
    return client.post(
        f"/orgs/{org_id}/notifications/channels",
        data={"csrf_token": csrf, "channel_name": name, "url": url},
    )


def test_add_a_channel_refused_then_accepted_and_a_failed_test_says_why(
    client: TestClient, ctx: Context, org_id: int
) -> None:
    csrf = signed_in(client, "admin")
    assert f'href="/orgs/{org_id}/notifications"' in client.get(f"/orgs/{org_id}").text
    empty = html.unescape(client.get(f"/orgs/{org_id}/notifications").text)
    assert "No channels yet, so alerts reach nobody." in empty
    assert "mailto://user:password@smtp.example.com" in empty  # the example beside the field
    assert "never shown again" in empty and "No routes yet" in empty

    for url, words in (
        ("nope://x", "Apprise cannot use this URL"),
        ("just words", "A channel URL looks like mailto://"),
    ):
        bad = _add_channel(client, csrf, org_id, "On duty", url)
        assert bad.status_code == 422
        assert words in _error(bad.text, "url")
        assert 'value="On duty"' in bad.text and f'value="{url}"' in bad.text  # nothing lost
    nameless = _add_channel(client, csrf, org_id, " ", CLOSED)
    assert nameless.status_code == 422 and _error(nameless.text, "channel_name") == "Required."
    assert notify.list_channels(ctx, SYSTEM, org_id) == []

    good = _add_channel(client, csrf, org_id, "Dead end", CLOSED)
    assert good.status_code == 200 and good.url.path == f"/orgs/{org_id}/notifications"
    assert _flash(good.text).startswith("Added the channel Dead end (json).")
    [channel] = notify.list_channels(ctx, SYSTEM, org_id)
    assert "127.0.0.1:9" not in good.text  # the URL is never shown again
    assert 'data-label="Service"' in good.text and "table stack-sm channel-table" in good.text
    again = _add_channel(client, csrf, org_id, "Dead end", CLOSED)
    assert again.status_code == 422 and "exists already" in _error(again.text, "channel_name")

    tested = client.post(
        f"/orgs/{org_id}/notifications/channels/{channel.id}/test", data={"csrf_token": csrf}
    )
    said = _flash(tested.text)
    assert said.startswith("Test failed: ") and len(said) > len("Test failed: ") + 5
    [delivery] = notify.list_deliveries(ctx, SYSTEM, org_id=org_id).items
    assert (
        delivery.kind == "test" and delivery.last_error and delivery.state == "failed"
    )  # a test is not retried
    assert delivery.last_error[:40] in html.unescape(said)
    # The delivery log shows it, with the service's words.
    log = html.unescape(tested.text.split('id="deliveries"', 1)[1])
    assert "Dead end" in log and "Failed" in log and delivery.last_error[:40] in log
    assert 'data-label="Error"' in log


def test_add_a_route_with_steps_and_delete_with_confirmation(
    client: TestClient, ctx: Context, org_id: int
) -> None:
    duty = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org_id, name="On duty", url=CLOSED)
    )
    call = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org_id, name="On call", url=CLOSED)
    )
    csrf = signed_in(client, "admin")
    base = f"/orgs/{org_id}/notifications"
    form = {
        "csrf_token": csrf,
        "route_name": "Servers, day and night",
        "matchers": "severity=critical\ntype!=heartbeat\n",
        "when": "any",
        "step1_after": "0",
        "step1_channels": [str(duty.id)],
        "step2_after": "15",
        "step2_channels": [str(call.id)],
        "step3_after": "",
        "repeat": "30",
    }

    for change, field, words in (
        ({"matchers": "type=http\nseverity is critical"}, "matchers", "Line 2: not a matcher"),
        ({"step1_channels": []}, "step1", "Tick at least one channel"),
        ({"step2_after": "soon"}, "step2", "Enter whole minutes"),
        ({"step3_after": "60"}, "step3", "Tick at least one channel"),
        ({"repeat": "0"}, "repeat", "Enter whole minutes"),
        ({"when": "weekends"}, "when", "Choose one of the listed options."),
        ({"route_name": ""}, "route_name", "Required."),
        ({"step1_channels": ["999999"]}, "step1", "Choose channels from the list."),
    ):
        bad = client.post(f"{base}/routes", data={**form, **change})
        assert bad.status_code == 422, change
        assert words in _error(bad.text, field), change
        assert 'value="Servers, day and night"' in bad.text or change.get("route_name") == ""
        typed = re.search(r'id="f-matchers"[^>]*>(.*?)</textarea>', bad.text, re.S)
        assert typed and html.unescape(typed.group(1)) == {**form, **change}["matchers"]
    assert notify.list_routes(ctx, SYSTEM, org_id) == []

    r = client.post(f"{base}/routes", data=form)
    assert r.status_code == 200 and _flash(r.text) == "Added the route Servers, day and night."
    [route] = notify.list_routes(ctx, SYSTEM, org_id)
    assert route.steps == [
        {"after_s": 0, "channels": [duty.id]},
        {"after_s": 900, "channels": [call.id]},
    ]
    assert (route.repeat_s, route.matchers) == (1800, ["severity=critical", "type!=heartbeat"])
    page = html.unescape(r.text)
    assert "at once: On duty; after 15 min: On call" in page and "every 30 min" in page
    assert 'data-label="Steps"' in page

    # A second route goes after the first.
    client.post(
        f"{base}/routes",
        data={**form, "route_name": "Warnings", "matchers": "severity=warning", "repeat": ""},
    )
    positions = {r.name: r.position for r in notify.list_routes(ctx, SYSTEM, org_id)}
    assert positions == {"Servers, day and night": 0, "Warnings": 1}

    confirm = html.unescape(client.get(f"{base}/channels/{call.id}/delete").text)
    assert "Delete the channel “On call”?" in confirm and "Servers, day and night" in confirm
    r = client.post(f"{base}/channels/{call.id}/delete", data={"csrf_token": csrf})
    assert _flash(r.text) == "Deleted the channel On call."
    assert [c.name for c in notify.list_channels(ctx, SYSTEM, org_id)] == ["On duty"]

    confirm = html.unescape(client.get(f"{base}/routes/{route.id}/delete").text)
    assert "Delete the route “Servers, day and night”?" in confirm
    r = client.post(f"{base}/routes/{route.id}/delete", data={"csrf_token": csrf})
    assert _flash(r.text) == "Deleted the route Servers, day and night."
    assert [r.name for r in notify.list_routes(ctx, SYSTEM, org_id)] == ["Warnings"]


def test_technicians_and_viewers_read_and_others_see_nothing(
    client: TestClient, ctx: Context, org_id: int
) -> None:
    channel = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(org_id=org_id, name="On duty", url=CLOSED)
    )
    route = notify.create_route(
        ctx,
        SYSTEM,
        notify.RouteCreate(
            org_id=org_id, name="Everything", steps=[{"after_s": 0, "channels": [channel.id]}]
        ),
    )
    provider = notify.create_channel(
        ctx, SYSTEM, notify.ChannelCreate(name="Provider desk", url="json://127.0.0.1:9/desk")
    )
    base = f"/orgs/{org_id}/notifications"
    posts = (
        (f"{base}/channels", {"channel_name": "Mine", "url": CLOSED}),
        (f"{base}/channels/{channel.id}/test", {}),
        (f"{base}/channels/{channel.id}/delete", {}),
        (f"{base}/routes", {"route_name": "x", "step1_after": "0"}),
        (f"{base}/routes/{route.id}/delete", {}),
    )
    for who in ("tech", "viewer"):
        csrf = signed_in(client, who)
        page = html.unescape(client.get(base).text)
        assert "On duty" in page and "Everything" in page and "at once: On duty" in page
        assert "Provider desk" in page and "the provider's" in page
        assert "Add channel" not in page and "Send test" not in page and "/delete" not in page
        for path, data in posts:
            r = client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
            assert r.status_code == 403, (who, path)
        assert client.get(f"{base}/channels/{channel.id}/delete").status_code == 403
    assert len(notify.list_channels(ctx, SYSTEM, org_id)) == 2
    assert notify.list_deliveries(ctx, SYSTEM, org_id=org_id).items == []

    # An admin sees the provider's channel read-only: no test, no delete from here.
    csrf = signed_in(client, "admin")
    page = client.get(base).text
    assert "read-only here" in page
    assert f"/channels/{provider.id}/delete" not in page
    r = client.post(f"{base}/channels/{provider.id}/delete", data={"csrf_token": csrf})
    assert r.status_code == 404

    csrf = signed_in(client, "stranger")
    assert client.get(base).status_code == 404
    for path, data in posts:
        r = client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
        assert r.status_code == 404, path
    assert len(notify.list_routes(ctx, SYSTEM, org_id)) == 1


def test_a_signed_webhook_channel_from_the_form(client, ctx, org_id):
    csrf = signed_in(client, "admin")
    page = client.get(f"/orgs/{org_id}/notifications").text
    assert 'name="secret"' in page and 'type="password"' in page
    short = client.post(
        f"/orgs/{org_id}/notifications/channels",
        data={
            "csrf_token": csrf,
            "channel_name": "psa",
            "url": "https://psa.example/hook",
            "secret": "too-short",
        },
    )
    assert short.status_code == 422
    assert "too-short" not in short.text  # a secret is never typed back into the page
    assert notify.list_channels(ctx, SYSTEM, org_id) == []
    r = client.post(
        f"/orgs/{org_id}/notifications/channels",
        data={
            "csrf_token": csrf,
            "channel_name": "psa",
            "url": "https://psa.example/hook",
            "secret": "a-long-enough-shared-secret",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    [channel] = notify.list_channels(ctx, SYSTEM, org_id)
    assert channel.kind == "webhook"


def test_switch_a_channel_off_and_on(client, ctx, org_id):
    channel = notify.create_channel(
        ctx,
        SYSTEM,
        notify.ChannelCreate(org_id=org_id, name="Pager", url="json://127.0.0.1:9/x"),
    )
    csrf = signed_in(client, "admin")
    url = f"/orgs/{org_id}/notifications/channels/{channel.id}/enabled"
    assert "Switch off" in client.get(f"/orgs/{org_id}/notifications").text
    r = client.post(url, data={"csrf_token": csrf, "enabled": "0"})
    assert "Switched Pager off" in _flash(r.text) and "Switch on" in r.text
    [shown] = notify.list_channels(ctx, SYSTEM, org_id)
    assert shown.enabled is False
    r = client.post(url, data={"csrf_token": csrf, "enabled": "1"})
    assert "Switched Pager on" in _flash(r.text)
    assert notify.list_channels(ctx, SYSTEM, org_id)[0].enabled is True
    csrf = signed_in(client, "tech")
    assert client.post(url, data={"csrf_token": csrf, "enabled": "0"}).status_code == 403


def test_admins_are_told_when_links_in_messages_are_bare_paths(client, ctx, org_id):
    """Without FOREWARN_PUBLIC_URL a message's link is a path (/alerts/7) that a phone or a
    mail program cannot open: the admin who sets up channels is told how to fix it."""
    hint = "FOREWARN_PUBLIC_URL is not set"
    signed_in(client, "admin")
    unset = html.unescape(client.get(f"/orgs/{org_id}/notifications").text)
    assert hint in unset and "/alerts/42" in unset
    signed_in(client, "tech")
    assert hint not in client.get(f"/orgs/{org_id}/notifications").text
    ctx.settings.public_url = "https://forewarn.example.com"
    signed_in(client, "admin")
    assert hint not in client.get(f"/orgs/{org_id}/notifications").text
