"""Accounts in the gateway: records rebuild the runtime through the reload path, state survives."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiproxyapi import logs
from aiproxyapi.accounts import load_records
from aiproxyapi.config import parse_config
from aiproxyapi.errors import Blame
from aiproxyapi.gateway import Gateway
from aiproxyapi.pool import Verdict
from storage import FileStore
from tests.support.oauth_records import record

CONFIG = """
auth-dir: {auth}
api-keys: [sk-client]
openai-compatibility:
  - name: up
    base-url: https://up.invalid/v1
    api-key-entries: [{{api-key: sk-up}}]
    models: [{{name: m1}}]
oauth-excluded-models:
  claude: ["claude-3-*"]
"""


async def test_records_rebuild_the_runtime_and_cooldowns_survive(tmp_path: Path) -> None:
    loaded = parse_config(CONFIG.format(auth=tmp_path))
    gateway = Gateway(loaded, None, store=FileStore(tmp_path, tmp_path / "config.yaml"))
    try:
        (api_key,) = gateway.runtime.credentials
        gateway.state.record_failure(api_key.id, "m1", Verdict(Blame.QUOTA, 60.0, "quota"))
        first = gateway.runtime.generation
        (tmp_path / "claude-a.json").write_text(json.dumps(record("claude", "tok-secret-1")))
        assert await load_records(gateway.accounts, gateway.store)
        assert gateway.rebuild("auth records")
        runtime = gateway.runtime
        assert runtime.generation == first + 1
        assert "claude-sonnet-4-5-20250929" in runtime.registry
        assert "claude-3-7-sonnet-20250219" not in runtime.registry  # oauth-excluded-models
        assert gateway.state.resting_until(api_key.id, "m1") > 0  # the cooldown survived
        assert "tok-secret-1" in logs._scrubber.secrets  # registered with the log scrubber
        assert "r-tok-secret-1" in logs._scrubber.secrets
        # The record leaves: its models go with the next runtime.
        gateway.accounts.remove("claude-a.json")
        gateway.rebuild("auth records")
        assert "claude-sonnet-4-5-20250929" not in gateway.runtime.registry
    finally:
        await gateway.clients.aclose()


class _FlakyFeed(FileStore):
    """A file store whose first change feed breaks: the follower must come back by itself."""

    feeds = 0

    async def changes(self):  # type: ignore[no-untyped-def, override]
        self.feeds += 1
        if self.feeds == 1:
            raise OSError("the watcher lost its directory")
        async for change in super().changes():
            yield change


async def test_the_record_follower_outlives_a_broken_change_feed(tmp_path: Path) -> None:
    loaded = parse_config(CONFIG.format(auth=tmp_path))
    store = _FlakyFeed(tmp_path, tmp_path / "config.yaml")
    gateway = Gateway(loaded, None, store=store)
    await gateway.start()
    try:
        # Written while the first feed is broken: the re-read after the restart takes it in.
        (tmp_path / "claude-a.json").write_text(json.dumps(record("claude", "tok-secret-2")))
        for _ in range(100):
            if "claude-sonnet-4-5-20250929" in gateway.runtime.registry:
                break
            await asyncio.sleep(0.05)
        assert "claude-sonnet-4-5-20250929" in gateway.runtime.registry
        assert store.feeds >= 2
    finally:
        await gateway.stop()
