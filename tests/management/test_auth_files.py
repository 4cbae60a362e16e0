"""`/auth-files` over real HTTP: upload, list, download, edit, delete; names never escape."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.management.support import mgmt
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

ACCESS = "ya29.access-token-canary-51c0e7"
REFRESH = "refresh-token-canary-9d2b44"


def record(email: str = "a@b.com", kind: str = "claude") -> dict[str, object]:
    return {
        "type": kind,
        "email": email,
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "last_refresh": "2026-12-01T10:00:00Z",
        "expired": "2026-12-01T18:00:00Z",
    }


def test_upload_list_download_edit_delete(shared_gateway: GatewayProcess) -> None:
    auth_dir = shared_gateway.auth_dir
    with mgmt(shared_gateway) as client:
        multipart = client.post(
            "/auth-files",
            files={"file": ("claude-a@b.com.json", json.dumps(record()), "application/json")},
        )
        assert multipart.json() == {"status": "ok"}
        raw = client.post(
            "/auth-files",
            params={"name": "codex-c@d.com-plus.json"},
            content=json.dumps(record("c@d.com", "codex")),
            headers={"content-type": "application/json"},
        )
        assert raw.json() == {"status": "ok"}
        assert (auth_dir / "claude-a@b.com.json").stat().st_mode & 0o777 == 0o600

        listing = client.get("/auth-files")
        assert ACCESS not in listing.text
        assert REFRESH not in listing.text
        files = {entry["name"]: entry for entry in listing.json()["files"]}
        claude = files["claude-a@b.com.json"]
        assert claude["provider"] == "claude"
        assert claude["email"] == "a@b.com"
        assert claude["status"] == "active"
        assert claude["disabled"] is False
        assert claude["success"] == 0
        assert claude["failed"] == 0
        assert len(claude["recent_requests"]) == 20
        assert claude["refresh"]["has_refresh_token"] is True
        assert claude["refresh"]["expires_at"] == "2026-12-01T18:00:00Z"
        assert claude["last_refresh"] == "2026-12-01T10:00:00Z"
        assert claude["cooldowns"] == []

        download = client.get("/auth-files/download", params={"name": "claude-a@b.com.json"})
        assert download.json() == record()
        assert "attachment" in download.headers["content-disposition"]
        assert download.headers["cache-control"] == "no-store"

        status = client.patch(
            "/auth-files/status", json={"name": "claude-a@b.com.json", "disabled": True}
        )
        assert status.json() == {"status": "ok", "disabled": True}
        stored = json.loads((auth_dir / "claude-a@b.com.json").read_text())
        assert stored["disabled"] is True
        assert stored["refresh_token"] == REFRESH
        files = {e["name"]: e for e in client.get("/auth-files").json()["files"]}
        assert files["claude-a@b.com.json"]["status"] == "disabled"

        fields = {"name": "claude-a@b.com.json", "prefix": "team", "headers.X-Team": "blue"}
        assert client.patch("/auth-files/fields", json=fields).is_success
        stored = json.loads((auth_dir / "claude-a@b.com.json").read_text())
        assert stored["prefix"] == "team"
        assert stored["headers"] == {"X-Team": "blue"}
        token = {"name": "claude-a@b.com.json", "access_token": "stolen"}
        assert client.patch("/auth-files/fields", json=token).status_code == 400
        assert json.loads((auth_dir / "claude-a@b.com.json").read_text())["access_token"] == ACCESS

        models = client.get("/auth-files/models", params={"name": "claude-a@b.com.json"})
        assert models.json() == {"models": []}
        assert client.get("/auth-files/models", params={"name": "none.json"}).status_code == 404

        bad = client.post("/auth-files", params={"name": "x.json"}, content=b"[1, 2]")
        assert bad.status_code == 400
        untyped = client.post("/auth-files", params={"name": "x.json"}, content=b'{"email": "x"}')
        assert untyped.status_code == 400
        assert not (auth_dir / "x.json").exists()

        assert client.delete("/auth-files", params={"name": "claude-a@b.com.json"}).is_success
        assert not (auth_dir / "claude-a@b.com.json").exists()
        missing = client.delete("/auth-files", params={"name": "claude-a@b.com.json"})
        assert missing.status_code == 404
        client.post("/auth-files", params={"name": "one.json"}, content=json.dumps(record()))
        assert client.delete("/auth-files", params={"all": "true"}).json() == {
            "status": "ok",
            "deleted": 2,
        }
        assert client.get("/auth-files").json() == {"files": []}


TRAVERSALS = [
    "../x.json",
    "..%2fx.json",
    "%2e%2e%2fx.json",
    "%252e%252e%252fx.json",
    "/etc/passwd.json",
    "%2Fetc%2Fpasswd.json",
    "sub/x.json",
    "..\\x.json",
    ".hidden.json",
    "x.json%00.txt",
    "x.txt",
    "",
]


@pytest.mark.parametrize("name", TRAVERSALS)
@pytest.mark.invariant(10)
def test_names_that_could_leave_auth_dir_are_refused(
    shared_gateway: GatewayProcess, name: str
) -> None:
    outside = shared_gateway.tmp_path / "x.json"
    url_query = f"name={name}"  # sent as written: the server decodes it once
    with mgmt(shared_gateway) as client:
        upload = client.post(f"/auth-files?{url_query}", content=json.dumps(record()))
        assert upload.status_code == 400, upload.text
        assert client.get(f"/auth-files/download?{url_query}").status_code == 400
        assert client.delete(f"/auth-files?{url_query}").status_code == 400
        patch = client.patch("/auth-files/status", json={"name": name, "disabled": True})
        assert patch.status_code == 400
        multipart = client.post(
            "/auth-files", files={"file": (name or "x", json.dumps(record()), "application/json")}
        )
        assert multipart.status_code == 400
    assert not outside.exists()
    assert not (Path("/etc") / "passwd.json").exists()
    assert sorted(os.listdir(shared_gateway.auth_dir)) == sorted(
        p for p in os.listdir(shared_gateway.auth_dir) if not p.endswith(".json")
    )


@pytest.mark.invariant(10)
def test_a_symlink_in_auth_dir_is_never_followed(shared_gateway: GatewayProcess) -> None:
    secret_file = shared_gateway.tmp_path / "outside-secret.json"
    secret_file.write_text(json.dumps({"type": "claude", "access_token": "outside-canary-7d"}))
    link = shared_gateway.auth_dir / "linked.json"
    link.symlink_to(secret_file)
    try:
        with mgmt(shared_gateway) as client:
            download = client.get("/auth-files/download", params={"name": "linked.json"})
            assert download.status_code in (400, 404)
            assert "outside-canary-7d" not in download.text
            listing = client.get("/auth-files")
            assert "linked.json" not in listing.text
            status = client.patch(
                "/auth-files/status", json={"name": "linked.json", "disabled": True}
            )
            assert status.status_code in (400, 404)
        assert json.loads(secret_file.read_text()) == {
            "type": "claude",
            "access_token": "outside-canary-7d",
        }
    finally:
        link.unlink()
