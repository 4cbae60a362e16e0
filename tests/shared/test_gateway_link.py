"""The gateway's Redis link: made from the `redis` section, kept across reloads, lazy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aiproxyapi.config import load_config
from aiproxyapi.gateway import Gateway

BASE = "host: 127.0.0.1\nauth-dir: {auths}\nredis: {{url: 'redis://:pw-canary-77@127.0.0.1:1/0', key-prefix: '{prefix}'}}\n"


def write(path: Path, prefix: str, extra: str = "") -> None:
    path.write_text(BASE.format(auths=path.parent / "auths", prefix=prefix) + extra)


async def test_a_reload_keeps_the_link_and_a_redis_change_waits_for_a_restart(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    write(path, "one:", "cache: {enable: true}\n")
    gateway = Gateway(load_config(path), path)
    link = gateway.redis
    assert link is not None
    assert link.prefix == "one:"
    assert type(gateway.cache).__name__ == "_LinkedCache"  # the cache borrows the link
    assert gateway.state.listener is not None
    assert gateway.state.turns is not None
    try:
        write(path, "one:", "cache: {enable: true}\nrequest-retry: 1\n")
        assert gateway.reload().applied
        assert gateway.redis is link
        write(path, "two:", "cache: {enable: true}\nrequest-retry: 1\n")
        assert gateway.reload().applied
        assert gateway.redis is link
        assert "redis changed: takes effect after a restart" in capfd.readouterr().err
        assert "pw-canary-77" not in link.where
    finally:
        await link.close()


def test_without_a_redis_section_redis_is_never_imported(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"host: 127.0.0.1\nauth-dir: {tmp_path / 'auths'}\ncache: {{enable: true}}\n")
    probe = (
        "import sys; from pathlib import Path; from aiproxyapi.config import load_config; "
        "from aiproxyapi.gateway import Gateway; "
        f"g = Gateway(load_config(Path({str(path)!r})), Path({str(path)!r})); "
        "assert g.redis is None and g.state.turns is None; "
        "print('redis' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False", out.stderr


def test_management_views_hide_the_redis_password_and_take_the_mask_back() -> None:
    from aiproxyapi.management.masking import mask_document, secrets_in, unmask_document

    document = {"redis": {"url": "redis://user:pw-canary-77@h:6379/0", "key-prefix": "a:"}}
    shown = mask_document(document)
    assert "pw-canary-77" not in str(shown)
    assert shown["redis"]["url"].endswith("@h:6379/0")
    assert unmask_document(shown, secrets_in(document)) == document
    plain = {"cache": {"redis-url": "redis://h:6379/0"}}
    assert mask_document(plain) == plain  # nothing secret in it: shown as it is
