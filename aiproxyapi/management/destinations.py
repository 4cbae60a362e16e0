"""The write-time half of the SSRF guard: upstream URLs a management change brings in.

Every URL that leaves the gateway with a credential (provider `base-url`, `proxy-url` at the
top and per entry, an auth record's `base_url` and `proxy_url`) is checked by
`aiproxyapi.egress.check_url` when a management call writes it. A URL whose origin the config
(or the record) already held is the operator's and passes unchanged, so the panel can save a
list that holds a local upstream the operator put in the file. `allow-private-upstreams` itself
is never changed through the management API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiproxyapi.config import Config, ConfigError, parse_config
from aiproxyapi.egress import DestinationRefused, EgressPolicy, check_url, origin_of
from aiproxyapi.management._http import ManagementError

__all__ = ["check_config_destinations", "check_record_destinations"]

_PROVIDER_LISTS = ("claude_api_key", "gemini_api_key", "codex_api_key", "vertex_api_key")


def _config_urls(config: Config) -> Iterator[tuple[str, str, bool]]:
    """(config path, URL, is a proxy) of every upstream URL in a config."""
    if config.proxy_url:
        yield "proxy-url", config.proxy_url, True
    for attribute in _PROVIDER_LISTS:
        name = attribute.replace("_", "-")
        for index, entry in enumerate(getattr(config, attribute)):
            if entry.base_url:
                yield f"{name}[{index}].base-url", entry.base_url, False
            if entry.proxy_url:
                yield f"{name}[{index}].proxy-url", entry.proxy_url, True
    for index, compat in enumerate(config.openai_compatibility):
        where = f"openai-compatibility[{index}]"
        if compat.base_url:
            yield f"{where}.base-url", compat.base_url, False
        for item, key in enumerate(compat.api_key_entries):
            if key.proxy_url:
                yield f"{where}.api-key-entries[{item}].proxy-url", key.proxy_url, True


def _origins(urls: Iterator[tuple[str, str, bool]]) -> set[tuple[str, str, int]]:
    return {origin for _, url, _ in urls if (origin := origin_of(url)) is not None}


async def _check(path: str, url: str, proxy: bool, policy: EgressPolicy) -> None:
    try:
        await check_url(url, policy, proxy=proxy)
    except DestinationRefused as exc:
        raise ManagementError(400, "destination_refused", f"{path}: {exc}", path=path) from None


async def check_config_destinations(before_text: str, after: Config) -> None:
    """Refuse a config change that points an upstream at a private address (400)."""
    try:
        before: Config | None = parse_config(before_text, "config.yaml").config
    except ConfigError:
        before = None
    known = _origins(_config_urls(before)) if before is not None else set()
    allowed = before.allow_private_upstreams if before is not None else ()
    if tuple(after.allow_private_upstreams) != tuple(allowed):
        raise ManagementError(
            400,
            "destination_refused",
            "allow-private-upstreams can only be changed in the config file on disk",
            path="allow-private-upstreams",
        )
    policy = EgressPolicy.from_entries(allowed)
    for path, url, proxy in _config_urls(after):
        if origin_of(url) not in known:
            await _check(path, url, proxy, policy)


async def check_record_destinations(
    before: dict[str, Any] | None, after: dict[str, Any], policy: EgressPolicy
) -> None:
    """Refuse an auth record whose new `base_url` or `proxy_url` is a private address (400)."""
    for field, proxy in (("base_url", False), ("proxy_url", True)):
        url = after.get(field)
        if not isinstance(url, str) or not url.strip():
            continue
        old = before.get(field) if before is not None else None
        if isinstance(old, str) and origin_of(old) == origin_of(url):
            continue
        await _check(field, url, proxy, policy)
