"""The panel's files: everything the page references exists, and nothing reaches off-site."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
PAGE = WEB / "management.html"
ASSET_PREFIX = "/panel/"
# A host with a dot in it after `//`: what a fetch off this origin would need.
EXTERNAL = re.compile(r"(?:https?:)?//(?:[a-z0-9-]+\.)+[a-z]{2,}", re.IGNORECASE)
# XML namespaces are identifiers, never fetched.
NAMESPACES = {"http://www.w3.org/2000/svg"}
IMPORT = re.compile(r"""(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]""", re.MULTILINE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("href", "src"):
            if values.get(name):
                self.urls.append(str(values[name]))
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if "style" in values:
            self.inline_styles += 1
        self._in_script = tag == "script"
        if tag == "style":
            self.inline_styles += 1

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def _served_file(url: str) -> Path:
    assert url.startswith(ASSET_PREFIX), f"{url} is not one of the panel's own assets"
    return WEB / url.removeprefix(ASSET_PREFIX)


def _page_references() -> _References:
    parser = _References()
    parser.feed(PAGE.read_text(encoding="utf-8"))
    return parser


def _assets() -> list[Path]:
    return sorted(
        p for p in WEB.rglob("*") if p.is_file() and p.suffix in {".html", ".css", ".js", ".svg"}
    )


def test_every_asset_the_page_references_exists() -> None:
    refs = _page_references()
    local = [url for url in refs.urls if not url.startswith("#")]
    assert local, "the page references no assets at all"
    for url in local:
        assert _served_file(url).is_file(), f"{url} is referenced by management.html but missing"


def test_the_page_has_no_inline_script_style_or_handler() -> None:
    refs = _page_references()
    assert refs.inline_scripts == 0
    assert refs.inline_styles == 0
    assert refs.handlers == []


def test_every_module_import_resolves_to_a_file() -> None:
    modules = sorted(WEB.rglob("*.js"))
    assert len(modules) > 5
    reached = {WEB / "js" / "main.js"}
    for module in modules:
        for spec in IMPORT.findall(module.read_text(encoding="utf-8")):
            assert spec.startswith("./") or spec.startswith("../"), (
                f"{module.name}: bare import {spec}"
            )
            target = (module.parent / spec).resolve()
            assert target.is_file(), f"{module.relative_to(WEB)} imports missing {spec}"
            reached.add(target)
    unreached = [m.relative_to(WEB) for m in modules if m.resolve() not in reached]
    assert unreached == [], f"modules nothing imports: {unreached}"


def test_css_urls_are_local() -> None:
    for sheet in WEB.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8")
        assert "@import" not in text
        for url in CSS_URL.findall(text):
            assert url.startswith(("/panel/", "data:")), f"{sheet.name} loads {url}"


@pytest.mark.parametrize("asset", _assets(), ids=lambda p: str(p.relative_to(WEB)))
def test_no_asset_references_an_external_url(asset: Path) -> None:
    text = asset.read_text(encoding="utf-8")
    found = [m.group(0) for m in EXTERNAL.finditer(text) if m.group(0) not in NAMESPACES]
    found = [url for url in found if not any(ns.startswith(url) for ns in NAMESPACES)]
    assert found == [], f"{asset.name} references {found}"


def test_scripts_never_parse_data_as_html() -> None:
    sinks = re.compile(
        r"\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\("
    )
    for module in WEB.rglob("*.js"):
        text = module.read_text(encoding="utf-8")
        assert not sinks.search(text), f"{module.name} uses an HTML or code sink"
