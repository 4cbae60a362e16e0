"""An auth record's listing entry joins pool state and usage by credential id (the record name)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from aiproxyapi.config import load_config
from aiproxyapi.errors import Blame
from aiproxyapi.gateway import Gateway
from aiproxyapi.management.auth_listing import describe_record
from aiproxyapi.pool import Verdict
from aiproxyapi.usage import UsageRecord

NAME = "claude-a@b.com.json"


def _gateway(tmp_path: Path) -> Gateway:
    path = tmp_path / "config.yaml"
    path.write_text(f'host: 127.0.0.1\nauth-dir: "{tmp_path / "auths"}"\n')
    return Gateway(load_config(path), path)


def _usage(failed: bool, at: float) -> UsageRecord:
    return UsageRecord(
        timestamp=at,
        request_id="r",
        endpoint="POST /v1/messages",
        client="key-00000000",
        credential=NAME,
        provider="claude",
        requested_model="claude-x",
        upstream_model="claude-x",
        latency_ms=5.0,
        status=429 if failed else 200,
        failed=failed,
    )


def test_counters_cooldowns_and_buckets_come_from_the_record_name(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path)
    state = gateway.state
    state.record_success(NAME, "claude-x")
    state.record_failure(NAME, "claude-x", Verdict(Blame.CREDENTIAL, 120.0, "quota"))
    state.record_failure("someone-else.json", "claude-x", Verdict(Blame.CREDENTIAL, 60.0, "x"))
    now = time.time()
    recent = [_usage(False, now - 5), _usage(True, now - 1), _usage(False, now - 86400)]
    data = json.dumps(
        {"type": "claude", "email": "a@b.com", "access_token": "tok-canary-3c1f"}
    ).encode()
    entry = describe_record(gateway, NAME, data, None, recent)
    assert entry["success"] == 1
    assert entry["failed"] == 1
    assert entry["last_error"] == "quota"
    assert entry["status"] == "cooling"
    assert entry["unavailable"] is True
    (cooldown,) = entry["cooldowns"]
    assert cooldown["model"] == "claude-x"
    assert cooldown["reason"] == "quota"
    assert 110 < cooldown["seconds_left"] <= 120
    latest = entry["recent_requests"][-2:]  # the two records may straddle a slot boundary
    assert sum(b["success"] for b in latest) == 1
    assert sum(b["failed"] for b in latest) == 1
    assert sum(b["success"] + b["failed"] for b in entry["recent_requests"]) == 2
    assert "tok-canary-3c1f" not in json.dumps(entry)
    state.reset(NAME)
    assert describe_record(gateway, NAME, data, None)["status"] == "active"


def test_a_record_that_is_not_json_is_listed_as_an_error(tmp_path: Path) -> None:
    entry = describe_record(_gateway(tmp_path), "broken.json", b"{not json", None)
    assert entry["status"] == "error"
    assert entry["name"] == "broken.json"
