"""Browser fixtures: Debian's chromium driven by Playwright, a gateway with the management API on.

Screenshots go to ``tests/web/artifacts/`` (git-ignored); the run's summary prints the path.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    MGMT_KEY,
    MODEL,
    UPSTREAM_KEY,
    Panel,
)
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the screenshots are, once, at the end of the run."""
    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"control panel screenshots: {ARTIFACTS}")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The screenshot directory, emptied at the start of the session."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (tests/run installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def panel_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[GatewayProcess, FakeUpstream]]:
    """A gateway with one openai-compatible provider, a client key and the management API on."""
    upstream = FakeUpstream().start()
    tmp = tmp_path_factory.mktemp("panel")
    config = gateway_config(
        openai_entry("fake", upstream.base_url, [UPSTREAM_KEY], models=[("gpt-4o", MODEL)]),
        api_keys=[CLIENT_KEY],
        **{"logging-to-file": True},
    )
    gateway = GatewayProcess(
        config, tmp_path=tmp, env={"MANAGEMENT_PASSWORD": MGMT_KEY}, startup_timeout=30.0
    )
    try:
        gateway.start()
        yield gateway, upstream
    finally:
        gateway.stop()
        upstream.stop()


@pytest.fixture
def panel(
    browser: Any, panel_gateway: tuple[GatewayProcess, FakeUpstream], artifacts: Path
) -> Iterator[Panel]:
    """A fresh browser context (empty storage) on the panel; fails on any script or CSP error."""
    gateway, upstream = panel_gateway
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    ui = Panel(gateway, upstream, page, artifacts)
    page.on("pageerror", lambda exc: ui.problems.append(f"script error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            ui.problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    page.on(
        "request",
        lambda req: (
            None
            if req.url.startswith((gateway.base_url, "data:", "blob:"))
            else ui.problems.append(f"off-site request: {req.url}")
        ),
    )
    try:
        yield ui
    finally:
        context.close()
    assert ui.problems == [], ui.problems
