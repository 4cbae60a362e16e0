"""The control panel's shell in headless chromium: sign-in, key handling, layout, keyboard, colours."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import MGMT_KEY, Panel
from tests.support.configs import CLIENT_KEY, gateway_config
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e


def test_browser_at_root_lands_on_the_login_page(panel: Panel) -> None:
    panel.page.goto(panel.gateway.base_url + "/")
    assert panel.page.url.endswith("/management.html")
    panel.page.get_by_label("Management key").wait_for()
    assert panel.page.title().startswith("Sign in")
    panel.shot("login")


def test_wrong_key_is_refused_and_the_right_one_opens_the_dashboard(panel: Panel) -> None:
    page = panel.page
    page.goto(panel.url)
    panel.sign_in("not-the-management-key")
    page.get_by_text("Wrong management key").wait_for()
    assert page.evaluate("sessionStorage.length") == 0
    panel.sign_in(MGMT_KEY)
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.get_by_role("heading", name="Traffic").wait_for()
    page.locator(".stats").wait_for()
    # Kept for this tab only unless "remember" was ticked.
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("Object.values(sessionStorage)") == [MGMT_KEY]
    panel.shot("dashboard")


@pytest.mark.parametrize("section", ["dashboard", "accounts", "usage", "providers"])
def test_narrow_screen_layout(panel: Panel, section: str) -> None:
    page = panel.page
    page.set_viewport_size({"width": 375, "height": 812})
    panel.open(section)
    expect(page.locator(".state-loading")).to_have_count(0)
    nav = page.locator("#nav")
    assert not nav.is_visible(), "the menu is folded away on a phone"
    toggle = page.get_by_role("button", name="Menu")
    toggle.click()
    assert nav.is_visible()
    assert toggle.get_attribute("aria-expanded") == "true"
    toggle.click()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{section} scrolls sideways by {overflow}px at 375px"
    panel.shot(f"narrow-{section}")


def test_every_page_renders_without_errors(panel: Panel) -> None:
    page = panel.page
    for section in [
        "dashboard",
        "providers",
        "keys",
        "accounts",
        "oauth",
        "config",
        "logs",
        "usage",
    ]:
        panel.open(section)
        expect(page.locator(".state-loading")).to_have_count(0)
        errors = page.locator(".state-error").all_inner_texts()
        assert errors == [], f"{section}: {errors}"
        panel.shot(f"page-{section}")


def test_every_management_call_carries_the_key_as_bearer(panel: Panel) -> None:
    seen: list[tuple[str, str | None]] = []
    panel.page.on(
        "request",
        lambda req: (
            seen.append((req.url, req.headers.get("authorization")))
            if "/v0/management/" in req.url
            else None
        ),
    )
    panel.open("dashboard")
    expect(panel.page.locator(".state-loading")).to_have_count(0)
    assert len(seen) >= 3
    assert {auth for _, auth in seen} == {f"Bearer {MGMT_KEY}"}


def test_remember_keeps_the_key_across_tabs_and_sign_out_forgets_it(panel: Panel) -> None:
    page = panel.page
    page.goto(panel.url)
    page.get_by_label("Management key").fill(MGMT_KEY)
    page.get_by_label("Remember on this browser").check()
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    assert page.evaluate("Object.values(localStorage)") == [MGMT_KEY]
    second = page.context.new_page()
    second.goto(panel.url + "#/usage")
    second.get_by_role("heading", name="Usage").wait_for()
    second.close()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Management key").wait_for()
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0


def test_keyboard_alone_signs_in_and_moves_between_pages(panel: Panel) -> None:
    page = panel.page
    page.goto(panel.url)
    key = page.get_by_label("Management key")
    expect(key).to_be_focused()
    page.keyboard.type(MGMT_KEY)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Dashboard").wait_for()
    expect(page.locator("#main")).to_be_focused()
    page.get_by_role("link", name="Usage").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Usage").wait_for()
    assert page.get_by_role("link", name="Usage").get_attribute("aria-current") == "page"


def test_dark_colour_scheme_follows_the_system(browser: Any, panel: Panel) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        try:
            page = context.new_page()
            page.goto(panel.url)
            page.get_by_label("Management key").wait_for()
            colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
            page.screenshot(path=str(panel.artifacts / f"login-{scheme}.png"))
        finally:
            context.close()
    assert colours["light"] != colours["dark"]
    channels = [int(c) for c in re.findall(r"\d+", colours["dark"])[:3]]
    assert max(channels) < 60, f"dark background is {colours['dark']}"


def test_without_a_management_secret_the_login_says_the_api_is_off(
    browser: Any, tmp_path: Path
) -> None:
    config = gateway_config(api_keys=[CLIENT_KEY])
    # An inherited MANAGEMENT_PASSWORD would turn the API on.
    off = {"MANAGEMENT_PASSWORD": ""}
    with GatewayProcess(config, tmp_path=tmp_path, env=off, startup_timeout=30.0) as gateway:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{gateway.base_url}/management.html")
            page.get_by_label("Management key").fill("anything-at-all")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("The management API is off on this server").wait_for()
            assert page.evaluate("sessionStorage.length + localStorage.length") == 0
        finally:
            context.close()
