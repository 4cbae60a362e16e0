"""Auth-file names that try to leave the auth directory leave every file outside it untouched.

Reliability plan B8: each hostile name goes to every management route that takes a name
(upload by query and by multipart file name, download, delete, status, fields). Sentinel files
outside the auth directory (the config among them) keep their bytes and their mtime, and a
symlink inside the directory that points out is never written through.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.management.support import mgmt
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

HOSTILE = [
    "../config.yaml",
    "../sentinel.json",
    "..%2fsentinel.json",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e/sentinel.json",
    "%2e%2e%2f%2e%2e%2fsentinel.json",
    "....//sentinel.json",
    "..;/sentinel.json",
    "C:\\Windows\\sentinel.json",
    "C:sentinel.json",
    "\\\\server\\share\\sentinel.json",
    "a%00.json",
    "a\x00.json",
    "\u2024\u2024/sentinel.json",  # one-dot leaders
    "\uff0e\uff0e\uff0fsentinel.json",  # fullwidth dots and solidus
    "\u2215sentinel.json",  # division slash
    "x" * 300 + ".json",
    "new\nline.json",
    "carriage\r.json",
    "tab\t.json",
    " .json",
    "..",
    ".",
    "linked.json/../../sentinel.json",
]


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.fixture
def sentinels(shared_gateway: GatewayProcess) -> Iterator[dict[Path, tuple[str, int]]]:
    home = shared_gateway.tmp_path
    made = [home / "sentinel.json"]
    for path in made:
        path.write_text(json.dumps({"type": "claude", "sentinel": True}))
    watched = [*made, shared_gateway.config_path]
    yield {path: fingerprint(path) for path in watched}
    for path in made:
        path.unlink(missing_ok=True)


@pytest.mark.invariant(10)
def test_hostile_names_on_every_route_leave_the_sentinels_unchanged(
    shared_gateway: GatewayProcess, sentinels: dict[Path, tuple[str, int]]
) -> None:
    record = json.dumps({"type": "claude", "access_token": "sk-ant-traversal-canary"})
    answers: list[int] = []
    multipart: list[int] = []
    with mgmt(shared_gateway) as client:
        # The sentinel's absolute path is one more name to try.
        for name in [*HOSTILE, str(shared_gateway.tmp_path / "sentinel.json")]:
            query = f"?name={quote(name, safe='%')}"
            answers += [
                client.post(f"/auth-files{query}", content=record).status_code,
                client.get(f"/auth-files/download{query}").status_code,
                client.delete(f"/auth-files{query}").status_code,
                client.patch(
                    "/auth-files/status", json={"name": name, "disabled": True}
                ).status_code,
                client.patch("/auth-files/fields", json={"name": name, "label": "x"}).status_code,
            ]
            multipart.append(
                client.post(
                    "/auth-files", files={"file": (name, record, "application/json")}
                ).status_code
            )
        # Every name refused as the caller's mistake: never served, never a 500.
        assert set(answers) <= {400, 404}, sorted(set(answers))
        # A multipart file name is cut to its last path segment by the form parser (as browsers
        # send `C:\\dir\\file`), so a few land, always inside the auth dir under a plain name.
        assert set(multipart) <= {200, 400}, sorted(set(multipart))
        landed = sorted(p.name for p in shared_gateway.auth_dir.glob("*.json"))
        assert all(
            p.parent == shared_gateway.auth_dir for p in shared_gateway.auth_dir.rglob("*.json")
        )
        assert set(landed) <= {"sentinel.json"}, landed
        for name in landed:
            client.delete("/auth-files", params={"name": name})
    for path, before in sentinels.items():
        assert fingerprint(path) == before, f"{path} changed"
    assert not any(
        "traversal-canary" in p.read_text()
        for p in shared_gateway.tmp_path.rglob("*.json")
        if p.is_file()
    )


@pytest.mark.invariant(10)
def test_a_symlink_pointing_out_is_never_written_through(
    shared_gateway: GatewayProcess, sentinels: dict[Path, tuple[str, int]]
) -> None:
    target = shared_gateway.tmp_path / "sentinel.json"
    link = shared_gateway.auth_dir / "pointer.json"
    link.symlink_to(target)
    record = json.dumps({"type": "claude", "access_token": "sk-ant-through-link-canary"})
    try:
        with mgmt(shared_gateway) as client:
            fields = client.patch("/auth-files/fields", json={"name": "pointer.json", "label": "x"})
            status = client.patch(
                "/auth-files/status", json={"name": "pointer.json", "disabled": True}
            )
            download = client.get("/auth-files/download", params={"name": "pointer.json"})
            assert fields.status_code in (400, 404)
            assert status.status_code in (400, 404)
            assert download.status_code in (400, 404)
            assert fingerprint(target) == sentinels[target]
            # An upload may replace the link with a real file (an atomic rename), never write
            # into what it points at.
            upload = client.post("/auth-files", params={"name": "pointer.json"}, content=record)
            assert upload.status_code in (200, 400, 404)
            client.delete("/auth-files", params={"name": "pointer.json"})
        assert fingerprint(target) == sentinels[target]
    finally:
        if link.is_symlink() or link.exists():
            os.unlink(link)
