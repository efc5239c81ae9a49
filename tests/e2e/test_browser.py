"""The dashboard in a real browser against a real server: sign in, create, see, and fit a phone."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ADMIN_PASSWORD = "browser test password"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_healthy(url: str, server: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} not healthy after {seconds} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`forewarn serve` on a free loopback port, with its own data directory."""
    tmp_path = tmp_path_factory.mktemp("server")
    port = _free_port()
    # Only our settings: a FOREWARN_DATABASE_URL from the outside must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOREWARN_")}
    env.update(FOREWARN_DATA_DIR=str(tmp_path / "data"), FOREWARN_ADMIN_PASSWORD=ADMIN_PASSWORD)
    command = [sys.executable, "-c", "from forewarn.cli import main; main()"]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command, "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            _wait_healthy(url, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its log ends:\n{log_path.read_text()[-2000:]}") from exc
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def _page(browser: Browser, errors: list[str], width: int = 1280) -> Page:
    """A fresh browser profile whose console errors (a CSP refusal, say) land in `errors`."""
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(5000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page


def _sign_in(page: Page, server: str, username: str, password: str) -> None:
    page.goto(f"{server}/")
    expect(page).to_have_url(f"{server}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Organizations")).to_be_visible()


def _create_org(page: Page, server: str, name: str) -> str:
    page.goto(f"{server}/orgs/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url


def test_sign_in_create_org_and_asset_and_fit_a_phone(
    server: str, browser: Browser, tmp_path: Path
) -> None:
    errors: list[str] = []
    page = _page(browser, errors)
    _sign_in(page, server, "admin", ADMIN_PASSWORD)

    page.get_by_role("link", name="New organization").click()
    page.get_by_label("Name", exact=True).fill("Harbor Vets")
    page.get_by_label("Employees").fill("18")
    page.get_by_label("Cost of a staff hour").fill("39.90")
    page.get_by_label("Currency").fill("EUR")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbor Vets")
    org_url = page.url

    page.get_by_role("link", name="Add asset").click()
    page.get_by_label("Kind").select_option("server")
    page.get_by_label("Name", exact=True).fill("vet-fs01")
    page.get_by_label("Host name or address").fill("fs01.harbor.lan")
    page.get_by_label("Tags").fill("linux, backup")
    page.get_by_role("button", name="Add asset").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("vet-fs01")

    page.goto(org_url)
    table = page.locator("#asset-table")
    expect(table.get_by_role("link", name="vet-fs01")).to_be_visible()
    # Typing filters the table through htmx, without a page load, and the URL follows.
    page.get_by_label("Search").fill("nothing-like-this")
    expect(table.get_by_text("No asset matches these filters.")).to_be_visible()
    expect(page).to_have_url(f"{org_url}?q=nothing-like-this")
    page.get_by_label("Search").fill("")
    expect(table.get_by_role("link", name="vet-fs01")).to_be_visible()

    page.goto(f"{server}/")
    expect(page.get_by_role("link", name="Harbor Vets", exact=True)).to_be_visible()

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(org_url)
    page.screenshot(path=str(tmp_path / "org-375.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 2, f"the organization page is {width} px wide at 375 px"
    assert errors == [], errors


def test_invited_person_joins_and_sees_the_org_read_only(server: str, browser: Browser) -> None:
    errors: list[str] = []
    admin = _page(browser, errors)
    _sign_in(admin, server, "admin", ADMIN_PASSWORD)
    org_url = _create_org(admin, server, "Lighthouse Books")
    admin.get_by_role("button", name="Create invitation link").click()
    link = admin.get_by_label("Invitation link", exact=True).input_value()
    assert "/invite/" in link

    # Another browser profile, on a phone: nobody is signed in there.
    guest = _page(browser, errors, width=375)
    guest.goto(link)
    expect(guest.get_by_role("heading", level=1)).to_have_text("Join Lighthouse Books")
    guest.get_by_label("User name").fill("lighthouse.owner")
    guest.get_by_label("Your name").fill("Lena")
    guest.get_by_label("Password").fill("a long enough secret")
    guest.get_by_role("button", name="Create my account").click()
    expect(guest).to_have_url(org_url)
    expect(guest.get_by_text("Welcome, Lena.")).to_be_visible()
    expect(guest.get_by_role("link", name="Add asset")).to_have_count(0)
    assert errors == [], errors


def test_add_a_tcp_check_and_see_its_state_on_a_phone(
    server: str, browser: Browser, tmp_path: Path
) -> None:
    # A loopback port that accepts connections (the kernel completes them from the backlog).
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        errors: list[str] = []
        page = _page(browser, errors)
        _sign_in(page, server, "admin", ADMIN_PASSWORD)
        _create_org(page, server, "Quay Dental")
        page.get_by_role("link", name="Add asset").click()
        page.get_by_label("Name", exact=True).fill("dental-fs01")
        page.get_by_role("button", name="Add asset").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("dental-fs01")

        checks = page.locator("#asset-checks")
        checks.get_by_role("link", name="Add check").click()  # the section arrives by htmx
        page.get_by_label("Name", exact=True).fill("File share port")
        # Another type swaps in its own settings (htmx), then back.
        page.get_by_label("Type").select_option("heartbeat")
        expect(page.get_by_label("Expected every (s)")).to_have_value("86400")
        page.get_by_label("Type").select_option("tcp")
        page.get_by_label("Host and port").fill(f"127.0.0.1:{port}")
        page.get_by_role("button", name="Add check").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("File share port")
        # The poller runs it at once; the state box refreshes itself every 10 s.
        state = page.locator("#check-state .state-word").first
        expect(state).to_have_text("OK", timeout=25_000)

        page.set_viewport_size({"width": 375, "height": 800})
        page.reload()
        expect(page.locator("#uptime .bar")).to_have_count(90)
        page.screenshot(path=str(tmp_path / "check-375.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 2, f"the check page is {width} px wide at 375 px"
        page.get_by_role("link", name="dental-fs01").first.click()
        expect(checks.locator(".state-word").first).to_have_text("OK")
        box = checks.bounding_box()
        assert box and box["x"] + box["width"] <= 375, "the checks section is wider than 375 px"
        assert errors == [], errors


def test_add_a_network_to_discover_and_fit_a_phone(
    server: str, browser: Browser, tmp_path: Path
) -> None:
    # No sweep here: a sweep sends traffic, which only the netns lab of test_discovery may.
    errors: list[str] = []
    page = _page(browser, errors)
    _sign_in(page, server, "admin", ADMIN_PASSWORD)
    _create_org(page, server, "Dune Opticians")
    page.get_by_role("link", name="Discovery").click()
    expect(page.get_by_text("No networks to sweep yet.")).to_be_visible()

    page.get_by_label("Network", exact=True).fill("10.0.0.0/16")
    page.get_by_label("SNMP communities").fill("public")
    page.get_by_role("button", name="Add network").click()
    expect(page.locator("#f-cidr-error")).to_contain_text("(a /22)")
    expect(page.get_by_label("SNMP communities")).to_have_value("public")
    # The browser logs the refused form's 422 as an error; that one was expected.
    assert [e for e in errors if "422" not in e] == [], errors
    errors.clear()
    page.get_by_label("Network", exact=True).fill("10.213.0.0/24")
    page.get_by_role("button", name="Add network").click()
    expect(page.get_by_text("Added the network 10.213.0.0/24.")).to_be_visible()
    row = page.locator("#networks tbody tr").first
    expect(row).to_contain_text("1 community")
    expect(row.get_by_role("button", name="Sweep now")).to_be_enabled()
    expect(row.locator(".sweep-busy")).to_be_hidden()

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    page.screenshot(path=str(tmp_path / "discovery-375.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 2, f"the discovery page is {width} px wide at 375 px"
    assert errors == [], errors


def test_a_failing_check_reaches_the_inbox_its_filters_and_a_silence(
    server: str, browser: Browser
) -> None:
    """A check that cannot connect opens an alert (the real poller and its recorder child);
    the inbox's filters narrow it away and back; the Silences page silences its asset, shows
    the alert it holds, and ends early."""
    port = _free_port()  # nobody listens there: the connection is refused
    errors: list[str] = []
    page = _page(browser, errors)
    _sign_in(page, server, "admin", ADMIN_PASSWORD)
    org_url = _create_org(page, server, "Pier Bakery")
    page.get_by_role("link", name="Add asset").click()
    page.get_by_label("Name", exact=True).fill("bakery-till")
    page.get_by_role("button", name="Add asset").click()
    page.locator("#asset-checks").get_by_role("link", name="Add check").click()
    page.get_by_label("Name", exact=True).fill("Till service")
    expect(page.get_by_label("Type")).to_have_value("tcp")  # the default: no fields swapped in
    page.get_by_label("Host and port").fill(f"127.0.0.1:{port}")
    page.get_by_label("Attempts").fill("1")  # the first failure is confirmed
    page.get_by_role("button", name="Add check").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Till service")
    expect(page.locator("#check-state")).to_contain_text("Hard: confirmed", timeout=25_000)

    page.goto(f"{org_url}/alerts")
    alerts = page.locator("#alerts")
    expect(alerts).to_contain_text("Till service", timeout=15_000)
    page.get_by_label("Severity").select_option("warning")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"severity=warning"))
    expect(alerts).not_to_contain_text("Till service")
    page.get_by_role("link", name="Clear filters").click()
    expect(alerts).to_contain_text("Till service")

    page.get_by_role("link", name="Silences").click()
    page.get_by_label("Covers").select_option(label="bakery-till")
    page.get_by_label("For", exact=True).fill("2")
    page.get_by_label("Unit").select_option("h")
    page.get_by_label("Why").fill("till replaced today")
    page.locator("#new").get_by_role("button", name="Silence").click()
    active = page.locator("#active")
    expect(active).to_contain_text("till replaced today")
    expect(active).to_contain_text("1 open alert")
    active.get_by_role("button", name=re.compile("End now")).click()
    expect(page.locator("#ended")).to_contain_text("till replaced today")
    expect(page.locator("#active")).not_to_contain_text("till replaced today")
    assert errors == [], errors
