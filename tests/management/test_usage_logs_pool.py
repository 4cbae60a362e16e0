"""Usage (v6 shapes, export and import), logs, error logs, pool views and reset-quota."""

from __future__ import annotations

import time

import pytest

from tests.management.support import UPSTREAM_KEY, chat, mgmt, mgmt_config
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply

pytestmark = pytest.mark.e2e


def test_usage_export_and_import(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    first = start_gateway(mgmt_config(fake_upstream.base_url))
    assert chat(first).status_code == 200
    fake_upstream.script(Reply.error(400), key=UPSTREAM_KEY)
    assert chat(first).status_code == 400
    with mgmt(first) as client:
        usage = client.get("/usage").json()
        assert usage["failed_requests"] == 1
        snapshot = usage["usage"]
        assert snapshot["total_requests"] == 2
        assert snapshot["success_count"] == 1
        assert snapshot["failure_count"] == 1
        (api,) = snapshot["apis"].values()
        assert api["total_requests"] == 2
        details = api["models"]["m1"]["details"]
        assert [d["failed"] for d in details] == [False, True]
        assert set(details[0]["tokens"]) == {
            "input_tokens",
            "output_tokens",
            "reasoning_tokens",
            "cached_tokens",
            "total_tokens",
        }
        assert sum(snapshot["requests_by_day"].values()) == 2
        assert sum(snapshot["requests_by_hour"].values()) == 2
        exported = client.get("/usage/export").json()
        assert exported["version"] == 1
        assert exported["exported_at"]
        assert exported["usage"]["total_requests"] == 2
        again = client.post("/usage/import", json=exported).json()
        assert again == {"added": 0, "skipped": 2, "total_requests": 2, "failed_requests": 1}
        assert client.post("/usage/import", json={"nope": 1}).status_code == 400

        key_usage = client.get("/api-key-usage").json()
        ((key, counters),) = key_usage["up"].items()
        assert key == f"{fake_upstream.base_url}|sk-u...90b2"
        assert counters["success"] == 1
        assert sum(b["success"] for b in counters["recent_requests"]) == 1

    second = start_gateway(mgmt_config(fake_upstream.base_url))
    with mgmt(second) as client:
        imported = client.post("/usage/import", json=exported).json()
        assert imported == {"added": 2, "skipped": 0, "total_requests": 2, "failed_requests": 1}
        assert client.get("/usage").json()["usage"]["apis"] == exported["usage"]["apis"]


def test_logs_tail_and_clear(fake_upstream: FakeUpstream, start_gateway: GatewayFactory) -> None:
    gateway = start_gateway(mgmt_config(fake_upstream.base_url, **{"logging-to-file": True}))
    log_dir = gateway.tmp_path / "logs"
    with mgmt(gateway) as client:
        assert client.put("/debug", json={"value": True}).is_success
        tail = client.get("/logs").json()
        assert tail["line-count"] >= 1
        assert any("config reloaded" in line for line in tail["lines"])
        assert tail["latest-timestamp"] > time.time() - 3600
        assert len(client.get("/logs", params={"limit": 1}).json()["lines"]) == 1
        later = client.get("/logs", params={"after": tail["latest-timestamp"] + 1}).json()
        assert later["lines"] == []
        assert client.get("/logs", params={"after": "soon"}).status_code == 400
        (log_dir / "main.log.1").write_text("old rotated log\n")
        cleared = client.delete("/logs").json()
        assert cleared == {"success": True, "message": "Logs cleared successfully", "removed": 1}
        assert not (log_dir / "main.log.1").exists()
        assert "config reloaded" not in (log_dir / "main.log").read_text()

        (log_dir / "error-2026-12-01.log").write_text("upstream said no\n")
        (log_dir / "notes.txt").write_text("not an error log\n")
        files = client.get("/request-error-logs").json()["files"]
        assert [f["name"] for f in files] == ["error-2026-12-01.log"]
        assert files[0]["size"] == len("upstream said no\n")
        one = client.get("/request-error-logs/error-2026-12-01.log")
        assert one.text == "upstream said no\n"
        assert client.get("/request-error-logs/notes.txt").status_code == 404
        assert client.get("/request-error-logs/..%2fconfig.yaml").status_code == 404

        assert client.put("/logging-to-file", json={"value": False}).is_success
        assert client.get("/logs").json() == {"error": "logging to file disabled"}


def test_pool_views_and_reset_quota(
    fake_upstream: FakeUpstream, start_gateway: GatewayFactory
) -> None:
    gateway = start_gateway(mgmt_config(fake_upstream.base_url))
    fake_upstream.script(Reply.error(429, headers={"Retry-After": "600"}), key=UPSTREAM_KEY)
    assert chat(gateway).status_code == 429
    with mgmt(gateway) as client:
        models = client.get("/models").json()["models"]
        assert models == [
            {"id": "m1", "owned_by": "up", "upstream_models": ["m1"], "credentials": 1}
        ]
        (auth,) = client.get("/auths").json()["auths"]
        assert auth["status"] == "cooling"
        assert auth["failed"] == 1
        assert UPSTREAM_KEY not in client.get("/auths").text
        index = auth["auth_index"]
        per_key = client.get("/auth-files/models", params={"name": index}).json()
        assert [m["id"] for m in per_key["models"]] == ["m1"]
        assert chat(gateway).status_code == 429  # still cooling: the upstream is not asked
        reset = client.post("/reset-quota", json={"auth_index": index}).json()
        assert reset == {"status": "ok", "auth_index": index, "models": ["m1"]}
        assert chat(gateway).status_code == 200
        assert client.get("/auths").json()["auths"][0]["status"] == "active"
        assert client.post("/reset-quota", json={"auth_index": "nope"}).status_code == 404
        assert client.post("/reset-quota", json={}).status_code == 400
