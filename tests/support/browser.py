"""Driving the control panel in Debian's chromium: launch settings and a page helper."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fake_upstream import FakeUpstream
from .gateway import GatewayProcess

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "MGMT_KEY", "MODEL", "UPSTREAM_KEY", "Panel"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "web" / "artifacts"
MGMT_KEY = "mgmt-panel-test-key-4f2a9c"
MODEL = "panel-model"
UPSTREAM_KEY = "sk-up-panel-0001"


@dataclass
class Panel:
    """The gateway the panel is served by, its fake upstream, and the page under test."""

    gateway: GatewayProcess
    upstream: FakeUpstream
    page: Any
    artifacts: Path
    problems: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The panel's address."""
        return f"{self.gateway.base_url}/management.html"

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as a test artifact."""
        path = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def open(self, section: str = "dashboard") -> None:
        """Go to a section, signing in first when the tab has no key yet."""
        self.page.goto(f"{self.url}#/{section}")
        if self.page.get_by_label("Management key").is_visible():
            self.sign_in(MGMT_KEY)
        # The shell (navigation beside the page) is up only once the key was accepted.
        self.page.locator(".layout h1").wait_for()

    def sign_in(self, key: str) -> None:
        """Fill in the login form and submit it."""
        self.page.get_by_label("Management key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
