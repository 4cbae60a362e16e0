"""How the gateway serves the panel: types, security headers, caching, the link from `/`."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.configs import gateway_config
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ASSETS = {
    "/management.html": "text/html; charset=utf-8",
    "/panel/panel.css": "text/css; charset=utf-8",
    "/panel/js/main.js": "text/javascript; charset=utf-8",
    "/panel/js/pages/dashboard.js": "text/javascript; charset=utf-8",
    "/panel/favicon.svg": "image/svg+xml",
}


def _client() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=5.0)


def _started(tmp_path: Path, **settings: object) -> GatewayProcess:
    # A busy CI machine may take a while to start a Python process.
    return GatewayProcess(gateway_config(**settings), tmp_path=tmp_path, startup_timeout=30.0)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway with the default settings for the whole module."""
    with _started(tmp_path_factory.mktemp("serving")) as gateway:
        yield gateway


def test_assets_have_their_types_and_security_headers(gw: GatewayProcess) -> None:
    with _client() as client:
        for path, media_type in ASSETS.items():
            answer = client.get(gw.base_url + path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"] == media_type, path
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["x-frame-options"] == "DENY"
            csp = answer.headers["content-security-policy"]
            assert "default-src 'self'" in csp
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert "unsafe-eval" not in csp
            assert "frame-ancestors 'none'" in csp
            assert answer.headers["cache-control"] == "no-cache"
            assert answer.headers["etag"]


def test_an_unchanged_asset_revalidates_as_304(gw: GatewayProcess) -> None:
    with _client() as client:
        first = client.get(gw.base_url + "/panel/panel.css")
        again = client.get(
            gw.base_url + "/panel/panel.css", headers={"If-None-Match": first.headers["etag"]}
        )
        listed = client.get(
            gw.base_url + "/panel/panel.css",
            headers={"If-None-Match": f'"old", W/{first.headers["etag"]}'},
        )
        stale = client.get(gw.base_url + "/panel/panel.css", headers={"If-None-Match": '"old"'})
    assert again.status_code == 304
    assert listed.status_code == 304
    assert again.content == b""
    assert stale.status_code == 200
    assert stale.content == first.content


@pytest.mark.parametrize(
    "path",
    [
        "/panel/__init__.py",
        "/panel/nothing.js",
        "/panel/../aiproxyapi/cli.py",
        "/panel/%2e%2e/pyproject.toml",
        "/panel//etc/passwd",
        "/panel/js/../../pyproject.toml",
    ],
)
def test_only_panel_files_are_served(gw: GatewayProcess, path: str) -> None:
    with _client() as client:
        answer = client.get(gw.base_url + path)
    assert answer.status_code == 404
    assert "[tool" not in answer.text
    assert "root:" not in answer.text


def test_banner_links_the_panel_and_a_browser_is_redirected(gw: GatewayProcess) -> None:
    with _client() as client:
        banner = client.get(gw.base_url + "/", headers={"Accept": "application/json"})
        plain = client.get(gw.base_url + "/")
        browser = client.get(
            gw.base_url + "/",
            headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
        )
    assert banner.json()["control-panel"] == "/management.html"
    assert plain.json()["control-panel"] == "/management.html"
    assert browser.status_code == 302
    assert browser.headers["location"] == "/management.html"


def test_a_disabled_panel_is_not_served_nor_linked(tmp_path: Path) -> None:
    settings = {"remote-management": {"disable-control-panel": True}}
    with _started(tmp_path, **settings) as gateway, _client() as client:
        page = client.get(gateway.base_url + "/management.html")
        asset = client.get(gateway.base_url + "/panel/js/main.js")
        banner = client.get(gateway.base_url + "/", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert asset.status_code == 404
    assert banner.status_code == 200
    assert "control-panel" not in banner.json()


def test_the_wheel_packages_the_panel() -> None:
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    wheel = build["targets"]["wheel"]
    assert "web" in wheel["packages"]
    excluded = [*build.get("exclude", []), *wheel.get("exclude", [])]
    assert not any(
        pattern.endswith((".js", ".css", ".html", "web", "web/")) for pattern in excluded
    )
