"""The control panel's pages doing their work in headless chromium, against a real gateway."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from playwright.sync_api import expect

from tests.support.browser import MGMT_KEY, MODEL, UPSTREAM_KEY, Panel
from tests.support.configs import CLIENT_KEY
from tests.support.fake_upstream import Reply
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e


def test_add_a_client_key_and_use_it(panel: Panel) -> None:
    page = panel.page
    panel.open("keys")
    page.get_by_role("button", name="Add key", exact=True).first.click()
    new_key = "sk-panel-added-key-77c1e0"
    page.get_by_label("Key", exact=True).fill(new_key)
    page.get_by_role("button", name="Add key").last.click()
    page.get_by_text("Key added.").wait_for()
    rows = page.locator("table tbody tr")
    rows.nth(1).wait_for()
    listed = rows.all_inner_texts()
    assert len(listed) == 2
    assert all(new_key not in row for row in listed), "the listing shows a key unmasked"
    assert new_key in panel.gateway.config_path.read_text()
    panel.shot("client-keys")
    # The new key works against the gateway (after its reload).
    with httpx.Client(trust_env=False) as client:
        answer = client.get(
            f"{panel.gateway.base_url}/v1/models", headers={"Authorization": f"Bearer {new_key}"}
        )
    assert answer.status_code == 200
    assert MODEL in answer.text


def test_upload_an_auth_file_and_see_it_listed(panel: Panel, tmp_path: Path) -> None:
    page = panel.page
    record = {
        "type": "claude",
        "email": "panel@example.com",
        "access_token": "at-panel-secret",
        "refresh_token": "rt-panel-secret",
        "expired": "2099-01-01T00:00:00Z",
    }
    upload = tmp_path / "claude-panel@example.com.json"
    upload.write_text(json.dumps(record))
    panel.open("accounts")
    page.get_by_label("Auth file (JSON)").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("Uploaded.").wait_for()
    row = page.locator("table tbody tr", has_text="claude-panel@example.com.json")
    row.wait_for()
    assert "panel@example.com" in row.inner_text()
    assert "at-panel-secret" not in page.content()
    stored = panel.gateway.auth_dir / upload.name
    assert stored.is_file()
    panel.shot("accounts")
    # Disable takes it out of rotation (in the record itself), Enable puts it back.
    row.get_by_role("button", name="Disable").click()
    row.locator("[data-state=disabled]").wait_for()
    assert json.loads(stored.read_text())["disabled"] is True
    row.get_by_role("button", name="Enable").click()
    row.locator("[data-state=healthy]").wait_for()
    assert json.loads(stored.read_text())["disabled"] is False
    with page.expect_download() as download:
        row.get_by_role("button", name="Download").click()
    saved = tmp_path / "downloaded.json"
    download.value.save_as(saved)
    assert download.value.suggested_filename == upload.name
    assert json.loads(saved.read_text())["email"] == "panel@example.com"
    page.on("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    page.get_by_text("No auth files yet").wait_for()
    assert not stored.exists()


def test_a_request_through_the_gateway_shows_in_usage(panel: Panel) -> None:
    client = tracked(OpenAI(base_url=f"{panel.gateway.base_url}/v1", api_key=CLIENT_KEY))
    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello"}]
    )
    assert answer.choices[0].message.content
    page = panel.page
    panel.open("usage")
    summary = page.locator("table", has=page.locator("caption", has_text="Requests by model"))
    row = summary.locator("tbody tr", has_text=MODEL)
    row.wait_for()
    assert re.search(rf"{MODEL}\s+[1-9]", row.inner_text())
    # The model filter narrows both tables to that model.
    page.get_by_label("Model").select_option(MODEL)
    recent = page.locator("table", has=page.locator("caption", has_text="Recent requests"))
    assert recent.locator("tbody tr").count() >= 1
    assert all(MODEL in text for text in recent.locator("tbody tr").all_inner_texts())
    panel.shot("usage")
    panel.open("dashboard")
    total = page.locator(".stat", has_text="Requests").locator(".stat-value")
    total.wait_for()
    assert int(total.inner_text().replace(",", "")) >= 1
    # The requests chart has a bar for the current hour (the page's CSP forbids eval, so
    # Playwright waits on selectors here, never on evaluated predicates).
    page.locator('figure.chart rect.bar:not([height="0.00"])').first.wait_for(state="attached")


def test_config_editor_shows_the_validation_error_and_saves_nothing(panel: Panel) -> None:
    page = panel.page
    before = panel.gateway.config_path.read_bytes()
    panel.open("config")
    editor = page.get_by_label("config.yaml")
    editor.wait_for()
    assert "api-keys" in editor.input_value()
    editor.fill(editor.input_value() + "\nrequest-retry: many\n")
    page.get_by_text("Unsaved changes").wait_for()
    page.get_by_role("button", name="Save").click()
    error = page.get_by_test_id("config-error")
    error.wait_for()
    assert "Not saved" in error.inner_text()
    assert "request-retry" in error.inner_text()
    assert panel.gateway.config_path.read_bytes() == before
    panel.shot("config-error")


def test_an_oauth_button_starts_the_flow_or_says_it_is_not_offered(panel: Panel) -> None:
    with httpx.Client(trust_env=False) as client:
        probe = client.get(
            f"{panel.gateway.base_url}/v0/management/anthropic-auth-url",
            params={"is_webui": "true"},
            headers={"Authorization": f"Bearer {MGMT_KEY}"},
        )
    page = panel.page
    panel.open("oauth")
    card = page.locator("[data-provider=claude]")
    card.get_by_role("button", name="Sign in with Claude").click()
    if probe.status_code == 404:
        card.get_by_text("Not available on this server").wait_for()
    else:
        assert probe.status_code == 200, probe.text
        card.locator(".oauth-url, .device-code").first.wait_for()
        card.get_by_text("Waiting for you to finish signing in").wait_for()
    panel.shot("oauth-claude")


def test_add_a_provider_and_test_its_connection(panel: Panel) -> None:
    page = panel.page
    panel.open("providers")
    page.get_by_label("Client key for tests").fill(CLIENT_KEY)
    page.get_by_label("Client key for tests").press("Tab")
    section = page.locator("[data-route=openai-compatibility]")
    section.get_by_role("button", name="Add OpenAI-compatible").click()
    form = section.locator("form")
    form.get_by_label("Name").fill("added")
    form.get_by_label("Base URL").fill(panel.upstream.base_url)
    form.get_by_label("API keys").fill("sk-up-added-0002")
    form.get_by_label("Models", exact=True).fill("gpt-4o-mini = added-model")
    form.get_by_role("button", name="Add").click()
    row = section.locator("tbody tr", has_text="added-model")
    row.wait_for()
    assert "sk-up-added-0002" not in row.inner_text()
    assert "sk-up-added-0002" in panel.gateway.config_path.read_text()
    row.get_by_role("button", name="Test").click()
    row.get_by_text("OK: added-model answered").wait_for()
    assert panel.upstream.requests_for("sk-up-added-0002"), "the test never reached the upstream"
    panel.shot("providers")
    # Edit keeps the masked key: only the prefix changes.
    row.get_by_role("button", name="Edit").click()
    section.locator("form").get_by_label("Prefix").fill("team")
    section.locator("form").get_by_role("button", name="Save").click()
    section.locator("tbody tr", has_text="prefix team").wait_for()
    text = panel.gateway.config_path.read_text()
    assert "sk-up-added-0002" in text
    assert "prefix: team" in text


def test_logs_tail_and_clear(panel: Panel, tmp_path: Path) -> None:
    page = panel.page
    error_log = panel.gateway.tmp_path / "logs" / "error-panel-test.log"
    error_log.write_text("POST /v1/chat/completions 502\n")
    panel.open("logs")
    log = page.get_by_label("Main log")
    expect(log).to_contain_text("serving on")
    listed = page.locator("tbody tr", has_text=error_log.name)
    with page.expect_download() as download:
        listed.get_by_role("button", name="Download").click()
    saved = tmp_path / "error.log"
    download.value.save_as(saved)
    assert saved.read_text() == error_log.read_text()
    panel.shot("logs")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Clear logs").click()
    page.get_by_text("Logs cleared.").wait_for()
    expect(log).not_to_contain_text("serving on")


def test_a_cooling_credential_shows_on_the_dashboard_and_errors_are_charted(panel: Panel) -> None:
    panel.upstream.script(Reply.error(429, retry_after=600), key=UPSTREAM_KEY)
    base = panel.gateway.base_url
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        refused = client.post(
            f"{base}/v1/chat/completions",
            headers={"Authorization": f"Bearer {CLIENT_KEY}"},
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert refused.status_code == 429
        try:
            page = panel.page
            panel.open("dashboard")
            expect(page.locator("[data-state=cooling] strong")).to_have_text("1")
            errors = page.locator(".stat", has_text="Errors").locator(".stat-value")
            assert int(errors.inner_text()) >= 1
            page.locator('.chart-bad rect.bar:not([height="0.00"])').first.wait_for(
                state="attached"
            )
            panel.shot("dashboard-cooling")
        finally:
            auths = client.get(
                f"{base}/v0/management/auths", headers={"Authorization": f"Bearer {MGMT_KEY}"}
            ).json()["auths"]
            for auth in auths:
                client.post(
                    f"{base}/v0/management/reset-quota",
                    headers={"Authorization": f"Bearer {MGMT_KEY}"},
                    json={"auth_index": auth["auth_index"]},
                )
